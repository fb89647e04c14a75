package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteRecords: v0-2
//
// Behavior:
// * Leader only. Offset -1 means the high watermark; an offset past the
//   high watermark → OFFSET_OUT_OF_RANGE.
// * Moves the log start offset and drops whole segments below it; the
//   answer carries the new low watermark.

func (h *Handler) handleDeleteRecords(r *kmsg.DeleteRecordsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, dp := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition = dp.Partition
			rp.LowWatermark = -1
			lw, err := h.deleteRecords(tp{t.Topic, dp.Partition}, dp.Offset)
			rp.ErrorCode = errCode(err)
			if err == nil {
				rp.LowWatermark = lw
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (h *Handler) deleteRecords(t tp, off int64) (int64, error) {
	p, err := h.leaderPartition(t)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.isLeader {
		return 0, kerr.NotLeaderForPartition
	}
	if off == -1 {
		off = p.hw
	}
	if off < 0 || off > p.hw {
		return 0, kerr.OffsetOutOfRange
	}
	lw, err := p.log.DeleteRecordsBefore(off)
	if err != nil {
		h.o.Logf("DeleteRecords %s before %d: %v", t, off, err)
		return 0, kerr.KafkaStorageError
	}
	return lw, nil
}
