package wal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWALZeroFillsAheadOfRecords: past the records the log file holds
// written zeros, not a hole, so the fsyncs of later writes carry no block
// allocation; the file keeps its PreAllocSize size and recovers the same.
func TestWALZeroFillsAheadOfRecords(t *testing.T) {
	dir := t.TempDir()
	opts := Options{LogDir: dir, SnapDir: dir, ForceSync: true, PreAllocSize: 64 << 20}
	w, _ := openRecover(t, opts)
	require.NoError(t, w.Append(recs(1, 100)...))
	require.NoError(t, w.Sync())

	name := filepath.Join(dir, "version-2", logName(1))
	fi, err := os.Stat(name)
	require.NoError(t, err)
	require.Equal(t, int64(64<<20), fi.Size(), "the file grows in PreAllocSize steps")
	allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
	require.GreaterOrEqual(t, allocated, int64(zeroChunk), "zeros are written past the records, not left a hole")
	require.Less(t, allocated, int64(64<<20), "only a chunk ahead is written, not the whole preallocation")

	// Writing on past the zeroed chunk zeroes the next one.
	for z := int64(101); w.pos < zeroChunk; z += 1000 {
		require.NoError(t, w.Append(recs(z, z+999)...))
		require.NoError(t, w.Sync())
	}
	require.GreaterOrEqual(t, w.zeroed-w.pos, int64(zeroChunk/2))
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	for i := w.pos; i < w.zeroed; i++ {
		if b[i] != 0 {
			t.Fatalf("byte %d past the records is %d, want 0", i, b[i])
		}
	}
	last := w.LastZxid()
	require.NoError(t, w.Close())

	_, got := openRecover(t, opts)
	require.Equal(t, last, got.last)
	require.Len(t, got.recs, int(last))
}
