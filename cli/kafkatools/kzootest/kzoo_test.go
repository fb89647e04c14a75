package kzootest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/broker/server"
	"kzoo/cli/internal/clitest"
	"kzoo/cli/kafkatools"
)

type result struct {
	out, err string
	code     int
}

// runTool runs `kzoo <args…>` with the tools' commands and stdin.
func runTool(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := clitest.Run(t, kafkatools.Commands(), stdin, args...)
	return result{out: r.Out, err: r.Err, code: r.Code}
}

// startKzoo runs one kzoo coordinator and n kzoo brokers in this process
// and returns the brokers' bootstrap list once every broker knows them all.
func startKzoo(t *testing.T, n int) (string, []*server.Server) {
	t.Helper()
	bs, brokers := clitest.StartCluster(t, n, "controlled.shutdown.retry.backoff.ms=200\n")
	require.Eventually(t, func() bool {
		r := runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "brokers", "--describe")
		return r.code == 0 && strings.Count(r.out, "Dynamic configs for broker") == n
	}, 30*time.Second, 100*time.Millisecond)
	return bs, brokers
}

// TestKzooToolsAgainstCluster runs the tools against kzoo's own brokers.
func TestKzooToolsAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a coordinator and 3 brokers")
	}
	bs, brokers := startKzoo(t, 3)

	r := runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "test6", "--partitions", "2", "--replication-factor", "3")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "Created topic test6.\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "placed", "--replica-assignment", "0:1,1:2,2:0", "--config", "retention.ms=60000")
	require.Equal(t, 0, r.code, r.out+r.err)

	var desc string
	require.Eventually(t, func() bool {
		r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "placed")
		desc = r.out
		return r.code == 0 && strings.Count(r.out, "Leader: none") == 0 && strings.Count(r.out, "\n") == 4
	}, 20*time.Second, 100*time.Millisecond, "describe: %q", desc)
	lines := strings.Split(strings.TrimSuffix(desc, "\n"), "\n")
	require.Regexp(t, `^Topic: placed\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: (.*,)?retention.ms=60000(,.*)?$`, lines[0])
	require.Equal(t, "\tTopic: placed\tPartition: 0\tLeader: 0\tReplicas: 0,1\tIsr: 0,1", lines[1])
	require.Equal(t, "\tTopic: placed\tPartition: 1\tLeader: 1\tReplicas: 1,2\tIsr: 1,2", lines[2])
	require.Equal(t, "\tTopic: placed\tPartition: 2\tLeader: 2\tReplicas: 2,0\tIsr: 2,0", lines[3])

	// Without --partitions and --replication-factor the broker's defaults apply.
	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "defaults")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Eventually(t, func() bool {
		r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "defaults")
		return strings.Contains(r.out, "\tPartitionCount: 1\tReplicationFactor: 1\t")
	}, 20*time.Second, 100*time.Millisecond, "describe: %q", r.out)

	// Each broker's metadata cache learns of a topic on its own time.
	require.Eventually(t, func() bool {
		r = runTool(t, "", "topics", "--bootstrap-server", bs, "--list")
		return r.out == "defaults\nplaced\ntest6\n"
	}, 20*time.Second, 100*time.Millisecond, "list: %q", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "test6", "--partitions", "1")
	require.Equal(t, 1, r.code)
	require.Equal(t, "Error while executing topic command : Topic 'test6' already exists.\n", r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", bs, "--alter", "--topic", "placed", "--partitions", "4")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Eventually(t, func() bool {
		r = runTool(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "placed")
		return strings.Contains(r.out, "PartitionCount: 4\t")
	}, 20*time.Second, 100*time.Millisecond)

	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "test6", "--alter", "--add-config", "retention.ms=5000")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Equal(t, "Completed updating config for topic test6.\n", r.out)
	r = runTool(t, "", "configs", "--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "test6", "--describe")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.True(t, strings.HasPrefix(r.out, "Dynamic configs for topic test6 are:\n  retention.ms=5000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000"), r.out)

	// The walkthrough: producer lines, then a consumer from the beginning.
	r = runTool(t, "my test msg 1\nmy test msg 2\n", "console-producer", "--broker-list", bs, "--topic", "test6")
	require.Equal(t, 0, r.code, r.err)
	r = runTool(t, "", "console-consumer", "--topic", "test6", "--from-beginning", "--bootstrap-server", bs, "--max-messages", "2", "--timeout-ms", "20000")
	require.Equal(t, 0, r.code, r.err)
	require.ElementsMatch(t, []string{"my test msg 1", "my test msg 2"}, strings.Split(strings.TrimSuffix(r.out, "\n"), "\n"))

	r = runTool(t, "a:1\nb:2\n", "console-producer", "--bootstrap-server", bs, "--topic", "test6", "--property", "parse.key=true", "--property", "key.separator=:", "--request-required-acks", "all")
	require.Equal(t, 0, r.code, r.err)
	r = runTool(t, "", "console-consumer", "--topic", "test6", "--from-beginning", "--bootstrap-server", bs, "--max-messages", "4", "--property", "print.key=true", "--timeout-ms", "20000")
	require.Equal(t, 0, r.code, r.err)
	require.ElementsMatch(t, []string{"null\tmy test msg 1", "null\tmy test msg 2", "a\t1", "b\t2"}, strings.Split(strings.TrimSuffix(r.out, "\n"), "\n"))

	r = runTool(t, "", "console-consumer", "--topic", "test6", "--partition", "0", "--offset", "earliest", "--bootstrap-server", bs, "--timeout-ms", "1000")
	require.Equal(t, 0, r.code, r.err)
	require.Contains(t, r.err, "org.apache.kafka.common.errors.TimeoutException")

	// A group consumer joins, reads from the beginning and commits.
	r = runTool(t, "", "console-consumer", "--topic", "test6", "--bootstrap-server", bs, "--group", "g1", "--from-beginning", "--max-messages", "2", "--timeout-ms", "20000")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, 2, strings.Count(r.out, "\n"), r.out)

	r = runTool(t, "", "producer-perf-test", "--topic", "test6", "--num-records", "5000", "--record-size", "100", "--throughput", "-1", "--producer-props", "bootstrap.servers="+bs, "acks=1")
	require.Equal(t, 0, r.code, r.err)
	require.Regexp(t, `^5000 records sent, `, r.out)
	r = runTool(t, "", "consumer-perf-test", "--bootstrap-server", bs, "--topic", "test6", "--messages", "5004", "--timeout", "10000")
	require.Equal(t, 0, r.code, r.err)
	require.Contains(t, r.out, ", 5004, ", r.out+r.err)

	// Broker 2 stops: its partitions are under-replicated, and with
	// --under-replicated-partitions only those lines are printed.
	require.NoError(t, brokers[2].Stop())
	alive := strings.Join(strings.Split(bs, ",")[:2], ",")
	require.Eventually(t, func() bool {
		r = runTool(t, "", "topics", "--bootstrap-server", alive, "--describe", "--topic", "test6", "--under-replicated-partitions")
		return r.code == 0 && strings.Count(r.out, "\n") == 2 && !strings.Contains(r.out, "Isr: 0,1,2") && !strings.Contains(r.out, "Isr: 1,2,0")
	}, 30*time.Second, 200*time.Millisecond, "describe: %q", r.out)
	require.Regexp(t, `^\tTopic: test6\tPartition: 0\tLeader: [01]\tReplicas: \d,\d,\d\tIsr: [01],[01]\n\tTopic: test6\tPartition: 1\tLeader: [01]\tReplicas: \d,\d,\d\tIsr: [01],[01]\n$`, r.out)

	r = runTool(t, "", "topics", "--bootstrap-server", alive, "--delete", "--topic", "placed")
	require.Equal(t, 0, r.code, r.out+r.err)
	require.Eventually(t, func() bool {
		r = runTool(t, "", "topics", "--bootstrap-server", alive, "--list", "--exclude-internal")
		return r.out == "defaults\ntest6\n"
	}, 20*time.Second, 100*time.Millisecond)
}
