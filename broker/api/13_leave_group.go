package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup: v0-5
//
// Behavior:
// * v0-2 name one member; v3+ a batch of members by member id or
//   group.instance.id, each answered on its own (UNKNOWN_MEMBER_ID).
// * A member leaving a Stable or CompletingRebalance group starts a
//   rebalance; the last one leaving empties the group.

func (h *Handler) handleLeaveGroup(r *kmsg.LeaveGroupRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	var ids []string
	var instances []*string
	if r.Version < 3 {
		ids, instances = []string{r.MemberID}, []*string{nil}
	} else {
		for _, m := range r.Members {
			ids, instances = append(ids, m.MemberID), append(instances, m.InstanceID)
		}
	}
	gc := h.groups
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if e := gc.check(r.Group); e != nil {
		resp.ErrorCode = e.Code
		return resp
	}
	errs := gc.c.Leave(h.nowMs(), r.Group, ids, instances)
	if r.Version < 3 {
		if errs[0] != nil {
			resp.ErrorCode = errs[0].Code
		}
		return resp
	}
	for i, e := range errs {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = ids[i], instances[i]
		if e != nil {
			rm.ErrorCode = e.Code
		}
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
