//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a loopback TCP connection, the accepted
// end wrapped by Conn.
func tcpPair(t *testing.T) (raw net.Conn, peer *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			dialed <- nil
			return
		}
		dialed <- c
	}()
	c, err := ln.Accept()
	require.NoError(t, err)
	p := <-dialed
	require.NotNil(t, p)
	raw = Conn(c)
	require.IsType(t, &conn{}, raw)
	t.Cleanup(func() { raw.Close(); p.Close() })
	return raw, p.(*net.TCPConn)
}

func TestRawioConnMovesBytesBothWaysPastFullBuffers(t *testing.T) {
	raw, peer := tcpPair(t)
	// Several MiB each way, more than the socket buffers hold, so both
	// directions meet EAGAIN and wait on the poller.
	out := make([]byte, 8<<20)
	for i := range out {
		out[i] = byte(rand.Uint32())
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	n, err := raw.Write(out)
	require.NoError(t, err)
	require.Equal(t, len(out), n)
	require.NoError(t, raw.(*conn).CloseWrite())
	require.True(t, bytes.Equal(out, <-got))

	in := make([]byte, 5<<20+7)
	for i := range in {
		in[i] = byte(i * 7)
	}
	go func() {
		peer.Write(in)
		peer.CloseWrite()
	}()
	back, err := io.ReadAll(raw) // small reads first, EOF at the end
	require.NoError(t, err)
	require.True(t, bytes.Equal(in, back))
	n, err = raw.Read(make([]byte, 10))
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF)
}

func TestRawioConnErrors(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		raw, _ := tcpPair(t)
		require.NoError(t, raw.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
		_, err := raw.Read(make([]byte, 1))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		var op *net.OpError
		require.ErrorAs(t, err, &op)
		require.Equal(t, "read", op.Op)
	})
	t.Run("closed", func(t *testing.T) {
		raw, _ := tcpPair(t)
		require.NoError(t, raw.Close())
		_, err := raw.Read(make([]byte, 1))
		require.ErrorIs(t, err, net.ErrClosed)
		_, err = raw.Write([]byte("x"))
		require.ErrorIs(t, err, net.ErrClosed)
	})
	t.Run("closed by another goroutine", func(t *testing.T) {
		raw, _ := tcpPair(t)
		errc := make(chan error, 1)
		go func() {
			_, err := raw.Read(make([]byte, 1))
			errc <- err
		}()
		require.NoError(t, raw.Close())
		require.ErrorIs(t, <-errc, net.ErrClosed)
	})
	t.Run("reset", func(t *testing.T) {
		raw, peer := tcpPair(t)
		require.NoError(t, peer.SetLinger(0))
		peer.Write([]byte("unread")) // data the raw end never reads
		require.NoError(t, peer.Close())
		var err error
		require.Eventually(t, func() bool {
			_, err = raw.Write(bytes.Repeat([]byte("x"), 1<<16))
			return err != nil
		}, 5*time.Second, time.Millisecond)
		var op *net.OpError
		require.ErrorAs(t, err, &op)
		require.Equal(t, "write", op.Op)
		require.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "%v", err)
	})
}

func TestRawioConnLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	require.Equal(t, a, Conn(a))
}

func TestRawioFileWriteAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg.log")
	of, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	f := NewFile(of)
	want := make([]byte, 3<<20)
	for i := range want {
		want[i] = byte(i * 13)
	}
	// out of order, one overlapping the next
	for _, r := range [][2]int{{1 << 20, 3 << 20}, {0, 1<<20 + 10}, {100, 200}} {
		n, err := f.WriteAt(want[r[0]:r[1]], int64(r[0]))
		require.NoError(t, err)
		require.Equal(t, r[1]-r[0], n)
	}
	n, err := f.WriteAt(nil, 5)
	require.NoError(t, err)
	require.Zero(t, n)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))

	require.NoError(t, f.Close())
	_, err = f.WriteAt([]byte("late"), 0)
	require.ErrorIs(t, err, os.ErrClosed)

	ro, err := os.Open(path)
	require.NoError(t, err)
	defer ro.Close()
	_, err = NewFile(ro).WriteAt([]byte("x"), 0)
	var pe *os.PathError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, path, pe.Path)
	require.ErrorIs(t, err, syscall.EBADF)
}

