package kafkatools

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigsTopicDescribeAlter(t *testing.T) {
	bs := startKfake(t, 1)
	r := runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "cfg", "--partitions", "1", "--replication-factor", "1")
	require.Equal(t, 0, r.code, r.out)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "cfg", "--describe")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "Dynamic configs for topic cfg are:\n", r.out)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--add-config", "retention.ms=5000,cleanup.policy=[compact,delete]")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "Completed updating config for topic cfg.\n", r.out)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "cfg", "--describe")
	require.Equal(t, 0, r.code, r.out+r.err)
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	require.Len(t, lines, 3, r.out)
	require.Equal(t, "Dynamic configs for topic cfg are:", lines[0])
	// kfake lists only the default synonym; Kafka lists the dynamic one
	// first. The tool prints whatever the broker sends, in its order.
	require.Regexp(t, `^  cleanup.policy=compact,delete sensitive=false synonyms=\{([A-Z_]+:[a-z.]+=[a-z,]+(, )?)*\}$`, lines[1])
	require.Regexp(t, `^  retention.ms=5000 sensitive=false synonyms=\{([A-Z_]+:[a-z.]+=[0-9]+(, )?)*\}$`, lines[2])

	// The topic's describe shows the overrides too.
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "cfg")
	require.Contains(t, r.out, "\tConfigs: cleanup.policy=compact,delete,retention.ms=5000\n")

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--delete-config", "retention.ms")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "Completed updating config for topic cfg.\n", r.out)
	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--topic", "cfg", "--describe")
	require.NotContains(t, r.out, "retention.ms")
	require.Contains(t, r.out, "cleanup.policy=compact,delete")

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--delete-config", "segment.ms")
	require.Equal(t, 1, r.code)
	require.Equal(t, "Invalid config(s): segment.ms\n", r.err)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "cfg", "--describe", "--all")
	require.Equal(t, 0, r.code, r.err)
	require.True(t, strings.HasPrefix(r.out, "All configs for topic cfg are:\n"), r.out)
	require.Greater(t, strings.Count(r.out, "\n"), 5)

	// Without a name: every topic.
	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--describe")
	require.Equal(t, 0, r.code, r.err)
	require.Contains(t, r.out, "Dynamic configs for topic cfg are:\n")

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "missing", "--describe")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.err, "Error while executing config command with args '--bootstrap-server "+bs+" --entity-type topics --entity-name missing --describe'\n")
	require.Contains(t, r.err, "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: ")
}

func TestConfigsBrokers(t *testing.T) {
	bs := startKfake(t, 2)
	r := runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "brokers", "--entity-name", "0", "--alter", "--add-config", "log.cleaner.threads=2")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "Completed updating config for broker 0.\n", r.out)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "brokers", "--entity-name", "0", "--describe")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.True(t, strings.HasPrefix(r.out, "Dynamic configs for broker 0 are:\n  log.cleaner.threads=2 sensitive=false synonyms={"), r.out)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "brokers", "--entity-default", "--describe")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.True(t, strings.HasPrefix(r.out, "Default configs for brokers in the cluster are:\n"), r.out)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "brokers", "--describe")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Contains(t, r.out, "Dynamic configs for broker 0 are:\n")
	require.Contains(t, r.out, "Dynamic configs for broker 1 are:\n")
	require.Contains(t, r.out, "Default configs for brokers in the cluster are:\n")
}

func TestConfigsUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--bootstrap-server", "x:1", "--entity-type", "topics"}, "Command must include exactly one action: --describe, --alter"},
		{[]string{"--entity-type", "topics", "--describe"}, "One of the required --bootstrap-server or --zookeeper arguments must be specified"},
		{[]string{"--bootstrap-server", "x:1", "--describe"}, "At least one entity type must be specified"},
		{[]string{"--bootstrap-server", "x:1", "--entity-type", "things", "--describe"}, "Invalid entity type things, the entity type must be one of topics, clients, users, brokers, broker-loggers, ips"},
		{[]string{"--bootstrap-server", "x:1", "--entity-type", "topics", "--entity-name", "a", "--alter"}, "At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter"},
		{[]string{"--bootstrap-server", "x:1", "--entity-type", "topics", "--alter", "--add-config", "a=b"}, "an entity name must be specified with --alter of topics"},
		{[]string{"--bootstrap-server", "x:1", "--entity-type", "brokers", "--entity-name", "b1", "--describe"}, "The entity name for brokers must be a valid integer broker id, but it is: b1"},
		{[]string{"--bootstrap-server", "x:1", "--entity-typo", "topics", "--describe"}, "entity-typo is not a recognized option"},
	}
	for _, c := range cases {
		r := runTool(t, "", append([]string{"configs"}, c.args...)...)
		require.Equal(t, 1, r.code, "%v", c.args)
		require.Contains(t, r.err, c.msg+"\nOption ", "%v", c.args)
	}
	r := runTool(t, "", "configs", "--bootstrap-server", "x:1", "--entity-type", "topics", "--entity-name", "a", "--alter", "--add-config", "a=b=c")
	require.Equal(t, 1, r.code)
	require.Equal(t, "requirement failed: Invalid entity config: all configs to be added must be in the format \"key=val\".\n", r.err)
}

func TestConfigsUnreachableServer(t *testing.T) {
	dead := deadAddr(t)
	props := writeProps(t, "default.api.timeout.ms=300\n")
	r := runTool(t, "", "configs", "--bootstrap-server", dead, "--command-config", props, "--entity-type", "topics", "--describe")
	require.Equal(t, 1, r.code)
	require.Equal(t, 1, strings.Count(r.err, "\n"), r.err)
	require.Contains(t, r.err, "cannot connect to "+dead+" within 300 ms")
}
