package api

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata: v0-12
//
// Behavior:
// * Answers from the metadata cache (what the controller sent through
//   UpdateMetadata); brokers are listed with the endpoint of the listener the
//   request arrived on, as Kafka does.
// * All topics when the topic list is null (v1+) or empty (v0).
// * An unknown topic is created when auto.create.topics.enable is true and
//   the request allows it (v4+ AllowAutoTopicCreation; always before v4); the
//   answer is then LEADER_NOT_AVAILABLE until the controller elects leaders.
//   Otherwise UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID for an id, v10+).
// * A partition without a live leader reports LEADER_NOT_AVAILABLE, leader -1.

func (h *Handler) brokersFor(listener string) []kmsg.MetadataResponseBroker {
	var out []kmsg.MetadataResponseBroker
	for _, b := range h.cache.liveBrokers() {
		e, ok := b.Endpoints[listener]
		if !ok {
			continue
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port, mb.Rack = b.ID, e.Host, e.Port, b.Rack
		out = append(out, mb)
	}
	if len(out) == 0 && h.o.Advertised != nil {
		// No UpdateMetadata yet: a client must still find this broker.
		for _, l := range h.o.Advertised() {
			if l.Name == listener {
				mb := kmsg.NewMetadataResponseBroker()
				mb.NodeID, mb.Host, mb.Port = h.cfg.BrokerID, l.Host, l.Port
				if h.cfg.Rack != "" {
					mb.Rack = strp(h.cfg.Rack)
				}
				out = append(out, mb)
			}
		}
	}
	return out
}

func isInternal(topic string) bool {
	return topic == "__consumer_offsets" || topic == "__transaction_state"
}

func (h *Handler) handleMetadata(ctx context.Context, hdr *Header, r *kmsg.MetadataRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = h.brokersFor(hdr.Listener)
	resp.ClusterID = strp(h.o.ClusterID)
	resp.ControllerID = h.cache.controller()
	resp.AuthorizedOperations = -2147483648

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, name := range h.cache.topicNames() {
			if tm, ok := h.cache.topic(name); ok {
				resp.Topics = append(resp.Topics, h.metadataTopic(name, tm))
			}
		}
		return resp
	}
	autoCreate := h.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	for _, rt := range r.Topics {
		var name string
		if rt.Topic != nil {
			name = *rt.Topic
		} else if rt.TopicID != ([16]byte{}) {
			n, ok := h.cache.topicByID(rt.TopicID)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			name = n
		}
		if tm, ok := h.cache.topic(name); ok {
			resp.Topics = append(resp.Topics, h.metadataTopic(name, tm))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = strp(name)
		mt.IsInternal = isInternal(name)
		switch {
		case validateTopicName(name) != nil:
			mt.ErrorCode = kerr.InvalidTopicException.Code
		case !autoCreate:
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		default:
			err := h.autoCreate(name)
			switch {
			case err == nil || errors.Is(err, kerr.TopicAlreadyExists):
				mt.ErrorCode = kerr.LeaderNotAvailable.Code
			default:
				h.o.Logf("auto-creating topic %s: %v", name, err)
				mt.ErrorCode = errCode(err)
			}
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

func (h *Handler) metadataTopic(name string, tm topicMeta) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = strp(name)
	mt.TopicID = tm.ID
	mt.IsInternal = isInternal(name)
	ids := make([]int32, 0, len(tm.Parts))
	for p := range tm.Parts {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, p := range ids {
		pm := tm.Parts[p]
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p
		mp.Leader = pm.Leader
		mp.LeaderEpoch = pm.LeaderEpoch
		mp.Replicas = pm.Replicas
		mp.ISR = pm.ISR
		mp.OfflineReplicas = pm.Offline
		if mp.Replicas == nil {
			mp.Replicas = []int32{}
		}
		if mp.ISR == nil {
			mp.ISR = []int32{}
		}
		if _, alive := h.cache.broker(pm.Leader); pm.Leader < 0 || !alive {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Leader = -1
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
