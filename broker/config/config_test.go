package config

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sample = `# a comment
broker.id=2
listeners=PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093
advertised.listeners=PLAINTEXT://localhost:9092,INTERNAL://127.0.0.1:9093
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
inter.broker.listener.name=INTERNAL
log.dirs=/tmp/a, /tmp/b
zookeeper.connect=h1:2181,h2:2181/kafka
num.partitions = 3
log.retention.minutes: 5
no.such.key=1
log.cleanup.policy=delete,\
  compact
`

func TestConfigParseSample(t *testing.T) {
	c, err := Parse("config/server.properties", []byte(sample), []string{"num.partitions=4", "broker.rack=r1"})
	require.NoError(t, err)
	require.Equal(t, int32(2), c.BrokerID)
	require.Equal(t, []string{"/tmp/a", "/tmp/b"}, c.LogDirs)
	require.Equal(t, "h1:2181,h2:2181/kafka", c.ZKConnect)
	require.Equal(t, int32(4), c.NumPartitions)
	require.Equal(t, "r1", c.Rack)
	require.Equal(t, "INTERNAL", c.InterBrokerListenerName)
	require.Len(t, c.Listeners, 2)
	require.Equal(t, Listener{"INTERNAL", "127.0.0.1", 9093, "PLAINTEXT"}, c.Listeners[1])
	l, ok := c.Advertised("PLAINTEXT")
	require.True(t, ok)
	require.Equal(t, "localhost", l.Host)
	require.Equal(t, int64(300_000), c.LogRetentionMs())
	require.Equal(t, "delete,compact", c.Values["log.cleanup.policy"])
	require.Len(t, c.Warnings, 1)
	require.Contains(t, c.Warnings[0], "config/server.properties:11")
	require.Contains(t, c.Warnings[0], "no.such.key")
}

func TestConfigDefaults(t *testing.T) {
	c, err := Parse("s", []byte("broker.id=0\nzookeeper.connect=localhost:2181\n"), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"/tmp/kafka-logs"}, c.LogDirs)
	require.Equal(t, int64(168*3_600_000), c.LogRetentionMs())
	require.Equal(t, int32(104857600), c.SocketRequestMaxBytes)
	require.Equal(t, int32(102400), c.SocketSendBufferBytes)
	require.Equal(t, int32(102400), c.SocketReceiveBufferBytes)
	require.Equal(t, int32(1048588), c.MessageMaxBytes)
	require.True(t, c.AutoCreateTopics)
	require.True(t, c.ControlledShutdownEnable)
	require.Equal(t, "PLAINTEXT", c.InterBrokerListenerName)
	require.Equal(t, int32(9092), c.Listeners[0].Port)
	require.Equal(t, int64(18000), c.ZKConnectionTimeoutMs)
	v, explicit := c.TopicDefault("retention.ms")
	require.Equal(t, "604800000", v)
	require.False(t, explicit)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		text, override, want string
	}{
		{"broker.id=0\nzookeeper.connect=z:1\nnum.partitions=x\n", "", `config/server.properties:3: num.partitions: "x" is not an integer`},
		{"broker.id=0\nzookeeper.connect=z:1\n", "num.partitions=0", `num.partitions: "0" is out of range (min 1)`},
		{"zookeeper.connect=z:1\nbroker.id.generation.enable=false\n", "", "broker.id"},
		{"zookeeper.connect=z:1\nbroker.id=1001\n", "", "reserved.broker.max.id"},
		{"broker.id=0\n", "", "zookeeper.connect"},
		{"broker.id=0\nzookeeper.connect=z:1\nlisteners=FOO://:1\n", "", "listener FOO has no entry"},
		{"broker.id=0\nzookeeper.connect=z:1\nauto.create.topics.enable=yes\n", "", `config/server.properties:3: auto.create.topics.enable: "yes" is not a boolean`},
		{"broker.id=0\nzookeeper.connect=z:1\nlisteners=PLAINTEXT://:99999\n", "", "port"},
		{"broker.id=0\nzookeeper.connect=z:1\n", "bad", "expected key=value"},
		{"broker.id=0\nzookeeper.connect=z:1\nreplica.fetch.wait.max.ms=40000\n", "", "config/server.properties:3: replica.fetch.wait.max.ms: 40000 is above replica.lag.time.max.ms=30000"},
		{"broker.id=0\nzookeeper.connect=z:1\nlog.cleaner.min.cleanable.ratio=1.5\n", "", `config/server.properties:3: log.cleaner.min.cleanable.ratio: "1.5" is not a number from 0 to 1`},
		{"broker.id=0\nzookeeper.connect=z:1\n", "log.cleaner.min.cleanable.ratio=NaN", `log.cleaner.min.cleanable.ratio: "NaN" is not a number from 0 to 1`},
		{"broker.id=0\nzookeeper.connect=z:1\nlog.flush.scheduler.interval.ms=0\n", "", `config/server.properties:3: log.flush.scheduler.interval.ms: "0" is out of range (min 1)`},
		{"broker.id=0\nzookeeper.connect=z:1\nzookeeper.set.acl=true\n", "", "config/server.properties:3: zookeeper.set.acl: true needs SASL (JAAS) or TLS authentication to ZooKeeper"},
		{"broker.id=0\nzookeeper.connect=z:1\nsocket.send.buffer.bytes=0\n", "", "config/server.properties:3: socket.send.buffer.bytes: 0 is not a buffer size; use -1 for the OS default"},
		{"broker.id=0\nzookeeper.connect=z:1\n", "socket.receive.buffer.bytes=-2", `socket.receive.buffer.bytes: "-2" is out of range (min -1)`},
	} {
		var ov []string
		if tc.override != "" {
			ov = []string{tc.override}
		}
		_, err := Parse("config/server.properties", []byte(tc.text), ov)
		require.Error(t, err, tc.text)
		require.Contains(t, err.Error(), tc.want)
	}
}

