package storage

import (
	"encoding/binary"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fixCRCs recomputes the CRC of every framed v2 batch in b so fuzzing gets
// past the checksum into record validation.
func fixCRCs(b []byte) {
	for len(b) >= batchHeaderSize {
		size, err := frameBatch(b)
		if err != nil {
			return
		}
		putCRC(b[:size])
		b = b[size:]
	}
}

func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, c := range codecs {
		seeds = append(seeds, simpleBatch(f, c.codec, 3, 10, 100))
	}
	seeds = append(seeds, append(simpleBatch(f, kgo.NoCompression(), 1, 1, 1), simpleBatch(f, kgo.Lz4Compression(), 2, 2, 2)...))
	seeds = append(seeds, mkLegacy(1, 0, 0, 5, []byte("k"), []byte("v")))
	seeds = append(seeds, mkLegacy(0, 0, 0, 0, nil, []byte("v")))
	return seeds
}

// quickFuzz keeps hostile inflation cheap under coverage instrumentation
// until the fuzz target ends, and returns a filesystem that skips fsync,
// which is not under test here.
func quickFuzz(f *testing.F) FS {
	oldMax := maxDecompressed
	maxDecompressed = 1 << 20
	f.Cleanup(func() { maxDecompressed = oldMax })
	return noSyncFS{OSFS}
}

// noSyncFS is the OS filesystem without fsync.
type noSyncFS struct{ FS }

type noSyncFile struct{ File }

func (noSyncFile) Sync() error { return nil }

func (n noSyncFS) OpenFile(name string, flag int, perm iofs.FileMode) (File, error) {
	f, err := n.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (noSyncFS) SyncDir(string) error { return nil }

// FuzzStorageBatch feeds arbitrary produce payloads through the append
// path's validation and, when accepted, through a real log: an accepted
// batch must read back byte-identical (apart from the header fields the
// log assigns), decode, and down-convert.
func FuzzStorageBatch(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, true)
		f.Add(s, false)
	}
	fz := quickFuzz(f)
	dir := filepath.Join(f.TempDir(), "fuzz-0")
	l, err := OpenFS(fz, dir, Config{SegmentBytes: 1 << 20}, 0, nil)
	require.NoError(f, err)
	f.Cleanup(func() { l.Close() })
	f.Fuzz(func(t *testing.T, in []byte, fix bool) {
		b := append([]byte(nil), in...)
		if fix {
			fixCRCs(b)
		}
		// the pure decoders never panic on anything
		ConvertToV2(b)
		DownConvert(b, 0)
		DownConvert(b, 1)

		legacy := isLegacy(b)
		before := l.EndOffset()
		res, err := l.AppendLeader(b, 1, 5)
		if err != nil {
			require.Equal(t, before, l.EndOffset(), "a rejected append changes nothing")
			return
		}
		if len(in) == 0 {
			return
		}
		if res.BaseOffset < before {
			// a retried idempotent batch, answered from the producer state
			require.Equal(t, before, l.EndOffset(), "a duplicate is not stored again")
			require.LessOrEqual(t, res.BaseOffset, res.LastOffset)
			require.Less(t, res.LastOffset, before)
			return
		}
		require.Equal(t, before, res.BaseOffset)
		require.Equal(t, res.LastOffset+1, l.EndOffset())
		got, err := l.Read(res.BaseOffset, 1<<30, l.EndOffset(), true)
		require.NoError(t, err)
		n := int64(0)
		for rest := got; len(rest) > 0; {
			size, err := frameBatch(rest)
			require.NoError(t, err)
			require.NoError(t, checkCRC(rest[:size]))
			h := parseHeader(rest)
			raw, err := batchRecords(rest[:size])
			require.NoError(t, err)
			require.NoError(t, walkRecords(raw, h.count, true, func(*record) error { return nil }))
			n += int64(h.count)
			rest = rest[size:]
		}
		require.Equal(t, res.LastOffset-res.BaseOffset+1, n)
		if !legacy {
			require.Equal(t, len(b), len(got))
			require.Equal(t, b[offMagic:offCRC], got[offMagic:offCRC])
			require.Equal(t, b[offLastOffsetDelta:offMaxTimestamp], got[offLastOffsetDelta:offMaxTimestamp])
			require.Equal(t, b[offProducerID:], got[offProducerID:])
		}
		if parseHeader(got).codec() != codecZstd {
			_, err = DownConvert(got, 1)
			require.NoError(t, err)
		}
	})
}

