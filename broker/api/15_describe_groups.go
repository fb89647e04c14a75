package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups: v0-5
//
// Behavior:
// * Each group is answered by its coordinator (NOT_COORDINATOR,
//   COORDINATOR_LOAD_IN_PROGRESS per group); an unknown group answers state
//   "Dead" without error, as Kafka does.
// * Members carry their metadata and assignment only while the group is
//   Stable (Kafka's group summary).

func (h *Handler) handleDescribeGroups(r *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	gc := h.groups
	gc.mu.Lock()
	defer gc.mu.Unlock()
	for _, id := range r.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		rg.AuthorizedOperations = -2147483648
		if e := gc.check(id); e != nil {
			rg.ErrorCode = e.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		g := gc.c.Group(id)
		if g == nil {
			rg.State = "Dead"
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State, rg.ProtocolType = g.State.String(), g.ProtocolType
		stable := g.State.String() == "Stable"
		if stable {
			rg.Protocol = g.Protocol
		}
		for _, m := range g.Members() {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.ID, m.InstanceID, m.ClientID, m.ClientHost
			if stable {
				for _, p := range m.Protocols {
					if p.Name == g.Protocol {
						rm.ProtocolMetadata = p.Metadata
					}
				}
				rm.MemberAssignment = m.Assignment
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
