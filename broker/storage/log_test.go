package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestStorageAppendReadEveryCodec(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			l, _ := openLog(t, testDir(t), Config{}, 1000)
			var sent [][]byte
			var want []gotRec
			for i := 0; i < 5; i++ {
				b := simpleBatch(t, c.codec, 10, 50, int64(1000+i*100))
				sent = append(sent, append([]byte(nil), b...))
				res, err := l.AppendLeader(b, 3, 5000)
				require.NoError(t, err)
				require.Equal(t, int64(i*10), res.BaseOffset)
				require.Equal(t, int64(i*10+9), res.LastOffset)
				require.Equal(t, 10, res.Records)
				require.Equal(t, int64(-1), res.LogAppendTimeMs)
				for j := 0; j < 10; j++ {
					want = append(want, gotRec{int64(i*10 + j), int64(1000 + i*100 + j), fmt.Sprintf("k%d", j), ""})
				}
			}
			require.Equal(t, int64(50), l.EndOffset())
			got, err := l.Read(0, 1<<20, l.EndOffset(), false)
			require.NoError(t, err)
			// stored bytes = received bytes apart from base offset and leader epoch
			rest := got
			for i, s := range sent {
				require.GreaterOrEqual(t, len(rest), len(s))
				b := rest[:len(s)]
				require.Equal(t, int64(i*10), int64(binary.BigEndian.Uint64(b)))
				require.Equal(t, int32(3), int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])))
				require.Equal(t, s[offLength:offLeaderEpoch], b[offLength:offLeaderEpoch])
				require.Equal(t, s[offMagic:], b[offMagic:], "batch %d changed inside its CRC", i)
				rest = rest[len(s):]
			}
			require.Empty(t, rest)
			recs := decodeBatches(t, got)
			require.Len(t, recs, 50)
			for i := range recs {
				require.Equal(t, want[i].offset, recs[i].offset)
				require.Equal(t, want[i].ts, recs[i].ts)
				require.Equal(t, want[i].key, recs[i].key)
			}
			require.Equal(t, int32(3), l.LatestEpoch())
		})
	}
}

func TestStorageReadBounds(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{IndexIntervalBytes: 100}, 0)
	var sizes []int
	for i := 0; i < 20; i++ {
		b := simpleBatch(t, kgo.NoCompression(), 5, 20, int64(i))
		sizes = append(sizes, len(b))
		_, err := l.AppendLeader(b, 0, 0)
		require.NoError(t, err)
	}
	tests := []struct {
		name              string
		offset            int64
		maxBytes          int
		maxOffset         int64
		minOne            bool
		wantFirst, wantN  int64 // first offset of the first batch, number of batches
		wantErrOutOfRange bool
	}{
		{"all", 0, 1 << 20, 100, false, 0, 20, false},
		{"mid batch", 7, 1 << 20, 100, false, 5, 19, false},
		{"high watermark cuts", 0, 1 << 20, 50, false, 0, 10, false},
		{"hw inside batch excludes it", 0, 1 << 20, 52, false, 0, 10, false},
		{"max bytes two batches", 10, sizes[0]*2 + 1, 100, false, 10, 2, false},
		{"max bytes too small without minOne", 10, 10, 100, false, 0, 0, false},
		{"max bytes too small with minOne", 10, 10, 100, true, 10, 1, false},
		{"minOne still respects hw", 50, 10, 50, true, 0, 0, false},
		{"at end", 100, 1 << 20, 100, false, 0, 0, false},
		{"past end", 101, 1 << 20, 100, false, 0, 0, true},
		{"negative", -1, 1 << 20, 100, false, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Read(tc.offset, tc.maxBytes, tc.maxOffset, tc.minOne)
			if tc.wantErrOutOfRange {
				require.ErrorIs(t, err, kerr.OffsetOutOfRange)
				return
			}
			require.NoError(t, err)
			n := int64(0)
			for rest := got; len(rest) > 0; n++ {
				size, err := frameBatch(rest)
				require.NoError(t, err)
				if n == 0 {
					require.Equal(t, tc.wantFirst, int64(binary.BigEndian.Uint64(rest)))
				}
				rest = rest[size:]
			}
			require.Equal(t, tc.wantN, n)
		})
	}
	// every offset finds its own batch through the sparse index
	for off := int64(0); off < 100; off++ {
		got, err := l.Read(off, 1, 100, true)
		require.NoError(t, err)
		h := parseHeader(got)
		require.True(t, h.baseOffset <= off && off <= h.lastOffset(), "offset %d read batch %d..%d", off, h.baseOffset, h.lastOffset())
	}
}

