package server

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"kzoo/broker/config"
	"kzoo/broker/storage"
)

// A partition's log takes every topic config storage acts on, from the
// topic's overrides or the broker's log.* defaults.
func TestBrokerStorageConfigFromTopicConfigs(t *testing.T) {
	cfg, err := config.Parse("server.properties", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.cleaner.delete.retention.ms=5000\nlog.segment.bytes=2000000\n"), nil)
	require.NoError(t, err)
	c := storageConfig(cfg.TopicMap(nil))
	require.Equal(t, int64(5000), c.DeleteRetentionMs, "broker default log.cleaner.delete.retention.ms")
	require.Equal(t, 0.5, c.MinCleanableDirtyRatio)
	require.Equal(t, int64(2000000), c.SegmentBytes)
	require.Equal(t, int64(0), c.MinCompactionLagMs)
	require.Equal(t, int64(math.MaxInt64), c.MaxCompactionLagMs)

	c = storageConfig(cfg.TopicMap(map[string]string{
		"cleanup.policy": "compact", "delete.retention.ms": "0", "min.cleanable.dirty.ratio": "0.01",
		"retention.ms": "-1", "max.message.bytes": "2000", "message.timestamp.type": "LogAppendTime",
		"min.compaction.lag.ms": "60000", "max.compaction.lag.ms": "3600000",
	}))
	require.Equal(t, int64(60000), c.MinCompactionLagMs)
	require.Equal(t, int64(3600000), c.MaxCompactionLagMs)
	require.Equal(t, "compact", c.CleanupPolicy)
	require.Equal(t, int64(0), c.DeleteRetentionMs, "0 is kept: tombstones go at the next pass")
	require.Equal(t, 0.01, c.MinCleanableDirtyRatio)
	require.Equal(t, int64(-1), c.RetentionMs)
	require.Equal(t, 2000, c.MaxMessageBytes)
	require.Equal(t, "LogAppendTime", c.TimestampType)

	d := storage.Defaults()
	require.Equal(t, d.DeleteRetentionMs, storageConfig(map[string]string{}).DeleteRetentionMs)
	require.Equal(t, d.MinCleanableDirtyRatio, storageConfig(map[string]string{"min.cleanable.dirty.ratio": "x"}).MinCleanableDirtyRatio)
	require.False(t, math.IsNaN(storageConfig(map[string]string{"min.cleanable.dirty.ratio": "NaN"}).MinCleanableDirtyRatio))
}

// log.cleaner.enable=false reaches every partition's log, and survives a
// topic config change.
func TestBrokerStorageCleanerDisabled(t *testing.T) {
	for _, cleaner := range []bool{true, false} {
		open := openLog(func(string, ...any) {}, func() int64 { return 0 }, cleaner)
		l, err := open(t.TempDir(), "t", 0, [16]byte{}, map[string]string{"cleanup.policy": "compact"})
		require.NoError(t, err)
		a := l.(logAdapter)
		require.Equal(t, !cleaner, a.Config().NoCompaction)
		a.SetConfig(map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "7"})
		require.Equal(t, !cleaner, a.Config().NoCompaction)
		require.Equal(t, int64(7), a.Config().DeleteRetentionMs)
		require.NoError(t, l.Close())
	}
}

// A broker whose log flusher runs every 10 ms while it takes 200
// produces one by one (the flusher and appends share the partition's
// locks) serves them all, reads them back and stops.
func TestBrokerLogFlusherRuns(t *testing.T) {
	c := startCluster(t, 1, "log.flush.scheduler.interval.ms=10", "log.flush.interval.ms=1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.admin().CreateTopic(ctx, 1, 1, nil, "flushed")
	require.NoError(t, err)
	cl := c.client(kgo.DefaultProduceTopic("flushed"), kgo.ConsumeTopics("flushed"))
	for i := range 200 {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr())
	}
	n := 0
	for n < 200 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, fs.Err())
		n += fs.NumRecords()
	}
	cl.Close()
	c.stop(0)
}
