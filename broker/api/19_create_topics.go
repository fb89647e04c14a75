package api

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/config"
	"kzoo/broker/zkstate"
)

// CreateTopics: v0-7
//
// Behavior:
// * Validates the name (Kafka's legal characters, at most 249, not "." or
//   "..", no '.'/'_' collision with an existing topic), partitions and replication factor (-1 = broker default, v4+),
//   a replication factor above the live broker count → INVALID_REPLICATION_FACTOR,
//   a manual assignment (then partitions and factor must be -1), and every
//   config (INVALID_CONFIG naming the key).
// * Replicas come from the controller's assignment algorithm with a random
//   start, or from the request's assignment; the topic is written to
//   ZooKeeper (configs first) unless ValidateOnly.
// * Then waits, bounded by the request's timeout, until the metadata cache
//   has a leader for every partition, as Kafka's handler does; a topic still
//   without leaders at the deadline reports REQUEST_TIMED_OUT.
// * v5+ reports partitions, replication factor and resolved configs.

// errWith pairs a kerr error with the message sent to the client.
type errWith struct {
	err *kerr.Error
	msg string
}

func (e *errWith) Error() string { return e.err.Message + ": " + e.msg }
func (e *errWith) Unwrap() error { return e.err }

func kerrf(k *kerr.Error, format string, args ...any) error {
	return &errWith{k, fmt.Sprintf(format, args...)}
}

func errMessage(err error) *string {
	var ew *errWith
	if errors.As(err, &ew) {
		return &ew.msg
	}
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return nil
	}
	s := err.Error()
	return &s
}

