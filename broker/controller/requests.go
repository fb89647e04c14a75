package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/zkstate"
)

// This file builds the controller's requests and sends them through one
// ordered queue per live broker (Kafka's RequestSendThread).

type item struct {
	req  kmsg.Request
	done func(*leader, error) // runs on the controller loop; may be nil
}

type queue struct {
	broker int32
	l      *leader
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	items  []item
	wake   chan struct{}
}

func (l *leader) startQueue(id int32) {
	if l.queues[id] != nil {
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	q := &queue{broker: id, l: l, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
	l.queues[id] = q
	go q.run()
}

func (l *leader) stopQueue(id int32) {
	if q := l.queues[id]; q != nil {
		q.stop()
		delete(l.queues, id)
	}
	if f, ok := l.c.send.(forgetter); ok {
		f.Forget(id)
	}
}

func (q *queue) stop() { q.cancel() }

func (q *queue) push(it item) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) pop() (item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return item{}, false
	}
	it := q.items[0]
	q.items = q.items[1:]
	return it, true
}

// maxSendBackoffMs caps the backoff between retries of one request.
const maxSendBackoffMs = 5000

func (q *queue) run() {
	c := q.l.c
	for {
		it, ok := q.pop()
		if !ok {
			select {
			case <-q.ctx.Done():
				q.drain()
				return
			case <-q.wake:
				continue
			}
		}
		var err error
		backoff := c.cfg.RetryBackoffMs
		for attempt := 0; ; attempt++ {
			ctx, cancel := c.cfg.Clock.WithTimeout(q.ctx, c.cfg.RequestTimeoutMs)
			var resp kmsg.Response
			resp, err = c.send.Send(ctx, q.broker, it.req)
			cancel()
			if err == nil {
				err = responseError(resp)
				if err != nil {
					c.logf("%s to broker %d: %v", kmsg.NameForKey(it.req.Key()), q.broker, err)
				}
				break
			}
			if q.ctx.Err() != nil {
				break
			}
			if attempt < 3 || attempt%50 == 0 {
				c.logf("sending %s to broker %d failed (attempt %d), retrying: %v", kmsg.NameForKey(it.req.Key()), q.broker, attempt+1, err)
			}
			select {
			case <-q.ctx.Done():
			case <-c.cfg.Clock.After(backoff):
			}
			backoff = min(2*backoff, maxSendBackoffMs)
		}
		if q.ctx.Err() != nil && err != nil {
			q.finish(it, err)
			q.drain()
			return
		}
		q.finish(it, err)
	}
}

func (q *queue) finish(it item, err error) {
	if it.done != nil {
		q.l.post(func(l *leader) { it.done(l, err) })
	}
}

// drain fails what is left after the broker went away.
func (q *queue) drain() {
	for {
		it, ok := q.pop()
		if !ok {
			return
		}
		q.finish(it, fmt.Errorf("controller: broker %d went away", q.broker))
	}
}

