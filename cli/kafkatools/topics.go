package kafkatools

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topics: kafka-topics.sh of Kafka 3.x with --bootstrap-server.
//
// Behavior: exactly one of --create, --list, --describe, --alter, --delete.
// --topic is a regular expression (Kafka's IncludeList: ',' means '|',
// whole-name match) except with --create. Output and messages are
// TopicCommand's; failures print `Error while executing topic command : …`
// on stdout and exit 1.

const topicsErrPrefix = "Error while executing topic command : "

// topicConfigNames are Kafka 3.x's topic-level config names (LogConfig).
var topicConfigNames = []string{
	"cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms",
	"flush.messages", "flush.ms", "follower.replication.throttled.replicas",
	"index.interval.bytes", "leader.replication.throttled.replicas", "local.retention.bytes",
	"local.retention.ms", "max.compaction.lag.ms", "max.message.bytes",
	"message.downconversion.enable", "message.format.version",
	"message.timestamp.difference.max.ms", "message.timestamp.type",
	"min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
	"preallocate", "remote.storage.enable", "retention.bytes", "retention.ms",
	"segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
	"unclean.leader.election.enable",
}

func topicsOpts() *optSet {
	return &optSet{opts: []*opt{
		{name: "bootstrap-server", arg: "server to connect to", desc: "REQUIRED: The Kafka server to connect to."},
		{name: "command-config", arg: "command config property file", desc: "Property file containing configs to be passed to Admin Client. This is used only with --bootstrap-server option for describing and altering broker configs."},
		{name: "list", desc: "List all available topics."},
		{name: "create", desc: "Create a new topic."},
		{name: "delete", desc: "Delete a topic"},
		{name: "alter", desc: "Alter the number of partitions, replica assignment, and/or configuration for the topic."},
		{name: "describe", desc: "List details for the given topics."},
		{name: "topic", arg: "topic", desc: "The topic to create, alter, describe or delete. It also accepts a regular expression, except for --create option. Put topic name in double quotes and use the '\\' prefix to escape regular expression symbols; e.g. \"test\\.topic\"."},
		{name: "topic-id", arg: "topic-id", desc: "The topic-id to describe.This is used only with --bootstrap-server option for describing topics."},
		{name: "config", arg: "name=value", desc: "A topic configuration override for the topic being created or altered. The following is a list of valid configurations:\n\t" + strings.Join(topicConfigNames, "\n\t") + "\nSee the Kafka documentation for full details on the topic configs. It is supported only in combination with --create if --bootstrap-server option is used (the kafka-configs CLI supports altering topic configs with a --bootstrap-server option)."},
		{name: "delete-config", arg: "name", desc: "A topic configuration override to be removed for an existing topic (see the list of configurations under the --config option). Not supported with the --bootstrap-server option."},
		{name: "partitions", arg: "# of partitions", typ: "Integer", desc: "The number of partitions for the topic being created or altered (WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected). If not supplied for create, defaults to the cluster default."},
		{name: "replication-factor", arg: "replication factor", typ: "Integer", desc: "The replication factor for each partition in the topic being created. If not supplied, defaults to the cluster default."},
		{name: "replica-assignment", arg: "broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...", desc: "A list of manual partition-to-broker assignments for the topic being created or altered."},
		{name: "under-replicated-partitions", desc: "if set when describing topics, only show under replicated partitions"},
		{name: "unavailable-partitions", desc: "if set when describing topics, only show partitions whose leader is not available"},
		{name: "under-min-isr-partitions", desc: "if set when describing topics, only show partitions whose isr count is less than the configured minimum."},
		{name: "at-min-isr-partitions", desc: "if set when describing topics, only show partitions whose isr count is equal to the configured minimum."},
		{name: "topics-with-overrides", desc: "if set when describing topics, only show topics that have overridden configs"},
		{name: "if-exists", desc: "if set when altering or deleting or describing topics, the action will only execute if the topic exists."},
		{name: "if-not-exists", desc: "if set when creating topics, the action will only execute if the topic does not already exist."},
		{name: "exclude-internal", desc: "exclude internal topics when running list or describe command. The internal topics will be listed by default"},
		{name: "version", desc: "Display Kafka version."},
	}}
}

