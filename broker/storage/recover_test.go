package storage

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// crash drops the log the way kill -9 does: files closed by the OS, no
// final index entries, no trimming, no clean marker.
func crash(l *Log) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		s.close()
	}
	l.closed = true
}

// fillLog appends n batches of 3 records and returns each batch's end position
// in the (single) segment.
func fillLog(t *testing.T, dir string, n int) []int64 {
	t.Helper()
	l, _ := openLog(t, dir, Config{IndexIntervalBytes: 1}, 0)
	var ends []int64
	for i := 0; i < n; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.GzipCompression(), 3, 40, int64(100+i)), 1, 0)
		require.NoError(t, err)
		ends = append(ends, l.Size())
	}
	crash(l)
	return ends
}

func TestStorageRecoverTornAndCorruptTail(t *testing.T) {
	tests := []struct {
		name      string
		damage    func(t *testing.T, path string, ends []int64)
		wantWhole int // batches that must survive
	}{
		{"intact", func(*testing.T, string, []int64) {}, 6},
		{"cut inside last header", func(t *testing.T, p string, ends []int64) { require.NoError(t, os.Truncate(p, ends[4]+20)) }, 5},
		{"cut inside last payload", func(t *testing.T, p string, ends []int64) { require.NoError(t, os.Truncate(p, ends[5]-1)) }, 5},
		{"cut at a boundary", func(t *testing.T, p string, ends []int64) { require.NoError(t, os.Truncate(p, ends[3])) }, 4},
		{"flipped byte in last batch", func(t *testing.T, p string, ends []int64) { flip(t, p, ends[5]-3) }, 5},
		{"flipped byte in middle batch", func(t *testing.T, p string, ends []int64) { flip(t, p, ends[1]+30) }, 2},
		{"flipped length field", func(t *testing.T, p string, ends []int64) { flip(t, p, ends[2]+offLength+1) }, 3},
		{"zeros after the end", func(t *testing.T, p string, ends []int64) { appendBytes(t, p, make([]byte, 4096)) }, 6},
		{"garbage after the end", func(t *testing.T, p string, ends []int64) {
			appendBytes(t, p, []byte(strings.Repeat("garbage!", 40)))
		}, 6},
		{"offsets going backwards", func(t *testing.T, p string, ends []int64) {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			appendBytes(t, p, b[ends[0]:ends[1]]) // a valid copy of batch 1 again
		}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := testDir(t)
			ends := fillLog(t, dir, 6)
			path := segName(dir, 0, logSuffix)
			tc.damage(t, path, ends)
			l, sink := openLog(t, dir, Config{IndexIntervalBytes: 1}, 0)
			require.Equal(t, int64(3*tc.wantWhole), l.EndOffset())
			require.Equal(t, ends[tc.wantWhole-1], l.Size())
			require.Equal(t, ends[tc.wantWhole-1], fileSize(t, path))
			if tc.name != "intact" && tc.name != "cut at a boundary" {
				require.NotEmpty(t, sink.all())
				msg := sink.all()[0]
				require.Contains(t, msg, path)
				require.Contains(t, msg, "position")
				require.Contains(t, msg, "dropping")
			}
			got, err := l.Read(0, 1<<20, l.EndOffset(), false)
			require.NoError(t, err)
			recs := decodeBatches(t, got)
			require.Len(t, recs, 3*tc.wantWhole)
			for off := int64(0); off < l.EndOffset(); off++ {
				got, err := l.Read(off, 1, l.EndOffset(), true)
				require.NoError(t, err)
				h := parseHeader(got)
				require.True(t, h.baseOffset <= off && off <= h.lastOffset())
			}
			// the log takes appends where the valid prefix ended
			res, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 2, 0)
			require.NoError(t, err)
			require.Equal(t, int64(3*tc.wantWhole), res.BaseOffset)
		})
	}
}

func flip(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, at)
	require.NoError(t, err)
	b[0] ^= 0x5a
	_, err = f.WriteAt(b, at)
	require.NoError(t, err)
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write(b)
	require.NoError(t, err)
}

