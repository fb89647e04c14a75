package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaderAndIsr: v0-7
//
// Behavior:
// * Sent by the controller to the replicas of partitions whose leader or
//   ISR changed. A controller epoch older than the newest seen is refused
//   whole with STALE_CONTROLLER_EPOCH; a partition whose leader epoch is
//   older than the one held is refused with STALE_CONTROLLER_EPOCH.
// * Partitions naming this broker as leader are opened (created if new) and
//   served; the others are opened as followers and fetched from the leader.
// * Partitions not listing this broker among the replicas are ignored with
//   UNKNOWN_TOPIC_OR_PARTITION, as Kafka does.

func (rm *replicaManager) acceptControllerEpoch(e int32) bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if e < rm.ctrlEpoch {
		return false
	}
	rm.ctrlEpoch = e
	return true
}

func (h *Handler) handleLeaderAndISR(r *kmsg.LeaderAndISRRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.LeaderAndISRResponse)
	if !h.rm.acceptControllerEpoch(r.ControllerEpoch) {
		resp.ErrorCode = kerr.StaleControllerEpoch.Code
		return resp
	}
	self := h.cfg.BrokerID
	leaders := map[int32]endpoint{}
	for _, l := range r.LiveLeaders {
		leaders[l.BrokerID] = endpoint{l.Host, l.Port}
	}
	apply := func(topic string, id [16]byte, ps kmsg.LeaderAndISRRequestTopicPartition) int16 {
		isReplica := false
		for _, b := range ps.Replicas {
			isReplica = isReplica || b == self
		}
		if !isReplica {
			return kerr.UnknownTopicOrPartition.Code
		}
		t := tp{topic, ps.Partition}
		p, err := h.rm.ensure(t, id)
		if err != nil {
			h.o.Logf("LeaderAndIsr: %v", err)
			return kerr.KafkaStorageError.Code
		}
		p.mu.Lock()
		if p.leader >= 0 && ps.LeaderEpoch < p.leaderEpoch {
			p.mu.Unlock()
			return kerr.StaleControllerEpoch.Code
		}
		wasLeader := p.isLeader
		p.leader, p.leaderEpoch, p.isr, p.replicas, p.zkVersion = ps.Leader, ps.LeaderEpoch, ps.ISR, ps.Replicas, ps.ZKVersion
		p.isLeader = ps.Leader == self
		if p.isLeader {
			if !wasLeader {
				p.resetFollowerState(h.nowMs())
			}
			p.maybeAdvanceHW(self)
		}
		isLeader := p.isLeader
		p.mu.Unlock()
		if isLeader {
			h.fetchers.remove(t)
		} else {
			h.fetchers.add(t, ps.Leader, ps.LeaderEpoch)
		}
		return 0
	}
	for _, ps := range r.PartitionStates {
		rp := kmsg.NewLeaderAndISRResponseTopicPartition()
		rp.Topic, rp.Partition = ps.Topic, ps.Partition
		rp.ErrorCode = apply(ps.Topic, [16]byte{}, ps)
		resp.Partitions = append(resp.Partitions, rp)
	}
	for _, ts := range r.TopicStates {
		rt := kmsg.NewLeaderAndISRResponseTopic()
		rt.TopicID = ts.TopicID
		for _, ps := range ts.PartitionStates {
			rp := kmsg.NewLeaderAndISRResponseTopicPartition()
			rp.Topic, rp.Partition = ts.Topic, ps.Partition
			rp.ErrorCode = apply(ts.Topic, ts.TopicID, ps)
			if r.Version >= 5 {
				rt.Partitions = append(rt.Partitions, rp)
			} else {
				resp.Partitions = append(resp.Partitions, rp)
			}
		}
		if r.Version >= 5 {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	h.rm.notify()
	return resp
}
