package storage

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// appendKeyed appends one batch per round, each holding keys k0..k(n-1)
// with value "r<round>".
func appendKeyed(t *testing.T, l *Log, codec kgo.CompressionCodec, rounds, keys int, ts int64) {
	t.Helper()
	for r := 0; r < rounds; r++ {
		recs := make([]testRec, keys)
		for k := range recs {
			recs[k] = testRec{key: []byte(fmt.Sprintf("k%d", k)), value: []byte(fmt.Sprintf("r%d", r)), ts: ts}
		}
		_, err := l.AppendLeader(mkBatch(t, codec, recs), 0, ts)
		require.NoError(t, err)
	}
}

func readAll(t *testing.T, l *Log) []gotRec {
	t.Helper()
	var all []gotRec
	for off := l.StartOffset(); off < l.EndOffset(); {
		got, err := l.Read(off, 1<<20, l.EndOffset(), true)
		require.NoError(t, err)
		if len(got) == 0 {
			break
		}
		recs := decodeBatches(t, got)
		for _, r := range recs {
			if r.offset >= off {
				all = append(all, r)
			}
		}
		var last batchHeader
		for rest := got; len(rest) > 0; rest = rest[last.size():] {
			last = parseHeader(rest)
		}
		off = last.lastOffset() + 1
	}
	return all
}

func TestStorageCompactKeepsLatestPerKey(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{{"none", kgo.NoCompression()}, {"zstd", kgo.ZstdCompression()}} {
		t.Run(c.name, func(t *testing.T) {
			dir := testDir(t)
			cfg := Config{CleanupPolicy: "compact", SegmentBytes: 400, IndexIntervalBytes: 1}
			l, _ := openLog(t, dir, cfg, 0)
			appendKeyed(t, l, c.codec, 20, 4, 1000) // offsets 0..79, round r at 4r..4r+3
			before := l.NumSegments()
			require.Greater(t, before, 3)
			leo := l.EndOffset()
			res, err := l.Compact(2000)
			require.NoError(t, err)
			require.Greater(t, res.RecordsRemoved, 0)
			require.Less(t, res.BytesAfter, res.BytesBefore)
			require.LessOrEqual(t, l.NumSegments(), before)
			require.Equal(t, leo, l.EndOffset(), "compaction never changes offsets")

			all := readAll(t, l)
			seen := map[string]int64{}
			for i, r := range all {
				if i > 0 {
					require.Greater(t, r.offset, all[i-1].offset)
				}
				// offsets are the original ones: round = offset/4, key = offset%4
				require.Equal(t, fmt.Sprintf("k%d", r.offset%4), r.key)
				require.Equal(t, fmt.Sprintf("r%d", r.offset/4), r.value)
				seen[r.key] = r.offset
			}
			for k := 0; k < 4; k++ {
				require.Equal(t, int64(76+k), seen[fmt.Sprintf("k%d", k)], "latest value of k%d survives", k)
			}
			// the active segment is untouched, the cleaned part holds one record per key at most
			require.Less(t, len(all), 80)

			// a second pass finds nothing dirty
			res, err = l.Compact(2000)
			require.NoError(t, err)
			require.Zero(t, res.RecordsRemoved)

			// the cleaned log survives a clean restart and a crash
			require.NoError(t, l.Close())
			l2, sink := openLog(t, dir, cfg, 0)
			require.Empty(t, sink.all())
			require.Equal(t, all, readAll(t, l2))
			off, ts, ok := l2.OffsetForTimestamp(1000)
			require.True(t, ok)
			require.Equal(t, int64(1000), ts)
			require.Equal(t, all[0].offset, off)
		})
	}
}

// tombstoneLog opens a compacted log holding keys a and b at ts 100, then
// a tombstone for a, then four records of key c to push them out of the
// active segment.
func tombstoneLog(t *testing.T, cfg Config) *Log {
	t.Helper()
	l, _ := openLog(t, testDir(t), cfg, 0)
	for _, recs := range [][]testRec{
		{{key: []byte("a"), value: []byte("1"), ts: 100}, {key: []byte("b"), value: []byte("1"), ts: 100}},
		{{key: []byte("a"), ts: 100}}, // tombstone
		{{key: []byte("c"), value: []byte("x"), ts: 100}},
		{{key: []byte("c"), value: []byte("x"), ts: 100}},
		{{key: []byte("c"), value: []byte("x"), ts: 100}},
		{{key: []byte("c"), value: []byte("x"), ts: 100}},
	} {
		_, err := l.AppendLeader(mkBatch(t, kgo.NoCompression(), recs), 0, 0)
		require.NoError(t, err)
	}
	return l
}

// keysOf is the set of keys l holds.
func keysOf(t *testing.T, l *Log) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, r := range readAll(t, l) {
		m[r.key] = true
	}
	return m
}

