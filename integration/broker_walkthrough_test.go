//go:build integration

package integration

import (
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// brokerDescribeLine is one partition line of `kafka-topics.sh --describe`,
// exactly as Kafka prints it (tab-separated).
var brokerDescribeLine = regexp.MustCompile(`^\tTopic: (\S+)\tPartition: (\d+)\tLeader: (-?\d+|none)\tReplicas: ([\d,]+)\tIsr: ([\d,]*)(\tElr: [^\t]*\tLastKnownElr: [^\t]*)?$`)

// brokerDescribeHead is the topic line of `--describe`.
var brokerDescribeHead = regexp.MustCompile(`^Topic: (\S+)\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: (\d+)\tReplicationFactor: (\d+)\tConfigs: (.*)$`)

type brokerPartitionLine struct {
	leader   int
	replicas []int
	isr      []int
}

// brokerDescribe runs --describe and parses its output strictly: every line
// must be Kafka's format.
func brokerDescribe(t *testing.T, c *brokerCluster, bootstrap, topic string) map[int]brokerPartitionLine {
	t.Helper()
	out, errOut, code := c.script(60*time.Second, "", "kafka-topics.sh", "--bootstrap-server", bootstrap, "--describe", "--topic", topic)
	require.Equal(t, 0, code, "describe: %s %s", out, errOut)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	head := brokerDescribeHead.FindStringSubmatch(lines[0])
	require.NotNil(t, head, "topic line not in Kafka's format: %q", lines[0])
	require.Equal(t, topic, head[1])
	require.Empty(t, head[4], "a topic created without configs lists none")
	parts := map[int]brokerPartitionLine{}
	for _, l := range lines[1:] {
		m := brokerDescribeLine.FindStringSubmatch(l)
		require.NotNil(t, m, "partition line not in Kafka's format: %q\nwhole output:\n%s", l, out)
		require.Equal(t, topic, m[1])
		p, _ := strconv.Atoi(m[2])
		leader := -1
		if m[3] != "none" {
			leader, _ = strconv.Atoi(m[3])
		}
		parts[p] = brokerPartitionLine{leader: leader, replicas: brokerInts(m[4]), isr: brokerInts(m[5])}
	}
	count, _ := strconv.Atoi(head[2])
	require.Len(t, parts, count)
	return parts
}

func brokerInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// TestBrokerSeedWalkthrough is the quickstart walkthrough, verbatim, with
// the real scripts: 3 brokers, a topic of RF 3, the console tools, zkCli,
// then kill -9 of partition 0's leader.
func TestBrokerSeedWalkthrough(t *testing.T) {
	brokerWalkthrough(t, newBrokerCluster(t, 3, ""))
}

// TestBrokerSeedWalkthroughEnsemble is the walkthrough on a 3-node
// coordinator ensemble with brokers started by `kafka-server-start.sh
// -daemon`; then the ensemble's leader is killed with SIGKILL (the brokers
// keep serving) and kafka-server-stop.sh stops every broker.
func TestBrokerSeedWalkthroughEnsemble(t *testing.T) {
	e := newEnsemble(t)
	e.waitServing(30 * time.Second)
	c := newBrokerClusterOn(t, 3, "", strings.Join(e.clientAddrs(), ","), true)
	brokerWalkthrough(t, c)

	leader := e.leader()
	e.kill(leader)
	e.waitServing(30*time.Second, brokerOthers(leader, 1, 2, 3)...)
	var alive []string
	for _, b := range c.brokers {
		if keeperAlive(b.pid) {
			alive = append(alive, b.addr())
		}
	}
	require.Len(t, alive, 2)
	out, errOut, code := c.script(60*time.Second, "after the coordinator leader died\n", "kafka-console-producer.sh",
		"--bootstrap-server", alive[0], "--topic", "test6")
	require.Equal(t, 0, code, "%s %s", out, errOut)
	out, errOut, code = c.script(60*time.Second, "", "kafka-topics.sh", "--bootstrap-server", alive[1], "--create",
		"--replication-factor", "2", "--partitions", "1", "--topic", "after")
	require.Equal(t, 0, code, "%s %s", out, errOut)

	out, errOut, code = coordRun(t, 30*time.Second, "", []string{"LOG_DIR=" + c.logDir}, filepath.Join(c.home, "bin", "kafka-server-stop.sh"))
	require.Equal(t, 0, code, "kafka-server-stop.sh: %s %s", out, errOut)
	for id, b := range c.brokers {
		select {
		case <-b.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("broker %d (pid %d) still runs 60s after kafka-server-stop.sh", id, b.pid)
		}
	}
}

func brokerOthers(not int, ids ...int) []int {
	var out []int
	for _, id := range ids {
		if id != not {
			out = append(out, id)
		}
	}
	return out
}

// brokerWalkthrough creates test6 (RF 3, 2 partitions), checks --describe,
// produces and consumes with the console tools, lists /brokers/ids and
// /controller with zkCli, kills partition 0's leader with SIGKILL and
// checks the new leader, the ISR and that every message is still read.
func brokerWalkthrough(t *testing.T, c *brokerCluster) {
	bs := c.brokers[0].addr()

	out, errOut, code := c.script(60*time.Second, "", "kafka-topics.sh", "--bootstrap-server", bs, "--create",
		"--replication-factor", "3", "--partitions", "2", "--topic", "test6")
	require.Equal(t, 0, code, "%s %s", out, errOut)
	require.Equal(t, "Created topic test6.\n", out)

	var parts map[int]brokerPartitionLine
	require.Eventually(t, func() bool {
		parts = brokerDescribe(t, c, bs, "test6")
		for _, p := range parts {
			if p.leader < 0 || len(p.isr) != 3 {
				return false
			}
		}
		return true
	}, 30*time.Second, 200*time.Millisecond, "test6 never had full ISRs")
	for p, line := range parts {
		require.Len(t, line.replicas, 3, "partition %d", p)
		require.ElementsMatch(t, []int{0, 1, 2}, line.replicas)
		require.Equal(t, line.replicas[0], line.leader, "partition %d: the preferred replica leads", p)
	}

	msgs := []string{"This is a message", "This is another message", "kzoo 3"}
	out, errOut, code = c.script(60*time.Second, strings.Join(msgs, "\n")+"\n", "kafka-console-producer.sh",
		"--bootstrap-server", bs, "--topic", "test6")
	require.Equal(t, 0, code, "%s %s", out, errOut)

	consume := func(bootstrap string) []string {
		out, errOut, code := c.script(60*time.Second, "", "kafka-console-consumer.sh", "--bootstrap-server", bootstrap,
			"--topic", "test6", "--from-beginning", "--max-messages", strconv.Itoa(len(msgs)), "--timeout-ms", "20000")
		require.Equal(t, 0, code, "%s %s", out, errOut)
		require.Contains(t, errOut, "Processed a total of "+strconv.Itoa(len(msgs))+" messages")
		got := strings.Split(strings.TrimRight(out, "\n"), "\n")
		sort.Strings(got)
		return got
	}
	want := append([]string(nil), msgs...)
	sort.Strings(want)
	require.Equal(t, want, consume(bs))

	out, errOut, code = c.script(30*time.Second, "", "zkCli.sh", "-server", c.zkAddr, "ls", "/brokers/ids")
	require.Equal(t, 0, code, "%s %s", out, errOut)
	require.Contains(t, strings.Split(out, "\n"), "[0, 1, 2]", "zkCli ls /brokers/ids: %s", out)
	out, errOut, code = c.script(30*time.Second, "", "zkCli.sh", "-server", c.zkAddr, "get", "/controller")
	require.Equal(t, 0, code, "%s %s", out, errOut)
	require.Regexp(t, `(?m)^\{"version":\d,"brokerid":[012],"timestamp":"\d+"\}$`, out)

	dead := parts[0].leader
	c.kill9(dead)
	alive := -1
	for id := range c.brokers {
		if id != dead {
			alive = id
			break
		}
	}
	abs := c.brokers[alive].addr()
	require.Eventually(t, func() bool {
		parts = brokerDescribe(t, c, abs, "test6")
		for _, p := range parts {
			if p.leader < 0 || p.leader == dead || len(p.isr) != 2 {
				return false
			}
			for _, r := range p.isr {
				if r == dead {
					return false
				}
			}
		}
		return true
	}, 40*time.Second, 500*time.Millisecond, "broker %d never left the ISRs", dead)
	require.Equal(t, want, consume(abs))

	out, _, _ = c.script(30*time.Second, "", "zkCli.sh", "-server", c.zkAddr, "ls", "/brokers/ids")
	var rest []string
	for id := 0; id < 3; id++ {
		if id != dead {
			rest = append(rest, strconv.Itoa(id))
		}
	}
	require.Contains(t, strings.Split(out, "\n"), "["+strings.Join(rest, ", ")+"]", "zkCli ls /brokers/ids after the kill: %s", out)
}