func TestConfigGeneratedBrokerID(t *testing.T) {
	c, err := Parse("s", []byte("zookeeper.connect=z:1\n"), nil)
	require.NoError(t, err)
	require.Equal(t, int32(-1), c.BrokerID)
}

func TestConfigLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "server.properties")
	require.NoError(t, os.WriteFile(p, []byte("node.id=7\nzookeeper.connect=z:1\n"), 0o644))
	c, err := Load(p, nil)
	require.NoError(t, err)
	require.Equal(t, int32(7), c.BrokerID)
	_, err = Load(filepath.Join(t.TempDir(), "missing"), nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "missing")
}

func TestConfigTopicKeys(t *testing.T) {
	c, err := Parse("s", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.segment.bytes=1048576\n"), nil)
	require.NoError(t, err)
	vals := c.ResolveTopic(map[string]string{"retention.ms": "1000"})
	m := map[string]TopicValue{}
	for _, v := range vals {
		m[v.Name] = v
	}
	require.Equal(t, "DYNAMIC_TOPIC_CONFIG", m["retention.ms"].Source)
	require.Equal(t, "1048576", m["segment.bytes"].Value)
	require.Equal(t, "STATIC_BROKER_CONFIG", m["segment.bytes"].Source)
	require.Equal(t, "DEFAULT_CONFIG", m["cleanup.policy"].Source)
	require.NoError(t, ValidateTopicConfig("cleanup.policy", "compact,delete"))
	require.ErrorIs(t, ValidateTopicConfig("nope", "1"), ErrUnknownTopicKey)
	require.Error(t, ValidateTopicConfig("retention.ms", "abc"))
	require.Error(t, ValidateTopicConfig("compression.type", "brotli"))
}

func FuzzConfigParse(f *testing.F) {
	f.Add(sample)
	f.Add("broker.id=0\nzookeeper.connect=z\nlisteners=A://[::1]:0\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("f", []byte(s), nil)
		if err == nil {
			require.NotEmpty(t, c.Listeners)
			require.True(t, c.BrokerID >= -1)
			require.False(t, strings.Contains(c.ZKConnect, "\n"))
		}
	})
}

// flush.ms defaults to log.flush.interval.ms, and without it to
// log.flush.scheduler.interval.ms, as in Kafka.
func TestConfigFlushDefaults(t *testing.T) {
	c, err := Parse("s", []byte("broker.id=0\nzookeeper.connect=z:1\n"), nil)
	require.NoError(t, err)
	require.Equal(t, int64(math.MaxInt64), c.LogFlushSchedulerIntervalMs)
	v, explicit := c.TopicDefault("flush.ms")
	require.Equal(t, "9223372036854775807", v)
	require.False(t, explicit)

	c, err = Parse("s", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.flush.scheduler.interval.ms=2000\n"), nil)
	require.NoError(t, err)
	require.Equal(t, int64(2000), c.LogFlushSchedulerIntervalMs)
	v, explicit = c.TopicDefault("flush.ms")
	require.Equal(t, "2000", v)
	require.False(t, explicit, "log.flush.interval.ms itself is unset: Kafka reports DEFAULT_CONFIG")

	c, err = Parse("s", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.flush.scheduler.interval.ms=2000\nlog.flush.interval.ms=500\n"), nil)
	require.NoError(t, err)
	v, explicit = c.TopicDefault("flush.ms")
	require.Equal(t, "500", v)
	require.True(t, explicit)
}

// A topic key whose broker key takes its value from others is set, for
// its source, only by the broker key itself, as Kafka reports it: the
// stock log.retention.hours=168 leaves retention.ms a default.
func TestConfigTopicSourceOfDerivedKeys(t *testing.T) {
	c, err := Parse("s", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.retention.hours=1\nlog.roll.hours=2\nlog.segment.bytes=1073741824\n"), nil)
	require.NoError(t, err)
	m := map[string]TopicValue{}
	for _, v := range c.ResolveTopic(nil) {
		m[v.Name] = v
	}
	require.Equal(t, TopicValue{Name: "retention.ms", Value: "3600000", Source: "DEFAULT_CONFIG"}, m["retention.ms"])
	require.Equal(t, TopicValue{Name: "segment.ms", Value: "7200000", Source: "DEFAULT_CONFIG"}, m["segment.ms"])
	require.Equal(t, "STATIC_BROKER_CONFIG", m["segment.bytes"].Source)

	c, err = Parse("s", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.retention.hours=1\nlog.retention.ms=5000\nlog.roll.ms=6000\n"), nil)
	require.NoError(t, err)
	for _, v := range c.ResolveTopic(nil) {
		m[v.Name] = v
	}
	require.Equal(t, TopicValue{Name: "retention.ms", Value: "5000", Source: "STATIC_BROKER_CONFIG"}, m["retention.ms"])
	require.Equal(t, TopicValue{Name: "segment.ms", Value: "6000", Source: "STATIC_BROKER_CONFIG"}, m["segment.ms"])
}
