package kafkatools

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminSession is a connected client for the admin tools (topics, configs).
type adminSession struct {
	cl        *kgo.Client
	timeoutMs int32
}

// connectAdmin builds a client from --bootstrap-server and the
// --command-config properties and waits (bounded by default.api.timeout.ms,
// else defaultWaitMs) until a server answers.
func connectAdmin(ctx context.Context, bootstrap string, props map[string]string, clientID string) (*adminSession, error) {
	if bootstrap == "" {
		bootstrap = props["bootstrap.servers"]
	}
	servers, err := splitServers(bootstrap)
	if err != nil {
		return nil, err
	}
	opts, err := commonOpts(servers, props, clientID)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	wait := propMs(props, defaultWaitMs, "default.api.timeout.ms")
	if err := waitReachable(ctx, cl, servers, wait); err != nil {
		cl.Close()
		return nil, err
	}
	return &adminSession{cl: cl, timeoutMs: int32(propMs(props, 30000, "request.timeout.ms"))}, nil
}

func (a *adminSession) close() { a.cl.Close() }

// request sends req to whichever broker it belongs on, bounded in time.
func (a *adminSession) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.timeoutMs)*time.Millisecond+5*time.Second)
	defer cancel()
	return a.cl.Request(ctx, req)
}

// metadata fetches the brokers and the given topics (all topics when nil).
func (a *adminSession) metadata(ctx context.Context, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := a.request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// errorFor turns a response's error code and message into the error text
// Kafka's Java client would carry: the broker's message when it sent one,
// else the error's standard description.
func errorFor(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	if msg != nil && *msg != "" {
		return &protoError{code: code, msg: *msg}
	}
	kerrErr := kerr.ErrorForCode(code)
	var ke *kerr.Error
	if errors.As(kerrErr, &ke) {
		return &protoError{code: code, msg: ke.Description}
	}
	return &protoError{code: code, msg: kerrErr.Error()}
}

// protoError is a Kafka error code with the message to show for it.
type protoError struct {
	code int16
	msg  string
}

func (e *protoError) Error() string { return e.msg }

// Is matches the kerr sentinel of the same code.
func (e *protoError) Is(target error) bool {
	var ke *kerr.Error
	return errors.As(target, &ke) && ke.Code == e.code
}

// topicIDString prints a topic id as Kafka's Uuid.toString does: base64url
// without padding, 22 characters.
func topicIDString(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// isInternalTopic matches Kafka's Topic.isInternal.
func isInternalTopic(t string) bool {
	return t == "__consumer_offsets" || t == "__transaction_state"
}

// describeConfigs asks for the configs of resources of one type, with
// synonyms, and returns them per resource name.
func (a *adminSession) describeConfigs(ctx context.Context, typ kmsg.ConfigResourceType, names []string) (map[string]kmsg.DescribeConfigsResponseResource, error) {
	out := map[string]kmsg.DescribeConfigsResponseResource{}
	if len(names) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	for _, n := range names {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType = typ
		r.ResourceName = n
		req.Resources = append(req.Resources, r)
	}
	var shards []kgo.ResponseShard
	if typ == kmsg.ConfigResourceTypeBroker {
		// A broker's configs are served by that broker itself.
		shards = a.cl.RequestSharded(ctx, req)
	} else {
		resp, err := a.request(ctx, req)
		shards = []kgo.ResponseShard{{Resp: resp, Err: err}}
	}
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, sh.Err
		}
		for _, r := range sh.Resp.(*kmsg.DescribeConfigsResponse).Resources {
			if err := errorFor(r.ErrorCode, r.ErrorMessage); err != nil {
				return nil, err
			}
			out[r.ResourceName] = r
		}
	}
	return out, nil
}

// configIsDefault is Java's ConfigEntry.isDefault.
func configIsDefault(c kmsg.DescribeConfigsResponseResourceConfig) bool {
	if c.Source == kmsg.ConfigSourceUnknown || c.Source == 0 {
		return c.IsDefault
	}
	return c.Source == kmsg.ConfigSourceDefaultConfig
}

func strOrNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func fmtErr(prefix string, err error) string {
	if errors.Is(err, ErrUnreachable) {
		return prefix + unreachableMsg(err)
	}
	return fmt.Sprintf("%s%v", prefix, err)
}