func runTopics(e *env, args []string) int {
	s := topicsOpts()
	if len(args) == 0 {
		return usageFail(e, s, "Create, delete, describe, or change a topic.")
	}
	p, code := parseArgs(e, s, args, "This tool helps to create, delete, describe, or change a topic.")
	if p == nil {
		return code
	}
	if err := checkTopicsArgs(p); err != nil {
		return usageFail(e, s, err.Error())
	}
	props := map[string]string{}
	if p.has("command-config") {
		var err error
		if props, err = loadProps(p.str("command-config")); err != nil {
			fmt.Fprintln(e.out, topicsErrPrefix+err.Error())
			return 1
		}
	}
	// Validate what can be validated before talking to a server.
	var configs map[string]string
	var assignment [][]int32
	if p.has("create") || p.has("alter") {
		var err error
		if configs, err = parseTopicConfigs(p.all("config")); err != nil {
			fmt.Fprintln(e.out, topicsErrPrefix+err.Error())
			return 1
		}
		if p.has("replica-assignment") && p.str("replica-assignment") != "" {
			if assignment, err = parseReplicaAssignment(p.str("replica-assignment")); err != nil {
				fmt.Fprintln(e.out, topicsErrPrefix+err.Error())
				return 1
			}
		}
	}
	if p.has("create") {
		if p.has("replication-factor") {
			if rf := p.int64("replication-factor"); rf < 1 || rf > 32767 {
				fmt.Fprintln(e.out, topicsErrPrefix+"The replication factor must be between 1 and 32767 inclusive")
				return 1
			}
		}
		if p.has("partitions") && p.int64("partitions") < 1 {
			fmt.Fprintln(e.out, topicsErrPrefix+"The partitions must be greater than 0")
			return 1
		}
	}
	a, err := connectAdmin(e.ctx, p.str("bootstrap-server"), props, "kafka-topics")
	if err != nil {
		fmt.Fprintln(e.out, fmtErr(topicsErrPrefix, err))
		return 1
	}
	defer a.close()
	t := &topicsCmd{e: e, p: p, a: a}
	switch {
	case p.has("create"):
		err = t.create(configs, assignment)
	case p.has("list"):
		err = t.list()
	case p.has("describe"):
		err = t.describe()
	case p.has("delete"):
		err = t.delete()
	case p.has("alter"):
		err = t.alter(assignment)
	}
	if err != nil {
		fmt.Fprintln(e.out, fmtErr(topicsErrPrefix, err))
		return 1
	}
	return 0
}

// checkTopicsArgs is TopicCommandOptions.checkArgs.
func checkTopicsArgs(p *parsed) error {
	actions := 0
	for _, a := range []string{"create", "list", "alter", "describe", "delete"} {
		if p.has(a) {
			actions++
		}
	}
	if actions != 1 {
		return usagef("Command must include exactly one action: --list, --describe, --create, --alter or --delete")
	}
	if !p.has("bootstrap-server") {
		return usagef("--bootstrap-server must be specified")
	}
	if !p.has("list") && !p.has("describe") {
		if err := p.require("topic"); err != nil {
			return err
		}
	}
	if p.has("alter") {
		if p.has("config") {
			return usagef("Option combination \"[bootstrap-server],[config]\" can't be used with option \"[alter]\" (the kafka-configs CLI supports altering topic configs with a --bootstrap-server option)")
		}
		if err := p.require("partitions"); err != nil {
			return err
		}
	}
	if p.has("delete-config") {
		return usagef("Option \"[delete-config]\" can't be used with option \"[bootstrap-server]\" (the kafka-configs CLI supports altering topic configs with a --bootstrap-server option)")
	}
	checks := []struct {
		opt     string
		allowed []string
	}{
		{"config", []string{"create", "alter"}},
		{"partitions", []string{"create", "alter"}},
		{"replication-factor", []string{"create"}},
		{"replica-assignment", []string{"create", "alter"}},
		{"under-replicated-partitions", []string{"describe"}},
		{"unavailable-partitions", []string{"describe"}},
		{"under-min-isr-partitions", []string{"describe"}},
		{"at-min-isr-partitions", []string{"describe"}},
		{"topics-with-overrides", []string{"describe"}},
		{"if-exists", []string{"alter", "delete", "describe"}},
		{"if-not-exists", []string{"create"}},
		{"exclude-internal", []string{"list", "describe"}},
	}
	for _, c := range checks {
		var invalid []string
		for _, a := range []string{"alter", "create", "describe", "list", "delete"} {
			if !slices.Contains(c.allowed, a) {
				invalid = append(invalid, a)
			}
		}
		if err := p.invalidWith(c.opt, invalid...); err != nil {
			return err
		}
	}
	if p.has("create") && p.has("replica-assignment") {
		if err := p.invalidWith("replica-assignment", "partitions", "replication-factor"); err != nil {
			return err
		}
	}
	reports := []string{"under-replicated-partitions", "unavailable-partitions", "under-min-isr-partitions", "at-min-isr-partitions"}
	for _, r := range reports {
		if err := p.invalidWith(r, "topics-with-overrides"); err != nil {
			return err
		}
	}
	return nil
}

