//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerJavaJars are the Apache Kafka 0.8.2.2 client jars and their
// dependencies that integration/javaclient/fetch.sh puts in the cache.
var brokerJavaJars = []string{
	"kafka-clients-0.8.2.2.jar",
	"kafka_2.9.2-0.8.2.2.jar",
	"scala-library-2.9.2.jar",
	"zkclient-0.3.jar",
	"zookeeper-3.4.6.jar",
	"snappy-java-1.1.1.7.jar",
	"lz4-1.2.0.jar",
	"log4j-1.2.15.jar",
	"slf4j-api-1.7.6.jar",
	"slf4j-log4j12-1.7.6.jar",
	"metrics-core-2.2.0.jar",
	"jopt-simple-3.2.jar",
}

// brokerJavaClient is KzooJavaClient compiled against the cached jars.
type brokerJavaClient struct {
	java      string
	classpath string
}

// brokerJava compiles integration/javaclient/KzooJavaClient.java, skipping
// when there is no JDK or fetch.sh has not filled the jar cache.
func brokerJava(t *testing.T) *brokerJavaClient {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java is not installed (apt-get install openjdk-17-jdk-headless)")
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Skip("javac is not installed (apt-get install openjdk-17-jdk-headless)")
	}
	dir := os.Getenv("KZOO_JAVA_LIBS")
	if dir == "" {
		home, err := os.UserHomeDir()
		require.NoError(t, err)
		dir = filepath.Join(home, ".cache", "kzoo", "java-kafka-0.8.2.2")
	}
	cp := []string{}
	for _, j := range brokerJavaJars {
		p := filepath.Join(dir, j)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("the Kafka 0.8.2.2 Java client is not in %s (run integration/javaclient/fetch.sh): %v", dir, err)
		}
		cp = append(cp, p)
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "javaclient", "KzooJavaClient.java")
	classes := t.TempDir()
	out, errOut, code := coordRun(t, 120*time.Second, "", nil, javac, "-Xlint:all", "-Werror",
		"-cp", strings.Join(cp, ":"), "-d", classes, src)
	require.Equal(t, 0, code, "javac %s: %s %s", src, out, errOut)
	return &brokerJavaClient{java: java, classpath: strings.Join(append([]string{classes}, cp...), ":")}
}

