package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ElectLeaders: v0-2
//
// Behavior:
// * Served by the active controller (preferred or unclean election, as the
//   controller decides); elsewhere NOT_CONTROLLER (top level for v1+, on
//   every named partition for v0), so clients retry on the controller.

func (h *Handler) handleElectLeaders(r *kmsg.ElectLeadersRequest) kmsg.Response {
	if c := h.controller(); c != nil && c.IsActive() {
		resp := c.ElectLeaders(r)
		resp.Version = r.Version
		return resp
	}
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	resp.ErrorCode = kerr.NotController.Code
	if r.Version == 0 {
		for _, t := range r.Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, kerr.NotController.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	return resp
}
