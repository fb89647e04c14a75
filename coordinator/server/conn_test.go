package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestConnOversizedFrameRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.JuteMaxBuffer = 4096
	s := startServer(t, cfg)
	r := dialRaw(t, s)
	r.session(2000)
	// Announce a frame far larger than jute.maxbuffer and send none of
	// it: the server must close without waiting for the body.
	_, err := r.nc.Write(frameLen(jute.MaxFrame(4096) + 1))
	require.NoError(t, err)
	r.closed()

	// A big but allowed setData still works on another connection.
	c, _ := dialZK(t, s, 2*time.Second)
	_, err = c.Create("/big", bytes.Repeat([]byte("x"), 4000), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
}

func TestConnMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	s := startServer(t, testConfig(t))
	good, _ := dialZK(t, s, 2*time.Second)
	r := dialRaw(t, s)
	r.session(2000)
	// A frame too short for a request header.
	_, err := r.nc.Write(append(frameLen(3), 1, 2, 3))
	require.NoError(t, err)
	r.closed()
	_, err = good.Create("/still", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	// A garbage connect request.
	g := dialRaw(t, s)
	_, err = g.nc.Write(append(frameLen(5), 0, 0, 0, 0, 9))
	require.NoError(t, err)
	g.closed()
}

func TestConnMaxClientCnxns(t *testing.T) {
	s := startServer(t, testConfig(t, "maxClientCnxns=2"))
	a := dialRaw(t, s)
	a.session(2000)
	b := dialRaw(t, s)
	b.session(2000)
	c := dialRaw(t, s)
	c.closed()
	// Closing one makes room again.
	a.nc.Close()
	require.Eventually(t, func() bool {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		return s.perIP["127.0.0.1"] == 1
	}, 5*time.Second, 10*time.Millisecond)
	d := dialRaw(t, s)
	resp := d.session(2000)
	require.NotZero(t, resp.SessionID)
}

func fourLetter(t *testing.T, s *Server, cmd string) string {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = nc.Write([]byte(cmd))
	require.NoError(t, err)
	out, err := io.ReadAll(nc)
	require.NoError(t, err)
	return string(out)
}

func TestConnFourLetterWords(t *testing.T) {
	s := startServer(t, testConfig(t))
	require.Equal(t, "ruok is not executed because it is not in the whitelist.\n", fourLetter(t, s, "ruok"))
	srvr := fourLetter(t, s, "srvr")
	require.Regexp(t, `^Zookeeper version: 3\.8\.\d+-kzoo, built on .*\nLatency min/avg/max: \d+/[\d.]+/\d+\nReceived: \d+\nSent: \d+\nConnections: \d+\nOutstanding: \d+\nZxid: 0x[0-9a-f]+\nMode: standalone\nNode count: \d+\n$`, srvr)

	s2 := startServer(t, testConfig(t, "4lw.commands.whitelist=*"))
	c, _ := dialZK(t, s2, 2*time.Second)
	_, err := c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, _, _, err = c.GetW("/e")
	require.NoError(t, err)

	require.Equal(t, "imok", fourLetter(t, s2, "ruok"))
	require.Equal(t, "rw", fourLetter(t, s2, "isro"))
	stat := fourLetter(t, s2, "stat")
	require.Contains(t, stat, "Clients:\n /127.0.0.1:")
	require.Contains(t, stat, "Mode: standalone\n")
	mntr := fourLetter(t, s2, "mntr")
	require.True(t, strings.HasPrefix(mntr, "zk_version\t3.8"), mntr)
	require.Contains(t, mntr, "zk_server_state\tstandalone\n")
	s2.treeMu.RLock()
	nodes := s2.tree.NodeCount()
	s2.treeMu.RUnlock()
	require.Contains(t, mntr, fmt.Sprintf("zk_znode_count\t%d\n", nodes))
	require.Contains(t, mntr, "zk_ephemerals_count\t1\n")
	require.Contains(t, mntr, "zk_watch_count\t1\n")
	conf := fourLetter(t, s2, "conf")
	require.Contains(t, conf, "tickTime=100\n")
	require.Contains(t, conf, "maxSessionTimeout=2000\n")
	cons := fourLetter(t, s2, "cons")
	require.Regexp(t, `(?m)^ /127\.0\.0\.1:\d+\[1\]\(queued=0,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,lop=\w+,est=\d+,to=\d+,`, cons)
	require.Equal(t, "1 connections watching 1 paths\nTotal watches:1\n", fourLetter(t, s2, "wchs"))
	require.True(t, strings.HasPrefix(fourLetter(t, s2, "envi"), "Environment:\nzookeeper.version=3.8"))
	dump := fourLetter(t, s2, "dump")
	require.Contains(t, dump, "SessionTracker dump:\nSession Sets (")
	require.Contains(t, dump, "ephemeral nodes dump:\nSessions with Ephemerals (1):\n")
	require.Contains(t, dump, "\t/e\n")
}

