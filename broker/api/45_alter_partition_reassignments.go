package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterPartitionReassignments: v0
//
// Behavior:
// * Served by the active controller (KIP-455 reassignments written to the
//   topic znode); elsewhere NOT_CONTROLLER.

func (h *Handler) handleAlterPartitionAssignments(r *kmsg.AlterPartitionAssignmentsRequest) kmsg.Response {
	if c := h.controller(); c != nil && c.IsActive() {
		resp := c.AlterPartitionReassignments(r)
		resp.Version = r.Version
		return resp
	}
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.ErrorCode = kerr.NotController.Code
	return resp
}