// responseError is the top-level error of an inter-broker response.
func responseError(resp kmsg.Response) error {
	var code int16
	switch r := resp.(type) {
	case *kmsg.LeaderAndISRResponse:
		code = r.ErrorCode
	case *kmsg.UpdateMetadataResponse:
		code = r.ErrorCode
	case *kmsg.StopReplicaResponse:
		code = r.ErrorCode
		if code == 0 {
			for _, p := range r.Partitions {
				if p.ErrorCode != 0 {
					return fmt.Errorf("%s-%d: %w", p.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		}
	}
	return kerr.ErrorForCode(code)
}

func (l *leader) enqueue(b int32, req kmsg.Request, done func(*leader, error)) {
	q := l.queues[b]
	if q == nil {
		if done != nil {
			done(l, fmt.Errorf("controller: broker %d is not alive", b))
		}
		return
	}
	q.push(item{req: req, done: done})
}

// partitionState returns what the requests carry for a partition.
func (l *leader) partitionState(x tp) (zkstate.PartitionState, []int32, bool) {
	t := l.topics[x.topic]
	if t == nil || t.parts[x.part] == nil || !t.parts[x.part].created {
		return zkstate.PartitionState{}, nil, false
	}
	return t.parts[x.part].state, t.assign.Partitions[x.part], true
}

// sendLeaderAndISRNew sends LeaderAndIsr for parts to each broker in to.
func (l *leader) sendLeaderAndISRNew(to []int32, parts []tp, isNew bool) {
	if len(parts) == 0 {
		return
	}
	for _, b := range to {
		info, ok := l.live[b]
		if !ok {
			continue
		}
		req := kmsg.NewPtrLeaderAndISRRequest()
		req.Version = LeaderAndISRVersion
		req.ControllerID = l.c.cfg.BrokerID
		req.ControllerEpoch = l.epoch
		req.BrokerEpoch = info.Epoch
		leaders := map[int32]bool{}
		byTopic := map[string]int{}
		for _, x := range parts {
			st, assigned, ok := l.partitionState(x)
			if !ok {
				continue
			}
			t := l.topics[x.topic]
			ps := kmsg.NewLeaderAndISRRequestTopicPartition()
			ps.Topic, ps.Partition = x.topic, x.part
			ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = st.ControllerEpoch, st.Leader, st.LeaderEpoch
			ps.ISR, ps.ZKVersion, ps.Replicas = slices.Clone(st.ISR), st.ZkVersion, slices.Clone(assigned)
			ps.AddingReplicas = slices.Clone(t.assign.AddingReplicas[x.part])
			ps.RemovingReplicas = slices.Clone(t.assign.RemovingReplicas[x.part])
			ps.IsNew = isNew
			i, ok := byTopic[x.topic]
			if !ok {
				ts := kmsg.NewLeaderAndISRRequestTopicState()
				ts.Topic, ts.TopicID = x.topic, t.assign.TopicID
				req.TopicStates = append(req.TopicStates, ts)
				i = len(req.TopicStates) - 1
				byTopic[x.topic] = i
			}
			req.TopicStates[i].PartitionStates = append(req.TopicStates[i].PartitionStates, ps)
			req.PartitionStates = append(req.PartitionStates, ps) // v0-1 layout
			if st.Leader >= 0 {
				leaders[st.Leader] = true
			}
		}
		if len(req.TopicStates) == 0 {
			continue
		}
		for _, id := range SortedIDs(leaders) {
			lb, ok := l.live[id]
			if !ok {
				continue
			}
			ll := kmsg.NewLeaderAndISRRequestLiveLeader()
			ll.BrokerID = id
			if addr, ok := lb.Endpoint(l.c.cfg.InterBrokerListener); ok {
				_, host, port, _ := zkstate.SplitEndpoint(l.c.cfg.InterBrokerListener + "://" + addr)
				ll.Host, ll.Port = host, port
			} else {
				ll.Host, ll.Port = lb.Host, lb.Port
			}
			req.LiveLeaders = append(req.LiveLeaders, ll)
		}
		l.enqueue(b, req, nil)
	}
}

var securityProtocols = map[string]int16{"PLAINTEXT": 0, "SSL": 1, "SASL_PLAINTEXT": 2, "SASL_SSL": 3}

// sendUpdateMetadata sends the live brokers and the state of parts (every
// partition when parts is nil) to each broker in to.
func (l *leader) sendUpdateMetadata(to []int32, parts []tp) {
	if parts == nil {
		for _, name := range sortedTopics(l.topics) {
			for _, p := range sortedParts(l.topics[name].parts) {
				parts = append(parts, tp{name, p})
			}
		}
	}
	alive := func(id int32) bool { _, ok := l.live[id]; return ok }
	var brokers []kmsg.UpdateMetadataRequestLiveBroker
	for _, id := range SortedIDs(l.live) {
		b := l.live[id]
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID, lb.Host, lb.Port, lb.Rack = id, b.Host, b.Port, b.Rack
		for _, ep := range b.Endpoints {
			name, host, port, err := zkstate.SplitEndpoint(ep)
			if err != nil {
				continue
			}
			e := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
			e.ListenerName, e.Host, e.Port = name, host, port
			e.SecurityProtocol = securityProtocols[b.SecurityProtocolMap[name]]
			lb.Endpoints = append(lb.Endpoints, e)
		}
		brokers = append(brokers, lb)
	}
	var states []kmsg.UpdateMetadataRequestTopicState
	var flat []kmsg.UpdateMetadataRequestTopicPartition
	byTopic := map[string]int{}
	for _, x := range parts {
		st, assigned, ok := l.partitionState(x)
		if !ok {
			continue
		}
		t := l.topics[x.topic]
		ps := kmsg.NewUpdateMetadataRequestTopicPartition()
		ps.Topic, ps.Partition = x.topic, x.part
		ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = st.ControllerEpoch, st.Leader, st.LeaderEpoch
		if t.deleting {
			ps.Leader = LeaderDuringDelete
		}
		ps.ISR, ps.ZKVersion, ps.Replicas = slices.Clone(st.ISR), st.ZkVersion, slices.Clone(assigned)
		ps.OfflineReplicas = []int32{}
		for _, r := range assigned {
			if !alive(r) {
				ps.OfflineReplicas = append(ps.OfflineReplicas, r)
			}
		}
		i, ok := byTopic[x.topic]
		if !ok {
			ts := kmsg.NewUpdateMetadataRequestTopicState()
			ts.Topic, ts.TopicID = x.topic, t.assign.TopicID
			states = append(states, ts)
			i = len(states) - 1
			byTopic[x.topic] = i
		}
		states[i].PartitionStates = append(states[i].PartitionStates, ps)
		flat = append(flat, ps)
	}
	for _, b := range to {
		info, ok := l.live[b]
		if !ok {
			continue
		}
		req := kmsg.NewPtrUpdateMetadataRequest()
		req.Version = UpdateMetadataVersion
		req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = l.c.cfg.BrokerID, l.epoch, info.Epoch
		req.TopicStates, req.PartitionStates, req.LiveBrokers = states, flat, brokers
		l.enqueue(b, req, nil)
	}
}

// sendStopReplica tells broker b to stop its replicas of parts (and delete
// them when del). done, if set, runs on the loop with the outcome.
func (l *leader) sendStopReplica(b int32, parts []tp, del bool, done func(*leader, error)) {
	info, ok := l.live[b]
	if !ok {
		if done != nil {
			done(l, fmt.Errorf("controller: broker %d is not alive", b))
		}
		return
	}
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = StopReplicaVersion
	req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = l.c.cfg.BrokerID, l.epoch, info.Epoch
	req.DeletePartitions = del
	byTopic := map[string]int{}
	for _, x := range parts {
		i, ok := byTopic[x.topic]
		if !ok {
			t := kmsg.NewStopReplicaRequestTopic()
			t.Topic = x.topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[x.topic] = i
		}
		ps := kmsg.NewStopReplicaRequestTopicPartitionState()
		ps.Partition, ps.Delete = x.part, del
		ps.LeaderEpoch = EpochDuringDelete
		if st, _, ok := l.partitionState(x); ok && !del {
			ps.LeaderEpoch = st.LeaderEpoch
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, x.part)
		req.Topics[i].PartitionStates = append(req.Topics[i].PartitionStates, ps)
	}
	l.enqueue(b, req, done)
}