// parseTopicConfigs is TopicCommand.parseTopicConfigsToBeAdded.
func parseTopicConfigs(words []string) (map[string]string, error) {
	out := map[string]string{}
	split := regexp.MustCompile(`\s*=\s*`)
	for _, w := range words {
		kv := split.Split(w, -1)
		if len(kv) != 2 {
			return nil, errors.New("requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".")
		}
		k := strings.TrimSpace(kv[0])
		if !slices.Contains(topicConfigNames, k) {
			return nil, fmt.Errorf("Unknown topic config name: %s", k)
		}
		out[k] = strings.TrimSpace(kv[1])
	}
	return out, nil
}

// parseReplicaAssignment reads "0:1,1:2": one partition per comma, its
// brokers separated by colons.
func parseReplicaAssignment(s string) ([][]int32, error) {
	var out [][]int32
	for i, part := range strings.Split(s, ",") {
		var brokers []int32
		seen := map[int32]bool{}
		var dups []string
		for _, b := range strings.Split(part, ":") {
			n, err := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("For input string: \"%s\"", strings.TrimSpace(b))
			}
			if seen[int32(n)] {
				dups = append(dups, strconv.Itoa(int(n)))
			}
			seen[int32(n)] = true
			brokers = append(brokers, int32(n))
		}
		if len(dups) > 0 {
			return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(dups, ","))
		}
		if i > 0 && len(brokers) != len(out[0]) {
			return nil, fmt.Errorf("Partition %d has different replication factor: %s", i, fmtInt32s(brokers, ", ", "[", "]"))
		}
		out = append(out, brokers)
	}
	return out, nil
}

func fmtInt32s(xs []int32, sep, open, close string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return open + strings.Join(s, sep) + close
}

type topicsCmd struct {
	e *env
	p *parsed
	a *adminSession
}

