package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster: v0-1
//
// Behavior:
// * Brokers and controller from the metadata cache, with the endpoints of
//   the listener the request arrived on.
// * EndpointType 2 (controllers) is refused with UNSUPPORTED_ENDPOINT_TYPE:
//   a ZooKeeper-mode cluster has no controller endpoints.

func (h *Handler) handleDescribeCluster(hdr *Header, r *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = r.EndpointType
	if r.Version >= 1 && r.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return resp
	}
	resp.ClusterID = h.o.ClusterID
	resp.ControllerID = h.cache.controller()
	resp.ClusterAuthorizedOperations = -2147483648
	for _, b := range h.brokersFor(hdr.Listener) {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.NodeID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp
}
