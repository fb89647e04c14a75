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

// logAdapter presents a *storage.Log as an api.Log.
type logAdapter struct{ *storage.Log }

func (l logAdapter) AppendLeader(records []byte, leaderEpoch int32, nowMs int64) (api.AppendResult, error) {
	r, err := l.Log.AppendLeader(records, leaderEpoch, nowMs)
	return api.AppendResult{BaseOffset: r.BaseOffset, LastOffset: r.LastOffset, LogAppendTimeMs: r.LogAppendTimeMs, LogStartOffset: r.LogStartOffset, Records: r.Records}, err
}

func (l logAdapter) SetConfig(m map[string]string) { l.Log.SetConfig(storageConfig(m)) }

// openLog opens dir/topic-partition and records its topic id.
func openLog(logf func(string, ...any), nowMs func() int64) func(dir, topic string, partition int32, topicID [16]byte, cfg map[string]string) (api.Log, error) {
	return func(dir, topic string, partition int32, topicID [16]byte, cfg map[string]string) (api.Log, error) {
		pdir := filepath.Join(dir, fmt.Sprintf("%s-%d", topic, partition))
		l, err := storage.Open(pdir, storageConfig(cfg), nowMs(), logf)
		if err != nil {
			return nil, err
		}
		if topicID != ([16]byte{}) {
			if err := storage.WritePartitionMetadata(pdir, topicID); err != nil {
				l.Close()
				return nil, err
			}
		}
		return logAdapter{l}, nil
	}
}