// run runs one mode of KzooJavaClient and returns its stdout lines.
func (j *brokerJavaClient) run(t *testing.T, stdin string, args ...string) []string {
	t.Helper()
	out, errOut, code := coordRun(t, 90*time.Second, stdin, nil, j.java,
		append([]string{"-cp", j.classpath, "KzooJavaClient"}, args...)...)
	require.Equal(t, 0, code, "KzooJavaClient %v:\nstdout:\n%s\nstderr:\n%s", args, out, errOut)
	if out == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// brokerJavaReads are the ways the SimpleConsumer reads a topic: all at
// once from the start; a few kilobytes a fetch; and from an offset inside
// the first batch of every partition, where a compressed message set comes
// back whole and the consumer skips the records before the offset.
var brokerJavaReads = []struct {
	fetchBytes int
	first      int64
}{
	{1 << 20, 0},
	{4096, 0},
	{4096, 5},
}

// brokerJavaRecord is one record as KzooJavaClient consume prints it.
type brokerJavaRecord struct {
	partition  int32
	offset     int64
	key, value string
}

// brokerJavaText is a key or value as KzooJavaClient prints it: null is
// <null>, unlike an empty one.
func brokerJavaText(b []byte) string {
	if b == nil {
		return "<null>"
	}
	return string(b)
}

func (r brokerJavaRecord) String() string {
	return fmt.Sprintf("%d %d %s %s", r.partition, r.offset, r.key, r.value)
}

// brokerJavaConsume runs KzooJavaClient consume in each of brokerJavaReads
// and checks that it prints exactly the records of recs (a topic holding
// them, every partition from offset 0) at or after the first offset, in
// partition and offset order.
func brokerJavaConsume(t *testing.T, jc *brokerJavaClient, seed, topic string, partitions int32, recs []brokerJavaRecord, what string) {
	t.Helper()
	byPart := map[int32][]brokerJavaRecord{}
	for _, r := range recs {
		byPart[r.partition] = append(byPart[r.partition], r)
	}
	for _, rs := range byPart {
		sort.Slice(rs, func(a, b int) bool { return rs[a].offset < rs[b].offset })
	}
	for _, rd := range brokerJavaReads {
		var want []string
		for p := int32(0); p < partitions; p++ {
			want = append(want, fmt.Sprintf("range %d 0 %d", p, len(byPart[p])))
			for _, r := range byPart[p] {
				if r.offset >= rd.first {
					want = append(want, r.String())
				}
			}
		}
		// Broker seed answers the metadata; each partition is fetched
		// from the leader it names.
		got := jc.run(t, "", "consume", seed, topic, strconv.Itoa(int(partitions)), strconv.Itoa(rd.fetchBytes), strconv.FormatInt(rd.first, 10))
		brokerJavaSameLines(t, want, got, fmt.Sprintf("SimpleConsumer reading %s from offset %d, %d bytes a fetch", what, rd.first, rd.fetchBytes))
	}
}

func brokerJavaLines(recs []brokerJavaRecord) []string {
	lines := make([]string, len(recs))
	for i, r := range recs {
		lines[i] = r.String()
	}
	return lines
}

// brokerJavaSameLines fails at the first line where got differs from want,
// showing only that line (the values are long).
func brokerJavaSameLines(t *testing.T, want, got []string, what string) {
	t.Helper()
	short := func(s string) string {
		if len(s) > 160 {
			return fmt.Sprintf("%s... (%d bytes)", s[:160], len(s))
		}
		return s
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		if want[i] != got[i] {
			t.Fatalf("%s: line %d is\n  %q\nwant\n  %q", what, i, short(got[i]), short(want[i]))
		}
	}
	if len(got) != len(want) {
		extra := "(none)"
		if len(got) > len(want) {
			extra = short(got[len(want)])
		}
		t.Fatalf("%s: %d lines, want %d; first extra line %q", what, len(got), len(want), extra)
	}
}

// TestBrokerJavaClient drives the Apache Kafka 0.8.2.2 Java clients, which
// speak only the oldest protocol versions (Metadata v0, Produce v0 with
// magic 0 message sets, ListOffsets v0, Fetch v0), against three brokers:
// the new KafkaProducer with acks=1 and acks=-1, uncompressed and with
// gzip, snappy and lz4 (the 0.8 lz4 frame), read back by franz-go in each
// partition's order; and the old SimpleConsumer (leader lookup, earliest
// and latest offsets, fetch) reading exactly what franz-go and the Java
// producer wrote, compressed or not, all at once, a few kilobytes a fetch,
// and from inside a batch. An empty value stays empty (zero bytes, not
// null) through both clients.
func TestBrokerJavaClient(t *testing.T) {
	jc := brokerJava(t)
	c := newBrokerCluster(t, 3, "")
	const partitions = 3
	seed := c.brokers[0].addr()

	runs := []struct{ acks, codec string }{
		{"1", "none"},
		{"-1", "none"},
		{"1", "gzip"},
		{"-1", "snappy"},
		{"-1", "gzip"},
		{"1", "snappy"},
		{"1", "lz4"},
	}
	for _, run := range runs {
		t.Run("produce/acks="+run.acks+"/"+run.codec, func(t *testing.T) {
			topic := "java-p-" + strings.TrimPrefix(run.acks, "-") + "-" + run.codec
			if run.acks == "-1" {
				topic = "java-p-all-" + run.codec
			}
			c.createTopic(topic, partitions, 3, nil)
			var stdin strings.Builder
			var keys []string
			values := map[string]string{}
			for i := 0; i < 60; i++ {
				k := fmt.Sprintf("key-%s-%02d", run.codec, i)
				v := fmt.Sprintf("value %d of %s acks %s %s", i, topic, run.acks, strings.Repeat("abc", i*5))
				if i == 7 {
					v = "" // an empty value is zero bytes, not null
				}
				keys = append(keys, k)
				values[k] = v
				fmt.Fprintf(&stdin, "%s\t%s\n", k, v)
			}
			lines := jc.run(t, stdin.String(), "produce", c.bootstrap(), topic, run.acks, run.codec)
			require.Len(t, lines, len(keys), "one acknowledgement per record")

			// Acknowledgements come in send order; in each partition
			// the offsets are 0, 1, 2... in that order.
			next := map[int32]int64{}
			var acked []brokerJavaRecord
			for i, l := range lines {
				f := strings.Fields(l)
				require.Len(t, f, 3, "line %q", l)
				require.Equal(t, keys[i], f[0], "acknowledgement %d", i)
				p, err := strconv.ParseInt(f[1], 10, 32)
				require.NoError(t, err, "line %q", l)
				off, err := strconv.ParseInt(f[2], 10, 64)
				require.NoError(t, err, "line %q", l)
				require.True(t, p >= 0 && p < partitions, "line %q: partition out of range", l)
				part := int32(p)
				require.Equal(t, next[part], off, "%s: offset in partition %d", keys[i], part)
				next[part]++
				acked = append(acked, brokerJavaRecord{partition: part, offset: off, key: keys[i], value: values[keys[i]]})
			}
			require.Len(t, next, partitions, "the keys hash to every partition")

			// franz-go reads every record at its partition and offset.
			var got []brokerJavaRecord
			for _, r := range brokerReadAll(t, c, topic, len(keys)) {
				got = append(got, brokerJavaRecord{partition: r.Partition, offset: r.Offset, key: brokerJavaText(r.Key), value: brokerJavaText(r.Value)})
			}
			sortRecs := func(rs []brokerJavaRecord) {
				sort.Slice(rs, func(a, b int) bool {
					if rs[a].partition != rs[b].partition {
						return rs[a].partition < rs[b].partition
					}
					return rs[a].offset < rs[b].offset
				})
			}
			want := append([]brokerJavaRecord(nil), acked...)
			sortRecs(want)
			sortRecs(got)
			brokerJavaSameLines(t, brokerJavaLines(want), brokerJavaLines(got), "franz-go reading what the Java producer wrote")

			// And the old consumer reads them back too.
			brokerJavaConsume(t, jc, seed, topic, partitions, acked, "what the Java producer wrote")
		})
	}

	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
	}
	for _, cc := range codecs {
		t.Run("consume/"+cc.name, func(t *testing.T) {
			topic := "java-c-" + cc.name
			c.createTopic(topic, partitions, 3, nil)
			cl := c.client(kgo.ProducerBatchCompression(cc.codec), kgo.DefaultProduceTopic(topic),
				kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(20*time.Millisecond))
			// Three rounds, so that every partition holds a few batches.
			var recs []*kgo.Record
			for round := 0; round < 3; round++ {
				var batch []*kgo.Record
				for i := round * 30; i < (round+1)*30; i++ {
					batch = append(batch, &kgo.Record{
						Key:   []byte(fmt.Sprintf("fk-%s-%02d", cc.name, i)),
						Value: []byte(fmt.Sprintf("franz %d %s", i, strings.Repeat("xyz", i*3))),
					})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				require.NoError(t, cl.ProduceSync(ctx, batch...).FirstErr())
				cancel()
				recs = append(recs, batch...)
			}
			var want []brokerJavaRecord
			parts := map[int32]bool{}
			for _, r := range recs {
				want = append(want, brokerJavaRecord{partition: r.Partition, offset: r.Offset, key: brokerJavaText(r.Key), value: brokerJavaText(r.Value)})
				parts[r.Partition] = true
			}
			require.Len(t, parts, partitions, "the keys hash to every partition")
			brokerJavaConsume(t, jc, seed, topic, partitions, want, "what franz-go wrote")
		})
	}
}