func TestStorageValidation(t *testing.T) {
	good := func() []byte { return simpleBatch(t, kgo.NoCompression(), 3, 10, 100) }
	tests := []struct {
		name string
		cfg  Config
		mk   func() []byte
		want error
	}{
		{"bad crc", Config{}, func() []byte { b := good(); b[len(b)-1] ^= 1; return b }, kerr.CorruptMessage},
		{"bad crc in header", Config{}, func() []byte { b := good(); b[offFirstTimestamp] ^= 1; return b }, kerr.CorruptMessage},
		{"truncated", Config{}, func() []byte { b := good(); return b[:len(b)-3] }, kerr.CorruptMessage},
		{"trailing garbage", Config{}, func() []byte { return append(good(), 1, 2, 3) }, kerr.CorruptMessage},
		{"bad magic", Config{}, func() []byte { b := good(); b[offMagic] = 3; return b }, kerr.CorruptMessage},
		{"too large", Config{MaxMessageBytes: 50}, good, kerr.MessageTooLarge},
		{"larger than segment", Config{SegmentBytes: 100}, func() []byte { return append(good(), good()...) }, kerr.RecordListTooLarge},
		{"count mismatch", Config{}, func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[offRecordCount:], 2)
			putCRC(b)
			return b
		}, kerr.InvalidRecord},
		{"records past count", Config{}, func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[offRecordCount:], 2)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 1)
			putCRC(b)
			return b
		}, kerr.CorruptMessage},
		{"control batch", Config{}, func() []byte {
			b := good()
			b[offAttributes+1] |= attrControl
			putCRC(b)
			return b
		}, kerr.InvalidRecord},
		{"compacted without key", Config{CleanupPolicy: "compact"}, func() []byte {
			return mkBatch(t, kgo.GzipCompression(), []testRec{{key: []byte("a"), value: []byte("1")}, {value: []byte("2")}})
		}, kerr.InvalidRecord},
		{"corrupt compressed payload", Config{}, func() []byte {
			b := simpleBatch(t, kgo.GzipCompression(), 3, 10, 100)
			b[len(b)-5] ^= 0xff
			putCRC(b)
			return b
		}, kerr.CorruptMessage},
		{"idempotent without sequence", Config{}, func() []byte {
			b := good()
			binary.BigEndian.PutUint64(b[offProducerID:], 7)
			putCRC(b)
			return b
		}, kerr.InvalidRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := openLog(t, testDir(t), tc.cfg, 0)
			_, err := l.AppendLeader(tc.mk(), 0, 0)
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), "orders-0")
			require.Equal(t, int64(0), l.EndOffset())
			require.Equal(t, int64(0), l.Size())
		})
	}
}

func TestStorageLogAppendTime(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{TimestampType: "LogAppendTime"}, 0)
	res, err := l.AppendLeader(simpleBatch(t, kgo.Lz4Compression(), 4, 10, 100), 1, 777)
	require.NoError(t, err)
	require.Equal(t, int64(777), res.LogAppendTimeMs)
	got, err := l.Read(0, 1<<20, 10, false)
	require.NoError(t, err)
	require.NoError(t, checkCRC(got))
	h := parseHeader(got)
	require.NotZero(t, h.attrs&attrLogAppendTime)
	require.Equal(t, int64(777), h.maxTimestamp)
	for _, r := range decodeBatches(t, got) {
		require.Equal(t, int64(777), r.ts)
	}
	off, ts := l.MaxTimestamp()
	require.Equal(t, int64(777), ts)
	require.Equal(t, int64(3), off)
}

func TestStorageCreateTimeFixesMaxTimestamp(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{}, 0)
	b := mkBatch(t, kgo.NoCompression(), []testRec{{key: []byte("a"), ts: 10}, {key: []byte("b"), ts: 50}, {key: []byte("c"), ts: 20}})
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], 5) // producer lied
	putCRC(b)
	_, err := l.AppendLeader(b, 0, 0)
	require.NoError(t, err)
	off, ts := l.MaxTimestamp()
	require.Equal(t, int64(50), ts)
	require.Equal(t, int64(1), off)
	got, err := l.Read(0, 1<<20, 10, false)
	require.NoError(t, err)
	require.NoError(t, checkCRC(got))
	require.Equal(t, int64(50), parseHeader(got).maxTimestamp)
}