func (t *topicsCmd) create(configs map[string]string, assignment [][]int32) error {
	name := t.p.str("topic")
	if strings.ContainsAny(name, "._") {
		fmt.Fprintln(t.e.out, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.")
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = t.a.timeoutMs
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions, rt.ReplicationFactor = -1, -1
	if len(assignment) > 0 {
		for i, brokers := range assignment {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition = int32(i)
			ra.Replicas = brokers
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
	} else {
		if t.p.has("partitions") {
			rt.NumPartitions = int32(t.p.int64("partitions"))
		}
		if t.p.has("replication-factor") {
			rt.ReplicationFactor = int16(t.p.int64("replication-factor"))
		}
	}
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = k
		c.Value = kmsg.StringPtr(configs[k])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := t.a.request(t.e.ctx, req)
	if err != nil {
		return err
	}
	for _, r := range resp.(*kmsg.CreateTopicsResponse).Topics {
		if r.ErrorCode == kerr.TopicAlreadyExists.Code {
			if t.p.has("if-not-exists") {
				return nil
			}
			return fmt.Errorf("Topic '%s' already exists.", name)
		}
		if err := errorFor(r.ErrorCode, r.ErrorMessage); err != nil {
			return err
		}
	}
	fmt.Fprintf(t.e.out, "Created topic %s.\n", name)
	return nil
}

// matchTopics is TopicCommand.getTopics: every topic (internal ones unless
// --exclude-internal), sorted, filtered by --topic as Kafka's IncludeList.
func (t *topicsCmd) matchTopics() ([]string, *kmsg.MetadataResponse, error) {
	md, err := t.a.metadata(t.e.ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	var re *regexp.Regexp
	if t.p.has("topic") {
		if re, err = includeList(t.p.str("topic")); err != nil {
			return nil, nil, err
		}
	}
	exclude := t.p.has("exclude-internal")
	var names []string
	for _, mt := range md.Topics {
		if mt.Topic == nil || !topicExists(mt.ErrorCode) {
			continue
		}
		name := *mt.Topic
		internal := mt.IsInternal || isInternalTopic(name)
		if exclude && internal {
			continue
		}
		if re != nil && !re.MatchString(name) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	if t.p.has("topic") && len(names) == 0 && !t.p.has("if-exists") {
		return nil, nil, fmt.Errorf("Topic '%s' does not exist as expected", t.p.str("topic"))
	}
	return names, md, nil
}

// topicExists says whether a metadata entry with this error code is a
// topic that exists: one whose leaders are moving still counts.
func topicExists(code int16) bool {
	switch code {
	case kerr.UnknownTopicOrPartition.Code, kerr.InvalidTopicException.Code, kerr.TopicAuthorizationFailed.Code:
		return false
	}
	return true
}

// includeList compiles a topic pattern as Kafka's IncludeList does.
func includeList(expr string) (*regexp.Regexp, error) {
	e := strings.TrimSpace(expr)
	e = strings.ReplaceAll(e, ",", "|")
	e = strings.ReplaceAll(e, " ", "")
	e = strings.TrimPrefix(strings.TrimSuffix(e, `"`), `"`)
	re, err := regexp.Compile("^(?:" + e + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s is an invalid regex.", expr)
	}
	return re, nil
}

func (t *topicsCmd) list() error {
	names, _, err := t.matchTopics()
	if err != nil {
		return err
	}
	fmt.Fprintln(t.e.out, strings.Join(names, "\n"))
	return nil
}

func (t *topicsCmd) describe() error {
	if t.p.has("topic-id") {
		return t.describeByID()
	}
	names, md, err := t.matchTopics()
	if err != nil {
		return err
	}
	return t.printDescriptions(names, md)
}

func (t *topicsCmd) describeByID() error {
	md, err := t.a.metadata(t.e.ctx, nil)
	if err != nil {
		return err
	}
	want := t.p.str("topic-id")
	var names []string
	for _, mt := range md.Topics {
		if mt.Topic != nil && topicIDString(mt.TopicID) == want {
			if t.p.has("exclude-internal") && (mt.IsInternal || isInternalTopic(*mt.Topic)) {
				continue
			}
			names = append(names, *mt.Topic)
		}
	}
	if len(names) == 0 && !t.p.has("if-exists") {
		return fmt.Errorf("TopicId '%s' does not exist as expected", want)
	}
	return t.printDescriptions(names, md)
}

func (t *topicsCmd) printDescriptions(names []string, md *kmsg.MetadataResponse) error {
	if len(names) == 0 {
		return nil
	}
	live := map[int32]bool{}
	for _, b := range md.Brokers {
		live[b.NodeID] = true
	}
	byName := map[string]kmsg.MetadataResponseTopic{}
	for _, mt := range md.Topics {
		if mt.Topic != nil {
			byName[*mt.Topic] = mt
		}
	}
	configs, err := t.a.describeConfigs(t.e.ctx, kmsg.ConfigResourceTypeTopic, names)
	if err != nil {
		return err
	}
	reassign := t.reassignments(names)
	reportUR := t.p.has("under-replicated-partitions")
	reportUA := t.p.has("unavailable-partitions")
	reportUnderMin := t.p.has("under-min-isr-partitions")
	reportAtMin := t.p.has("at-min-isr-partitions")
	describeConfigs := !reportUR && !reportUA && !reportUnderMin && !reportAtMin
	describePartitions := !t.p.has("topics-with-overrides")
	for _, name := range names {
		mt := byName[name]
		parts := slices.Clone(mt.Partitions)
		slices.SortFunc(parts, func(a, b kmsg.MetadataResponseTopicPartition) int { return int(a.Partition - b.Partition) })
		var nonDefault []string
		var entries []kmsg.DescribeConfigsResponseResourceConfig
		minISR := 1
		if res, ok := configs[name]; ok {
			entries = slices.Clone(res.Configs)
		}
		slices.SortFunc(entries, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int { return strings.Compare(a.Name, b.Name) })
		for _, c := range entries {
			if c.Name == "min.insync.replicas" && c.Value != nil {
				if n, err := strconv.Atoi(*c.Value); err == nil {
					minISR = n
				}
			}
			if !configIsDefault(c) {
				nonDefault = append(nonDefault, c.Name+"="+strOrNull(c.Value))
			}
		}
		if describeConfigs && (!t.p.has("topics-with-overrides") || len(nonDefault) > 0) && len(parts) > 0 {
			rf := replicationFactor(parts[0], reassign[partKey{name, parts[0].Partition}])
			var line strings.Builder
			line.WriteString("Topic: " + name)
			if mt.TopicID != [16]byte{} {
				line.WriteString("\tTopicId: " + topicIDString(mt.TopicID))
			}
			fmt.Fprintf(&line, "\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s", len(parts), rf, strings.Join(nonDefault, ","))
			fmt.Fprintln(t.e.out, line.String())
		}
		if !describePartitions {
			continue
		}
		for _, pt := range parts {
			ra := reassign[partKey{name, pt.Partition}]
			hasLeader := pt.Leader >= 0
			underReplicated := replicationFactor(pt, ra)-len(pt.ISR) > 0
			unavailable := !hasLeader || !live[pt.Leader]
			underMin := !hasLeader || len(pt.ISR) < minISR
			atMin := len(pt.ISR) == minISR
			if !(describeConfigs || (reportUR && underReplicated) || (reportUA && unavailable) ||
				(reportUnderMin && underMin) || (reportAtMin && atMin)) {
				continue
			}
			leader := "none"
			if hasLeader {
				leader = strconv.Itoa(int(pt.Leader))
			}
			line := fmt.Sprintf("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s",
				name, pt.Partition, leader, fmtInt32s(pt.Replicas, ",", "", ""), fmtInt32s(pt.ISR, ",", "", ""))
			if ra != nil {
				line += fmt.Sprintf("\tAdding Replicas: %s\tRemoving Replicas: %s",
					fmtInt32s(ra.AddingReplicas, ",", "", ""), fmtInt32s(ra.RemovingReplicas, ",", "", ""))
			}
			fmt.Fprintln(t.e.out, line)
		}
	}
	return nil
}

type partKey struct {
	topic     string
	partition int32
}

// replicationFactor is TopicCommand.getReplicationFactor: during a
// reassignment the replicas being added do not count.
func replicationFactor(pt kmsg.MetadataResponseTopicPartition, ra *kmsg.ListPartitionReassignmentsResponseTopicPartition) int {
	if ra != nil {
		changing := map[int32]bool{}
		for _, r := range ra.AddingReplicas {
			changing[r] = true
		}
		for _, r := range ra.RemovingReplicas {
			changing[r] = true
		}
		for _, r := range pt.Replicas {
			if changing[r] {
				return len(ra.Replicas) - len(ra.AddingReplicas)
			}
		}
	}
	return len(pt.Replicas)
}

// reassignments lists ongoing reassignments of the topics; a broker that
// does not support the request has none to show, as in Kafka.
func (t *topicsCmd) reassignments(names []string) map[partKey]*kmsg.ListPartitionReassignmentsResponseTopicPartition {
	out := map[partKey]*kmsg.ListPartitionReassignmentsResponseTopicPartition{}
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = t.a.timeoutMs
	req.Topics = nil // every ongoing reassignment
	resp, err := t.a.request(t.e.ctx, req)
	if err != nil {
		return out
	}
	r := resp.(*kmsg.ListPartitionReassignmentsResponse)
	if r.ErrorCode != 0 {
		return out
	}
	for _, rt := range r.Topics {
		if !slices.Contains(names, rt.Topic) {
			continue
		}
		for i := range rt.Partitions {
			out[partKey{rt.Topic, rt.Partitions[i].Partition}] = &rt.Partitions[i]
		}
	}
	return out
}

func (t *topicsCmd) delete() error {
	names, _, err := t.matchTopics()
	if err != nil || len(names) == 0 {
		return err
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = t.a.timeoutMs
	for _, n := range names {
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, dt)
		req.TopicNames = append(req.TopicNames, n)
	}
	resp, err := t.a.request(t.e.ctx, req)
	if err != nil {
		return err
	}
	for _, r := range resp.(*kmsg.DeleteTopicsResponse).Topics {
		if err := errorFor(r.ErrorCode, r.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}

func (t *topicsCmd) alter(assignment [][]int32) error {
	names, md, err := t.matchTopics()
	if err != nil || len(names) == 0 {
		return err
	}
	count := int32(t.p.int64("partitions"))
	current := map[string]int{}
	for _, mt := range md.Topics {
		if mt.Topic != nil {
			current[*mt.Topic] = len(mt.Partitions)
		}
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = t.a.timeoutMs
	for _, n := range names {
		if n == "__consumer_offsets" {
			return errors.New("The number of partitions for the offsets topic cannot be changed.")
		}
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic = n
		rt.Count = count
		if len(assignment) > 0 {
			start := current[n]
			for i := start; i < len(assignment); i++ {
				a := kmsg.NewCreatePartitionsRequestTopicAssignment()
				a.Replicas = assignment[i]
				rt.Assignment = append(rt.Assignment, a)
			}
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := t.a.request(t.e.ctx, req)
	if err != nil {
		return err
	}
	for _, r := range resp.(*kmsg.CreatePartitionsResponse).Topics {
		if err := errorFor(r.ErrorCode, r.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}
