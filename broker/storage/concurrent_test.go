package storage

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStorageConcurrentReadersAndWriter runs readers against a log while
// one writer appends, rolls, and retention deletes old segments: every read
// returns whole CRC-valid batches in offset order, or OffsetOutOfRange for
// an offset that retention removed meanwhile.
func TestStorageConcurrentReadersAndWriter(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{SegmentBytes: 4000, RetentionBytes: 20000, RetentionMs: -1, IndexIntervalBytes: 200}, 0)
	const batches = 400
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			reads := 0
			for !done.Load() || reads < 50 {
				reads++
				start, end := l.StartOffset(), l.EndOffset()
				if end == start {
					continue
				}
				l.OffsetForTimestamp(int64(reads % 400))
				l.MaxTimestamp()
				l.EndOffsetForEpoch(1)
				off := start + int64(reads*7+r)%(end-start)
				got, err := l.Read(off, 3000, end, true)
				if errors.Is(err, kerr.OffsetOutOfRange) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				next := int64(-1)
				for rest := got; len(rest) > 0; {
					size, err := frameBatch(rest)
					if err == nil {
						err = checkCRC(rest[:size])
					}
					if err != nil {
						errs <- err
						return
					}
					h := parseHeader(rest)
					if next >= 0 && h.baseOffset != next {
						errs <- errors.New("batches out of order")
						return
					}
					next = h.lastOffset() + 1
					rest = rest[size:]
				}
			}
		}(r)
	}
	for i := 0; i < batches; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.Lz4Compression(), 5, 30, int64(i)), 1, int64(i))
		require.NoError(t, err)
		if i%20 == 0 {
			_, err := l.EnforceRetention(int64(i))
			require.NoError(t, err)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(batches*5), l.EndOffset())
	require.Greater(t, l.StartOffset(), int64(0))
}

// TestStorageConcurrentProducers appends from several goroutines: every
// append gets its own contiguous offsets and the log holds them all in order.
func TestStorageConcurrentProducers(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{SegmentBytes: 3000}, 0)
	const producers, each = 4, 50
	var wg sync.WaitGroup
	results := make(chan AppendResult, producers*each)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				res, err := l.AppendLeader(simpleBatch(t, codecs[p%len(codecs)].codec, 3, 20, int64(i)), 0, 0)
				if err != nil {
					t.Error(err)
					return
				}
				results <- res
			}
		}(p)
	}
	wg.Wait()
	close(results)
	seen := make(map[int64]bool)
	for r := range results {
		require.Equal(t, r.BaseOffset+2, r.LastOffset)
		for o := r.BaseOffset; o <= r.LastOffset; o++ {
			require.False(t, seen[o], "offset %d assigned twice", o)
			seen[o] = true
		}
	}
	require.Len(t, seen, producers*each*3)
	require.Equal(t, int64(producers*each*3), l.EndOffset())
	recs := readAll(t, l)
	require.Len(t, recs, producers*each*3)
	for i, r := range recs {
		require.Equal(t, int64(i), r.offset)
	}
}
