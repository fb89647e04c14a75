package kafkatools

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestConsoleRoundTripWithKeys(t *testing.T) {
	bs := startKfake(t, 3, kfake.SeedTopics(3, "events"))

	r := runTool(t, "k1:v1\nk2:v2\nk1:v3\n:empty-key\n", "console-producer", "--bootstrap-server", bs, "--topic", "events",
		"--property", "parse.key=true", "--property", "key.separator=:", "--request-required-acks", "1")
	require.Equal(t, 0, r.code, r.err)
	require.Empty(t, r.out, "no prompt when stdin is not a terminal")

	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "events", "--from-beginning",
		"--max-messages", "4", "--property", "print.key=true", "--property", "key.separator=|", "--timeout-ms", "10000")
	require.Equal(t, 0, r.code, r.err)
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	require.ElementsMatch(t, []string{"k1|v1", "k2|v2", "k1|v3", "|empty-key"}, lines)
	require.Equal(t, "Processed a total of 4 messages\n", r.err)

	// Same key, same partition, in order (Kafka's murmur2 partitioner).
	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "events", "--from-beginning",
		"--max-messages", "4", "--property", "print.key=true", "--property", "print.partition=true",
		"--property", "print.offset=true", "--property", "print.timestamp=true", "--timeout-ms", "10000")
	require.Equal(t, 0, r.code, r.err)
	var k1 []string
	for _, l := range strings.Split(strings.TrimSuffix(r.out, "\n"), "\n") {
		require.Regexp(t, `^CreateTime:\d{13}\tPartition:[0-2]\tOffset:\d+\t[^\t]*\t.+$`, l)
		if f := strings.Split(l, "\t"); f[3] == "k1" {
			k1 = append(k1, f[1]+" "+f[4])
		}
	}
	require.Len(t, k1, 2)
	require.Equal(t, strings.Fields(k1[0])[0], strings.Fields(k1[1])[0], "one key, one partition")
	require.True(t, strings.HasSuffix(k1[0], " v1") && strings.HasSuffix(k1[1], " v3"), "%v", k1)
}

func TestConsoleConsumerPartitionOffset(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(2, "p"))
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: "p", Partition: 1, Value: []byte{byte('a' + i)}})
	}
	recs = append(recs, &kgo.Record{Topic: "p", Partition: 0, Value: []byte("other")})
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bs, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
	cl.Close()

	r := runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "p", "--partition", "1", "--offset", "2", "--max-messages", "3")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, "c\nd\ne\n", r.out)

	// Past the end: Kafka resets to latest, so only new records show.
	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "p", "--partition", "1", "--offset", "99", "--timeout-ms", "700")
	require.Equal(t, 0, r.code, r.err)
	require.Empty(t, r.out)

	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "p", "--partition", "1", "--offset", "earliest", "--max-messages", "2")
	require.Equal(t, "a\nb\n", r.out)

	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "p", "--partition", "1", "--from-beginning", "--max-messages", "1")
	require.Equal(t, "a\n", r.out)

	// latest: nothing new arrives, so --timeout-ms ends the run.
	start := time.Now()
	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "p", "--partition", "1", "--offset", "latest", "--timeout-ms", "700")
	require.Equal(t, 0, r.code, r.err)
	require.Empty(t, r.out)
	require.GreaterOrEqual(t, time.Since(start), 700*time.Millisecond)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Contains(t, r.err, "ERROR Error processing message, terminating consumer process:  (kafka.tools.ConsoleConsumer$)\norg.apache.kafka.common.errors.TimeoutException\n")
	require.True(t, strings.HasSuffix(r.err, "Processed a total of 0 messages\n"), r.err)
}

func TestConsoleConsumerStreamsAsRecordsArrive(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(1, "live"))
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan int, 1)
	go func() {
		done <- runToolCtx(ctx, t, strings.NewReader(""), &out, &errb, "console-consumer", "--bootstrap-server", bs, "--topic", "live")
	}()
	// The consumer starts at the end: keep producing until it shows one.
	require.Eventually(t, func() bool {
		produce(t, bs, &kgo.Record{Topic: "live", Value: []byte("first")})
		return strings.Contains(out.String(), "first\n")
	}, 20*time.Second, 300*time.Millisecond)
	select {
	case <-done:
		t.Fatal("consumer exited on its own")
	default:
	}
	// Cancelling the context is what SIGINT/SIGTERM do.
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("consumer did not stop")
	}
	require.Regexp(t, `^Processed a total of \d+ messages\n$`, errb.String())
}

func TestConsoleProducerHeadersNullMarkerAndSync(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(1, "h"))
	r := runTool(t, "h1:x,h2:y\tk\tv\nh3:NULL\tNULL\tNULL\n", "console-producer", "--broker-list", bs, "--topic", "h", "--sync",
		"--property", "parse.headers=true", "--property", "parse.key=true", "--property", "null.marker=NULL", "--compression-codec")
	require.Equal(t, 0, r.code, r.err)

	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "h", "--from-beginning", "--max-messages", "2",
		"--property", "print.headers=true", "--property", "print.key=true")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, "h1:x,h2:y\tk\tv\nh3:null\tnull\tnull\n", r.out)
}

func TestConsoleProducerBadLine(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(1, "b"))
	r := runTool(t, "good:1\nbad\n", "console-producer", "--bootstrap-server", bs, "--topic", "b", "--property", "parse.key=true", "--property", "key.separator=:")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.err, "org.apache.kafka.common.KafkaException: No key separator found on line number 2: 'bad'\n")

	// The good line before it was still sent.
	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "b", "--from-beginning", "--max-messages", "1")
	require.Equal(t, "1\n", r.out)
}

