package client_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/client"
	"kzoo/coordinator/jute"
)

// scripted is a loopback listener whose connections a test drives frame
// by frame, to inject what a real server would not send.
type scripted struct {
	t     *testing.T
	l     net.Listener
	conns chan net.Conn
}

func newScripted(t *testing.T) *scripted {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &scripted{t: t, l: l, conns: make(chan net.Conn, 4)}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			s.conns <- c
		}
	}()
	return s
}

func (s *scripted) accept() net.Conn {
	select {
	case c := <-s.conns:
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	case <-time.After(10 * time.Second):
		s.t.Fatal("client did not connect within 10s")
		return nil
	}
}

func readFrame(t *testing.T, c net.Conn, recs ...jute.Record) *jute.Decoder {
	t.Helper()
	b, err := jute.ReadFrame(c, 1<<20, nil)
	require.NoError(t, err)
	d := jute.Unmarshal(b, recs...)
	require.NoError(t, d.Err)
	return d
}

func writeFrame(t *testing.T, c net.Conn, recs ...jute.Record) {
	t.Helper()
	_, err := c.Write(jute.FrameRecords(recs...))
	require.NoError(t, err)
}

// handshake answers a connect request with session 0x77 and returns it.
func handshake(t *testing.T, c net.Conn, timeoutMs int32) jute.ConnectRequest {
	t.Helper()
	var req jute.ConnectRequest
	readFrame(t, c, &req)
	writeFrame(t, c, &jute.ConnectResponse{TimeOut: timeoutMs, SessionID: 0x77, Passwd: []byte("0123456789abcdef")})
	return req
}

func TestClientProtocolFaults(t *testing.T) {
	srv := newScripted(t)
	c, err := client.Connect(client.Options{Servers: []string{srv.l.Addr().String()}, SessionTimeout: 3 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	conn := srv.accept()
	req := handshake(t, conn, 3000)
	require.Equal(t, int64(0), req.SessionID)
	require.Equal(t, make([]byte, 16), req.Passwd)
	require.True(t, req.HasReadOnly)
	require.Equal(t, int32(3000), req.TimeOut)

	// Two pipelined requests; the first answer carries the wrong xid.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { _, _, err := c.Get(ctx, "/a", false); errs <- err }()
	var h1, h2 jute.RequestHeader
	var p1 jute.PathWatchRequest
	var p2 jute.PathRequest
	readFrame(t, conn, &h1, &p1)
	go func() { _, _, err := c.GetACL(ctx, "/b"); errs <- err }()
	readFrame(t, conn, &h2, &p2)
	require.Equal(t, jute.OpGetData, h1.Type)
	require.Equal(t, "/a", p1.Path)
	require.Equal(t, jute.OpGetACL, h2.Type)
	require.Greater(t, h2.Xid, h1.Xid)
	writeFrame(t, conn, &jute.ReplyHeader{Xid: h2.Xid, Zxid: 5})
	for i := 0; i < 2; i++ {
		err := <-errs
		require.ErrorIs(t, err, jute.ErrConnectionLoss)
		require.Contains(t, err.Error(), "reply xid")
	}

	// The client comes back with the same session and what it saw.
	conn = srv.accept()
	req = handshake(t, conn, 3000)
	require.Equal(t, int64(0x77), req.SessionID)
	require.Equal(t, []byte("0123456789abcdef"), req.Passwd)

	// A well-formed answer goes through; a notification in between is an
	// event, and the zxid is remembered.
	go func() {
		d, st, err := c.Get(ctx, "/a", true)
		if err == nil && (string(d) != "v" || st.Version != 4) {
			err = jute.ErrMarshallingError
		}
		errs <- err
	}()
	readFrame(t, conn, &h1, &p1)
	require.True(t, p1.Watch)
	writeFrame(t, conn, &jute.ReplyHeader{Xid: jute.XidNotification, Zxid: -1},
		&jute.WatcherEvent{Type: jute.EventNodeChildrenChanged, State: jute.StateSyncConnected, Path: "/z"})
	writeFrame(t, conn, &jute.ReplyHeader{Xid: h1.Xid, Zxid: 0x900}, &jute.GetDataResponse{Data: []byte("v"), Stat: jute.Stat{Version: 4}})
	require.NoError(t, <-errs)
	require.Equal(t, int64(0x900), c.LastZxid())
	var got []client.Event
	require.Eventually(t, func() bool {
		select {
		case ev := <-c.Events():
			got = append(got, ev)
		default:
		}
		for _, ev := range got {
			if ev.Type == jute.EventNodeChildrenChanged && ev.Path == "/z" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "events %v", got)

	// An idle session pings within a third of the timeout.
	start := time.Now()
	var ping jute.RequestHeader
	readFrame(t, conn, &ping)
	require.Equal(t, jute.XidPing, ping.Xid)
	require.Equal(t, jute.OpPing, ping.Type)
	require.Less(t, time.Since(start), 2*time.Second)
	writeFrame(t, conn, &jute.ReplyHeader{Xid: jute.XidPing, Zxid: 0x900})

	// A server that goes silent is dropped after two thirds of the
	// timeout; the reconnect carries the data watch and the last zxid.
	start = time.Now()
	conn = srv.accept()
	require.Less(t, time.Since(start), 4*time.Second)
	req = handshake(t, conn, 3000)
	require.Equal(t, int64(0x900), req.LastZxidSeen)
	var sh jute.RequestHeader
	sw := jute.SetWatches{Two: true}
	readFrame(t, conn, &sh, &sw)
	require.Equal(t, jute.XidSetWatches, sh.Xid)
	require.Equal(t, jute.OpSetWatches2, sh.Type)
	require.Equal(t, int64(0x900), sw.RelativeZxid)
	require.Equal(t, []string{"/a"}, sw.DataWatches)

	// A session the server no longer knows is expired for good.
	conn.Close()
	conn = srv.accept()
	var cr jute.ConnectRequest
	readFrame(t, conn, &cr)
	writeFrame(t, conn, &jute.ConnectResponse{TimeOut: 0})
	require.Eventually(t, func() bool { return c.State() == client.StateClosed }, 5*time.Second, 10*time.Millisecond)
	_, _, err = c.Get(ctx, "/a", false)
	require.ErrorIs(t, err, jute.ErrSessionExpired)
}