func TestStorageRecompressOnAppend(t *testing.T) {
	for _, target := range []string{"gzip", "snappy", "lz4", "zstd", "uncompressed"} {
		t.Run(target, func(t *testing.T) {
			l, _ := openLog(t, testDir(t), Config{Compression: target}, 0)
			_, err := l.AppendLeader(simpleBatch(t, kgo.SnappyCompression(), 20, 30, 100), 0, 0)
			require.NoError(t, err)
			_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 20, 30, 200), 0, 0)
			require.NoError(t, err)
			got, err := l.Read(0, 1<<20, 100, false)
			require.NoError(t, err)
			require.Equal(t, Config{Compression: target}.targetCodec(), parseHeader(got).codec())
			recs := decodeBatches(t, got)
			require.Len(t, recs, 40)
			require.Equal(t, int64(39), recs[39].offset)
		})
	}
}

func TestStorageRollBySizeAndTime(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{SegmentBytes: 2000, SegmentMs: 10_000, SegmentIndexBytes: 4096}, 0)
	b := simpleBatch(t, kgo.NoCompression(), 5, 50, 1000)
	per := len(b)
	for i := 0; i < 10; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 5, 50, 1000), 0, 1000)
		require.NoError(t, err)
	}
	perSeg := 2000 / per
	require.Equal(t, (10+perSeg-1)/perSeg, l.NumSegments())
	bases, err := listSegments(OSFS, dir)
	require.NoError(t, err)
	require.Equal(t, int64(0), bases[0])
	require.Equal(t, int64(perSeg*5), bases[1])
	// closed segments have trimmed indexes; the active one is preallocated
	require.Equal(t, int64(0), fileSize(t, segName(dir, 0, indexSuffix))%offsetEntrySize)
	require.Less(t, fileSize(t, segName(dir, 0, indexSuffix)), int64(4096))
	require.Equal(t, int64(timeEntrySize), fileSize(t, segName(dir, 0, timeIndexSuffix)), "final time index entry on roll")
	require.Equal(t, int64(4096/offsetEntrySize*offsetEntrySize), fileSize(t, segName(dir, bases[len(bases)-1], indexSuffix)))

	// time: first batch timestamp 1000, segment.ms 10s
	n := l.NumSegments()
	_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 1, 10, 5000), 0, 5000)
	require.NoError(t, err)
	require.Equal(t, n, l.NumSegments())
	_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 1, 10, 11_500), 0, 11_500)
	require.NoError(t, err)
	require.Equal(t, n+1, l.NumSegments())

	got, err := l.Read(0, 1<<20, l.EndOffset(), false)
	require.NoError(t, err)
	require.Len(t, decodeBatches(t, got), 5*perSeg, "one read stays in one segment")
	require.NoError(t, l.Close())
	require.Equal(t, int64(0), fileSize(t, segName(dir, bases[len(bases)-1], indexSuffix))%offsetEntrySize)
	require.Less(t, fileSize(t, segName(dir, bases[len(bases)-1], indexSuffix)), int64(4096), "trimmed on close")

	l2, sink := openLog(t, dir, Config{SegmentBytes: 2000}, 20_000)
	require.Empty(t, sink.all())
	require.Equal(t, int64(52), l2.EndOffset())
	var all []gotRec
	for off := int64(0); off < l2.EndOffset(); {
		got, err := l2.Read(off, 1<<20, l2.EndOffset(), false)
		require.NoError(t, err)
		recs := decodeBatches(t, got)
		require.NotEmpty(t, recs)
		all = append(all, recs...)
		off = recs[len(recs)-1].offset + 1
	}
	require.Len(t, all, 52)
	for i, r := range all {
		require.Equal(t, int64(i), r.offset)
	}
}