func TestConnMetricsEndpoint(t *testing.T) {
	cfg := testConfig(t,
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
		"metricsProvider.httpHost=127.0.0.1")
	cfg.MetricsHTTPPort = 0
	s := startServer(t, cfg)
	c, _ := dialZK(t, s, 2*time.Second)
	_, err := c.Create("/m", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	resp, err := http.Get("http://" + s.MetricsAddr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(body)
	for _, want := range []string{
		"# TYPE znode_count gauge\nznode_count ",
		"\nnum_alive_connections 1\n",
		"# TYPE packets_received counter\n",
		"# TYPE fsynctime summary\n",
		"fsynctime_count ",
		"updatelatency{quantile=\"0.5\"} ",
		"\nwatch_count 0\n",
		"\noutstanding_requests 0\n",
	} {
		require.Contains(t, text, want)
	}
}

// TestConnGroupCommit checks that concurrent writers share fsyncs.
func TestConnGroupCommit(t *testing.T) {
	s := startServer(t, testConfig(t))
	const clients, each = 8, 25
	done := make(chan error, clients)
	for i := 0; i < clients; i++ {
		c, _ := dialZK(t, s, 2*time.Second)
		go func(i int) {
			var err error
			for j := 0; j < each && err == nil; j++ {
				_, err = c.Create("/g-"+string(rune('a'+i))+"-"+string(rune('a'+j)), nil, 0, zk.WorldACL(zk.PermAll))
			}
			done <- err
		}(i)
	}
	for i := 0; i < clients; i++ {
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("writers did not finish")
		}
	}
	count := s.stats.fsync.stat().count
	require.Less(t, count, int64(clients*each), "fsyncs must be shared between writers")
}

// FuzzServerPacket sends an arbitrary frame, as the handshake or as a
// request of an established session, and checks that the server still
// serves another client afterwards.
func FuzzServerPacket(f *testing.F) {
	hdr := func(xid int32, op jute.Op, rec jute.Record) []byte {
		h := jute.RequestHeader{Xid: xid, Type: op}
		if rec == nil {
			return jute.Marshal(&h)
		}
		return jute.Marshal(&h, rec)
	}
	f.Add(hdr(1, jute.OpCreate, &jute.CreateRequest{Path: "/a", ACL: jute.WorldAnyone}), false)
	f.Add(hdr(2, jute.OpGetData, &jute.PathWatchRequest{Path: "/a", Watch: true}), false)
	f.Add(hdr(3, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/a", Version: -1}}}}), false)
	f.Add(hdr(-8, jute.OpSetWatches2, &jute.SetWatches{Two: true, DataWatches: []string{"/a"}}), false)
	f.Add(hdr(4, jute.OpAddWatch, &jute.AddWatchRequest{Path: "/", Mode: 1}), false)
	f.Add(hdr(5, jute.OpMultiRead, &jute.MultiRequest{}), false)
	f.Add(hdr(-4, jute.OpAuth, &jute.AuthPacket{Scheme: "digest", Auth: []byte("a:b")}), false)
	f.Add(hdr(6, jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", Flags: 5, TTL: 1}), false)
	f.Add(hdr(7, jute.OpCloseSession, nil), false)
	f.Add([]byte{0, 0, 0}, false)
	f.Add(jute.Marshal(&jute.ConnectRequest{TimeOut: 1000, SessionID: 5, Passwd: make([]byte, 16)}), true)
	f.Add(jute.Marshal(&jute.ConnectRequest{TimeOut: -1, Passwd: nil, HasReadOnly: true}), true)
	srv := startServer(f, testConfig(f), quiet)
	f.Fuzz(func(t *testing.T, frame []byte, asConnect bool) {
		r := dialRaw(t, srv)
		if !asConnect {
			r.session(2000)
		}
		msg := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		_, err := r.nc.Write(append(msg, frame...))
		require.NoError(t, err)
		// Whatever happened to that connection, the server still serves.
		probe := dialRaw(t, srv)
		probe.session(2000)
		var st jute.StatResponse
		code, _ := probe.call(jute.OpExists, &jute.PathWatchRequest{Path: "/"}, &st)
		require.Equal(t, jute.OK, code)
	})
}
