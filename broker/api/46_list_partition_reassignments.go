package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListPartitionReassignments: v0
//
// Behavior:
// * Served by the active controller (reassignments in progress);
//   elsewhere NOT_CONTROLLER.

func (h *Handler) handleListPartitionReassignments(r *kmsg.ListPartitionReassignmentsRequest) kmsg.Response {
	if c := h.controller(); c != nil && c.IsActive() {
		resp := c.ListPartitionReassignments(r)
		resp.Version = r.Version
		return resp
	}
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.ErrorCode = kerr.NotController.Code
	return resp
}
