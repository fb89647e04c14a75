package server

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"kzoo/broker/api"
	"kzoo/broker/storage"
)

// storageConfig turns resolved topic-level configs into storage.Config.
func storageConfig(m map[string]string) storage.Config {
	c := storage.Defaults()
	i64 := func(k string, dst *int64) {
		if v, err := strconv.ParseInt(m[k], 10, 64); err == nil {
			*dst = v
		}
	}
	i := func(k string, dst *int) {
		if v, err := strconv.ParseInt(m[k], 10, 64); err == nil && v <= math.MaxInt32 {
			*dst = int(v)
		}
	}
	i64("segment.bytes", &c.SegmentBytes)
	i64("segment.ms", &c.SegmentMs)
	i("segment.index.bytes", &c.SegmentIndexBytes)
	i("index.interval.bytes", &c.IndexIntervalBytes)
	i64("retention.bytes", &c.RetentionBytes)
	i64("retention.ms", &c.RetentionMs)
	i64("flush.messages", &c.FlushMessages)
	i64("flush.ms", &c.FlushMs)
	i("max.message.bytes", &c.MaxMessageBytes)
	i64("delete.retention.ms", &c.DeleteRetentionMs)
	i64("min.compaction.lag.ms", &c.MinCompactionLagMs)
	i64("max.compaction.lag.ms", &c.MaxCompactionLagMs)
	if v, err := strconv.ParseFloat(m["min.cleanable.dirty.ratio"], 64); err == nil && v >= 0 && v <= 1 {
		c.MinCleanableDirtyRatio = v
	}
	if v := m["cleanup.policy"]; v != "" {
		c.CleanupPolicy = strings.ReplaceAll(v, " ", "")
	}
	if v := m["message.timestamp.type"]; v != "" {
		c.TimestampType = v
	}
	if v := m["compression.type"]; v != "" {
		c.Compression = v
	}
	return c
}

// logAdapter presents a *storage.Log as an api.Log; noCleaner is
// log.cleaner.enable=false, which every topic config it applies keeps.
type logAdapter struct {
	*storage.Log
	noCleaner bool
}

func (l logAdapter) AppendLeader(records []byte, leaderEpoch int32, nowMs int64) (api.AppendResult, error) {
	r, err := l.Log.AppendLeader(records, leaderEpoch, nowMs)
	return api.AppendResult{BaseOffset: r.BaseOffset, LastOffset: r.LastOffset, LogAppendTimeMs: r.LogAppendTimeMs, LogStartOffset: r.LogStartOffset, Records: r.Records}, err
}

func (l logAdapter) SetConfig(m map[string]string) { l.Log.SetConfig(l.config(m)) }

func (l logAdapter) config(m map[string]string) storage.Config {
	c := storageConfig(m)
	c.NoCompaction = l.noCleaner
	return c
}

// openLog opens dir/topic-partition and records its topic id; cleaner is
// log.cleaner.enable.
func openLog(logf func(string, ...any), nowMs func() int64, cleaner bool) func(dir, topic string, partition int32, topicID [16]byte, cfg map[string]string) (api.Log, error) {
	return func(dir, topic string, partition int32, topicID [16]byte, cfg map[string]string) (api.Log, error) {
		pdir := filepath.Join(dir, fmt.Sprintf("%s-%d", topic, partition))
		a := logAdapter{noCleaner: !cleaner}
		l, err := storage.Open(pdir, a.config(cfg), nowMs(), logf)
		if err != nil {
			return nil, err
		}
		if topicID != ([16]byte{}) {
			if err := storage.WritePartitionMetadata(pdir, topicID); err != nil {
				l.Close()
				return nil, err
			}
		}
		a.Log = l
		return a, nil
	}
}
