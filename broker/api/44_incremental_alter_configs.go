package api

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// IncrementalAlterConfigs: v0-1
//
// Behavior:
// * Topics: applies SET, DELETE, APPEND and SUBTRACT (the last two only on
//   list keys: cleanup.policy and the throttled-replica lists) to the
//   topic's dynamic config, validating the result (INVALID_CONFIG naming
//   the key), then writes it like AlterConfigs. ValidateOnly writes nothing.
// * Brokers: dynamic broker configs are not supported → INVALID_REQUEST.

func isListKey(k string) bool {
	return k == "cleanup.policy" || k == "leader.replication.throttled.replicas" || k == "follower.replication.throttled.replicas"
}

func (h *Handler) handleIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range r.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		err := func() error {
			if res.ResourceType != kmsg.ConfigResourceTypeTopic {
				return kerrf(kerr.InvalidRequest, "dynamic %s configs are not supported", res.ResourceType)
			}
			if !h.topicExists(res.ResourceName) {
				return kerr.UnknownTopicOrPartition
			}
			cur, err := h.o.Store.TopicConfig(res.ResourceName)
			if err != nil {
				return kerrf(kerr.UnknownServerError, "reading config of topic %s: %v", res.ResourceName, err)
			}
			if cur == nil {
				cur = map[string]string{}
			}
			for _, c := range res.Configs {
				val := ""
				if c.Value != nil {
					val = *c.Value
				}
				switch c.Op {
				case kmsg.IncrementalAlterConfigOpSet:
					if err := validateTopicKV(c.Name, val); err != nil {
						return err
					}
					cur[c.Name] = val
				case kmsg.IncrementalAlterConfigOpDelete:
					delete(cur, c.Name)
				case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
					if !isListKey(c.Name) {
						return kerrf(kerr.InvalidConfig, "Config value append is not allowed for config key: %s", c.Name)
					}
					base, ok := cur[c.Name]
					if !ok {
						base, _ = h.cfg.TopicDefault(c.Name)
					}
					items := splitCSV(base)
					for _, v := range splitCSV(val) {
						idx := -1
						for i, it := range items {
							if it == v {
								idx = i
							}
						}
						if c.Op == kmsg.IncrementalAlterConfigOpAppend && idx < 0 {
							items = append(items, v)
						} else if c.Op == kmsg.IncrementalAlterConfigOpSubtract && idx >= 0 {
							items = append(items[:idx], items[idx+1:]...)
						}
					}
					nv := strings.Join(items, ",")
					if err := validateTopicKV(c.Name, nv); err != nil {
						return err
					}
					cur[c.Name] = nv
				default:
					return kerrf(kerr.InvalidRequest, "unknown operation %d on %s", c.Op, c.Name)
				}
			}
			if r.ValidateOnly {
				return nil
			}
			return h.writeTopicConfig(res.ResourceName, cur)
		}()
		rr.ErrorCode = errCode(err)
		rr.ErrorMessage = errMessage(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func splitCSV(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
