package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/group"
)

// OffsetCommit: v0-8
//
// Behavior:
// * Version 0 is kept in ZooKeeper, as Kafka in ZooKeeper mode does, on
//   any broker and without the group coordinator: each offset is written
//   to /consumers/<group>/offsets/<topic>/<partition> as a decimal string
//   (created with its parents when missing, overwritten otherwise); the
//   metadata is checked for size and dropped. A topic-partition missing
//   from the metadata cache gets UNKNOWN_TOPIC_OR_PARTITION and is not
//   written; a ZooKeeper failure (an empty group id makes an invalid path)
//   gets UNKNOWN_SERVER_ERROR for that partition.
// * Versions 1 and later are answered by the group's coordinator only
//   (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS). Generation -1 with no
//   member id commits for a group without members (a simple consumer);
//   otherwise the member and generation must be current
//   (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS while the
//   group completes a rebalance).
// * Those commits are written to the group's __consumer_offsets partition
//   as offset commit records (key v1, value v3), and the answer waits until
//   they are replicated (acks=all); only then does OffsetFetch v1+ see them.
// * Metadata over 4096 bytes (offset.metadata.max.bytes) is refused with
//   OFFSET_METADATA_TOO_LARGE per partition, in every version.

const offsetMetadataMaxBytes = 4096

func (h *Handler) handleOffsetCommit(ctx context.Context, r *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := map[group.TopicPartition]int16{}
	setAll := func(code int16) {
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				codes[group.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = code
			}
		}
	}
	answer := func() kmsg.Response {
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = codes[group.TopicPartition{Topic: t.Topic, Partition: p.Partition}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if r.Version == 0 {
		h.commitOffsetsToZK(r, codes)
		return answer()
	}
	if r.Group == "" {
		setAll(kerr.InvalidGroupID.Code)
		return answer()
	}
	gc := h.groups
	gc.mu.Lock()
	e := gc.check(r.Group)
	if e == nil {
		e = gc.c.CheckCommit(r.Group, r.MemberID, r.Generation)
	}
	part := gc.c.Partition(r.Group)
	gc.mu.Unlock()
	if e != nil {
		setAll(e.Code)
		return answer()
	}
	now := h.nowMs()
	offsets := map[group.TopicPartition]group.OffsetValue{}
	var kvs []group.KV
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			k := group.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			if len(md) > offsetMetadataMaxBytes {
				codes[k] = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			v := group.OffsetValue{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: md, CommitMs: now}
			if r.Version < 6 {
				v.LeaderEpoch = -1
			}
			offsets[k] = v
			key, val := group.OffsetRecord(r.Group, t.Topic, p.Partition, &v)
			kvs = append(kvs, group.KV{Key: key, Value: val})
		}
	}
	if len(kvs) == 0 {
		return answer()
	}
	if e := gc.append(ctx, part, kvs); e != nil {
		for k := range offsets {
			codes[k] = e.Code
		}
		return answer()
	}
	gc.mu.Lock()
	if gc.check(r.Group) == nil {
		gc.c.Commit(now, r.Group, offsets)
	}
	gc.mu.Unlock()
	return answer()
}

// knownPartition reports whether the metadata cache has topic-partition.
func (h *Handler) knownPartition(topic string, partition int32) bool {
	c := h.cache
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.topics[topic]
	if !ok {
		return false
	}
	_, ok = t.Parts[partition]
	return ok
}

// commitOffsetsToZK answers OffsetCommit v0: every offset goes to
// ZooKeeper, one znode per partition, in request order.
func (h *Handler) commitOffsetsToZK(r *kmsg.OffsetCommitRequest, codes map[group.TopicPartition]int16) {
	store := h.o.Store // nil without ZooKeeper: every partition fails with UNKNOWN_SERVER_ERROR
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			k := group.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			switch {
			case !h.knownPartition(t.Topic, p.Partition):
				codes[k] = kerr.UnknownTopicOrPartition.Code
			case p.Metadata != nil && len(*p.Metadata) > offsetMetadataMaxBytes:
				codes[k] = kerr.OffsetMetadataTooLarge.Code
			case store == nil:
				codes[k] = kerr.UnknownServerError.Code
			default:
				if err := store.SetConsumerOffset(r.Group, t.Topic, p.Partition, p.Offset); err != nil {
					h.o.Logf("OffsetCommit v0 of group %q, %s-%d: %v", r.Group, t.Topic, p.Partition, err)
					codes[k] = kerr.UnknownServerError.Code
					continue
				}
				codes[k] = 0
			}
		}
	}
}