func TestStorageRecoverRebuildsIndexes(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, bases []int64)
	}{
		{"missing index", func(t *testing.T, dir string, bases []int64) {
			require.NoError(t, os.Remove(segName(dir, bases[0], indexSuffix)))
		}},
		{"missing time index", func(t *testing.T, dir string, bases []int64) {
			require.NoError(t, os.Remove(segName(dir, bases[1], timeIndexSuffix)))
		}},
		{"index pointing past the log", func(t *testing.T, dir string, bases []int64) {
			var e [8]byte
			binary.BigEndian.PutUint32(e[:], 1)
			binary.BigEndian.PutUint32(e[4:], 1<<30)
			appendBytes(t, segName(dir, bases[0], indexSuffix), e[:])
		}},
		{"time index pointing past the segment", func(t *testing.T, dir string, bases []int64) {
			var e [12]byte
			binary.BigEndian.PutUint64(e[:], 1_000_000)
			binary.BigEndian.PutUint32(e[8:], 5000)
			appendBytes(t, segName(dir, bases[0], timeIndexSuffix), e[:])
		}},
		{"index of odd size", func(t *testing.T, dir string, bases []int64) {
			appendBytes(t, segName(dir, bases[1], indexSuffix), []byte{1, 2, 3})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := testDir(t)
			cfg := Config{SegmentBytes: 1500, IndexIntervalBytes: 1}
			l, _ := openLog(t, dir, cfg, 0)
			appendPairs(t, l, 30, 1000)
			require.NoError(t, l.Close())
			bases, err := listSegments(OSFS, dir)
			require.NoError(t, err)
			require.Greater(t, len(bases), 2)
			tc.damage(t, dir, bases)
			l2, sink := openLog(t, dir, cfg, 0)
			require.NotEmpty(t, sink.all())
			require.Contains(t, sink.all()[0], "rebuilding indexes")
			require.Equal(t, int64(60), l2.EndOffset())
			for off := int64(0); off < 60; off++ {
				got, err := l2.Read(off, 1, 60, true)
				require.NoError(t, err)
				h := parseHeader(got)
				require.True(t, h.baseOffset <= off && off <= h.lastOffset(), "offset %d", off)
			}
			off, ts, ok := l2.OffsetForTimestamp(1021)
			require.True(t, ok)
			require.Equal(t, int64(1021), ts)
			require.Equal(t, int64(41), off) // batch 20 holds offsets 40,41 at 1020,1021
		})
	}
}

func TestStorageCleanReopenKeepsState(t *testing.T) {
	dir := testDir(t)
	cfg := Config{SegmentBytes: 1000, IndexIntervalBytes: 50}
	l, _ := openLog(t, dir, cfg, 0)
	for i := 0; i < 25; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.ZstdCompression(), 4, 30, int64(5000+i)), int32(i/10), 0)
		require.NoError(t, err)
	}
	wantSize, wantSegs := l.Size(), l.NumSegments()
	wantOff, wantTs := l.MaxTimestamp()
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "second close is a no-op")
	_, err := os.Stat(dir + "/" + cleanMarker)
	require.NoError(t, err)

	l2, sink := openLog(t, dir, cfg, 0)
	require.Empty(t, sink.all())
	_, err = os.Stat(dir + "/" + cleanMarker)
	require.True(t, os.IsNotExist(err), "marker removed so a crash from now on is detected")
	require.Equal(t, int64(100), l2.EndOffset())
	require.Equal(t, wantSize, l2.Size())
	require.Equal(t, wantSegs, l2.NumSegments())
	off, ts := l2.MaxTimestamp()
	require.Equal(t, wantTs, ts)
	require.Equal(t, wantOff, off)
	require.Equal(t, int32(2), l2.LatestEpoch())
	e, o := l2.EndOffsetForEpoch(1)
	require.Equal(t, int32(1), e)
	require.Equal(t, int64(80), o)
	res, err := l2.AppendLeader(simpleBatch(t, kgo.NoCompression(), 1, 1, 1), 2, 0)
	require.NoError(t, err)
	require.Equal(t, int64(100), res.BaseOffset)
}

