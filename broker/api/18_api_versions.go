package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions: v0-3
//
// Behavior:
// * Lists exactly the keys and version ranges in Versions.
// * A request at a version above 3 is answered by the server with a v0
//   response carrying UNSUPPORTED_VERSION and the key list, as Kafka does,
//   so the client can retry at a version it shares (see UnsupportedApiVersions).

func (h *Handler) handleApiVersions(r *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = apiKeys()
	return resp
}

func apiKeys() []kmsg.ApiVersionsResponseApiKey {
	var out []kmsg.ApiVersionsResponseApiKey
	for _, k := range sortedKeys() {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, Versions[k][0], Versions[k][1]
		out = append(out, ak)
	}
	return out
}

// UnsupportedApiVersions is the v0 response Kafka sends to an ApiVersions
// request at a version it does not know.
func UnsupportedApiVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiKeys()
	return resp
}
