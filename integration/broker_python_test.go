//go:build integration

package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// brokerPython returns Debian's python3 and the path of a script in
// integration/kafkacompat, skipping when the module is not installed.
func brokerPython(t *testing.T, module, script string) (python, path string) {
	t.Helper()
	python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import "+module).Run(); err != nil {
		t.Skipf("%s has no %s (apt-get install python3-kafka python3-confluent-kafka): %v", python, module, err)
	}
	return python, filepath.Join(repoRoot(), "integration", "kafkacompat", script)
}

// brokerPyRun runs a client script and returns its stdout lines.
func brokerPyRun(t *testing.T, python, script string, args ...string) []string {
	t.Helper()
	out, errOut, code := coordRun(t, 90*time.Second, "", nil, python, append([]string{script}, args...)...)
	require.Equal(t, 0, code, "%s %v: %s\n%s", script, args, out, errOut)
	return strings.Split(strings.TrimRight(out, "\n"), "\n")
}

// brokerCheckRead checks lines "<offset> <key> <value>" against the keys
// acknowledged at each offset; values repeat the key i+1 times.
func brokerCheckRead(t *testing.T, lines []string, acked map[int64]string, value func(key string) string) {
	t.Helper()
	seen := map[int64]bool{}
	for _, l := range lines {
		f := strings.SplitN(l, " ", 3)
		require.Len(t, f, 3, "line %q", l)
		off, err := strconv.ParseInt(f[0], 10, 64)
		require.NoError(t, err)
		if key, ok := acked[off]; ok {
			require.Equal(t, key, f[1], "key at offset %d", off)
			require.Equal(t, value(key), f[2], "value at offset %d", off)
		}
		seen[off] = true
	}
	for off := range acked {
		require.True(t, seen[off], "acknowledged offset %d (%s) not read back", off, acked[off])
	}
}

// TestBrokerKafkaPython drives kafka-python 2.0: KafkaProducer with acks
// 0, 1 and all, KafkaConsumer with assign/seek, and with a group that
// commits.
func TestBrokerKafkaPython(t *testing.T) {
	python, script := brokerPython(t, "kafka", "kafka_python.py")
	c := newBrokerCluster(t, 1, "")
	bs := c.bootstrap()
	c.createTopic("kp", 1, 1, nil)

	acked := map[int64]string{}
	var next int64
	for _, l := range brokerPyRun(t, python, script, bs, "kp", "produce") {
		var acks, key string
		var off int64
		_, err := fmt.Sscanf(l, "acks=%s %s %d", &acks, &key, &off)
		require.NoError(t, err, "line %q", l)
		if acks == "0" {
			require.Equal(t, int64(-1), off, "acks=0 has no offset")
			next++
			continue
		}
		require.Equal(t, next, off, "%s: offsets follow the send order on one partition", key)
		next++
		acked[off] = key
	}
	require.Equal(t, int64(90), next)
	require.Len(t, acked, 60)
	value := func(key string) string {
		i, _ := strconv.Atoi(key[len(key)-2:])
		return "v-" + strings.Repeat(key, i+1)
	}
	lines := brokerPyRun(t, python, script, bs, "kp", "assign", "90")
	require.Equal(t, "seek5 5 acks0-05", lines[len(lines)-1])
	require.Len(t, lines, 91)
	brokerCheckRead(t, lines[:90], acked, value)
	// acks=0 records were sent in order before the others on one
	// connection: they are all there too.
	for i, l := range lines[:30] {
		require.True(t, strings.HasPrefix(l, fmt.Sprintf("%d acks0-%02d ", i, i)), "line %q", l)
	}

	lines = brokerPyRun(t, python, script, bs, "kp", "group", "90")
	require.Equal(t, "committed 90", lines[len(lines)-1])
	brokerCheckRead(t, lines[:len(lines)-1], acked, value)
}

