package api

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchers runs one fetcher goroutine per leader this broker follows.
// A follower appends only what the leader sent, truncates first to the end
// of its last epoch as the leader knows it (OffsetForLeaderEpoch), and its
// high watermark is the leader's, capped at its own log end.
type fetchers struct {
	h        *Handler
	mu       sync.Mutex
	byLeader map[int32]*fetcher
	leaderOf map[tp]int32
	ends     map[tp]int64 // leader's high watermark as last seen
	stopped  bool
}

type fetcher struct {
	leader int32
	parts  map[tp]*fetchState
	wake   chan struct{}
	done   chan struct{}
	// changed is set when a partition joins or changes epoch after the
	// snapshot the next fetch is built from; inflight is the connection
	// of a fetch under way (both under fetchers.mu). A change during a
	// fetch cuts it short: a fetch long-polls up to
	// replica.fetch.wait.max.ms, and a partition left out of it (a topic
	// created a moment ago) would wait that long to be replicated,
	// holding up every acks=all produce to it.
	changed  bool
	inflight *brokerConn
}

type fetchState struct {
	epoch     int32
	truncated bool
}

func newFetchers(h *Handler) *fetchers {
	return &fetchers{h: h, byLeader: map[int32]*fetcher{}, leaderOf: map[tp]int32{}, ends: map[tp]int64{}}
}

func (f *fetchers) leaderEnd(t tp) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ends[t]
}

// add starts (or moves) the fetching of t from leader.
func (f *fetchers) add(t tp, leader, epoch int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped || leader < 0 {
		f.removeLocked(t)
		return
	}
	if old, ok := f.leaderOf[t]; ok && old != leader {
		f.removeLocked(t)
	}
	ft := f.byLeader[leader]
	if ft == nil {
		ft = &fetcher{leader: leader, parts: map[tp]*fetchState{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
		f.byLeader[leader] = ft
		go f.run(ft)
	}
	if old, ok := ft.parts[t]; !ok || old.epoch != epoch {
		ft.changed = true
		if ft.inflight != nil {
			ft.inflight.interrupt()
		}
	}
	ft.parts[t] = &fetchState{epoch: epoch}
	f.leaderOf[t] = leader
	select {
	case ft.wake <- struct{}{}:
	default:
	}
}

func (f *fetchers) remove(t tp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeLocked(t)
}

// Lock should be held.
func (f *fetchers) removeLocked(t tp) {
	l, ok := f.leaderOf[t]
	if !ok {
		return
	}
	delete(f.leaderOf, t)
	delete(f.ends, t)
	ft := f.byLeader[l]
	delete(ft.parts, t)
	if len(ft.parts) == 0 {
		delete(f.byLeader, l)
		close(ft.done)
	}
}

func (f *fetchers) stopAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	for t := range f.leaderOf {
		f.removeLocked(t)
	}
}

func (f *fetchers) snapshot(ft *fetcher) map[tp]fetchState {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft.changed = false
	out := make(map[tp]fetchState, len(ft.parts))
	for t, s := range ft.parts {
		out[t] = *s
	}
	return out
}

// startFetch registers a fetch on conn as under way, unless the
// partitions changed since the snapshot it was built from.
func (f *fetchers) startFetch(ft *fetcher, conn *brokerConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft.changed {
		return false
	}
	ft.inflight = conn
	return true
}

// endFetch ends the fetch startFetch began and reports whether a change
// cut it short.
func (f *fetchers) endFetch(ft *fetcher) (interrupted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft.inflight = nil
	return ft.changed
}

// markTruncated records that t is truncated for epoch, in the fetcher and
// in parts, the snapshot the next fetch is built from (else that fetch
// would leave t out, and t would wait a whole long poll to start).
func (f *fetchers) markTruncated(ft *fetcher, parts map[tp]fetchState, t tp, epoch int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := ft.parts[t]; ok && s.epoch == epoch {
		s.truncated = true
	}
	if s, ok := parts[t]; ok && s.epoch == epoch {
		s.truncated = true
		parts[t] = s
	}
}

func (f *fetchers) leaderAddr(leader int32) (string, bool) {
	b, ok := f.h.cache.broker(leader)
	if !ok {
		return "", false
	}
	e, ok := b.Endpoints[f.h.cfg.InterBrokerListenerName]
	if !ok {
		return "", false
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))), true
}