func validateTopicName(name string) error {
	if name == "" {
		return kerrf(kerr.InvalidTopicException, "Topic name is illegal, it can't be empty")
	}
	if name == "." || name == ".." {
		return kerrf(kerr.InvalidTopicException, "Topic name cannot be \".\" or \"..\"")
	}
	if len(name) > 249 {
		return kerrf(kerr.InvalidTopicException, "Topic name is illegal, it can't be longer than 249 characters, topic name: %s", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return kerrf(kerr.InvalidTopicException, "Topic name %s is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// liveBrokerIDs is the live broker list from the cache, else from ZooKeeper.
func (h *Handler) liveBrokerIDs() []int32 {
	var ids []int32
	for _, b := range h.cache.liveBrokers() {
		ids = append(ids, b.ID)
	}
	if len(ids) == 0 && h.o.Store != nil {
		bs, _, err := h.o.Store.Brokers()
		if err == nil {
			for _, b := range bs {
				ids = append(ids, b.ID)
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

type topicPlan struct {
	name    string
	assign  map[int32][]int32
	configs map[string]string
	rf      int16
	id      [16]byte
}

func (h *Handler) planTopic(t kmsg.CreateTopicsRequestTopic) (topicPlan, error) {
	pl := topicPlan{name: t.Topic, configs: map[string]string{}}
	if err := validateTopicName(t.Topic); err != nil {
		return pl, err
	}
	// '.' and '_' collide in metric names, so Kafka refuses such pairs.
	norm := strings.ReplaceAll(t.Topic, ".", "_")
	for _, other := range h.cache.topicNames() {
		if other != t.Topic && strings.ReplaceAll(other, ".", "_") == norm {
			return pl, kerrf(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", t.Topic, other)
		}
	}
	for _, c := range t.Configs {
		if c.Value == nil {
			return pl, kerrf(kerr.InvalidConfig, "Null value not supported for topic configs: %s", c.Name)
		}
		if err := config.ValidateTopicConfig(c.Name, *c.Value); err != nil {
			if errors.Is(err, config.ErrUnknownTopicKey) {
				return pl, kerrf(kerr.InvalidConfig, "Unknown topic config name: %s", c.Name)
			}
			return pl, kerrf(kerr.InvalidConfig, "Invalid value %s for configuration %s: %v", *c.Value, c.Name, err)
		}
		pl.configs[c.Name] = *c.Value
	}
	live := h.liveBrokerIDs()
	if len(t.ReplicaAssignment) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return pl, kerrf(kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
		}
		pl.assign = map[int32][]int32{}
		alive := map[int32]bool{}
		for _, b := range live {
			alive[b] = true
		}
		for _, ra := range t.ReplicaAssignment {
			if len(ra.Replicas) == 0 {
				return pl, kerrf(kerr.InvalidReplicaAssignment, "Replica assignment for partition %d is empty", ra.Partition)
			}
			seen := map[int32]bool{}
			for _, r := range ra.Replicas {
				if seen[r] {
					return pl, kerrf(kerr.InvalidReplicaAssignment, "Duplicate replica assignment found: %v", ra.Replicas)
				}
				seen[r] = true
				if !alive[r] {
					return pl, kerrf(kerr.BrokerNotAvailable, "Unknown broker %d in replica assignment of partition %d", r, ra.Partition)
				}
			}
			if _, dup := pl.assign[ra.Partition]; dup {
				return pl, kerrf(kerr.InvalidReplicaAssignment, "Partition %d is assigned twice", ra.Partition)
			}
			pl.assign[ra.Partition] = ra.Replicas
			pl.rf = int16(len(ra.Replicas))
		}
		for i := range int32(len(pl.assign)) {
			if _, ok := pl.assign[i]; !ok {
				return pl, kerrf(kerr.InvalidReplicaAssignment, "Partitions should be a consecutive 0-based integer sequence, partition %d is missing", i)
			}
		}
		return pl, nil
	}
	n := t.NumPartitions
	if n == -1 {
		n = h.cfg.NumPartitions
	}
	rf := t.ReplicationFactor
	if rf == -1 {
		rf = h.cfg.DefaultReplicationFactor
	}
	if n <= 0 {
		return pl, kerrf(kerr.InvalidPartitions, "Number of partitions must be larger than 0.")
	}
	if rf <= 0 {
		return pl, kerrf(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0.")
	}
	if int(rf) > len(live) {
		return pl, kerrf(kerr.InvalidReplicationFactor, "Replication factor: %d larger than available brokers: %d.", rf, len(live))
	}
	if h.o.Assign == nil {
		return pl, kerrf(kerr.UnknownServerError, "no replica assignment available")
	}
	a, err := h.o.Assign(live, int(n), int(rf), h.randIntn(len(live)), h.randIntn(len(live)))
	if err != nil {
		return pl, kerrf(kerr.InvalidReplicationFactor, "%v", err)
	}
	pl.assign, pl.rf = a, rf
	return pl, nil
}

func (h *Handler) writeTopic(pl *topicPlan) error {
	if h.o.Store == nil {
		return kerrf(kerr.UnknownServerError, "no ZooKeeper connection")
	}
	pl.id = uuid.New()
	err := h.o.Store.CreateTopic(zkstate.TopicAssignment{Name: pl.name, TopicID: pl.id, Partitions: pl.assign}, pl.configs)
	if errors.Is(err, zkstate.ErrTopicExists) {
		return kerrf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", pl.name)
	}
	if err != nil {
		return kerrf(kerr.UnknownServerError, "%v", err)
	}
	return nil
}

// autoCreate creates a topic with broker defaults (Metadata auto-creation).
func (h *Handler) autoCreate(name string) error {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, -1, -1
	if name == "__consumer_offsets" {
		t.NumPartitions = h.cfg.OffsetsTopicNumPartitions
		t.ReplicationFactor = min(h.cfg.OffsetsTopicReplicationFactor, int16(max(1, len(h.liveBrokerIDs()))))
		v := "compact"
		t.Configs = append(t.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "cleanup.policy", Value: &v})
	}
	pl, err := h.planTopic(t)
	if err != nil {
		return err
	}
	return h.writeTopic(&pl)
}

// waitUntil polls cond on every metadata update until it holds or the deadline passes.
func (h *Handler) waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := h.cache.waitChan()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond()
		case <-ctx.Done():
			return false
		}
	}
}

func (h *Handler) handleCreateTopics(ctx context.Context, r *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, t := range r.Topics {
		seen[t.Topic]++
	}
	var created []int
	plans := make([]topicPlan, len(r.Topics))
	for i, t := range r.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		var err error
		if seen[t.Topic] > 1 {
			err = kerrf(kerr.InvalidRequest, "Create topics request from client contains a duplicate topic %s", t.Topic)
		} else if h.cache.hasTopic(t.Topic) {
			err = kerrf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", t.Topic)
		} else {
			plans[i], err = h.planTopic(t)
			if err == nil && !r.ValidateOnly {
				err = h.writeTopic(&plans[i])
				if err == nil {
					created = append(created, i)
				}
			}
		}
		if err != nil {
			rt.ErrorCode = errCode(err)
			if r.Version >= 1 {
				rt.ErrorMessage = errMessage(err)
			}
		} else if r.Version >= 5 {
			rt.TopicID = plans[i].id
			rt.NumPartitions = int32(len(plans[i].assign))
			rt.ReplicationFactor = plans[i].rf
			for _, v := range h.cfg.ResolveTopic(plans[i].configs) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.Value = v.Name, strp(v.Value)
				c.Source = configSource(v.Source)
				c.IsSensitive = false
				rt.Configs = append(rt.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(created) > 0 && r.TimeoutMillis > 0 {
		done := h.waitUntil(ctx, time.Duration(r.TimeoutMillis)*time.Millisecond, func() bool {
			for _, i := range created {
				if !h.cache.allLeadersKnown(plans[i].name, len(plans[i].assign)) {
					return false
				}
			}
			return true
		})
		if !done {
			for _, i := range created {
				if !h.cache.allLeadersKnown(plans[i].name, len(plans[i].assign)) {
					resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
					if r.Version >= 1 {
						resp.Topics[i].ErrorMessage = strp(fmt.Sprintf("Timed out waiting for leaders of topic %s", plans[i].name))
					}
				}
			}
		}
	}
	return resp
}

// configSource maps a config.TopicValue source to the wire's enum.
func configSource(s string) int8 {
	switch s {
	case "DYNAMIC_TOPIC_CONFIG":
		return 1
	case "DYNAMIC_BROKER_CONFIG":
		return 2
	case "DYNAMIC_DEFAULT_BROKER_CONFIG":
		return 3
	case "STATIC_BROKER_CONFIG":
		return 4
	case "DEFAULT_CONFIG":
		return 5
	}
	return 0
}
