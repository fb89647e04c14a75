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
// * Version 0 reads ZooKeeper, as Kafka in ZooKeeper mode does, on any
//   broker: /consumers/<group>/offsets/<topic>/<partition>, where
//   OffsetCommit v0 writes. The offset comes back with empty metadata and
//   no error; a partition without that znode, like one missing from the
//   metadata cache, answers offset -1 with UNKNOWN_TOPIC_OR_PARTITION
//   (Kafka's OffsetFetchResponse.UNKNOWN_PARTITION); a ZooKeeper failure
//   (an empty group id makes an invalid path) answers offset -1 with
//   UNKNOWN_SERVER_ERROR. A partition asked for twice is answered once.
// * Versions 1 and later are answered from the coordinator's cache of
//   replicated commits (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS
//   otherwise: per partition in v1, at the top level from v2, per group in
//   v8). A partition without a commit answers offset -1; null topics (v2+)
//   ask for every committed offset of the group. v8 asks for several groups.

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
	sortFetched(out)
	return out, nil
}

// sortFetched orders offsets by topic, then partition: the answers group
// each topic's partitions under one entry.
func sortFetched(fs []fetchedOffset) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].tp.Topic != fs[j].tp.Topic {
			return fs[i].tp.Topic < fs[j].tp.Topic
		}
		return fs[i].tp.Partition < fs[j].tp.Partition
	})
}

// answer is what a fetched offset reports: the commit, or -1 with empty
// metadata when there is none.
func (f fetchedOffset) answer() (offset int64, leaderEpoch int32, metadata *string) {
	if f.ok {
		return f.v.Offset, f.v.LeaderEpoch, kmsg.StringPtr(f.v.Metadata)
	}
	return -1, -1, kmsg.StringPtr("")
}

func (h *Handler) handleOffsetFetch(r *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version == 0 {
		h.fetchOffsetsFromZK(r, resp)
		return resp
	}
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
			for _, f := range got { // sorted: a topic's partitions are adjacent
				if n := len(rg.Topics); n == 0 || rg.Topics[n-1].Topic != f.tp.Topic {
					rt := kmsg.NewOffsetFetchResponseGroupTopic()
					rt.Topic = f.tp.Topic
					rg.Topics = append(rg.Topics, rt)
				}
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition = f.tp.Partition
				rp.Offset, rp.LeaderEpoch, rp.Metadata = f.answer()
				rt := &rg.Topics[len(rg.Topics)-1]
				rt.Partitions = append(rt.Partitions, rp)
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
		sortFetched(got)
	}
	for _, f := range got { // sorted: a topic's partitions are adjacent
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != f.tp.Topic {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = f.tp.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewOffsetFetchResponseTopicPartition()
		rp.Partition = f.tp.Partition
		rp.Offset, rp.LeaderEpoch, rp.Metadata = f.answer()
		if e != nil {
			rp.ErrorCode = e.Code
		}
		rt := &resp.Topics[len(resp.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	return resp
}

// fetchOffsetsFromZK answers OffsetFetch v0 from the znodes OffsetCommit v0
// writes, topics and partitions in request order.
func (h *Handler) fetchOffsetsFromZK(r *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) {
	store := h.o.Store
	byTopic := map[string]int{}
	seen := map[group.TopicPartition]bool{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			k := group.TopicPartition{Topic: t.Topic, Partition: p}
			if seen[k] {
				continue
			}
			seen[k] = true
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, -1, -1, kmsg.StringPtr("")
			switch {
			case !h.knownPartition(t.Topic, p):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case store == nil:
				rp.ErrorCode = kerr.UnknownServerError.Code
			default:
				off, ok, err := store.ConsumerOffset(r.Group, t.Topic, p)
				switch {
				case err != nil:
					h.o.Logf("OffsetFetch v0 of group %q, %s-%d: %v", r.Group, t.Topic, p, err)
					rp.ErrorCode = kerr.UnknownServerError.Code
				case !ok:
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				default:
					rp.Offset = off
				}
			}
			i, ok := byTopic[t.Topic]
			if !ok {
				i = len(resp.Topics)
				byTopic[t.Topic] = i
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
		}
	}
}
