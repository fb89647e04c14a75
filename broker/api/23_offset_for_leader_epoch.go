package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetForLeaderEpoch: v0-4
//
// Behavior:
// * Leader only; v2+ checks the current leader epoch.
// * Answers the largest epoch at or below the requested one and the end
//   offset of that epoch (the log end for the current epoch), as the leader
//   epoch cache says; -1/-1 when the log has no such epoch (UNDEFINED).

func (h *Handler) handleOffsetForLeaderEpoch(r *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, ep := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = ep.Partition
			rp.LeaderEpoch, rp.EndOffset = -1, -1
			err := func() error {
				p, err := h.leaderPartition(tp{t.Topic, ep.Partition})
				if err != nil {
					return err
				}
				p.mu.Lock()
				defer p.mu.Unlock()
				if !p.isLeader {
					return kerr.NotLeaderForPartition
				}
				if r.Version >= 2 && ep.CurrentLeaderEpoch >= 0 {
					if ep.CurrentLeaderEpoch < p.leaderEpoch {
						return kerr.FencedLeaderEpoch
					} else if ep.CurrentLeaderEpoch > p.leaderEpoch {
						return kerr.UnknownLeaderEpoch
					}
				}
				rp.LeaderEpoch, rp.EndOffset = p.log.EndOffsetForEpoch(ep.LeaderEpoch)
				return nil
			}()
			rp.ErrorCode = errCode(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
