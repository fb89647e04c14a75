package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId: v0-4
//
// Behavior:
// * Idempotent producers (null transactional id) get a fresh producer id
//   with epoch 0 from this broker's block of ids, claimed from
//   /latest_producer_id_block a thousand at a time so that no two brokers
//   hand out the same id (Kafka's ZkProducerIdManager); the storage layer
//   then deduplicates retried batches by sequence number.
// * Transactional ids are refused with COORDINATOR_NOT_AVAILABLE: kzoo has
//   no transaction coordinator yet.

func (h *Handler) handleInitProducerID(r *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	id, err := h.nextProducerID()
	if err != nil {
		h.o.Logf("allocating a producer id: %v", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

func (h *Handler) nextProducerID() (int64, error) {
	h.pidMu.Lock()
	defer h.pidMu.Unlock()
	if h.pidNext == 0 && h.pidEnd == 0 || h.pidNext > h.pidEnd {
		if h.o.Store == nil {
			return 0, kerrf(kerr.CoordinatorNotAvailable, "no ZooKeeper connection")
		}
		b, err := h.o.Store.AllocateProducerIDs(h.cfg.BrokerID)
		if err != nil {
			return 0, err
		}
		h.pidNext, h.pidEnd = b.Start, b.End
	}
	id := h.pidNext
	h.pidNext++
	return id, nil
}
