package api

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/group"
)

// FindCoordinator: v0-4
//
// Behavior:
// * Group keys only (key type 0); transaction keys answer
//   COORDINATOR_NOT_AVAILABLE (this broker has no transaction coordinator).
// * The first request creates __consumer_offsets with
//   offsets.topic.num.partitions partitions, offsets.topic.replication.factor
//   replicas and cleanup.policy=compact; with fewer live brokers than that
//   factor it fails with COORDINATOR_NOT_AVAILABLE until enough brokers are
//   up, as Kafka does.
// * The coordinator is the leader of partition
//   abs(javaHash(groupId)) % numPartitions; COORDINATOR_NOT_AVAILABLE while
//   it has none. v4 batches keys (CoordinatorKeys).

func (h *Handler) ensureOffsetsTopic(ctx context.Context) *kerr.Error {
	if h.cache.hasTopic(group.Topic) {
		return nil
	}
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = group.Topic, h.cfg.OffsetsTopicNumPartitions, h.cfg.OffsetsTopicReplicationFactor
	v := "compact"
	t.Configs = append(t.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "cleanup.policy", Value: &v})
	pl, err := h.planTopic(t)
	if err == nil {
		err = h.writeTopic(&pl)
	}
	if err != nil && errCode(err) != kerr.TopicAlreadyExists.Code {
		h.o.Logf("FindCoordinator: creating %s: %v", group.Topic, err)
		return kerr.CoordinatorNotAvailable
	}
	h.waitUntil(ctx, 2*time.Second, func() bool { return h.cache.hasTopic(group.Topic) })
	return nil
}

func (h *Handler) findCoordinator(ctx context.Context, listener, key string, keyType int8) (int32, string, int32, *kerr.Error) {
	if keyType != 0 {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	if e := h.ensureOffsetsTopic(ctx); e != nil {
		return -1, "", -1, e
	}
	p := group.PartitionFor(key, max(h.cfg.OffsetsTopicNumPartitions, 1))
	tm, ok := h.cache.topic(group.Topic)
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	pm := tm.Parts[p]
	if pm == nil || pm.Leader < 0 {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	b, ok := h.cache.broker(pm.Leader)
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	ep, ok := b.Endpoints[listener]
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	return pm.Leader, ep.Host, ep.Port, nil
}

func (h *Handler) handleFindCoordinator(ctx context.Context, hdr *Header, r *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version >= 4 {
		for _, key := range r.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			id, host, port, e := h.findCoordinator(ctx, hdr.Listener, key, r.CoordinatorType)
			c.NodeID, c.Host, c.Port = id, host, port
			if e != nil {
				c.ErrorCode, c.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
			}
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return resp
	}
	id, host, port, e := h.findCoordinator(ctx, hdr.Listener, r.CoordinatorKey, r.CoordinatorType)
	resp.NodeID, resp.Host, resp.Port = id, host, port
	if e != nil {
		resp.ErrorCode = e.Code
		if r.Version >= 1 {
			resp.ErrorMessage = kmsg.StringPtr(e.Message)
		}
	}
	return resp
}
