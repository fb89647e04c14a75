package groupstool

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"kzoo/cli/internal/clitest"
	"kzoo/cli/kafkatools"
)

type result struct {
	out, err string
	code     int
}

func runTool(t *testing.T, args ...string) result {
	t.Helper()
	r := clitest.Run(t, append(Commands(), kafkatools.Commands()...), "", args...)
	return result{out: r.Out, err: r.Err, code: r.Code}
}

// startKzoo runs a kzoo coordinator and one broker in this process.
func startKzoo(t *testing.T) string {
	t.Helper()
	bs, _ := clitest.StartCluster(t, 1, "offsets.topic.replication.factor=1\noffsets.topic.num.partitions=3\ngroup.initial.rebalance.delay.ms=0\n")
	return bs
}

func TestGroupsToolAgainstKzoo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a coordinator and a broker")
	}
	bs := startKzoo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "events", Value: []byte(fmt.Sprint("m", i))})
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())

	// console-consumer --group joins the group and commits what it read.
	r := runTool(t, "console-consumer", "--bootstrap-server", bs, "--topic", "events", "--group", "readers", "--from-beginning", "--max-messages", "10", "--timeout-ms", "20000")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, 10, strings.Count(r.out, "\n"), r.out)

	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--list")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, "readers\n", r.out)

	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "readers")
	require.Equal(t, 0, r.code, r.err)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Equal(t, "Consumer group 'readers' has no active members.", lines[0])
	require.Empty(t, lines[1])
	require.Regexp(t, `^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID$`, lines[2])
	require.Regexp(t, `^readers\s+events\s+0\s+10\s+10\s+0\s+-\s+-\s+-$`, lines[3])

	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "readers", "--topic", "events", "--to-offset", "4", "--execute")
	require.Equal(t, 0, r.code, r.err)
	require.Regexp(t, `readers\s+events\s+0\s+4`, r.out)
	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "readers")
	require.Regexp(t, `readers\s+events\s+0\s+4\s+10\s+6\s+-`, r.out)

	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "readers", "--topic", "events", "--to-earliest")
	require.Equal(t, 0, r.code, r.err)
	require.Contains(t, r.err, "WARN: No action will be performed")
	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "readers")
	require.Regexp(t, `readers\s+events\s+0\s+4\s+10\s+6\s+-`, r.out, "a dry run changes nothing")

	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "readers", "--topic", "events", "--to-latest", "--execute")
	require.Equal(t, 0, r.code, r.err)
	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "readers")
	require.Regexp(t, `readers\s+events\s+0\s+10\s+10\s+0\s+-`, r.out)

	// An active member shows in the table and blocks resets.
	member, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ConsumerGroup("readers"), kgo.ConsumeTopics("events"), kgo.ClientID("active-one"))
	require.NoError(t, err)
	pctx, pcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pctx.Err() == nil {
			member.PollFetches(pctx)
		}
	}()
	if !assert.Eventually(t, func() bool {
		r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "readers")
		return strings.Contains(r.out, "active-one")
	}, 30*time.Second, 100*time.Millisecond) {
		t.Fatalf("describe: %s%s", r.out, r.err)
	}
	require.Regexp(t, `readers\s+events\s+0\s+10\s+10\s+0\s+active-one-\S+\s+/127.0.0.1\s+active-one`, r.out)
	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "readers", "--topic", "events", "--to-earliest", "--execute")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.err, "Assignments can only be reset if the group 'readers' is inactive, but the current state is Stable.")
	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--delete", "--group", "readers")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.err, "Deletion of group 'readers' failed")
	pcancel()
	<-done
	member.Close()

	require.Eventually(t, func() bool {
		r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--delete", "--group", "readers")
		return r.code == 0
	}, 20*time.Second, 100*time.Millisecond, r.err)
	require.Equal(t, "Deletion of requested consumer groups ('readers') was successful.\n", r.out)
	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--list")
	require.Equal(t, "", r.out)
	r = runTool(t, "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "readers")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.err, "Consumer group 'readers' does not exist.")
}
