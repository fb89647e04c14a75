package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// StopReplica: v0-4
//
// Behavior:
// * Sent by the controller when a replica leaves this broker (reassignment,
//   topic deletion). A stale controller epoch is refused whole with
//   STALE_CONTROLLER_EPOCH.
// * Stops serving and fetching the partition; with delete (v0-2 request
//   flag, v3+ per partition) its files are removed too.
// * A partition this broker does not host is answered without error.

func (h *Handler) handleStopReplica(r *kmsg.StopReplicaRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.StopReplicaResponse)
	if !h.rm.acceptControllerEpoch(r.ControllerEpoch) {
		resp.ErrorCode = kerr.StaleControllerEpoch.Code
		return resp
	}
	stop := func(topic string, part int32, del bool) {
		t := tp{topic, part}
		h.fetchers.remove(t)
		rp := kmsg.NewStopReplicaResponsePartition()
		rp.Topic, rp.Partition = topic, part
		if err := h.rm.stop(t, del); err != nil {
			h.o.Logf("StopReplica %s (delete=%v): %v", t, del, err)
			rp.ErrorCode = kerr.KafkaStorageError.Code
		}
		resp.Partitions = append(resp.Partitions, rp)
	}
	for _, t := range r.Topics {
		switch {
		case r.Version == 0:
			stop(t.Topic, t.Partition, r.DeletePartitions)
		case r.Version <= 2:
			for _, p := range t.Partitions {
				stop(t.Topic, p, r.DeletePartitions)
			}
		default:
			for _, ps := range t.PartitionStates {
				stop(t.Topic, ps.Partition, ps.Delete)
			}
		}
	}
	h.rm.notify()
	return resp
}