func TestStorageRetention(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		now         int64
		wantDeleted int
	}{
		{"time keeps young", Config{RetentionMs: 10_000}, 5000, 0},
		{"time drops old", Config{RetentionMs: 10_000}, 1000 + 5*100 + 10_001, 4}, // segments 0..3 have max ts <= 1400
		{"forever", Config{RetentionMs: -1}, 1 << 50, 0},
		{"size", Config{RetentionMs: -1, RetentionBytes: 1}, 0, 4},
		{"compact only", Config{RetentionMs: 1, CleanupPolicy: "compact"}, 1 << 50, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.SegmentBytes = 100 // one 99-byte batch per segment
			l, _ := openLog(t, testDir(t), cfg, 0)
			for i := 0; i < 5; i++ {
				_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 10, int64(1000+i*100)), 0, 0)
				require.NoError(t, err)
			}
			require.Equal(t, 5, l.NumSegments())
			n, err := l.EnforceRetention(tc.now)
			require.NoError(t, err)
			require.Equal(t, tc.wantDeleted, n)
			require.Equal(t, 5-n, l.NumSegments())
			require.Equal(t, int64(2*n), l.StartOffset())
			_, err = l.Read(l.StartOffset()-1, 100, 100, true)
			if n > 0 {
				require.ErrorIs(t, err, kerr.OffsetOutOfRange)
			}
		})
	}
	t.Run("size keeps what fits", func(t *testing.T) {
		l, _ := openLog(t, testDir(t), Config{SegmentBytes: 100, RetentionMs: -1}, 0)
		var per int64
		for i := 0; i < 5; i++ {
			b := simpleBatch(t, kgo.NoCompression(), 2, 10, 1)
			per = int64(len(b))
			_, err := l.AppendLeader(b, 0, 0)
			require.NoError(t, err)
		}
		l.SetConfig(Config{SegmentBytes: 100, RetentionMs: -1, RetentionBytes: 3 * per})
		n, err := l.EnforceRetention(0)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, 3*per, l.Size())
	})
}

func TestStorageOffsetForTimestamp(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			l, _ := openLog(t, testDir(t), Config{SegmentBytes: 700, IndexIntervalBytes: 1}, 0)
			// batch i holds timestamps 1000+i*10 .. +4, offsets i*5 .. i*5+4
			for i := 0; i < 12; i++ {
				_, err := l.AppendLeader(simpleBatch(t, c.codec, 5, 20, int64(1000+i*10)), 0, 0)
				require.NoError(t, err)
			}
			require.Greater(t, l.NumSegments(), 2)
			tests := []struct {
				ts, wantOff, wantTs int64
				ok                  bool
			}{
				{0, 0, 1000, true},
				{1000, 0, 1000, true},
				{1003, 3, 1003, true},
				{1005, 5, 1010, true},
				{1052, 27, 1052, true},
				{1114, 59, 1114, true},
				{1115, -1, -1, false},
			}
			for _, tc := range tests {
				off, ts, ok := l.OffsetForTimestamp(tc.ts)
				require.Equal(t, tc.ok, ok, "ts %d", tc.ts)
				require.Equal(t, tc.wantOff, off, "ts %d", tc.ts)
				require.Equal(t, tc.wantTs, ts, "ts %d", tc.ts)
			}
			off, ts := l.MaxTimestamp()
			require.Equal(t, int64(1114), ts)
			require.Equal(t, int64(59), off)
		})
	}
}

func TestStorageEpochs(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{}, 0)
	require.Equal(t, int32(-1), l.LatestEpoch())
	e, o := l.EndOffsetForEpoch(0)
	require.Equal(t, int32(-1), e)
	require.Equal(t, int64(-1), o)
	for _, ep := range []int32{1, 1, 3, 3, 3, 6} {
		_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), ep, 0)
		require.NoError(t, err)
	}
	// epoch 1 at 0, 3 at 4, 6 at 10; LEO 12
	tests := []struct {
		req      int32
		epoch    int32
		endOfset int64
	}{
		{-1, -1, -1},
		{0, 0, 0},
		{1, 1, 4},
		{2, 1, 4},
		{3, 3, 10},
		{5, 3, 10},
		{6, 6, 12},
		{7, -1, -1},
	}
	for _, tc := range tests {
		e, o := l.EndOffsetForEpoch(tc.req)
		require.Equal(t, tc.epoch, e, "epoch %d", tc.req)
		require.Equal(t, tc.endOfset, o, "epoch %d", tc.req)
	}
	b, err := os.ReadFile(filepath.Join(dir, epochFile))
	require.NoError(t, err)
	require.Equal(t, "0\n3\n1 0\n3 4\n6 10\n", string(b))

	require.NoError(t, l.TruncateTo(5))
	require.Equal(t, int64(4), l.EndOffset(), "truncation drops the whole batch holding the offset")
	require.Equal(t, int32(1), l.LatestEpoch())
	b, err = os.ReadFile(filepath.Join(dir, epochFile))
	require.NoError(t, err)
	require.Equal(t, "0\n1\n1 0\n", string(b))
	require.NoError(t, l.Close())
	l2, _ := openLog(t, dir, Config{}, 0)
	require.Equal(t, int32(1), l2.LatestEpoch())
	require.Equal(t, int64(4), l2.EndOffset())
}

