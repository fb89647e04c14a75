//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
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
	src := filepath.Join(repoRoot(), "integration", "javaclient", "KzooJavaClient.java")
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
// null) through both clients. The SimpleConsumer also commits and fetches
// offsets with OffsetCommit/OffsetFetch v0, kept in ZooKeeper on any broker.
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
	t.Run("offsets/v0-in-zookeeper", func(t *testing.T) {
		brokerJavaZKOffsets(t, jc, c)
	})
}

// brokerJavaZKOffsets: the SimpleConsumer commits offsets with OffsetCommit
// v0 through a broker that does not coordinate the group and fetches them
// back with OffsetFetch v0 through another one. Kafka in ZooKeeper mode
// keeps v0 offsets in ZooKeeper, without the group coordinator: each at
// /consumers/<group>/offsets/<topic>/<partition> as a decimal string, the
// metadata dropped; a partition never committed fetches as offset -1 with
// UNKNOWN_TOPIC_OR_PARTITION; and the coordinator (OffsetFetch v1+, as
// franz-go sends it) does not know them.
func brokerJavaZKOffsets(t *testing.T, jc *brokerJavaClient, c *brokerCluster) {
	const topic, groupID, partitions = "java-zk-offsets", "java-zk-group", 3
	c.createTopic(topic, partitions, 3, nil)
	adm := c.admin()
	coordinator := int32(-1)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, ok := adm.FindGroupCoordinators(ctx, groupID)[groupID]
		if !ok || r.Err != nil {
			return false
		}
		coordinator = r.NodeID
		return true
	}, 60*time.Second, 200*time.Millisecond, "group %s never got a coordinator", groupID)
	var others []string
	for id := 0; id < len(c.brokers); id++ {
		if b, ok := c.brokers[id]; ok && int32(id) != coordinator {
			others = append(others, b.addr())
		}
	}
	require.Len(t, others, 2, "coordinator %d", coordinator)
	committer, fetcher := others[0], others[1]
	t.Logf("group %s: coordinator %d; committing through %s, fetching through %s", groupID, coordinator, committer, fetcher)

	zc := coordConnect(t, c.zkAddr, 10*time.Second)
	inZK := func(p int64) (string, bool) {
		t.Helper()
		data, _, err := zc.Get(fmt.Sprintf("/consumers/%s/offsets/%s/%d", groupID, topic, p))
		if errors.Is(err, zk.ErrNoNode) {
			return "", false
		}
		require.NoError(t, err)
		return string(data), true
	}
	commit := func(addr string, offsets [][2]int64) {
		t.Helper()
		args := []string{"commit", addr, groupID, "0", topic}
		var want []string
		for _, po := range offsets {
			args = append(args, fmt.Sprintf("%d=%d", po[0], po[1]))
			want = append(want, fmt.Sprintf("%d 0", po[0]))
		}
		require.Equal(t, want, jc.run(t, "", args...), "OffsetCommit v0 through %s", addr)
		for _, po := range offsets {
			got, ok := inZK(po[0])
			require.True(t, ok, "partition %d not in ZooKeeper", po[0])
			require.Equal(t, strconv.FormatInt(po[1], 10), got, "partition %d in ZooKeeper", po[0])
		}
	}
	fetch := func(addr, g string) []string {
		t.Helper()
		return jc.run(t, "", "offsets", addr, g, "0", topic, "0", "1", "2")
	}

	commit(committer, [][2]int64{{0, 42}, {1, 7}, {2, 1000}})
	require.Equal(t, []string{"0 42 0 []", "1 7 0 []", "2 1000 0 []"}, fetch(fetcher, groupID))

	// A second commit, through the other broker, overwrites (backwards too)
	// only the partitions it names.
	commit(fetcher, [][2]int64{{0, 43}, {1, 3}})
	require.Equal(t, []string{"0 43 0 []", "1 3 0 []", "2 1000 0 []"}, fetch(committer, groupID))
	require.Equal(t, []string{"0 43 0 []", "1 3 0 []", "2 1000 0 []"}, fetch(c.brokers[int(coordinator)].addr(), groupID),
		"the coordinator answers v0 from ZooKeeper too")

	// A group that never committed: Kafka's UNKNOWN_PARTITION.
	require.Equal(t, []string{"0 -1 3 []", "1 -1 3 []", "2 -1 3 []"}, fetch(fetcher, "java-zk-nobody"))

	// A topic that does not exist is refused and not written.
	require.Equal(t, []string{"0 3"}, jc.run(t, "", "commit", committer, groupID, "0", "java-zk-missing", "0=1"))
	ok, _, err := zc.Exists(fmt.Sprintf("/consumers/%s/offsets/java-zk-missing", groupID))
	require.NoError(t, err)
	require.False(t, ok)

	// The group coordinator, which OffsetFetch v1+ asks, has none of them.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, groupID)
	require.NoError(t, err)
	require.Empty(t, resp[topic], "v0 commits reached the group coordinator")
}