func TestStorageCompactTombstones(t *testing.T) {
	l := tombstoneLog(t, Config{CleanupPolicy: "compact", SegmentBytes: 200, DeleteRetentionMs: 1000})
	_, err := l.Compact(500) // tombstone young: kept
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"a": true, "b": true, "c": true}, keysOf(t, l))
	l.mu.Lock()
	l.cleanedTo = 0 // make it dirty again
	l.mu.Unlock()
	_, err = l.Compact(5000) // tombstone older than delete.retention.ms: gone, and with it key a
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"b": true, "c": true}, keysOf(t, l))
}

func TestStorageCompactOnlyWhenConfigured(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{SegmentBytes: 200}, 0)
	appendKeyed(t, l, kgo.NoCompression(), 10, 2, 1)
	res, err := l.Compact(0)
	require.NoError(t, err)
	require.Zero(t, res.RecordsRemoved)
	require.Len(t, readAll(t, l), 20)

	// log.cleaner.enable=false: a compacted topic keeps every record, and
	// still refuses records without keys.
	l, _ = openLog(t, testDir(t), Config{CleanupPolicy: "compact", SegmentBytes: 200, NoCompaction: true}, 0)
	appendKeyed(t, l, kgo.NoCompression(), 10, 2, 1)
	res, err = l.Compact(0)
	require.NoError(t, err)
	require.Zero(t, res.RecordsRemoved)
	n, err := l.EnforceRetention(0)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Len(t, readAll(t, l), 20)
	_, err = l.AppendLeader(mkBatch(t, kgo.NoCompression(), []testRec{{value: []byte("no key"), ts: 1}}), 0, 0)
	require.ErrorIs(t, err, kerr.InvalidRecord)
}

// delete.retention.ms=0 drops a tombstone at the first pass.
func TestStorageCompactTombstonesZeroRetention(t *testing.T) {
	l := tombstoneLog(t, Config{CleanupPolicy: "compact", SegmentBytes: 200})
	_, err := l.Compact(101)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"b": true, "c": true}, keysOf(t, l))
}

func TestStorageCompactRecoversInterruptedSwap(t *testing.T) {
	dir := testDir(t)
	cfg := Config{CleanupPolicy: "compact", SegmentBytes: 400}
	l, _ := openLog(t, dir, cfg, 0)
	appendKeyed(t, l, kgo.NoCompression(), 20, 4, 1000)
	require.NoError(t, l.Close())
	bases, err := listSegments(OSFS, dir)
	require.NoError(t, err)
	require.Greater(t, len(bases), 3)
	// a swap that replaces the first two segments: here, their concatenation
	a, err := os.ReadFile(segName(dir, bases[0], logSuffix))
	require.NoError(t, err)
	b, err := os.ReadFile(segName(dir, bases[1], logSuffix))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(segName(dir, bases[0], logSuffix+swapSuffix), append(a, b...), 0o644))
	require.NoError(t, os.WriteFile(segName(dir, bases[0], indexSuffix+swapSuffix), []byte("stale"), 0o644))
	require.NoError(t, os.WriteFile(segName(dir, bases[2], logSuffix+cleanedSuffix), []byte("partial"), 0o644))
	l2, sink := openLog(t, dir, cfg, 0)
	require.NotEmpty(t, sink.all())
	after, err := listSegments(OSFS, dir)
	require.NoError(t, err)
	require.Equal(t, len(bases)-1, len(after))
	require.Len(t, readAll(t, l2), 80)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		require.NotContains(t, e.Name(), cleanedSuffix)
		require.NotContains(t, e.Name(), swapSuffix)
	}
}

func TestStorageCompactMergesSmallSegments(t *testing.T) {
	cfg := Config{CleanupPolicy: "compact", SegmentBytes: 400}
	l, _ := openLog(t, testDir(t), cfg, 0)
	appendKeyed(t, l, kgo.NoCompression(), 20, 4, 1000)
	_, err := l.Compact(0)
	require.NoError(t, err)
	n := l.NumSegments()
	l.mu.Lock()
	l.cleanedTo = 0
	l.mu.Unlock()
	_, err = l.Compact(0)
	require.NoError(t, err)
	require.Less(t, l.NumSegments(), n, "cleaned segments small enough to share one are merged")
	all := readAll(t, l)
	for _, r := range all {
		require.Equal(t, fmt.Sprintf("r%d", r.offset/4), r.value)
	}
	require.Equal(t, int64(80), l.EndOffset())
}

func TestStorageRetentionRunsCompaction(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{CleanupPolicy: "compact,delete", SegmentBytes: 400, RetentionMs: -1}, 0)
	appendKeyed(t, l, kgo.NoCompression(), 20, 4, 1000)
	before := l.Size()
	n, err := l.EnforceRetention(2000)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Less(t, l.Size(), before)
	require.Equal(t, int64(80), l.EndOffset())
}