func TestStorageTruncateTo(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{SegmentBytes: 500, IndexIntervalBytes: 1}, 0)
	appendPairs(t, l, 20, 0)
	segs := l.NumSegments()
	require.Greater(t, segs, 3)
	require.NoError(t, l.TruncateTo(100)) // past the end: nothing
	require.Equal(t, int64(40), l.EndOffset())
	require.NoError(t, l.TruncateTo(21))
	require.Equal(t, int64(20), l.EndOffset())
	require.Less(t, l.NumSegments(), segs)
	got, err := l.Read(0, 1<<20, 100, false)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	// appends continue at the new end, as a follower would
	b := simpleBatch(t, kgo.NoCompression(), 2, 20, 99)
	binary.BigEndian.PutUint64(b, 20)
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 4)
	require.NoError(t, l.AppendFollower(b))
	require.Equal(t, int64(22), l.EndOffset())
	require.Equal(t, int32(4), l.LatestEpoch())
	require.ErrorIs(t, l.AppendFollower(b), ErrOffsetOrder)
	for off := int64(0); off < 22; off++ {
		got, err := l.Read(off, 1, 22, true)
		require.NoError(t, err)
		h := parseHeader(got)
		require.True(t, h.baseOffset <= off && off <= h.lastOffset(), "offset %d", off)
	}
	// below the start: empty log starting there
	require.NoError(t, l.TruncateTo(0))
	require.Equal(t, int64(0), l.EndOffset())
	require.Equal(t, 1, l.NumSegments())
	require.NoError(t, l.Close())
	l2, _ := openLog(t, dir, Config{}, 0)
	require.Equal(t, int64(0), l2.EndOffset())
}

func TestStorageDeleteRecords(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{SegmentBytes: 300}, 0)
	for i := 0; i < 10; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 20, int64(i)), 2, 0)
		require.NoError(t, err)
	}
	segs := l.NumSegments()
	_, err := l.DeleteRecordsBefore(21)
	require.ErrorIs(t, err, kerr.OffsetOutOfRange)
	low, err := l.DeleteRecordsBefore(7)
	require.NoError(t, err)
	require.Equal(t, int64(7), low)
	require.Equal(t, int64(7), l.StartOffset())
	require.Less(t, l.NumSegments(), segs)
	_, err = l.Read(6, 100, 20, true)
	require.ErrorIs(t, err, kerr.OffsetOutOfRange)
	got, err := l.Read(7, 1, 20, true)
	require.NoError(t, err)
	require.Equal(t, int64(6), parseHeader(got).baseOffset, "the batch holding the start offset is served whole")
	low, err = l.DeleteRecordsBefore(3)
	require.NoError(t, err)
	require.Equal(t, int64(7), low)
	e, o := l.EndOffsetForEpoch(1)
	require.Equal(t, int32(1), e)
	require.Equal(t, int64(7), o)
	require.NoError(t, l.Close())
	l2, _ := openLog(t, dir, Config{}, 0)
	require.Equal(t, int64(7), l2.StartOffset())
	require.Equal(t, int64(20), l2.EndOffset())
}

func TestStoragePartitionMetadata(t *testing.T) {
	dir := t.TempDir()
	id := [16]byte{0x4a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}
	require.NoError(t, WritePartitionMetadata(dir, id))
	b, err := os.ReadFile(filepath.Join(dir, metadataFile))
	require.NoError(t, err)
	require.Equal(t, "version: 0\ntopic_id: SgECAwQFBgcICQoLDA0O_w\n", string(b))
	got, err := ReadPartitionMetadata(dir)
	require.NoError(t, err)
	require.Equal(t, id, got)
}

func TestStorageOpenRejectsBadDirName(t *testing.T) {
	for _, name := range []string{"orders", "orders-x", "-1", "orders-"} {
		_, err := Open(filepath.Join(t.TempDir(), name), Config{}, 0, nil)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), name)
	}
}

func TestStorageEmptyAppend(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{}, 0)
	res, err := l.AppendLeader(nil, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(-1), res.BaseOffset)
	require.Equal(t, 0, res.Records)
}

