package api

import (
	"bytes"
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/group"
)

// JoinGroup: v0-9
//
// Behavior:
// * Answered by the group's coordinator only (NOT_COORDINATOR elsewhere,
//   COORDINATOR_LOAD_IN_PROGRESS while its offsets partition loads);
//   INVALID_GROUP_ID for an empty group id.
// * v4+ members joining without an id get MEMBER_ID_REQUIRED and their new
//   id, and rejoin with it; older versions are admitted at once.
// * The answer waits for the join phase to end: every known member
//   rejoined, or the largest rebalance timeout passed (session timeout
//   before v1), or, for a group that was Empty,
//   group.initial.rebalance.delay.ms after the last join (bounded by the
//   rebalance timeout). The leader's answer lists the members and their
//   metadata for the protocol selected by vote.

func (h *Handler) handleJoinGroup(ctx context.Context, hdr *Header, r *kmsg.JoinGroupRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = -1
	resp.MemberID = r.MemberID
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	jr := group.JoinRequest{Group: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, ClientHost: "/" + hostOnly(hdr.ClientHost),
		SessionTimeoutMs: r.SessionTimeoutMillis, RebalanceTimeoutMs: r.RebalanceTimeoutMillis, ProtocolType: r.ProtocolType,
		RequireKnownMemberID: r.Version >= 4}
	if r.Version < 1 {
		jr.RebalanceTimeoutMs = r.SessionTimeoutMillis
	}
	if hdr.ClientID != nil {
		jr.ClientID = *hdr.ClientID
	}
	for _, p := range r.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)}) // the request buffer is reused
	}
	gc := h.groups
	res, code := await(ctx, gc, r.Group, func(now int64, done func(group.JoinResult)) { gc.c.Join(now, jr, done) })
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	resp.MemberID, resp.Generation = res.MemberID, res.Generation
	if res.Err != nil {
		resp.ErrorCode = res.Err.Code
		return resp
	}
	resp.Protocol, resp.LeaderID = kmsg.StringPtr(res.Protocol), res.Leader
	if r.Version >= 7 {
		resp.ProtocolType = kmsg.StringPtr(res.ProtocolType)
	}
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

// hostOnly drops the port: Kafka reports a member's host as "/ip".
func hostOnly(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
