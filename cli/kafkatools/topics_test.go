package kafkatools

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTopicsCreateDescribeListDelete(t *testing.T) {
	bs := startKfake(t, 3)

	r := runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "orders", "--partitions", "3", "--replication-factor", "2", "--config", "retention.ms=1000", "--config", "cleanup.policy=compact")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "Created topic orders.\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "orders", "--partitions", "1")
	require.Equal(t, 1, r.code)
	require.Equal(t, "Error while executing topic command : Topic 'orders' already exists.\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "orders", "--partitions", "1", "--if-not-exists")
	require.Equal(t, 0, r.code, r.out)
	require.Empty(t, r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "pay_ments", "--replica-assignment", "0:1,1:2")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.\nCreated topic pay_ments.\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--list")
	require.Equal(t, 0, r.code, r.out)
	require.Equal(t, "orders\npay_ments\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "orders")
	require.Equal(t, 0, r.code, r.out)
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	require.Len(t, lines, 4, r.out)
	require.Regexp(t, `^Topic: orders\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: cleanup.policy=compact,retention.ms=1000$`, lines[0])
	for i, l := range lines[1:] {
		require.Regexp(t, regexp.MustCompile(`^\tTopic: orders\tPartition: `+string(rune('0'+i))+`\tLeader: \d+\tReplicas: \d+,\d+\tIsr: \d+,\d+$`), l)
	}

	id := regexp.MustCompile(`TopicId: (\S+)`).FindStringSubmatch(lines[0])[1]
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic-id", id)
	require.Equal(t, 0, r.code, r.out)
	require.Equal(t, strings.Join(lines, "\n")+"\n", r.out, "the same topic by its id")
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic-id", "AAAAAAAAAAAAAAAAAAAAAA")
	require.Equal(t, "Error while executing topic command : TopicId 'AAAAAAAAAAAAAAAAAAAAAA' does not exist as expected\n", r.out)

	// --topic is a regular expression for describe.
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "pay.*")
	require.Equal(t, 0, r.code, r.out)
	// kfake places replicas itself (it ignores a requested assignment);
	// the kzoo cluster test checks that the assignment is kept.
	require.Contains(t, r.out, "\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: \n")
	require.Regexp(t, `\tTopic: pay_ments\tPartition: 1\tLeader: \d\tReplicas: \d,\d\tIsr: \d,\d\n`, r.out)
	require.NotContains(t, r.out, "orders")

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "nope")
	require.Equal(t, 1, r.code)
	require.Equal(t, "Error while executing topic command : Topic 'nope' does not exist as expected\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "nope", "--if-exists")
	require.Equal(t, 0, r.code, r.out)
	require.Empty(t, r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--under-replicated-partitions")
	require.Equal(t, 0, r.code, r.out)
	require.Empty(t, r.out, "no partition is under-replicated")

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--delete", "--topic", "pay_ments")
	require.Equal(t, 0, r.code, r.out)
	require.Empty(t, r.out)
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--list")
	require.Equal(t, "orders\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--delete", "--topic", "pay_ments")
	require.Equal(t, 1, r.code)
	require.Equal(t, "Error while executing topic command : Topic 'pay_ments' does not exist as expected\n", r.out)
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--delete", "--topic", "pay_ments", "--if-exists")
	require.Equal(t, 0, r.code, r.out)
}

func TestTopicsAlterPartitions(t *testing.T) {
	bs := startKfake(t, 3)
	r := runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "t1", "--partitions", "1", "--replication-factor", "1")
	require.Equal(t, 0, r.code, r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--alter", "--topic", "t1", "--partitions", "4")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Empty(t, r.out)
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "t1")
	require.Contains(t, r.out, "PartitionCount: 4\t")
	require.Contains(t, r.out, "\tTopic: t1\tPartition: 3\t")

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--alter", "--topic", "t1", "--partitions", "2")
	require.Equal(t, 1, r.code)
	require.True(t, strings.HasPrefix(r.out, "Error while executing topic command : "), r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--alter", "--topic", "t1", "--config", "retention.ms=5")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.err, "can't be used with option \"[alter]\"")
	require.Contains(t, r.err, "Option                                   Description\n")

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--alter", "--topic", "missing", "--partitions", "2", "--if-exists")
	require.Equal(t, 0, r.code, r.out)
}

func TestTopicsUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{nil, "Create, delete, describe, or change a topic."},
		{[]string{"--bootstrap-server", "x:1"}, "Command must include exactly one action: --list, --describe, --create, --alter or --delete"},
		{[]string{"--bootstrap-server", "x:1", "--list", "--create"}, "Command must include exactly one action"},
		{[]string{"--list"}, "--bootstrap-server must be specified"},
		{[]string{"--bootstrap-server", "x:1", "--create"}, "Missing required argument \"[topic]\""},
		{[]string{"--bootstrap-server", "x:1", "--list", "--bogus"}, "bogus is not a recognized option"},
		{[]string{"--bootstrap-server", "x:1", "--create", "--topic", "a", "--partitions", "x"}, "Cannot parse argument 'x' of option partitions"},
		{[]string{"--bootstrap-server", "x:1", "--describe", "--if-not-exists"}, "Option \"[if-not-exists]\" can't be used with option \"[describe]\""},
		{[]string{"--bootstrap-server"}, "Option bootstrap-server requires an argument"},
	}
	for _, c := range cases {
		r := runTool(t, "", append([]string{"topics"}, c.args...)...)
		require.Equal(t, 1, r.code, "%v", c.args)
		require.Contains(t, r.err, c.msg, "%v", c.args)
		require.Contains(t, r.err, "--bootstrap-server <String: server to", "%v: usage follows the message", c.args)
	}

	r := runTool(t, "", "topics", "--help")
	require.Equal(t, 0, r.code)
	require.True(t, strings.HasPrefix(r.out, "This tool helps to create, delete, describe, or change a topic.\nOption "), r.out)
}

func TestTopicsValidationBeforeConnecting(t *testing.T) {
	dead := deadAddr(t)
	r := runTool(t, "", "topics", "--bootstrap-server", dead, "--create", "--topic", "a", "--replica-assignment", "0:0")
	require.Equal(t, 1, r.code)
	require.Equal(t, "Error while executing topic command : Partition replica lists may not contain duplicate entries: 0\n", r.out)
	r = runTool(t, "", "topics", "--bootstrap-server", dead, "--create", "--topic", "a", "--config", "nonsense=1")
	require.Equal(t, "Error while executing topic command : Unknown topic config name: nonsense\n", r.out)
	r = runTool(t, "", "topics", "--bootstrap-server", dead, "--create", "--topic", "a", "--replication-factor", "0")
	require.Equal(t, "Error while executing topic command : The replication factor must be between 1 and 32767 inclusive\n", r.out)
}

func TestTopicsUnreachableServer(t *testing.T) {
	dead := deadAddr(t)
	props := writeProps(t, "default.api.timeout.ms=500\n")
	r := runTool(t, "", "topics", "--bootstrap-server", dead, "--list", "--command-config", props)
	require.Equal(t, 1, r.code)
	require.Equal(t, 1, strings.Count(r.out, "\n"), r.out)
	require.Contains(t, r.out, "Error while executing topic command : cannot connect to "+dead+" within 500 ms")
	require.NotContains(t, r.out+r.err, "goroutine")
}
