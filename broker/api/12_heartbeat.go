package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat: v0-4
//
// Behavior:
// * Keeps a member's session alive; REBALANCE_IN_PROGRESS while the group
//   prepares a rebalance (the member must rejoin), UNKNOWN_MEMBER_ID and
//   ILLEGAL_GENERATION as Kafka answers them.

func (h *Handler) handleHeartbeat(r *kmsg.HeartbeatRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	gc := h.groups
	gc.mu.Lock()
	defer gc.mu.Unlock()
	e := gc.check(r.Group)
	if e == nil {
		e = gc.c.Heartbeat(h.nowMs(), r.Group, r.MemberID, r.Generation)
	}
	if e != nil {
		resp.ErrorCode = e.Code
	}
	return resp
}