func TestStorageFlushPolicy(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{FlushMessages: 5}, 0)
	for i := 0; i < 3; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 0, 0)
		require.NoError(t, err)
	}
	l.wmu.Lock()
	require.Equal(t, int64(6), l.flushedTo)
	require.Equal(t, int64(0), l.unflushed)
	l.wmu.Unlock()
	l.SetConfig(Config{FlushMs: 100})
	_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 0, 50)
	require.NoError(t, err)
	l.wmu.Lock()
	require.Equal(t, int64(6), l.flushedTo)
	l.wmu.Unlock()
	_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 0, 200)
	require.NoError(t, err)
	l.wmu.Lock()
	require.Equal(t, int64(10), l.flushedTo)
	l.wmu.Unlock()
}

func TestStorageMaybeFlush(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{FlushMs: 1000}, 0)
	flushed, err := l.MaybeFlush(5000)
	require.NoError(t, err)
	require.False(t, flushed, "nothing to flush")
	_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 0, 100)
	require.NoError(t, err)
	flushed, err = l.MaybeFlush(500)
	require.NoError(t, err)
	require.False(t, flushed, "flush.ms not reached")
	flushed, err = l.MaybeFlush(1000)
	require.NoError(t, err)
	require.True(t, flushed)
	flushed, err = l.MaybeFlush(5000)
	require.NoError(t, err)
	require.False(t, flushed)
}

func TestStorageDelete(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{}, 0)
	_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 0, 0)
	require.NoError(t, err)
	require.NoError(t, l.Delete())
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err))
	_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 0, 0)
	require.ErrorIs(t, err, ErrClosed)
	_, err = l.Read(0, 10, 10, true)
	require.ErrorIs(t, err, ErrClosed)
}

var _ = bytes.Equal
var _ = strings.Contains

func TestStorageFollowerStartsAtLeaderStart(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{}, 0)
	_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 3, 5, 1), 0, 0)
	require.NoError(t, err)
	require.NoError(t, l.TruncateFullyAndStartAt(1000))
	require.Equal(t, int64(1000), l.StartOffset())
	require.Equal(t, int64(1000), l.EndOffset())
	b := simpleBatch(t, kgo.NoCompression(), 3, 5, 1)
	binary.BigEndian.PutUint64(b, 1000)
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 7)
	require.NoError(t, l.AppendFollower(b))
	require.Equal(t, int64(1003), l.EndOffset())
	require.Equal(t, int32(7), l.LatestEpoch())
	require.NoError(t, l.Close())
	bases, err := listSegments(OSFS, dir)
	require.NoError(t, err)
	require.Equal(t, []int64{1000}, bases)
	l2, _ := openLog(t, dir, Config{}, 0)
	require.Equal(t, int64(1000), l2.StartOffset())
	require.Equal(t, int64(1003), l2.EndOffset())

	// an empty follower log jumping ahead moves its start along
	l3, _ := openLog(t, testDir(t), Config{}, 0)
	binary.BigEndian.PutUint64(b, 500)
	require.NoError(t, l3.AppendFollower(b))
	require.Equal(t, int64(500), l3.StartOffset())
	require.Equal(t, int64(503), l3.EndOffset())
}

func TestStorageRollByTimeUsesRecordTimestamps(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{SegmentMs: 1000}, 0)
	// old timestamps replayed long after they were made do not roll every append
	for i := 0; i < 5; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, int64(10+i)), 0, 1_000_000)
		require.NoError(t, err)
	}
	require.Equal(t, 1, l.NumSegments())
	_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 2000), 0, 1_000_000)
	require.NoError(t, err)
	require.Equal(t, 2, l.NumSegments())
}

func TestStorageEpochCheckpointRebuiltWhenUnreadable(t *testing.T) {
	for _, content := range []string{"garbage", "0\n2\n1 0\n", "0\n2\n3 10\n1 20\n", "1\n0\n"} {
		dir := testDir(t)
		l, _ := openLog(t, dir, Config{}, 0)
		for _, ep := range []int32{1, 1, 4} {
			_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), ep, 0)
			require.NoError(t, err)
		}
		require.NoError(t, l.Close())
		require.NoError(t, os.WriteFile(filepath.Join(dir, epochFile), []byte(content), 0o644))
		l2, sink := openLog(t, dir, Config{}, 0)
		require.NotEmpty(t, sink.all())
		require.Contains(t, sink.all()[0], epochFile)
		require.Equal(t, int32(4), l2.LatestEpoch())
		e, o := l2.EndOffsetForEpoch(1)
		require.Equal(t, int32(1), e)
		require.Equal(t, int64(4), o)
		b, err := os.ReadFile(filepath.Join(dir, epochFile))
		require.NoError(t, err)
		require.Equal(t, "0\n2\n1 0\n4 4\n", string(b))
	}
}