func TestConsoleUsageErrors(t *testing.T) {
	cases := []struct {
		tool string
		args []string
		msg  string
	}{
		{"console-producer", []string{"--bootstrap-server", "x:1"}, "Missing required argument \"[topic]\""},
		{"console-producer", []string{"--topic", "t"}, "Missing required argument \"[bootstrap-server]\""},
		{"console-producer", []string{"--topic", "t", "--bootstrap-server", "x:1", "--wat"}, "wat is not a recognized option"},
		{"console-consumer", []string{"--topic", "t"}, "Missing required argument \"[bootstrap-server]\""},
		{"console-consumer", []string{"--bootstrap-server", "x:1"}, "Exactly one of include/topic is required."},
		{"console-consumer", []string{"--bootstrap-server", "x:1", "--topic", "t", "--offset", "3"}, "The partition is required when offset is specified."},
		{"console-consumer", []string{"--bootstrap-server", "x:1", "--topic", "t", "--partition", "0", "--offset", "-5"}, "The provided offset value '-5' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long."},
		{"console-consumer", []string{"--bootstrap-server", "x:1", "--topic", "t", "--partition", "0", "--offset", "1", "--from-beginning"}, "Options from-beginning and offset cannot be specified together."},
		{"console-consumer", []string{"--bootstrap-server", "x:1", "--topic", "t", "--partition", "0", "--group", "g"}, "Options group and partition cannot be specified together."},
		{"console-consumer", []string{"--bootstrap-server", "x:1", "--topic", "t", "--max-messages", "many"}, "Cannot parse argument 'many' of option max-messages"},
	}
	for _, c := range cases {
		r := runTool(t, "", append([]string{c.tool}, c.args...)...)
		require.Equal(t, 1, r.code, "%s %v", c.tool, c.args)
		require.Contains(t, r.err, c.msg+"\nOption ", "%s %v", c.tool, c.args)
	}
	for _, tool := range []string{"console-producer", "console-consumer"} {
		r := runTool(t, "", tool, "--help")
		require.Equal(t, 0, r.code)
		require.Contains(t, r.out, "--bootstrap-server <String: server to")
	}
}

// A command line pasted with typographic dashes (‐‐broker‐list) is not an
// option; like joptsimple, the tool ignores it and reads the options after it.
func TestConsoleProducerIgnoresStrayWords(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(1, "s"))
	r := runTool(t, "m1\n", "console-producer", "‐‐broker‐list", "localhost:9092", "--topic", "s", "--bootstrap-server", bs)
	require.Equal(t, 0, r.code, r.err)
	r = runTool(t, "", "console-consumer", "--topic", "s", "--from-beginning", "--bootstrap-server", bs, "--max-messages", "1")
	require.Equal(t, "m1\n", r.out)
}

func TestConsoleUnreachableServer(t *testing.T) {
	dead := deadAddr(t)
	r := runTool(t, "x\n", "console-producer", "--bootstrap-server", dead, "--topic", "t", "--max-block-ms", "400")
	require.Equal(t, 1, r.code)
	require.Equal(t, "ERROR cannot connect to "+dead+" within 400 ms", strings.SplitN(r.err, " (", 2)[0])
	require.Equal(t, 1, strings.Count(r.err, "\n"), r.err)

	r = runTool(t, "", "console-consumer", "--bootstrap-server", dead, "--topic", "t", "--consumer-property", "default.api.timeout.ms=400")
	require.Equal(t, 1, r.code)
	require.Equal(t, "ERROR cannot connect to "+dead+" within 400 ms", strings.SplitN(r.err, " (", 2)[0])
	require.Equal(t, 1, strings.Count(r.err, "\n"), r.err)
}

func TestConsoleConsumerGroup(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(2, "g"))
	produce(t, bs, &kgo.Record{Topic: "g", Value: []byte("one")}, &kgo.Record{Topic: "g", Value: []byte("two")})
	r := runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "g", "--group", "grp", "--from-beginning", "--max-messages", "2", "--timeout-ms", "15000")
	require.Equal(t, 0, r.code, r.err)
	require.ElementsMatch(t, []string{"one", "two"}, strings.Fields(r.out))
	// The group committed: a second run resumes after what the first read
	// (--from-beginning applies only where nothing was committed).
	produce(t, bs, &kgo.Record{Topic: "g", Value: []byte("three")})
	// (A fetch may wait out fetch.max.wait on the other partition first.)
	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "g", "--group", "grp", "--from-beginning", "--max-messages", "1", "--timeout-ms", "15000")
	require.Equal(t, 0, r.code, r.err)
	require.Equal(t, "three\n", r.out)
	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "g", "--group", "grp", "--from-beginning", "--timeout-ms", "1500")
	require.Equal(t, 0, r.code, r.err)
	require.Empty(t, r.out, "everything was committed")
}

// Like Kafka's clients, the tools let the broker create a missing topic
// when its auto.create.topics.enable allows it.
func TestConsoleAutoCreatesTopic(t *testing.T) {
	bs := startKfake(t, 1, kfake.AllowAutoTopicCreation())
	r := runTool(t, "fresh\n", "console-producer", "--bootstrap-server", bs, "--topic", "brand-new")
	require.Equal(t, 0, r.code, r.err)
	require.Empty(t, r.err)
	r = runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "brand-new", "--from-beginning", "--max-messages", "1", "--timeout-ms", "10000")
	require.Equal(t, "fresh\n", r.out, r.err)
}
