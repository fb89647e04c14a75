package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups: v0-2
//
// Behavior:
// * Each group is deleted by its coordinator: GROUP_ID_NOT_FOUND for an
//   unknown group, NON_EMPTY_GROUP while it has members. Tombstones for
//   its offsets and its metadata are written to __consumer_offsets and
//   replicated before the group is forgotten.

func (h *Handler) handleDeleteGroups(ctx context.Context, r *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	gc := h.groups
	for _, id := range r.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		gc.mu.Lock()
		e := gc.check(id)
		if e == nil {
			e = gc.c.CheckDelete(id)
		}
		kvs := gc.c.DeleteRecords(id)
		part := gc.c.Partition(id)
		gc.mu.Unlock()
		if e == nil {
			e = gc.append(ctx, part, kvs)
		}
		if e == nil {
			gc.mu.Lock()
			if e = gc.c.CheckDelete(id); e == nil {
				gc.c.Delete(id)
			}
			gc.mu.Unlock()
		}
		if e != nil {
			rg.ErrorCode = e.Code
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
