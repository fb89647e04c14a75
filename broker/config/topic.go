package config

import (
	"fmt"
	"sort"
	"strconv"
)

// TopicKey describes one topic-level config and the broker key that gives
// its default.
type TopicKey struct {
	Name      string // topic-level name, e.g. retention.ms
	BrokerKey string // broker-level default, e.g. log.retention.ms ("" = fixed default)
	Default   string // used when BrokerKey is "" or unset
	kind      kind
	min       int64
}

// TopicKeys lists the topic-level configs Kafka 3.x knows, sorted by name.
var TopicKeys = []TopicKey{
	{"cleanup.policy", "log.cleanup.policy", "delete", kList, 0},
	{"compression.type", "compression.type", "producer", kString, 0},
	{"delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000", kLong, 0},
	{"file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", kLong, 0},
	{"flush.messages", "log.flush.interval.messages", "9223372036854775807", kLong, 1},
	{"flush.ms", "log.flush.interval.ms", "9223372036854775807", kLong, 0},
	{"follower.replication.throttled.replicas", "", "", kList, 0},
	{"index.interval.bytes", "log.index.interval.bytes", "4096", kInt, 0},
	{"leader.replication.throttled.replicas", "", "", kList, 0},
	{"max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "9223372036854775807", kLong, 1},
	{"max.message.bytes", "message.max.bytes", "1048588", kInt, 0},
	{"message.downconversion.enable", "log.message.downconversion.enable", "true", kBool, 0},
	{"message.timestamp.difference.max.ms", "log.message.timestamp.difference.max.ms", "9223372036854775807", kLong, 0},
	{"message.timestamp.type", "log.message.timestamp.type", "CreateTime", kString, 0},
	{"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "0.5", kDouble, 0},
	{"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", kLong, 0},
	{"min.insync.replicas", "min.insync.replicas", "1", kInt, 1},
	{"preallocate", "log.preallocate", "false", kBool, 0},
	{"retention.bytes", "log.retention.bytes", "-1", kLong, -1},
	{"retention.ms", "", "604800000", kLong, -1},
	{"segment.bytes", "log.segment.bytes", "1073741824", kInt, 14},
	{"segment.index.bytes", "log.index.size.max.bytes", "10485760", kInt, 4},
	{"segment.jitter.ms", "", "0", kLong, 0},
	{"segment.ms", "", "604800000", kLong, 1},
	{"unclean.leader.election.enable", "unclean.leader.election.enable", "false", kBool, 0},
}

var topicKeyIndex = func() map[string]int {
	m := map[string]int{}
	for i, k := range TopicKeys {
		m[k.Name] = i
	}
	return m
}()

// IsTopicKey reports whether name is a topic-level config.
func IsTopicKey(name string) bool { _, ok := topicKeyIndex[name]; return ok }

// ValidateTopicConfig checks one topic-level key and value; the error
// names the key (ErrUnknownTopicKey for an unknown one).
func ValidateTopicConfig(name, value string) error {
	i, ok := topicKeyIndex[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopicKey, name)
	}
	k := TopicKeys[i]
	if err := checkValue(name, def{k.kind, k.Default, k.min}, value); err != nil {
		return err
	}
	switch name {
	case "cleanup.policy":
		for _, p := range splitList(value) {
			if p != "delete" && p != "compact" {
				return fmt.Errorf("cleanup.policy: %q is not delete or compact", p)
			}
		}
	case "compression.type":
		if !validCompression(value) {
			return fmt.Errorf("compression.type: %q is not one of uncompressed, gzip, snappy, lz4, zstd, producer", value)
		}
	case "message.timestamp.type":
		if value != "CreateTime" && value != "LogAppendTime" {
			return fmt.Errorf("message.timestamp.type: %q is not CreateTime or LogAppendTime", value)
		}
	}
	return nil
}

// ErrUnknownTopicKey is wrapped by ValidateTopicConfig for an unknown key.
var ErrUnknownTopicKey = fmt.Errorf("config: unknown topic config")

// TopicValue is one resolved topic config with where it comes from.
type TopicValue struct {
	Name, Value string
	Source      string // DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG
	BrokerKey   string
}

// TopicDefault is the broker-level default of a topic key, with whether
// the broker's file set it explicitly. Where a broker key takes its value
// from others (log.retention.ms from log.retention.minutes or .hours,
// log.roll.ms from log.roll.hours, log.flush.interval.ms from
// log.flush.scheduler.interval.ms), the value follows them but only the
// key itself counts as set, as Kafka reports a topic config's source: the
// stock server.properties' log.retention.hours=168 leaves retention.ms a
// default, which kafka-topics --describe does not list.
func (c *Config) TopicDefault(name string) (value string, explicit bool) {
	i, ok := topicKeyIndex[name]
	if !ok {
		return "", false
	}
	k := TopicKeys[i]
	switch name {
	case "retention.ms":
		return strconv.FormatInt(c.LogRetentionMs(), 10), c.Explicit["log.retention.ms"]
	case "segment.ms":
		return strconv.FormatInt(c.LogRollMs(), 10), c.Explicit["log.roll.ms"]
	case "flush.ms":
		if c.Values["log.flush.interval.ms"] == "" {
			return c.Values["log.flush.scheduler.interval.ms"], false
		}
	}
	if k.BrokerKey != "" {
		if v := c.Values[k.BrokerKey]; v != "" {
			return v, c.Explicit[k.BrokerKey]
		}
	}
	return k.Default, false
}

// ResolveTopic returns every topic key with its effective value given the
// topic's dynamic overrides, sorted by name.
func (c *Config) ResolveTopic(overrides map[string]string) []TopicValue {
	out := make([]TopicValue, 0, len(TopicKeys))
	for _, k := range TopicKeys {
		tv := TopicValue{Name: k.Name, BrokerKey: k.BrokerKey}
		if v, ok := overrides[k.Name]; ok {
			tv.Value, tv.Source = v, "DYNAMIC_TOPIC_CONFIG"
		} else {
			v, explicit := c.TopicDefault(k.Name)
			tv.Value, tv.Source = v, "DEFAULT_CONFIG"
			if explicit {
				tv.Source = "STATIC_BROKER_CONFIG"
			}
		}
		out = append(out, tv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TopicMap is ResolveTopic as a name → value map.
func (c *Config) TopicMap(overrides map[string]string) map[string]string {
	m := make(map[string]string, len(TopicKeys))
	for _, v := range c.ResolveTopic(overrides) {
		m[v.Name] = v.Value
	}
	return m
}

// IsSensitive reports whether a broker key holds a secret (never shown).
func IsSensitive(name string) bool {
	return len(name) > 8 && (name[len(name)-8:] == "password" || name == "sasl.jaas.config")
}

// BrokerKeys returns the known broker keys, sorted.
func BrokerKeys() []string {
	out := make([]string, 0, len(brokerDefs))
	for k := range brokerDefs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
