package storage

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// requireRecentMatchesScan checks, for every offset around every segment
// of l, that a position the ring of recent batches gives is the one
// reading the headers gives.
func requireRecentMatchesScan(t *testing.T, l *Log) (fromRing int) {
	t.Helper()
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.segs {
		for off := s.base - 1; off <= s.next+1; off++ {
			want, err := s.scanBatch(max(off, s.base))
			require.NoError(t, err)
			if got, ok := s.findRecent(max(off, s.base)); ok {
				require.Equal(t, want, got, "segment %d offset %d", s.base, off)
				fromRing++
			}
		}
	}
	return fromRing
}

// TestStorageRecentBatchesFindLikeTheScan: after appends of batches of one
// to four records, past the ring's size, after a truncation into the ring
// and after a reopen (an empty ring), every position found from memory is
// the one the file gives.
func TestStorageRecentBatchesFindLikeTheScan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	l, err := Open(dir, Config{IndexIntervalBytes: 200}, 0, nil)
	require.NoError(t, err)
	appendN := func(n int) {
		for i := range n {
			_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 1+i%4, 20, int64(i)), 0, 0)
			require.NoError(t, err)
		}
	}
	appendN(10)
	require.Positive(t, requireRecentMatchesScan(t, l))
	appendN(3 * recentBatches)
	require.Positive(t, requireRecentMatchesScan(t, l))

	require.NoError(t, l.TruncateTo(l.EndOffset()-5))
	require.Positive(t, requireRecentMatchesScan(t, l))
	appendN(5)
	requireRecentMatchesScan(t, l)

	end := l.EndOffset()
	require.NoError(t, l.Close())
	l, err = Open(dir, Config{IndexIntervalBytes: 200}, 0, nil)
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, end, l.EndOffset())
	require.Zero(t, requireRecentMatchesScan(t, l), "a reopened segment remembers no batches")
	appendN(7)
	require.Positive(t, requireRecentMatchesScan(t, l))
}