// TestStorageCompactPowerLossAtEveryStep cuts the power after each single
// file or directory change a compaction pass makes, then reopens: the log
// must still hold the latest value of every key at its original offset, and
// nothing but values that were appended.
func TestStorageCompactPowerLossAtEveryStep(t *testing.T) {
	base := newMemFS()
	dir := "/data/keys-0"
	cfg := Config{CleanupPolicy: "compact", SegmentBytes: 400}
	l, err := OpenFS(base, dir, cfg, 0, nil)
	require.NoError(t, err)
	appendKeyed(t, l, kgo.NoCompression(), 20, 4, 1000)
	require.NoError(t, l.Close())

	check := func(l *Log, step int) {
		t.Helper()
		all := readAll(t, l)
		latest := map[string]int64{}
		for i, r := range all {
			if i > 0 {
				require.Greater(t, r.offset, all[i-1].offset, "step %d", step)
			}
			require.Equal(t, fmt.Sprintf("k%d", r.offset%4), r.key, "step %d", step)
			require.Equal(t, fmt.Sprintf("r%d", r.offset/4), r.value, "step %d", step)
			latest[r.key] = r.offset
		}
		for k := 0; k < 4; k++ {
			require.Equal(t, int64(76+k), latest[fmt.Sprintf("k%d", k)], "step %d: latest k%d", step, k)
		}
		require.Equal(t, int64(80), l.EndOffset(), "step %d", step)
	}
	steps := 0
	for step := 1; ; step++ {
		mem := base.clone()
		l, err := OpenFS(mem, dir, cfg, 0, nil)
		require.NoError(t, err)
		mem.CutPowerAt(step)
		_, cerr := l.Compact(0)
		finished := !mem.PowerOut()
		if finished {
			require.NoError(t, cerr)
			check(l, step)
			steps = step
			break
		}
		mem.Revive()
		l2, err := OpenFS(mem, dir, cfg, 0, nil)
		require.NoError(t, err, "step %d", step)
		check(l2, step)
		require.NoError(t, l2.Close())
	}
	require.Greater(t, steps, 10, "the pass made several changes, each one cut")
}

// min.compaction.lag.ms keeps the segments holding younger records out of
// a pass (and the keys they hold out of its map); max.compaction.lag.ms
// cleans a log whose dirty part is below min.cleanable.dirty.ratio once a
// dirty record has waited that long.
func TestStorageCompactLags(t *testing.T) {
	segsOf := func(l *Log) int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.segs)
	}
	l, _ := openLog(t, testDir(t), Config{CleanupPolicy: "compact", SegmentBytes: 400, MinCompactionLagMs: 500}, 0)
	appendKeyed(t, l, kgo.NoCompression(), 10, 4, 100)  // old records
	appendKeyed(t, l, kgo.NoCompression(), 10, 4, 1000) // young ones, same keys
	require.Greater(t, segsOf(l), 4)
	// The first segment holding a young record bounds the pass.
	l.mu.Lock()
	bound := int64(-1)
	for _, s := range l.segs {
		if largestTimestamp(s) > 700 {
			bound = s.base
			break
		}
	}
	l.mu.Unlock()
	require.Positive(t, bound)
	res, err := l.Compact(1200) // now-lag = 700: old records only
	require.NoError(t, err)
	require.Positive(t, res.RecordsRemoved)
	before, after := 0, 0
	for _, r := range readAll(t, l) {
		if r.offset < bound {
			before++
		} else {
			after++
		}
	}
	require.Equal(t, 4, before, "the cleaned part keeps its latest record per key: the young segments are out of the map")
	require.EqualValues(t, l.EndOffset()-bound, after, "from the bound on, nothing cleaned")
	res, err = l.Compact(100000) // all old enough now
	require.NoError(t, err)
	require.Positive(t, res.RecordsRemoved)
	l.mu.Lock()
	active := l.active().base
	l.mu.Unlock()
	keys := map[string]bool{}
	for _, r := range readAll(t, l) {
		if r.offset < active {
			require.False(t, keys[r.key], "one record per key before the active segment: %s", r.key)
			keys[r.key] = true
		}
	}

	// Below the dirty ratio: nothing, until a dirty record is overdue.
	l, _ = openLog(t, testDir(t), Config{CleanupPolicy: "compact", SegmentBytes: 400, MinCleanableDirtyRatio: 1, MaxCompactionLagMs: 1000}, 0)
	appendKeyed(t, l, kgo.NoCompression(), 10, 4, 100)
	l.mu.Lock()
	l.cleanedTo = l.segs[1].base // the first segment counts as clean: the ratio is below 1
	l.mu.Unlock()
	res, err = l.Compact(1000)
	require.NoError(t, err)
	require.Zero(t, res.RecordsRemoved)
	res, err = l.Compact(1200)
	require.NoError(t, err)
	require.Positive(t, res.RecordsRemoved)
}
