package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/config"
)

// AlterConfigs: v0-2
//
// Behavior:
// * Topics: replaces the topic's whole dynamic config (keys not named go
//   back to their defaults) after validating every key and value
//   (INVALID_CONFIG naming the key); written to /config/topics/T with a
//   /config/changes notification, which every broker watches and applies.
//   ValidateOnly checks without writing. Unknown topic →
//   UNKNOWN_TOPIC_OR_PARTITION.
// * Brokers: dynamic broker configs are not supported → INVALID_REQUEST.

func (h *Handler) handleAlterConfigs(r *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, res := range r.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		err := func() error {
			if res.ResourceType != kmsg.ConfigResourceTypeTopic {
				return kerrf(kerr.InvalidRequest, "dynamic %s configs are not supported", res.ResourceType)
			}
			if !h.topicExists(res.ResourceName) {
				return kerr.UnknownTopicOrPartition
			}
			cfg := map[string]string{}
			for _, c := range res.Configs {
				if c.Value == nil {
					continue
				}
				if err := validateTopicKV(c.Name, *c.Value); err != nil {
					return err
				}
				cfg[c.Name] = *c.Value
			}
			if r.ValidateOnly {
				return nil
			}
			return h.writeTopicConfig(res.ResourceName, cfg)
		}()
		rr.ErrorCode = errCode(err)
		rr.ErrorMessage = errMessage(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func validateTopicKV(name, value string) error {
	if err := config.ValidateTopicConfig(name, value); err != nil {
		if errors.Is(err, config.ErrUnknownTopicKey) {
			return kerrf(kerr.InvalidConfig, "Unknown topic config name: %s", name)
		}
		return kerrf(kerr.InvalidConfig, "Invalid value %s for configuration %s: %v", value, name, err)
	}
	return nil
}

func (h *Handler) writeTopicConfig(topic string, cfg map[string]string) error {
	if err := h.o.Store.SetTopicConfig(topic, cfg); err != nil {
		return kerrf(kerr.UnknownServerError, "writing config of topic %s: %v", topic, err)
	}
	return nil
}
