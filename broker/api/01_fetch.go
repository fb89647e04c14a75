package api

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch: v0-13
//
// Behavior:
// * Stored batches are returned as raw bytes, never re-encoded; v0-3
//   fetchers get them down-converted to magic 0 (v0-1) or 1 (v2-3), without
//   the uncompressed records before the fetch offset (a legacy set has one
//   message per uncompressed record, and some consumers take the first one
//   for the record at the fetch offset); a compressed batch stays whole.
// * Consumers read up to the high watermark (read_uncommitted and
//   read_committed alike: no transactions are open, so the last stable
//   offset equals the high watermark); followers (replica id >= 0) read to
//   the log end, and their fetch offset moves the high watermark.
// * max.bytes (v3+) bounds the response and partition max bytes each
//   partition, except that the first partition with data returns at least
//   one batch so a consumer never stalls on a large one.
// * Long poll: when fewer than min.bytes are ready and no partition has an
//   error, waits up to max.wait.ms for appends, then reads again.
// * Fetch sessions are not kept: the response's session id is 0, which
//   tells clients to send full fetches; a request naming a session gets
//   FETCH_SESSION_ID_NOT_FOUND.
// * v13 names topics by id (UNKNOWN_TOPIC_ID when unknown).
// * Errors per partition: NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
//   OFFSET_OUT_OF_RANGE, FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (v9+).

func (h *Handler) handleFetch(ctx context.Context, hdr *Header, r *kmsg.FetchRequest) (kmsg.Response, error) {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	if r.Version >= 7 && (r.SessionID > 0 || r.SessionEpoch > 0) {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	names := make([]string, len(r.Topics))
	for i, t := range r.Topics {
		names[i] = t.Topic
		if r.Version >= 13 {
			names[i], _ = h.cache.topicByID(t.TopicID)
		}
	}
	var deadline *time.Timer
	for {
		ch := h.rm.waitChan()
		total, errs := h.fetchOnce(r, names, resp)
		if errs || total >= int(r.MinBytes) || r.MaxWaitMillis <= 0 {
			break
		}
		if deadline == nil {
			deadline = time.NewTimer(time.Duration(r.MaxWaitMillis) * time.Millisecond)
			defer deadline.Stop()
		}
		select {
		case <-ch:
			continue
		case <-deadline.C:
		case <-ctx.Done():
		}
		h.fetchOnce(r, names, resp)
		break
	}
	return resp, nil
}

// fetchOnce fills resp.Topics from scratch; it returns the bytes read and
// whether any partition carries an error.
func (h *Handler) fetchOnce(r *kmsg.FetchRequest, names []string, resp *kmsg.FetchResponse) (int, bool) {
	resp.Topics = resp.Topics[:0]
	follower := r.ReplicaID >= 0
	budget := int(r.MaxBytes)
	if r.Version < 3 {
		budget = 1 << 30
	}
	total, anyErr := 0, false
	minOne := true
	for ti, t := range r.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, fp := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = fp.Partition
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
			// An empty record set, never a null one (size -1): librdkafka
			// rejects a null set as a parse failure and stalls at the end
			// of every partition.
			rp.RecordBatches = []byte{}
			var err error
			if names[ti] == "" {
				err = kerr.UnknownTopicID
			} else {
				var n int
				n, err = h.fetchPartition(r, tp{names[ti], fp.Partition}, fp, follower, min(int(fp.PartitionMaxBytes), budget), minOne, &rp)
				if n > 0 {
					minOne = false
					total += n
					budget -= n
				}
			}
			if err != nil {
				rp.ErrorCode = errCode(err)
				anyErr = true
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return total, anyErr
}

func (h *Handler) fetchPartition(r *kmsg.FetchRequest, t tp, fp kmsg.FetchRequestTopicPartition, follower bool, maxBytes int, minOne bool, rp *kmsg.FetchResponseTopicPartition) (int, error) {
	p, err := h.leaderPartition(t)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	if !p.isLeader {
		p.mu.Unlock()
		return 0, kerr.NotLeaderForPartition
	}
	if r.Version >= 9 && fp.CurrentLeaderEpoch >= 0 {
		if fp.CurrentLeaderEpoch < p.leaderEpoch {
			p.mu.Unlock()
			return 0, kerr.FencedLeaderEpoch
		} else if fp.CurrentLeaderEpoch > p.leaderEpoch {
			p.mu.Unlock()
			return 0, kerr.UnknownLeaderEpoch
		}
	}
	start, end := p.log.StartOffset(), p.log.EndOffset()
	if follower {
		if fp.FetchOffset <= end {
			p.recordFollowerFetch(r.ReplicaID, fp.FetchOffset, end, h.nowMs())
		}
		if p.maybeAdvanceHW(h.cfg.BrokerID) {
			defer h.rm.notify()
		}
	}
	hw := p.hw
	rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = hw, hw, start
	if fp.FetchOffset < start || fp.FetchOffset > end {
		p.mu.Unlock()
		return 0, kerr.OffsetOutOfRange
	}
	limit := hw
	if follower {
		limit = end
	}
	l := p.log
	p.mu.Unlock()
	// The log is safe for concurrent reads; only the state above needs p.mu.
	var data []byte
	if fp.FetchOffset < limit && maxBytes > 0 {
		data, err = l.Read(fp.FetchOffset, maxBytes, limit, minOne)
	} else if fp.FetchOffset < limit && minOne {
		data, err = l.Read(fp.FetchOffset, 1, limit, true)
	}
	if errors.Is(err, kerr.OffsetOutOfRange) {
		// Retention or DeleteRecords moved the log start since the check above.
		return 0, kerr.OffsetOutOfRange
	}
	if err != nil {
		h.o.Logf("fetch %s at %d: %v", t, fp.FetchOffset, err)
		return 0, kerr.KafkaStorageError
	}
	if r.Version <= 3 && len(data) > 0 && h.o.DownConvert != nil {
		magic := int8(1)
		if r.Version <= 1 {
			magic = 0
		}
		conv, err := h.o.DownConvert(data, magic)
		if err != nil {
			h.o.Logf("fetch %s: down-converting to magic %d: %v", t, magic, err)
			return 0, kerr.UnknownServerError
		}
		data = skipLegacyBefore(conv, fp.FetchOffset)
	}
	if data != nil {
		rp.RecordBatches = data
	}
	return len(data), nil
}

// skipLegacyBefore drops the uncompressed messages before offset from the
// front of a legacy (magic 0 or 1) message set, as Kafka's down-conversion
// does. It stops at the first compressed wrapper (which stays whole: its
// consumer skips what it has already read), at the first message at or past
// offset, and at a partial message.
func skipLegacyBefore(set []byte, offset int64) []byte {
	const (
		entryHeader = 8 + 4               // offset, message size
		attrsAt     = entryHeader + 4 + 1 // then crc, magic
		codecMask   = 0x07
	)
	for len(set) > attrsAt {
		off := int64(binary.BigEndian.Uint64(set))
		size := int64(int32(binary.BigEndian.Uint32(set[8:])))
		if off >= offset || set[attrsAt]&codecMask != 0 || size < attrsAt-entryHeader+1 || entryHeader+size > int64(len(set)) {
			break
		}
		set = set[entryHeader+size:]
	}
	return set
}
