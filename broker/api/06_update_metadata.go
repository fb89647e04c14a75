package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// UpdateMetadata: v0-8
//
// Behavior:
// * Sent by the controller; replaces the live broker list and merges the
//   partition states into the metadata cache.
// * A partition whose leader is -2 (Kafka's LeaderDuringDelete) is removed,
//   and a topic left without partitions goes with it.
// * A controller epoch older than the newest seen is refused with
//   STALE_CONTROLLER_EPOCH and changes nothing.

const leaderDuringDelete = -2

func (h *Handler) handleUpdateMetadata(r *kmsg.UpdateMetadataRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.UpdateMetadataResponse)
	if !h.rm.acceptControllerEpoch(r.ControllerEpoch) {
		resp.ErrorCode = kerr.StaleControllerEpoch.Code
		return resp
	}
	c := h.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.controllerID = r.ControllerID
	c.controllerEpoch = r.ControllerEpoch
	brokers := make(map[int32]brokerMeta, len(r.LiveBrokers))
	for _, lb := range r.LiveBrokers {
		b := brokerMeta{ID: lb.ID, Rack: lb.Rack, Endpoints: map[string]endpoint{}}
		if r.Version == 0 {
			b.Endpoints["PLAINTEXT"] = endpoint{lb.Host, lb.Port}
		}
		for _, e := range lb.Endpoints {
			name := e.ListenerName
			if r.Version < 3 {
				name = securityProtocolName(e.SecurityProtocol)
			}
			b.Endpoints[name] = endpoint{e.Host, e.Port}
		}
		brokers[lb.ID] = b
	}
	c.brokers = brokers
	apply := func(topic string, id [16]byte, ps kmsg.UpdateMetadataRequestTopicPartition) {
		t, ok := c.topics[topic]
		if ps.Leader == leaderDuringDelete {
			if ok {
				delete(t.Parts, ps.Partition)
				if len(t.Parts) == 0 {
					delete(c.topics, topic)
					delete(c.ids, t.ID)
				}
			}
			return
		}
		if !ok {
			t = &topicMeta{Parts: map[int32]*partMeta{}}
			c.topics[topic] = t
		}
		if id != ([16]byte{}) && id != t.ID {
			delete(c.ids, t.ID) // a topic recreated under the same name
			t.ID = id
			c.ids[id] = topic
		}
		t.Parts[ps.Partition] = &partMeta{Leader: ps.Leader, LeaderEpoch: ps.LeaderEpoch, ISR: ps.ISR, Replicas: ps.Replicas, Offline: ps.OfflineReplicas, ZkVersion: ps.ZKVersion}
	}
	for _, ps := range r.PartitionStates {
		apply(ps.Topic, [16]byte{}, ps)
	}
	for _, ts := range r.TopicStates {
		for _, ps := range ts.PartitionStates {
			apply(ts.Topic, ts.TopicID, ps)
		}
	}
	c.notifyLocked()
	return resp
}

func securityProtocolName(p int16) string {
	switch p {
	case 1:
		return "SSL"
	case 2:
		return "SASL_PLAINTEXT"
	case 3:
		return "SASL_SSL"
	}
	return "PLAINTEXT"
}
