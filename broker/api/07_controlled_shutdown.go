package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ControlledShutdown: v0-3
//
// Behavior:
// * Served only by the active controller (NOT_CONTROLLER elsewhere); moves
//   leadership off the named broker and lists the partitions it still leads.
// * A stale broker epoch is refused by the controller with STALE_BROKER_EPOCH.

func (h *Handler) handleControlledShutdown(r *kmsg.ControlledShutdownRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ControlledShutdownResponse)
	ctrl := h.controller()
	if ctrl == nil || !ctrl.IsActive() {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	epoch := r.BrokerEpoch
	if r.Version < 2 {
		epoch = -1
	}
	rem, err := ctrl.ControlledShutdown(r.BrokerID, epoch)
	resp.ErrorCode = errCode(err)
	resp.PartitionsRemaining = rem
	return resp
}