// FuzzStorageRecover opens a log over arbitrary .log/.index/.timeindex
// bytes, with and without the clean-shutdown marker: Open must not panic,
// and whatever it then serves must be whole batches (CRC-valid when the
// log was recovered).
func FuzzStorageRecover(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "seed-0")
	l, err := Open(dir, Config{IndexIntervalBytes: 1}, 0, nil)
	require.NoError(f, err)
	for i := 0; i < 4; i++ {
		_, err := l.AppendLeader(simpleBatch(f, codecs[i%len(codecs)].codec, 3, 10, int64(i)), 1, 0)
		require.NoError(f, err)
	}
	require.NoError(f, l.Close())
	read := func(suffix string) []byte {
		b, err := os.ReadFile(segName(dir, 0, suffix))
		require.NoError(f, err)
		return b
	}
	logB, idxB, tidxB := read(logSuffix), read(indexSuffix), read(timeIndexSuffix)
	f.Add(logB, idxB, tidxB, true)
	f.Add(logB, idxB, tidxB, false)
	f.Add(logB[:len(logB)-7], idxB, tidxB, false)
	f.Add(append(append([]byte(nil), logB...), make([]byte, 100)...), idxB, []byte{}, true)
	f.Add([]byte{}, []byte{}, []byte{}, false)

	fz := quickFuzz(f)
	work := filepath.Join(f.TempDir(), "t-0")
	cfg := Config{IndexIntervalBytes: 1, SegmentIndexBytes: 4096}
	f.Fuzz(func(t *testing.T, logBytes, idxBytes, tidxBytes []byte, clean bool) {
		dir := work
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(segName(dir, 0, logSuffix), logBytes, 0o644))
		require.NoError(t, os.WriteFile(segName(dir, 0, indexSuffix), idxBytes, 0o644))
		require.NoError(t, os.WriteFile(segName(dir, 0, timeIndexSuffix), tidxBytes, 0o644))
		if clean {
			require.NoError(t, os.WriteFile(filepath.Join(dir, cleanMarker), nil, 0o644))
		}
		l, err := OpenFS(fz, dir, cfg, 0, nil)
		if err != nil {
			return
		}
		defer l.Close()
		checkServesWholeBatches(t, l, !clean)
		l.OffsetForTimestamp(0)
		l.MaxTimestamp()
		l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 1, 1, 1), 2, 0)
	})
}

// checkServesWholeBatches reads the whole log and requires whole batches
// only, CRC-valid when crcChecked, in increasing offset order.
func checkServesWholeBatches(t *testing.T, l *Log, crcChecked bool) {
	t.Helper()
	start, end := l.StartOffset(), l.EndOffset()
	require.LessOrEqual(t, start, end)
	for off := start; off < end; {
		got, err := l.Read(off, 1<<20, end, true)
		if err != nil {
			require.False(t, errors.Is(err, io.EOF))
			return
		}
		if len(got) == 0 {
			return
		}
		last := int64(-1)
		for rest := got; len(rest) > 0; {
			size, err := frameBatch(rest)
			require.NoError(t, err, "served a torn batch")
			if crcChecked {
				require.NoError(t, checkCRC(rest[:size]), "served a corrupt batch after recovery")
			}
			last = int64(binary.BigEndian.Uint64(rest)) + int64(int32(binary.BigEndian.Uint32(rest[offLastOffsetDelta:])))
			rest = rest[size:]
		}
		if last < off {
			return
		}
		off = last + 1
	}
}

