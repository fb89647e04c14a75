package api

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/group"
)

// OffsetFetch: v0-8
//
// Behavior:
// * Answered from the coordinator's cache of replicated commits
//   (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS otherwise: per partition
//   before v2, at the top level from v2, per group in v8).
// * A partition without a commit answers offset -1; null topics (v2+) ask
//   for every committed offset of the group. v8 asks for several groups.

type fetchedOffset struct {
	tp group.TopicPartition
	v  group.OffsetValue
	ok bool
}

// fetchOffsets answers one group; topics nil means all.
func (h *Handler) fetchOffsets(groupID string, topics map[string][]int32, all bool) ([]fetchedOffset, *kerr.Error) {
	gc := h.groups
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if e := gc.check(groupID); e != nil {
		return nil, e
	}
	var out []fetchedOffset
	if all {
		for tp, v := range gc.c.Offsets(groupID) {
			out = append(out, fetchedOffset{tp, v, true})
		}
	} else {
		for t, ps := range topics {
			for _, p := range ps {
				tp := group.TopicPartition{Topic: t, Partition: p}
				v, ok := gc.c.Offset(groupID, tp)
				out = append(out, fetchedOffset{tp, v, ok})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].tp.Topic != out[j].tp.Topic {
			return out[i].tp.Topic < out[j].tp.Topic
		}
		return out[i].tp.Partition < out[j].tp.Partition
	})
	return out, nil
}

func (h *Handler) handleOffsetFetch(r *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version >= 8 {
		for _, g := range r.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			topics := map[string][]int32{}
			for _, t := range g.Topics {
				topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
			}
			got, e := h.fetchOffsets(g.Group, topics, g.Topics == nil)
			if e != nil {
				rg.ErrorCode = e.Code
			}
			byTopic := map[string]int{}
			for _, f := range got {
				i, ok := byTopic[f.tp.Topic]
				if !ok {
					i = len(rg.Topics)
					byTopic[f.tp.Topic] = i
					rt := kmsg.NewOffsetFetchResponseGroupTopic()
					rt.Topic = f.tp.Topic
					rg.Topics = append(rg.Topics, rt)
				}
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = f.tp.Partition, -1, -1, kmsg.StringPtr("")
				if f.ok {
					rp.Offset, rp.LeaderEpoch, rp.Metadata = f.v.Offset, f.v.LeaderEpoch, kmsg.StringPtr(f.v.Metadata)
				}
				rg.Topics[i].Partitions = append(rg.Topics[i].Partitions, rp)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}
	topics := map[string][]int32{}
	for _, t := range r.Topics {
		topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
	}
	got, e := h.fetchOffsets(r.Group, topics, r.Topics == nil && r.Version >= 2)
	if e != nil {
		if r.Version >= 2 {
			resp.ErrorCode = e.Code
			return resp
		}
		for t, ps := range topics {
			for _, p := range ps {
				got = append(got, fetchedOffset{tp: group.TopicPartition{Topic: t, Partition: p}})
			}
		}
	}
	byTopic := map[string]int{}
	for _, f := range got {
		i, ok := byTopic[f.tp.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[f.tp.Topic] = i
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = f.tp.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewOffsetFetchResponseTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = f.tp.Partition, -1, -1, kmsg.StringPtr("")
		if f.ok {
			rp.Offset, rp.LeaderEpoch, rp.Metadata = f.v.Offset, f.v.LeaderEpoch, kmsg.StringPtr(f.v.Metadata)
		}
		if e != nil {
			rp.ErrorCode = e.Code
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
