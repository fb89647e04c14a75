package server

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/config"
	"kzoo/coordinator/jute"
	"kzoo/coordinator/wal"
)

// testConfig parses a zoo.cfg with a temp dataDir, tickTime 100 (sessions
// of 200ms..2s) and extra lines, listening on 127.0.0.1:0.
func testConfig(t testing.TB, extra ...string) *config.Config {
	t.Helper()
	text := fmt.Sprintf("tickTime=100\ndataDir=%s\nclientPort=2181\nclientPortAddress=127.0.0.1\npreAllocSize=64\n%s\n",
		t.TempDir(), strings.Join(extra, "\n"))
	cfg, err := config.Parse("zoo.cfg", []byte(text), nil)
	require.NoError(t, err)
	cfg.ClientPort = 0
	return cfg
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer starts a server on cfg, closed when the test ends.
func startServer(t testing.TB, cfg *config.Config, mod ...func(*Options)) *Server {
	t.Helper()
	opts := Options{Config: cfg, Logger: slog.New(newZKHandler(testLogWriter{t}, 0))}
	for _, m := range mod {
		m(&opts)
	}
	s, err := New(opts)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { s.Close() })
	return s
}

func quiet(o *Options) { o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) }

func withFS(fs wal.FS) func(*Options) { return func(o *Options) { o.FS = fs } }

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// dialZK connects go-zookeeper to s and waits for the session.
func dialZK(t *testing.T, s *Server, timeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{s.Addr().String()}, timeout, zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	waitState(t, ev, zk.StateHasSession)
	return c, ev
}

func waitState(t *testing.T, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %v within 5s", want)
		}
	}
}

func waitEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return zk.Event{}
}

// rawClient speaks jute directly, for the ops go-zookeeper lacks and for
// checking bytes on the wire.
type rawClient struct {
	t    testing.TB
	nc   net.Conn
	xid  int32
	resp jute.ConnectResponse
}

func dialRaw(t testing.TB, s *Server) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, nc: nc}
}

// connect sends a ConnectRequest and reads the answer.
func (r *rawClient) connect(req jute.ConnectRequest) jute.ConnectResponse {
	r.t.Helper()
	_, err := r.nc.Write(jute.FrameRecords(&req))
	require.NoError(r.t, err)
	frame, err := jute.ReadFrame(r.nc, 1<<20, nil)
	require.NoError(r.t, err)
	var resp jute.ConnectResponse
	require.NoError(r.t, jute.Unmarshal(frame, &resp).Err)
	r.resp = resp
	return resp
}

func (r *rawClient) session(timeoutMs int32) jute.ConnectResponse {
	return r.connect(jute.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16), HasReadOnly: true})
}

// send writes one request and returns its xid.
func (r *rawClient) send(op jute.Op, rec jute.Record) int32 {
	r.t.Helper()
	r.xid++
	h := jute.RequestHeader{Xid: r.xid, Type: op}
	var b []byte
	if rec == nil {
		b = jute.FrameRecords(&h)
	} else {
		b = jute.FrameRecords(&h, rec)
	}
	_, err := r.nc.Write(b)
	require.NoError(r.t, err)
	return r.xid
}

// next reads one frame: its header and the decoder over the rest.
func (r *rawClient) next() (jute.ReplyHeader, *jute.Decoder) {
	r.t.Helper()
	frame, err := jute.ReadFrame(r.nc, 1<<20, nil)
	require.NoError(r.t, err)
	var h jute.ReplyHeader
	d := jute.Unmarshal(frame, &h)
	require.NoError(r.t, d.Err)
	return h, d
}

// call sends a request and reads frames until its reply, returning the
// notifications seen before it.
func (r *rawClient) call(op jute.Op, req, resp jute.Record) (jute.Code, []jute.WatcherEvent) {
	r.t.Helper()
	xid := r.send(op, req)
	var evs []jute.WatcherEvent
	for {
		h, d := r.next()
		if h.Xid == jute.XidNotification {
			var ev jute.WatcherEvent
			ev.Decode(d)
			evs = append(evs, ev)
			continue
		}
		require.Equal(r.t, xid, h.Xid)
		if h.Err == jute.OK && resp != nil {
			resp.Decode(d)
			require.NoError(r.t, d.Err)
		}
		return h.Err, evs
	}
}

// event reads the next frame and requires a notification.
func (r *rawClient) event() jute.WatcherEvent {
	r.t.Helper()
	h, d := r.next()
	require.Equal(r.t, jute.XidNotification, h.Xid)
	var ev jute.WatcherEvent
	ev.Decode(d)
	return ev
}

// closed requires the server to close the connection.
func (r *rawClient) closed() {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadAll(r.nc)
	require.NoError(r.t, err, "the server should have closed the connection")
}

func frameLen(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