func (f *fetchers) run(ft *fetcher) {
	h := f.h
	var conn *brokerConn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := func() bool {
		if conn != nil {
			conn.Close()
			conn = nil
		}
		select {
		case <-ft.done:
			return false
		case <-time.After(200 * time.Millisecond):
			return true
		}
	}
	wait := time.Duration(max(h.cfg.ReplicaFetchWaitMaxMs, 10)) * time.Millisecond
	for {
		select {
		case <-ft.done:
			return
		default:
		}
		if conn == nil {
			addr, ok := f.leaderAddr(ft.leader)
			if !ok {
				if !backoff() {
					return
				}
				continue
			}
			c, err := dialBroker(h.o.Dial, addr, "broker-"+strconv.Itoa(int(h.cfg.BrokerID))+"-fetcher")
			if err != nil {
				h.o.Logf("replica fetcher for leader %d: %v", ft.leader, err)
				if !backoff() {
					return
				}
				continue
			}
			c.reuse = true // the batches of a response are appended before the next fetch
			conn = c
		}
		parts := f.snapshot(ft)
		if err := f.truncate(ft, conn, parts); err != nil {
			h.o.Logf("replica fetcher for leader %d: truncation: %v", ft.leader, err)
			if !backoff() {
				return
			}
			continue
		}
		req := h.followerFetch(wait)
		byTopic := map[string]int{}
		for t, s := range parts {
			if !s.truncated {
				continue
			}
			p := h.rm.get(t)
			if p == nil {
				continue
			}
			p.mu.Lock()
			leo, start := p.log.EndOffset(), p.log.StartOffset()
			p.mu.Unlock()
			i, ok := byTopic[t.Topic]
			if !ok {
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic = t.Topic
				req.Topics = append(req.Topics, rt)
				i = len(req.Topics) - 1
				byTopic[t.Topic] = i
			}
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.LogStartOffset = t.Partition, leo, start
			rp.CurrentLeaderEpoch = s.epoch
			rp.PartitionMaxBytes = max(h.cfg.ReplicaFetchMaxBytes, 1)
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		if len(req.Topics) == 0 {
			select {
			case <-ft.done:
				return
			case <-ft.wake:
			case <-time.After(wait):
			}
			continue
		}
		if !f.startFetch(ft, conn) {
			continue // the partitions changed since the snapshot
		}
		kresp, err := conn.roundTrip(req, wait+30*time.Second)
		if f.endFetch(ft) {
			// Cut short by a change: the answer is still to come on this
			// connection, so it goes, and the next fetch has the change.
			conn.Close()
			conn = nil
			continue
		}
		if err != nil {
			h.o.Logf("replica fetcher for leader %d: %v", ft.leader, err)
			if !backoff() {
				return
			}
			continue
		}
		resp := kresp.(*kmsg.FetchResponse)
		// No notify after this: every wait (a long-poll fetch, an acks=all
		// produce, an offset commit) is on a partition this broker leads, so
		// a follower's progress wakes nobody who can use it, and at
		// replication factor 3 it woke the other followers' fetches waiting
		// here for this broker's own partitions twice per fetch.
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				t := tp{rt.Topic, rp.Partition}
				p := h.rm.get(t)
				if p == nil {
					continue
				}
				if rp.ErrorCode != 0 {
					if rp.ErrorCode == kerr.OffsetOutOfRange.Code {
						f.mu.Lock()
						if s, ok := ft.parts[t]; ok {
							s.truncated = false
						}
						f.mu.Unlock()
					}
					continue
				}
				p.mu.Lock()
				if p.isLeader {
					p.mu.Unlock()
					continue
				}
				if len(rp.RecordBatches) > 0 {
					if err := p.log.AppendFollower(rp.RecordBatches); err != nil {
						h.o.Logf("replica fetcher: appending to %s: %v", t, err)
					}
				}
				hw := min(rp.HighWatermark, p.log.EndOffset())
				if hw > p.hw {
					p.hw = hw
				}
				p.mu.Unlock()
				f.mu.Lock()
				f.ends[t] = rp.HighWatermark
				f.mu.Unlock()
			}
		}
	}
}

// truncate brings each partition not yet truncated for its epoch back to
// the end of its latest epoch as the leader sees it.
func (f *fetchers) truncate(ft *fetcher, conn *brokerConn, parts map[tp]fetchState) error {
	h := f.h
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = 3
	req.ReplicaID = h.cfg.BrokerID
	byTopic := map[string]int{}
	epochs := map[tp]int32{}
	for t, s := range parts {
		if s.truncated {
			continue
		}
		p := h.rm.get(t)
		if p == nil {
			continue
		}
		p.mu.Lock()
		latest := p.log.LatestEpoch()
		p.mu.Unlock()
		epochs[t] = s.epoch
		if latest < 0 {
			f.markTruncated(ft, parts, t, s.epoch)
			continue
		}
		i, ok := byTopic[t.Topic]
		if !ok {
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = t.Topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			byTopic[t.Topic] = i
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = t.Partition, s.epoch, latest
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	if len(req.Topics) == 0 {
		return nil
	}
	kresp, err := conn.roundTrip(req, 30*time.Second)
	if err != nil {
		return err
	}
	for _, rt := range kresp.(*kmsg.OffsetForLeaderEpochResponse).Topics {
		for _, rp := range rt.Partitions {
			t := tp{rt.Topic, rp.Partition}
			if rp.ErrorCode != 0 {
				continue
			}
			p := h.rm.get(t)
			if p == nil {
				continue
			}
			p.mu.Lock()
			if rp.EndOffset >= 0 && rp.EndOffset < p.log.EndOffset() {
				if err := p.log.TruncateTo(rp.EndOffset); err != nil {
					h.o.Logf("replica fetcher: truncating %s to %d: %v", t, rp.EndOffset, err)
					p.mu.Unlock()
					continue
				}
				h.o.Logf("partition %s: truncated to %d (end of epoch %d on leader %d)", t, rp.EndOffset, rp.LeaderEpoch, ft.leader)
				p.hw = min(p.hw, rp.EndOffset)
			}
			p.mu.Unlock()
			f.markTruncated(ft, parts, t, epochs[t])
		}
	}
	return nil
}

// followerFetch is a follower's fetch request before its partitions:
// replica.fetch.wait.max.ms, replica.fetch.min.bytes and
// replica.fetch.max.bytes, without a fetch session.
func (h *Handler) followerFetch(wait time.Duration) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = h.cfg.BrokerID
	req.MaxWaitMillis = int32(wait / time.Millisecond)
	req.MinBytes = h.cfg.ReplicaFetchMinBytes
	req.MaxBytes = max(h.cfg.ReplicaFetchMaxBytes, 1)
	req.SessionEpoch = -1
	return req
}
