package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/internal/testnet"
)

// echoServer answers every line with the same line until the client closes.
func echoServer(t *testing.T) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", target)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip writes line and reads it back within d.
func roundTrip(c net.Conn, r *bufio.Reader, line string, d time.Duration) (string, error) {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

func TestFaultProxyForwards(t *testing.T) {
	p := newProxy(t, echoServer(t))
	require.Equal(t, "127.0.0.1", p.Addr()[:9])
	c, r := dial(t, p.Addr())
	for _, s := range []string{"a", "bb", string(make([]byte, 100_000))} {
		got, err := roundTrip(c, r, s, 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	require.Eventually(t, func() bool { return p.Conns() == 1 }, 2*time.Second, 10*time.Millisecond)
}

func TestFaultProxyPartitionHoldsBytesUntilHeal(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c, r := dial(t, p.Addr())
	_, err := roundTrip(c, r, "before", 5*time.Second)
	require.NoError(t, err)

	p.Partition()
	require.True(t, p.Partitioned())
	_, err = roundTrip(c, r, "during", 300*time.Millisecond)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "no answer crosses a partition: %v", err)

	// A connection made during the partition is accepted but not served.
	c2, r2 := dial(t, p.Addr())
	_, err = roundTrip(c2, r2, "new", 300*time.Millisecond)
	require.ErrorAs(t, err, &ne)

	p.Heal()
	require.False(t, p.Partitioned())
	// The held line arrives once healed, nothing lost or reordered.
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	got, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "during\n", got)
	got, err = roundTrip(c, r, "after", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "after", got)
	require.NoError(t, c2.SetDeadline(time.Now().Add(5*time.Second)))
	got, err = r2.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "new\n", got)
}

func TestFaultProxyDelay(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c, r := dial(t, p.Addr())
	p.SetDelay(150 * time.Millisecond)
	start := time.Now()
	_, err := roundTrip(c, r, "slow", 5*time.Second)
	require.NoError(t, err)
	// Delayed on the way there and on the way back.
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	p.SetDelay(0)
	start = time.Now()
	_, err = roundTrip(c, r, "fast", 5*time.Second)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 150*time.Millisecond)
}

func TestFaultProxyResetSendsRST(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c, r := dial(t, p.Addr())
	_, err := roundTrip(c, r, "x", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, p.Reset())
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = r.ReadString('\n')
	require.True(t, errors.Is(err, syscall.ECONNRESET), "want a reset, got %v", err)
	require.Equal(t, 0, p.Conns())

	// The proxy keeps accepting after a reset.
	c2, r2 := dial(t, p.Addr())
	got, err := roundTrip(c2, r2, "again", 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "again", got)
}

func TestFaultProxyTargetDownResetsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target := ln.Addr().String()
	require.NoError(t, ln.Close())
	p := newProxy(t, target)
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err == nil { // else the reset came before the dial returned
		t.Cleanup(func() { _ = c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err = c.Read(make([]byte, 1))
	}
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the client must see the refused dial, got %v", err)
}

func TestFaultProxyHalfCloseAndClose(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c, r := dial(t, p.Addr())
	_, err := io.WriteString(c, "bye\n")
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "bye\n", string(rest))
	require.Eventually(t, func() bool { return p.Conns() == 0 }, 5*time.Second, 10*time.Millisecond)

	p.Partition()
	_, _ = dial(t, p.Addr())
	require.NoError(t, p.Close())
	require.ErrorIs(t, p.Close(), ErrClosed)
	_, err = net.DialTimeout("tcp", p.Addr(), time.Second)
	require.Error(t, err)
}
