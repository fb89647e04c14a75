package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/group"
)

// OffsetDelete: v0
//
// Behavior:
// * Deletes committed offsets of a group (GROUP_ID_NOT_FOUND if unknown).
//   Partitions of topics a member of the (consumer) group subscribes to
//   answer GROUP_SUBSCRIBED_TO_TOPIC; the others get tombstones written
//   to __consumer_offsets before they leave the cache.

func (h *Handler) handleOffsetDelete(ctx context.Context, r *kmsg.OffsetDeleteRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	gc := h.groups
	gc.mu.Lock()
	e := gc.check(r.Group)
	g := gc.c.Group(r.Group)
	if e == nil && g == nil {
		e = kerr.GroupIDNotFound
	}
	if e != nil {
		gc.mu.Unlock()
		resp.ErrorCode = e.Code
		return resp
	}
	codes := map[group.TopicPartition]int16{}
	var del []group.TopicPartition
	var kvs []group.KV
	for _, t := range r.Topics {
		sub := g.Subscribed(t.Topic)
		for _, p := range t.Partitions {
			k := group.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			if sub {
				codes[k] = kerr.GroupSubscribedToTopic.Code
				continue
			}
			if _, ok := gc.c.Offset(r.Group, k); ok {
				key, _ := group.OffsetRecord(r.Group, t.Topic, p.Partition, nil)
				kvs = append(kvs, group.KV{Key: key})
				del = append(del, k)
			}
		}
	}
	part := gc.c.Partition(r.Group)
	gc.mu.Unlock()
	if len(kvs) > 0 {
		if e := gc.append(ctx, part, kvs); e != nil {
			resp.ErrorCode = e.Code
			return resp
		}
		gc.mu.Lock()
		gc.c.DeleteOffsets(r.Group, del)
		gc.mu.Unlock()
	}
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes[group.TopicPartition{Topic: t.Topic, Partition: p.Partition}]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
