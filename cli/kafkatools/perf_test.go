package kafkatools

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestPerfProducerThenConsumer(t *testing.T) {
	bs := startKfake(t, 3, kfake.SeedTopics(6, "perf"))

	r := runTool(t, "", "producer-perf-test", "--topic", "perf", "--num-records", "20000", "--record-size", "100",
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+bs, "acks=1", "--print-metrics")
	require.Equal(t, 0, r.code, r.err)
	lines := strings.Split(r.out, "\n")
	require.Regexp(t, `^20000 records sent, \d+\.\d{6} records/sec \(\d+\.\d{2} MB/sec\), \d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99.9th\.$`, lines[0])
	require.Contains(t, r.out, "\nMetric Name")
	require.Regexp(t, `producer-metrics:record-send-total:\{client-id=perf-producer-client\} +: 20000\.000\n`, r.out)

	r = runTool(t, "", "consumer-perf-test", "--bootstrap-server", bs, "--topic", "perf", "--messages", "20000", "--timeout", "10000")
	require.Equal(t, 0, r.code, r.err)
	lines = strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	require.Len(t, lines, 2, r.out)
	require.Equal(t, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec", lines[0])
	require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, 1\.9073, [\d.]+, 20000, [\d.]+, \d+, \d+, [\d.]+, [\d.]+$`, lines[1])

	r = runTool(t, "", "consumer-perf-test", "--bootstrap-server", bs, "--topic", "perf", "--messages", "20000", "--show-detailed-stats", "--reporting-interval", "1", "--group", "detail")
	require.Equal(t, 0, r.code, r.err)
	lines = strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	require.Equal(t, "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec", lines[0])
	require.Greater(t, len(lines), 1, "at least one progress line")
	for _, l := range lines[1:] {
		require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, 0, [\d.]+, [\d.]+, \d+, [\d.]+, \d+, -?\d+, [-\d.a-zA-Z+]+, [-\d.a-zA-Z+]+$`, l)
	}

	// Asking for more than there is ends at --timeout with Kafka's warning.
	r = runTool(t, "", "consumer-perf-test", "--bootstrap-server", bs, "--topic", "perf", "--messages", "20001", "--timeout", "500", "--hide-header")
	require.Equal(t, 0, r.code, r.err)
	require.True(t, strings.HasPrefix(r.out, "WARNING: Exiting before consuming the expected number of messages: timeout (500 ms) exceeded. You can use the --timeout option to increase the timeout.\n"), r.out)
	require.Contains(t, r.out, ", 20000, ")
}

func TestPerfProducerWindowsAndThrottle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for over 5 s")
	}
	bs := startKfake(t, 1, kfake.SeedTopics(1, "slow"))
	start := time.Now()
	r := runTool(t, "", "producer-perf-test", "--topic", "slow", "--num-records", "1300", "--record-size", "10",
		"--throughput", "200", "--producer-props", "bootstrap.servers="+bs)
	require.Equal(t, 0, r.code, r.err)
	elapsed := time.Since(start)
	require.Greater(t, elapsed, 6*time.Second, "1300 records at 200/s take 6.5 s")
	require.Less(t, elapsed, 30*time.Second)
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	require.Len(t, lines, 2, r.out)
	require.Regexp(t, `^\d+ records sent, \d+\.\d records/sec \(\d+\.\d\d MB/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$`, lines[0])
	require.Regexp(t, `^1300 records sent, (1[89]\d|20\d)\.\d{6} records/sec`, lines[1])
}

func TestPerfJavaDateFormat(t *testing.T) {
	at := time.Date(2023, 2, 28, 23, 16, 44, 650_000_000, time.UTC)
	require.Equal(t, "2023-02-28 23:16:44:650", javaDate(at, "yyyy-MM-dd HH:mm:ss:SSS"))
	require.Equal(t, "28/02 23.16", javaDate(at, "dd/MM HH.mm"))
}

func TestPerfUsageErrors(t *testing.T) {
	cases := []struct {
		tool string
		args []string
		msg  string
	}{
		{"producer-perf-test", []string{"--num-records", "1", "--throughput", "-1", "--record-size", "1"}, "Missing required argument \"[topic]\""},
		{"producer-perf-test", []string{"--topic", "t", "--num-records", "1", "--throughput", "-1"}, "Exactly one of --record-size or --payload-file must be specified."},
		{"producer-perf-test", []string{"--topic", "t", "--num-records", "1", "--throughput", "-1", "--record-size", "1"}, "Either --producer-props or --producer.config must be specified."},
		{"producer-perf-test", []string{"--topic", "t", "--num-records", "1", "--throughput", "-1", "--record-size", "1", "--producer-props"}, "argument --producer-props: expected at least one argument"},
		{"consumer-perf-test", []string{"--bootstrap-server", "x:1", "--topic", "t"}, "Missing required argument \"[messages]\""},
		{"consumer-perf-test", []string{"--bootstrap-server", "x:1", "--messages", "1"}, "Missing required argument \"[topic]\""},
		{"consumer-perf-test", []string{"--topic", "t", "--messages", "1"}, "Missing required argument \"[bootstrap-server]\""},
	}
	for _, c := range cases {
		r := runTool(t, "", append([]string{c.tool}, c.args...)...)
		require.Equal(t, 1, r.code, "%s %v", c.tool, c.args)
		require.Contains(t, r.err, c.msg+"\nOption ", "%s %v", c.tool, c.args)
	}
}

func TestPerfUnreachableServer(t *testing.T) {
	dead := deadAddr(t)
	r := runTool(t, "", "producer-perf-test", "--topic", "t", "--num-records", "10", "--record-size", "10", "--throughput", "-1",
		"--producer-props", "bootstrap.servers="+dead, "max.block.ms=300")
	require.Equal(t, 1, r.code)
	require.Equal(t, "ERROR cannot connect to "+dead+" within 300 ms", strings.SplitN(r.err, " (", 2)[0])
	require.Equal(t, 1, strings.Count(r.err, "\n"), r.err)

	props := writeProps(t, "default.api.timeout.ms=300\n")
	r = runTool(t, "", "consumer-perf-test", "--bootstrap-server", dead, "--topic", "t", "--messages", "1", "--consumer.config", props)
	require.Equal(t, 1, r.code)
	require.Equal(t, "ERROR cannot connect to "+dead+" within 300 ms", strings.SplitN(r.err, " (", 2)[0])
	require.Equal(t, 1, strings.Count(r.err, "\n"), r.err)
	require.Empty(t, r.out, "no header before the connection fails")
}
