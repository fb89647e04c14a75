package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets: v0-7
//
// Behavior:
// * Timestamp -2 → log start offset, -1 → high watermark for consumers
//   (log end for a replica), -3 (v7) → the offset and timestamp of the
//   record with the largest timestamp; any other timestamp → the first
//   offset whose timestamp is at or after it (offset and timestamp -1 when
//   none), never at or past the high watermark for consumers.
// * v0 answers in OldStyleOffsets (one offset when MaxNumOffsets > 0).
// * Leader only (NOT_LEADER_OR_FOLLOWER); v4+ checks the current leader
//   epoch (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH).

func (h *Handler) handleListOffsets(hdr *Header, r *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, lp := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = lp.Partition
			rp.Offset, rp.Timestamp, rp.LeaderEpoch = -1, -1, -1
			off, ts, epoch, err := h.listOffset(r, tp{t.Topic, lp.Partition}, lp)
			if err != nil {
				rp.ErrorCode = errCode(err)
			} else {
				rp.Offset, rp.Timestamp, rp.LeaderEpoch = off, ts, epoch
				if r.Version == 0 && lp.MaxNumOffsets > 0 && off >= 0 {
					rp.OldStyleOffsets = []int64{off}
				} else if r.Version == 0 {
					rp.OldStyleOffsets = []int64{}
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (h *Handler) listOffset(r *kmsg.ListOffsetsRequest, t tp, lp kmsg.ListOffsetsRequestTopicPartition) (off, ts int64, epoch int32, err error) {
	p, err := h.leaderPartition(t)
	if err != nil {
		return 0, 0, 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.isLeader {
		return 0, 0, 0, kerr.NotLeaderForPartition
	}
	if r.Version >= 4 && lp.CurrentLeaderEpoch >= 0 {
		if lp.CurrentLeaderEpoch < p.leaderEpoch {
			return 0, 0, 0, kerr.FencedLeaderEpoch
		} else if lp.CurrentLeaderEpoch > p.leaderEpoch {
			return 0, 0, 0, kerr.UnknownLeaderEpoch
		}
	}
	limit := p.hw
	if r.ReplicaID >= 0 {
		limit = p.log.EndOffset()
	}
	switch lp.Timestamp {
	case -2:
		start := p.log.StartOffset()
		return start, -1, -1, nil
	case -1:
		return limit, -1, p.leaderEpoch, nil
	case -3:
		if r.Version < 7 {
			return 0, 0, 0, kerr.UnsupportedVersion
		}
		o, t := p.log.MaxTimestamp()
		if o < 0 || o >= limit {
			return -1, -1, -1, nil
		}
		return o, t, -1, nil
	}
	o, tsFound, ok := p.log.OffsetForTimestamp(lp.Timestamp)
	if !ok || o >= limit {
		return -1, -1, -1, nil
	}
	return o, tsFound, -1, nil
}
