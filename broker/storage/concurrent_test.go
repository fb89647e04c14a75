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