func TestStorageRecoverAfterRollCrash(t *testing.T) {
	dir := testDir(t)
	cfg := Config{SegmentBytes: 600, IndexIntervalBytes: 1}
	l, _ := openLog(t, dir, cfg, 0)
	for i := 0; i < 12; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.Lz4Compression(), 3, 40, int64(100+i)), int32(i/4), 0)
		require.NoError(t, err)
	}
	leo := l.EndOffset()
	crash(l)
	bases, err := listSegments(OSFS, dir)
	require.NoError(t, err)
	require.Greater(t, len(bases), 2)
	last := segName(dir, bases[len(bases)-1], logSuffix)
	require.NoError(t, os.Truncate(last, fileSize(t, last)-5))

	l2, sink := openLog(t, dir, cfg, 0)
	require.Len(t, sink.all(), 1)
	require.Contains(t, sink.all()[0], last)
	require.Less(t, l2.EndOffset(), leo)
	require.Equal(t, len(bases), l2.NumSegments())
	recs := readAll(t, l2)
	require.Len(t, recs, int(l2.EndOffset()))
	for i, r := range recs {
		require.Equal(t, int64(i), r.offset)
	}
	// the epoch history does not reach past the recovered end
	e, o := l2.EndOffsetForEpoch(l2.LatestEpoch())
	require.Equal(t, l2.LatestEpoch(), e)
	require.Equal(t, l2.EndOffset(), o)
	b, err := os.ReadFile(filepath.Join(dir, epochFile))
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[2:] {
		var ep int32
		var start int64
		_, err := fmt.Sscanf(line, "%d %d", &ep, &start)
		require.NoError(t, err)
		require.Less(t, start, l2.EndOffset())
	}
}

// Appends keep index entries in memory; a flush and a clean close must
// leave them in the files, so that a reopen loads them without a rebuild.
func TestStorageIndexesSavedOnFlushAndClose(t *testing.T) {
	dir := testDir(t)
	cfg := Config{SegmentBytes: 4000, IndexIntervalBytes: 1}
	l, _ := openLog(t, dir, cfg, 0)
	appendPairs(t, l, 40, 1000)
	act := l.active()
	require.NotEmpty(t, act.idx)
	require.Less(t, act.idxSaved, len(act.idx), "an append alone writes no index entry")

	require.NoError(t, l.Flush())
	onDisk := func(s *segment) (int64, int64) {
		return fileSize(t, segName(dir, s.base, indexSuffix)), fileSize(t, segName(dir, s.base, timeIndexSuffix))
	}
	require.Equal(t, len(act.idx), act.idxSaved)
	require.Equal(t, len(act.tidx), act.tidxSaved)
	ib := make([]byte, len(act.idx)*offsetEntrySize)
	_, err := act.idxF.ReadAt(ib, 0)
	require.NoError(t, err)
	for i, e := range act.idx {
		require.Equal(t, e.rel, binary.BigEndian.Uint32(ib[i*offsetEntrySize:]), "entry %d", i)
		require.Equal(t, e.pos, binary.BigEndian.Uint32(ib[i*offsetEntrySize+4:]), "entry %d", i)
	}

	before := map[int64][2]int{}
	for _, s := range l.segs {
		before[s.base] = [2]int{len(s.idx), len(s.tidx)}
	}
	require.NoError(t, l.Close())
	for _, s := range l.segs {
		n := before[s.base]
		ii, ti := onDisk(s)
		require.Equal(t, int64(n[0]*offsetEntrySize), ii, "%s", s.idxF.Name())
		require.GreaterOrEqual(t, ti, int64(n[1]*timeEntrySize), "%s (the close adds the final time entry)", s.tidxF.Name())
	}
	l2, sink := openLog(t, dir, cfg, 0)
	for _, line := range sink.all() {
		require.NotContains(t, line, "rebuilding", "a clean close leaves indexes that load as they are")
	}
	require.Equal(t, len(l.segs), len(l2.segs))
	for i, s := range l2.segs {
		require.Equal(t, l.segs[i].idx, s.idx, "segment %d", s.base)
	}
}
