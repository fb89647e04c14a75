package api

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/config"
)

// DescribeConfigs: v0-4
//
// Behavior:
// * Topics: every topic-level key with its effective value and source
//   (DYNAMIC_TOPIC_CONFIG from /config/topics, STATIC_BROKER_CONFIG when the
//   broker's file sets the default, DEFAULT_CONFIG); synonyms (v1+, when
//   asked) list the topic override, the broker key and the default.
//   Unknown topic → UNKNOWN_TOPIC_OR_PARTITION.
// * Brokers: this broker's server.properties keys, read-only (kzoo has no
//   dynamic broker configs); a broker id other than this one →
//   INVALID_REQUEST. Sensitive values are null.
// * ConfigNames filters; null means all.

func (h *Handler) topicExists(name string) bool {
	if h.cache.hasTopic(name) {
		return true
	}
	if h.o.Store == nil {
		return false
	}
	_, _, err := h.o.Store.Topic(name)
	return err == nil
}

func wanted(names []string) func(string) bool {
	if names == nil {
		return func(string) bool { return true }
	}
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return func(n string) bool { return m[n] }
}

func (h *Handler) handleDescribeConfigs(r *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range r.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		want := wanted(res.ConfigNames)
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if !h.topicExists(res.ResourceName) {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			over, err := h.o.Store.TopicConfig(res.ResourceName)
			if err != nil {
				rr.ErrorCode = kerr.UnknownServerError.Code
				rr.ErrorMessage = strp(err.Error())
				break
			}
			for _, v := range h.cfg.ResolveTopic(over) {
				if !want(v.Name) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name, c.Value = v.Name, strp(v.Value)
				c.Source = kmsg.ConfigSource(configSource(v.Source))
				c.IsDefault = v.Source == "DEFAULT_CONFIG"
				if r.IncludeSynonyms {
					if ov, ok := over[v.Name]; ok {
						c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: v.Name, Value: strp(ov), Source: kmsg.ConfigSourceDynamicTopicConfig})
					}
					if v.BrokerKey != "" {
						if h.cfg.Explicit[v.BrokerKey] {
							c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: v.BrokerKey, Value: strp(h.cfg.Values[v.BrokerKey]), Source: kmsg.ConfigSourceStaticBrokerConfig})
						}
						def, _ := h.cfg.TopicDefault(v.Name)
						c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: v.BrokerKey, Value: strp(def), Source: kmsg.ConfigSourceDefaultConfig})
					}
				}
				rr.Configs = append(rr.Configs, c)
			}
		case kmsg.ConfigResourceTypeBroker:
			if res.ResourceName != "" && res.ResourceName != strconv.Itoa(int(h.cfg.BrokerID)) {
				rr.ErrorCode = kerr.InvalidRequest.Code
				rr.ErrorMessage = strp("Unexpected broker id, expected " + strconv.Itoa(int(h.cfg.BrokerID)) + " or empty string, but received " + res.ResourceName)
				break
			}
			for _, k := range config.BrokerKeys() {
				if !want(k) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name, c.ReadOnly = k, true
				if v := h.cfg.Values[k]; v != "" {
					c.Value = strp(v)
				}
				c.Source = kmsg.ConfigSourceDefaultConfig
				c.IsDefault = true
				if h.cfg.Explicit[k] {
					c.Source, c.IsDefault = kmsg.ConfigSourceStaticBrokerConfig, false
				}
				if config.IsSensitive(k) {
					c.Value, c.IsSensitive = nil, true
				}
				rr.Configs = append(rr.Configs, c)
			}
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
			rr.ErrorMessage = strp("Unsupported resource type " + res.ResourceType.String())
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}
