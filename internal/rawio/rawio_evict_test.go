//go:build linux && (amd64 || arm64)

package rawio

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRawioFileReadAtPastThePageCache: bytes the page cache no longer
// holds (a written, synced file whose second half was dropped from it)
// come back right, through the ordinary read that follows a refused
// no-wait read.
func TestRawioFileReadAtPastThePageCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg.log")
	want := make([]byte, 4<<20)
	for i := range want {
		want[i] = byte(i*31 + i>>12)
	}
	of, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	f := NewFile(of)
	defer f.Close()
	_, err = f.WriteAt(want, 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	const posixFadvDontneed = 4
	half := int64(len(want) / 2)
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), uintptr(half), uintptr(half), posixFadvDontneed, 0, 0); e != 0 {
		t.Logf("fadvise(DONTNEED): %v; the second half may still be cached", e)
	}
	for _, c := range []struct{ off, n int64 }{{0, int64(len(want))}, {half - 100, 8192}, {half + 4096, 100_000}} {
		got := make([]byte, c.n)
		n, err := f.ReadAt(got, c.off)
		require.NoError(t, err, "read of %d at %d", c.n, c.off)
		require.Equal(t, int(c.n), n)
		require.True(t, bytes.Equal(want[c.off:c.off+c.n], got), "read of %d at %d", c.n, c.off)
	}
}
