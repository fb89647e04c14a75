package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce: v0-9
//
// Behavior:
// * acks must be -1, 0 or 1 (INVALID_REQUIRED_ACKS); acks=0 sends no response,
//   and closes the connection when a partition failed (as Kafka does).
// * Only the leader appends (NOT_LEADER_OR_FOLLOWER elsewhere,
//   UNKNOWN_TOPIC_OR_PARTITION for a partition the cluster does not have).
// * The batch bytes are appended as received; the storage layer validates
//   them (CORRUPT_MESSAGE for a bad CRC, MESSAGE_TOO_LARGE over
//   max.message.bytes, INVALID_RECORD). Legacy message sets (magic 0 and 1,
//   sent by Produce v0-2 clients) are converted to v2 batches first.
// * acks=-1 needs the ISR to hold at least min.insync.replicas members
//   (NOT_ENOUGH_REPLICAS, checked before appending) and waits, bounded by the
//   request's timeout, until the high watermark covers the append
//   (REQUEST_TIMED_OUT otherwise).

// ErrAcks0Failed is returned by Handle when an acks=0 produce failed: the
// connection is then closed, as Kafka does.
var ErrAcks0Failed = errors.New("api: acks=0 produce failed")

func (h *Handler) handleProduce(ctx context.Context, hdr *Header, r *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	type waiter struct {
		p     *partition
		until int64
	}
	waits := map[tp]waiter{}
	now := h.nowMs()
	for _, t := range r.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(t.Partitions))
		for _, pr := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = pr.Partition
			rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
			res, p, err := h.produceOne(tp{t.Topic, pr.Partition}, pr.Records, r.Acks, now)
			if err != nil {
				rp.ErrorCode = errCode(err)
				if r.Version >= 8 {
					rp.ErrorMessage = errMessage(err)
				}
			} else {
				rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = res.BaseOffset, res.LogAppendTimeMs, res.LogStartOffset
				if r.Acks == -1 {
					waits[tp{t.Topic, pr.Partition}] = waiter{p, res.LastOffset + 1}
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(waits) > 0 {
		covered := func(w waiter) bool {
			w.p.mu.Lock()
			defer w.p.mu.Unlock()
			return w.p.hw >= w.until
		}
		deadline := time.NewTimer(time.Duration(max(r.TimeoutMillis, 0)) * time.Millisecond)
		defer deadline.Stop()
	wait:
		for {
			ch := h.rm.waitChan()
			done := true
			for _, w := range waits {
				done = done && covered(w)
			}
			if done {
				break
			}
			select {
			case <-ch:
			case <-deadline.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				rp := &resp.Topics[ti].Partitions[pi]
				if w, ok := waits[tp{resp.Topics[ti].Topic, rp.Partition}]; ok && !covered(w) {
					rp.ErrorCode = kerr.RequestTimedOut.Code
				}
			}
		}
	}
	if r.Acks == 0 {
		// Kafka closes an acks=0 connection whose produce failed, so the
		// client notices and refreshes its metadata.
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					return nil, fmt.Errorf("%w: %s-%d: %v", ErrAcks0Failed, rt.Topic, rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
				}
			}
		}
		return nil, nil
	}
	return resp, nil
}

func (h *Handler) produceOne(t tp, records []byte, acks int16, now int64) (AppendResult, *partition, error) {
	if acks != 0 && acks != 1 && acks != -1 {
		return AppendResult{}, nil, kerr.InvalidRequiredAcks
	}
	p, err := h.leaderPartition(t)
	if err != nil {
		return AppendResult{}, nil, err
	}
	if len(records) > 16 && records[16] < 2 {
		if h.o.ConvertToV2 == nil {
			return AppendResult{}, nil, kerr.UnsupportedForMessageFormat
		}
		conv, err := h.o.ConvertToV2(records, now)
		if err != nil {
			if errors.As(err, new(*kerr.Error)) {
				return AppendResult{}, nil, err
			}
			return AppendResult{}, nil, kerrf(kerr.CorruptMessage, "%v", err)
		}
		records = conv
	}
	p.mu.Lock()
	if !p.isLeader {
		p.mu.Unlock()
		return AppendResult{}, nil, kerr.NotLeaderForPartition
	}
	if acks == -1 && len(p.isr) < p.minISR {
		p.mu.Unlock()
		return AppendResult{}, nil, kerrf(kerr.NotEnoughReplicas, "The size of the current ISR %v is insufficient to satisfy the min.isr requirement of %d for partition %s", p.isr, p.minISR, t)
	}
	res, err := p.log.AppendLeader(records, p.leaderEpoch, now)
	if err == nil {
		p.maybeAdvanceHW(h.cfg.BrokerID)
	}
	p.mu.Unlock()
	if err != nil {
		return AppendResult{}, nil, err
	}
	h.rm.notify()
	return res, p, nil
}
