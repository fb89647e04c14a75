package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups: v0-4
//
// Behavior:
// * Lists the groups of the offsets partitions this broker coordinates;
//   COORDINATOR_LOAD_IN_PROGRESS while any of them loads (the loaded ones
//   are still listed). v4 filters by state (case-insensitive).

func (h *Handler) handleListGroups(r *kmsg.ListGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	gc := h.groups
	gc.mu.Lock()
	defer gc.mu.Unlock()
	for _, l := range gc.loads {
		if !l.loaded {
			resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		}
	}
	for _, g := range gc.c.Groups() {
		if gc.check(g.ID) != nil {
			continue
		}
		if len(r.StatesFilter) > 0 {
			keep := false
			for _, s := range r.StatesFilter {
				keep = keep || equalFold(s, g.State.String())
			}
			if !keep {
				continue
			}
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState = g.ID, g.ProtocolType, g.State.String()
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
