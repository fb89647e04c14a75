//go:build integration

package integration

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerNeed skips the test when a client program is not installed (CI
// installs them: Debian's kcat, python3-kafka, python3-confluent-kafka).
func brokerNeed(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install kcat python3-kafka python3-confluent-kafka)", name)
	}
	return path
}

// brokerReadAll reads every record of topic from the beginning with
// franz-go until it has want records or the deadline passes.
func brokerReadAll(t *testing.T, c *brokerCluster, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(got) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		for _, e := range fs.Errors() {
			if ctx.Err() == nil {
				t.Fatalf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
			}
		}
		got = append(got, fs.Records()...)
	}
	require.Len(t, got, want, "records of %s", topic)
	return got
}

// TestBrokerKcat produces and consumes with kcat (librdkafka) using every
// codec it has, with keys, both with the protocol versions ApiVersions
// offers and with the pre-0.10 ones (Produce v0 message sets), and checks
// every record round-trips byte-exact through franz-go as well.
func TestBrokerKcat(t *testing.T) {
	kcat := brokerNeed(t, "kcat")
	c := newBrokerCluster(t, 1, "")
	bs := c.bootstrap()

	out, errOut, code := coordRun(t, 30*time.Second, "", nil, kcat, "-b", bs, "-L")
	require.Equal(t, 0, code, "%s %s", out, errOut)
	require.Contains(t, out, fmt.Sprintf("1 brokers:\n  broker 0 at %s", c.brokers[0].addr()))

	modes := []struct {
		name  string
		extra []string
	}{
		{"current", nil},
		{"magic0", []string{"-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"}},
		{"magic1", []string{"-X", "api.version.request=false", "-X", "broker.version.fallback=0.10.0"}},
	}
	for _, mode := range modes {
		for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
			if mode.name != "current" && codec == "zstd" {
				continue // zstd needs Produce v7, which old brokers lack
			}
			t.Run(mode.name+"/"+codec, func(t *testing.T) {
				topic := "kcat-" + mode.name + "-" + codec
				c.createTopic(topic, 1, 1, nil)
				var lines, want []string
				for i := 0; i < 50; i++ {
					k := fmt.Sprintf("key-%03d", i)
					v := fmt.Sprintf("value %d %s %s", i, strings.Repeat("x", i*7), codec)
					lines = append(lines, k+"\t"+v)
					want = append(want, k+"="+v)
				}
				args := append([]string{"-b", bs, "-P", "-t", topic, "-K", "\t", "-z", codec, "-X", "linger.ms=50"}, mode.extra...)
				out, errOut, code := coordRun(t, 60*time.Second, strings.Join(lines, "\n")+"\n", nil, kcat, args...)
				require.Equal(t, 0, code, "kcat -P: %s %s", out, errOut)

				args = append([]string{"-b", bs, "-C", "-t", topic, "-o", "beginning", "-c", fmt.Sprint(len(want)), "-f", "%k=%s@%o\n"}, mode.extra...)
				out, errOut, code = coordRun(t, 60*time.Second, "", nil, kcat, args...)
				require.Equal(t, 0, code, "kcat -C: %s %s", out, errOut)
				got := strings.Split(strings.TrimRight(out, "\n"), "\n")
				require.Len(t, got, len(want), "kcat -C output: %s %s", out, errOut)
				for i, g := range got {
					require.Equal(t, fmt.Sprintf("%s@%d", want[i], i), g)
				}

				out, errOut, code = coordRun(t, 30*time.Second, "", nil, kcat, "-b", bs, "-L", "-t", topic)
				require.Equal(t, 0, code, "kcat -L -t: %s %s", out, errOut)
				require.Contains(t, out, fmt.Sprintf("1 topics:\n  topic \"%s\" with 1 partitions:\n    partition 0, leader 0, replicas: 0, isrs: 0\n", topic))

				recs := brokerReadAll(t, c, topic, len(want))
				for i, r := range recs {
					require.Equal(t, int64(i), r.Offset)
					require.Equal(t, want[i], string(r.Key)+"="+string(r.Value))
				}
			})
		}
	}

	// franz-go produces (every codec), kcat in the old protocol reads.
	for _, codec := range []kgo.CompressionCodec{kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.NoCompression()} {
		topic := "kcat-read-" + fmt.Sprint(codec)
		topic = strings.NewReplacer("{", "", "}", "", " ", "-").Replace(topic)
		c.createTopic(topic, 1, 1, nil)
		cl := c.client(kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic))
		var want []string
		for i := 0; i < 20; i++ {
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d-%s", i, strings.Repeat("y", i*11))
			require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(k), Value: []byte(v)}).FirstErr())
			want = append(want, fmt.Sprintf("%s=%s@%d", k, v, i))
		}
		for _, mode := range modes {
			args := append([]string{"-b", bs, "-C", "-t", topic, "-o", "beginning", "-c", fmt.Sprint(len(want)), "-f", "%k=%s@%o\n"}, mode.extra...)
			out, errOut, code := coordRun(t, 60*time.Second, "", nil, kcat, args...)
			require.Equal(t, 0, code, "kcat -C %s: %s %s", mode.name, out, errOut)
			got := strings.Split(strings.TrimRight(out, "\n"), "\n")
			sort.Strings(got)
			w := append([]string(nil), want...)
			sort.Strings(w)
			require.Equal(t, w, got, "kcat -C %s of %s", mode.name, topic)
		}
	}
}

// TestBrokerKcatEndOfPartition consumes with `kcat -e`, which exits once
// every partition is read to its end: librdkafka only learns that from a
// Fetch answer with an empty record set, which Kafka sends as zero bytes
// (a null set, size -1, is a parse failure to librdkafka).
func TestBrokerKcatEndOfPartition(t *testing.T) {
	kcat := brokerNeed(t, "kcat")
	c := newBrokerCluster(t, 1, "")
	bs := c.bootstrap()
	c.createTopic("kcat-eof", 1, 1, nil)
	out, errOut, code := coordRun(t, 30*time.Second, "a\tb\nc\td\n", nil, kcat, "-b", bs, "-P", "-t", "kcat-eof", "-K", "\t")
	require.Equal(t, 0, code, "kcat -P: %s %s", out, errOut)
	out, errOut, code = coordRun(t, 20*time.Second, "", nil, kcat, "-b", bs, "-C", "-t", "kcat-eof", "-o", "beginning", "-e", "-f", "%k=%s@%o\n")
	require.Equal(t, 0, code, "kcat -C -e: %s %s", out, errOut)
	require.Equal(t, "a=b@0\nc=d@1\n", out)
	require.NotContains(t, errOut, "invalid MessageSetSize")
}