// TestRawioFileReadAtMatchesOSFile: ReadAt returns what (*os.File).ReadAt
// returns, bytes and error, at the start, in the middle, across and past
// the end, and for an empty buffer; a closed file says so.
func TestRawioFileReadAtMatchesOSFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg.log")
	want := make([]byte, 1<<20+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	require.NoError(t, os.WriteFile(path, want, 0o644))
	of, err := os.Open(path)
	require.NoError(t, err)
	f := NewFile(of)
	ref, err := os.Open(path)
	require.NoError(t, err)
	defer ref.Close()
	size := int64(len(want))
	for _, c := range []struct {
		off int64
		n   int
	}{{0, 4096}, {0, len(want)}, {12345, 100_000}, {size - 10, 10}, {size - 10, 4096}, {size, 10}, {size + 5000, 1}, {77, 0}} {
		got := make([]byte, c.n)
		exp := make([]byte, c.n)
		n, err := f.ReadAt(got, c.off)
		en, eerr := ref.ReadAt(exp, c.off)
		require.Equal(t, en, n, "read of %d at %d", c.n, c.off)
		require.Equal(t, eerr, err, "read of %d at %d", c.n, c.off)
		require.True(t, bytes.Equal(exp[:en], got[:n]), "read of %d at %d", c.n, c.off)
	}
	if noNowait.Load() {
		t.Logf("%s refuses RWF_NOWAIT reads: ReadAt made ordinary calls", filepath.Dir(path))
	}

	require.NoError(t, f.Close())
	_, err = f.ReadAt(make([]byte, 10), 0)
	require.ErrorIs(t, err, os.ErrClosed)
}

func TestRawioStallGuard(t *testing.T) {
	var g stallGuard
	ms := int64(time.Millisecond)
	require.True(t, g.rawOK(0))
	g.observe(0, ms/2, 4096) // fast
	require.True(t, g.rawOK(ms))
	require.True(t, g.rawOK(ms))

	g.observe(ms, 3*ms, 4096) // 2 ms for 4 KiB: preempted, not stalled
	require.True(t, g.rawOK(3*ms))
	require.Zero(t, g.backoff.Load())

	g.observe(5*ms, 20*ms, 4096) // 15 ms for 4 KiB: stalled
	require.False(t, g.rawOK(21*ms))
	require.False(t, g.rawOK(20*ms+int64(time.Second)-1))
	require.True(t, g.rawOK(20*ms+int64(time.Second)))

	// the next try stalls too: the period doubles
	t1 := 20*ms + int64(time.Second)
	g.observe(t1, t1+15*ms, 100)
	require.False(t, g.rawOK(t1+15*ms+int64(2*time.Second)-1))
	require.True(t, g.rawOK(t1+15*ms+int64(2*time.Second)))

	// a big write is allowed its copy time
	t2 := t1 + 15*ms + int64(2*time.Second)
	g.observe(t2, t2+40*ms, 16<<20) // 16 MiB in 40 ms: not a stall
	require.True(t, g.rawOK(t2+40*ms))
	require.Equal(t, int64(2*time.Second), g.backoff.Load(), "one fast write does not reset the period")

	// fast for a whole period: the next stall starts from the minimum again
	t3 := t2 + 40*ms + int64(3*time.Second)
	g.observe(t3, t3+ms/10, 10)
	require.Zero(t, g.backoff.Load())
	g.observe(t3+ms, t3+50*ms, 10)
	require.Equal(t, int64(time.Second), g.backoff.Load())

	// capped
	for i := 0; i < 20; i++ {
		g.observe(0, 50*ms, 10)
	}
	require.Equal(t, int64(backoffMax), g.backoff.Load())
}
