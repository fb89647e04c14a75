package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterPartition: v0-3
//
// Behavior:
// * Sent by partition leaders to the controller to shrink or expand an
//   ISR; served by the active controller, NOT_CONTROLLER elsewhere.
// * This broker's leaders send it themselves (see isr.go).

func (h *Handler) handleAlterPartition(r *kmsg.AlterPartitionRequest) kmsg.Response {
	if c := h.controller(); c != nil && c.IsActive() {
		resp := c.AlterPartition(r)
		resp.Version = r.Version
		return resp
	}
	resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
	resp.ErrorCode = kerr.NotController.Code
	return resp
}