// FuzzStorageRecoverSegments opens two segments of arbitrary bytes (the
// second at a fuzzed base offset) without indexes and without the clean
// marker: Open never panics, the earlier segment is re-indexed and cut at
// broken framing, the last one fully validated.
func FuzzStorageRecoverSegments(f *testing.F) {
	a := simpleBatch(f, kgo.NoCompression(), 3, 10, 1)
	b := simpleBatch(f, kgo.GzipCompression(), 2, 10, 2)
	binary.BigEndian.PutUint64(b, 3)
	f.Add(a, b, uint32(3))
	f.Add(append(a, 0, 0, 0), b, uint32(3))
	f.Add(a, b, uint32(1))
	fz := quickFuzz(f)
	work := filepath.Join(f.TempDir(), "s-0")
	cfg := Config{IndexIntervalBytes: 1, SegmentIndexBytes: 4096}
	f.Fuzz(func(t *testing.T, first, second []byte, secondBase uint32) {
		require.NoError(t, os.RemoveAll(work))
		require.NoError(t, os.MkdirAll(work, 0o755))
		require.NoError(t, os.WriteFile(segName(work, 0, logSuffix), first, 0o644))
		if secondBase > 0 {
			require.NoError(t, os.WriteFile(segName(work, int64(secondBase), logSuffix), second, 0o644))
		}
		l, err := OpenFS(fz, work, cfg, 0, nil)
		if err != nil {
			return
		}
		defer l.Close()
		checkServesWholeBatches(t, l, false)
		// the last segment was CRC-validated
		l.mu.RLock()
		act := l.active()
		sc := newScanner(act.log, 0, act.size, 4096)
		for {
			_, bb, err := sc.next(true)
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
			require.NoError(t, checkCRC(bb))
		}
		l.mu.RUnlock()
		_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 1, 1, 1), 2, 0)
		require.NoError(t, err)
	})
}

// FuzzStorageEpochCheckpoint parses arbitrary leader-epoch-checkpoint text:
// no panic, and whatever parses re-encodes to text that parses the same.
func FuzzStorageEpochCheckpoint(f *testing.F) {
	f.Add([]byte("0\n3\n1 0\n3 4\n6 10\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n2\n5 7\n4 9\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		entries, err := parseEpochs(in)
		if err != nil {
			return
		}
		c := &epochCache{entries: entries}
		again, err := parseEpochs(c.encode())
		require.NoError(t, err)
		require.Equal(t, len(entries), len(again))
		for i := range entries {
			require.Equal(t, entries[i], again[i])
		}
		// answers stay within what the cache knows
		for _, e := range []int32{-1, 0, 1, 1 << 30} {
			ep, off := c.endOffsetFor(e, 1<<40)
			require.LessOrEqual(t, ep, e)
			require.LessOrEqual(t, off, int64(1<<40))
		}
	})
}

// FuzzStoragePartitionMetadata reads arbitrary partition.metadata files.
func FuzzStoragePartitionMetadata(f *testing.F) {
	f.Add([]byte("version: 0\ntopic_id: SgECAwQFBgcICQoLDA0O_w\n"))
	f.Add([]byte("version: 1\ntopic_id: x\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, metadataFile), in, 0o644))
		id, err := ReadPartitionMetadata(dir)
		if err != nil {
			return
		}
		require.NoError(t, WritePartitionMetadata(dir, id))
		again, err := ReadPartitionMetadata(dir)
		require.NoError(t, err)
		require.Equal(t, id, again)
	})
}

// FuzzStorageProducerState reads arbitrary saved producer state at Open: a
// bad file is ignored (the state is replayed from the batches), never fatal.
func FuzzStorageProducerState(f *testing.F) {
	f.Add([]byte(`{"offset":3,"producers":[{"id":7,"epoch":0,"batches":[{"first_seq":0,"last_seq":2,"first_offset":0,"last_offset":2,"timestamp":1}],"txn_first":-1}],"aborted":[]}`))
	f.Add([]byte(`{"offset":99,"producers":null,"aborted":[{"producer_id":1,"first_offset":5,"last_offset":2}]}`))
	f.Add([]byte(`{"producers":[null]}`))
	fz := quickFuzz(f)
	work := filepath.Join(f.TempDir(), "p-0")
	f.Fuzz(func(t *testing.T, in []byte) {
		require.NoError(t, os.RemoveAll(work))
		l, err := OpenFS(fz, work, Config{SegmentIndexBytes: 4096}, 0, nil)
		require.NoError(t, err)
		_, err = l.AppendLeader(producerBatchOf(t, 7, 0, 0, 3, false), 0, 0)
		require.NoError(t, err)
		require.NoError(t, l.Close())
		require.NoError(t, os.WriteFile(filepath.Join(work, producerStateFile), in, 0o644))
		l, err = OpenFS(fz, work, Config{SegmentIndexBytes: 4096}, 0, nil)
		require.NoError(t, err)
		defer l.Close()
		l.FirstUnstableOffset()
		l.AbortedTransactions(0, 100)
		_, err = l.AppendLeader(producerBatchOf(t, 9, 0, 0, 1, false), 0, 0)
		require.NoError(t, err)
	})
}