// TestBrokerConfluentKafka drives confluent-kafka (librdkafka 2.0): a
// producer with every codec and acks=all, a consumer by assign and one in
// a group that commits.
func TestBrokerConfluentKafka(t *testing.T) {
	python, script := brokerPython(t, "confluent_kafka", "confluent.py")
	c := newBrokerCluster(t, 1, "")
	bs := c.bootstrap()
	c.createTopic("cf", 1, 1, nil)

	acked := map[int64]string{}
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		lines := brokerPyRun(t, python, script, bs, "cf", "produce", "0", codec)
		require.Len(t, lines, 40, "%s", codec)
		for _, l := range lines {
			var key string
			var off int64
			_, err := fmt.Sscanf(l, "%s %d", &key, &off)
			require.NoError(t, err, "line %q", l)
			_, dup := acked[off]
			require.False(t, dup, "offset %d acknowledged twice", off)
			acked[off] = key
		}
	}
	require.Len(t, acked, 200)
	value := func(key string) string {
		i, _ := strconv.Atoi(key[len(key)-2:])
		return strings.Repeat(key, i+1)
	}
	lines := brokerPyRun(t, python, script, bs, "cf", "assign", "200")
	require.Len(t, lines, 200)
	brokerCheckRead(t, lines, acked, value)

	lines = brokerPyRun(t, python, script, bs, "cf", "group", "200")
	require.Equal(t, "committed 200", lines[len(lines)-1])
	brokerCheckRead(t, lines[:len(lines)-1], acked, value)

	// franz-go reads the same bytes at the same offsets.
	for _, r := range brokerReadAll(t, c, "cf", 200) {
		require.Equal(t, acked[r.Offset], string(r.Key), "offset %d", r.Offset)
		require.Equal(t, value(string(r.Key)), string(r.Value), "offset %d", r.Offset)
	}
}

// TestBrokerKafkaPythonOldProtocols has kafka-python speak the protocol of
// Kafka 0.9 (Produce v1, magic 0 message sets, lz4 with the old broken
// frame checksum), 0.10 (magic 1) and 2.0 (record batches) with every codec
// it has, and checks that each acknowledged record reads back at its offset
// byte-exact, through the same old protocol and through franz-go.
func TestBrokerKafkaPythonOldProtocols(t *testing.T) {
	python, script := brokerPython(t, "kafka", "kafka_python.py")
	c := newBrokerCluster(t, 1, "")
	bs := c.bootstrap()
	for _, api := range []string{"0.9", "0.10", "2.0"} {
		for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
			// kafka-python's codecs come from these Debian packages:
			// python3-snappy, python3-lz4 and python3-xxhash (the
			// magic 0 lz4 frame), python3-zstandard.
			module := map[string]string{"snappy": "snappy", "lz4": "lz4, xxhash", "zstd": "zstandard"}[codec]
			if module != "" && exec.Command(python, "-c", "import "+module).Run() != nil {
				t.Logf("%s: python3 lacks %s; not tested", codec, module)
				continue
			}
			if codec == "zstd" && api != "2.0" {
				continue // zstd needs record batches (Kafka 2.1's Produce v7)
			}
			api := api
			if codec == "zstd" {
				api = "2.1.0"
			}
			t.Run(api+"/"+codec, func(t *testing.T) {
				topic := "old-" + strings.ReplaceAll(api, ".", "_") + "-" + codec
				c.createTopic(topic, 1, 1, nil)
				acked := map[int64]string{}
				var read []string
				for _, l := range brokerPyRun(t, python, script, bs, topic, "old", codec, api) {
					if r, ok := strings.CutPrefix(l, "read "); ok {
						read = append(read, r)
						continue
					}
					off, rest, ok := strings.Cut(l, " ")
					require.True(t, ok, "line %q", l)
					n, err := strconv.ParseInt(off, 10, 64)
					require.NoError(t, err)
					_, dup := acked[n]
					require.False(t, dup, "offset %d acknowledged twice", n)
					acked[n] = rest
				}
				require.Len(t, acked, 25)
				for i := int64(0); i < 25; i++ {
					require.Contains(t, acked, i, "acknowledged offsets are 0..24")
				}
				require.Len(t, read, 25)
				for _, r := range read {
					off, rest, _ := strings.Cut(r, " ")
					n, err := strconv.ParseInt(off, 10, 64)
					require.NoError(t, err)
					require.Equal(t, acked[n], rest, "offset %d read back by kafka-python %s", n, api)
				}
				for _, r := range brokerReadAll(t, c, topic, 25) {
					require.Equal(t, acked[r.Offset], fmt.Sprintf("%x %x", r.Key, r.Value), "offset %d read by franz-go", r.Offset)
				}
			})
		}
	}
}
