package storage

import (
	"math"
	"strings"
)

// Config holds a partition's log settings under Kafka's topic-level names.
// Zero fields take Kafka's defaults (see Defaults) when a Log is opened or
// reconfigured.
type Config struct {
	SegmentBytes       int64  // segment.bytes, 1073741824
	SegmentMs          int64  // segment.ms, 604800000
	SegmentIndexBytes  int    // segment.index.bytes, 10485760
	IndexIntervalBytes int    // index.interval.bytes, 4096
	RetentionBytes     int64  // retention.bytes, -1 (no limit)
	RetentionMs        int64  // retention.ms, 604800000 (-1 = forever)
	FlushMessages      int64  // flush.messages (log.flush.interval.messages), MaxInt64
	FlushMs            int64  // flush.ms (log.flush.interval.ms), MaxInt64
	MaxMessageBytes    int    // max.message.bytes, 1048588
	CleanupPolicy      string // cleanup.policy: delete | compact | "compact,delete"
	TimestampType      string // message.timestamp.type: CreateTime | LogAppendTime
	Compression        string // compression.type: producer | uncompressed | gzip | snappy | lz4 | zstd

	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio, 0.5
	DeleteRetentionMs      int64   // delete.retention.ms, 86400000: how long compaction keeps tombstones
	MinCompactionLagMs     int64   // min.compaction.lag.ms, 0: how long a record stays out of compaction
	MaxCompactionLagMs     int64   // max.compaction.lag.ms, MaxInt64: how long a record may wait for it

	NoCompaction bool // the broker's log.cleaner.enable=false: compact topics are never cleaned
}

// Defaults returns Kafka 3.x's topic defaults.
func Defaults() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 3600 * 1000,
		SegmentIndexBytes:  10 * 1024 * 1024,
		IndexIntervalBytes: 4096,
		RetentionBytes:     -1,
		RetentionMs:        7 * 24 * 3600 * 1000,
		FlushMessages:      math.MaxInt64,
		FlushMs:            math.MaxInt64,
		MaxMessageBytes:    1048588,
		CleanupPolicy:      "delete",
		TimestampType:      "CreateTime",
		Compression:        "producer",

		MinCleanableDirtyRatio: 0.5,
		DeleteRetentionMs:      24 * 3600 * 1000,
		MaxCompactionLagMs:     math.MaxInt64,
	}
}

// withDefaults fills zero fields from Defaults. RetentionBytes and
// RetentionMs keep any non-zero value, so -1 means "no limit";
// MinCleanableDirtyRatio and DeleteRetentionMs keep 0.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = d.SegmentIndexBytes
	}
	// Kafka requires room for at least one entry of each index.
	if c.SegmentIndexBytes < timeEntrySize {
		c.SegmentIndexBytes = timeEntrySize
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = d.RetentionBytes
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = d.RetentionMs
	}
	if c.FlushMessages <= 0 {
		c.FlushMessages = d.FlushMessages
	}
	if c.FlushMs <= 0 {
		c.FlushMs = d.FlushMs
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.CleanupPolicy == "" {
		c.CleanupPolicy = d.CleanupPolicy
	}
	if c.TimestampType == "" {
		c.TimestampType = d.TimestampType
	}
	if c.Compression == "" {
		c.Compression = d.Compression
	}
	// 0 is a valid ratio (clean whenever anything is dirty) and a valid
	// delete.retention.ms (drop tombstones at the next pass); only values
	// out of range fall back.
	if !(c.MinCleanableDirtyRatio >= 0 && c.MinCleanableDirtyRatio <= 1) { // NaN too
		c.MinCleanableDirtyRatio = d.MinCleanableDirtyRatio
	}
	if c.DeleteRetentionMs < 0 {
		c.DeleteRetentionMs = d.DeleteRetentionMs
	}
	if c.MinCompactionLagMs < 0 {
		c.MinCompactionLagMs = 0
	}
	if c.MaxCompactionLagMs <= 0 {
		c.MaxCompactionLagMs = d.MaxCompactionLagMs
	}
	return c
}

func (c Config) logAppendTime() bool { return strings.EqualFold(c.TimestampType, "LogAppendTime") }

// compacted reports whether cleanup.policy includes compact: records
// need keys.
func (c Config) compacted() bool { return strings.Contains(c.CleanupPolicy, "compact") }

// cleans reports whether compaction runs: the topic is compacted and the
// broker's cleaner is on.
func (c Config) cleans() bool { return c.compacted() && !c.NoCompaction }

func (c Config) deletes() bool { return strings.Contains(c.CleanupPolicy, "delete") }

// targetCodec returns the codec batches are stored with, or -1 when batches
// keep the producer's codec.
func (c Config) targetCodec() int8 {
	switch strings.ToLower(c.Compression) {
	case "uncompressed", "none":
		return codecNone
	case "gzip":
		return codecGzip
	case "snappy":
		return codecSnappy
	case "lz4":
		return codecLz4
	case "zstd":
		return codecZstd
	}
	return -1
}
