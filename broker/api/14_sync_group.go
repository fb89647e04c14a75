package api

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/group"
)

// SyncGroup: v0-5
//
// Behavior:
// * Checked as Kafka does: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
//   INCONSISTENT_GROUP_PROTOCOL (v5 protocol type/name), and
//   REBALANCE_IN_PROGRESS while the group is preparing a rebalance.
// * Followers wait for the leader; the leader's assignments are written to
//   __consumer_offsets as group metadata and every waiting member is
//   answered with its assignment once the write is replicated.

func (h *Handler) handleSyncGroup(ctx context.Context, r *kmsg.SyncGroupRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	sr := group.SyncRequest{Group: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, Generation: r.Generation,
		ProtocolType: r.ProtocolType, Protocol: r.Protocol, Assignments: map[string][]byte{}}
	for _, a := range r.GroupAssignment {
		sr.Assignments[a.MemberID] = bytes.Clone(a.MemberAssignment) // the request buffer is reused
	}
	gc := h.groups
	res, code := await(ctx, gc, r.Group, func(now int64, done func(group.SyncResult)) { gc.c.Sync(now, sr, done) })
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if res.Err != nil {
		resp.ErrorCode = res.Err.Code
		return resp
	}
	resp.MemberAssignment = res.Assignment
	if r.Version >= 5 {
		resp.ProtocolType, resp.Protocol = kmsg.StringPtr(res.ProtocolType), kmsg.StringPtr(res.Protocol)
	}
	return resp
}
