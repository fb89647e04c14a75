package server

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestSessionTimeoutNegotiatedAndID(t *testing.T) {
	s := startServer(t, testConfig(t))
	for _, tc := range []struct{ ask, want int32 }{{1, 200}, {500, 500}, {999999, 2000}} {
		r := dialRaw(t, s)
		resp := r.session(tc.ask)
		require.Equal(t, tc.want, resp.TimeOut)
		require.Len(t, resp.Passwd, 16)
		require.True(t, resp.HasReadOnly)
		require.EqualValues(t, 1, resp.SessionID>>56, "standalone session ids carry server id 1")
	}
	// Without the readOnly byte the answer has none either.
	r := dialRaw(t, s)
	resp := r.connect(jute.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)})
	require.False(t, resp.HasReadOnly)
}

func TestSessionReconnectWithPassword(t *testing.T) {
	s := startServer(t, testConfig(t))
	a := dialRaw(t, s)
	first := a.session(2000)
	code, _ := a.call(jute.OpCreate, &jute.CreateRequest{Path: "/e", ACL: jute.WorldAnyone, Flags: jute.ModeEphemeral}, nil)
	require.Equal(t, jute.OK, code)

	// The right password resumes the session and closes the old connection.
	b := dialRaw(t, s)
	again := b.connect(jute.ConnectRequest{TimeOut: 2000, SessionID: first.SessionID, Passwd: first.Passwd, HasReadOnly: true})
	require.Equal(t, first.SessionID, again.SessionID)
	require.Equal(t, first.Passwd, again.Passwd)
	a.closed()
	var eph jute.GetEphemeralsResponse
	code, _ = b.call(jute.OpGetEphemerals, &jute.PathRequest{Path: "/"}, &eph)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []string{"/e"}, eph.Ephemerals)

	// A wrong password: timeout 0, then the server closes.
	bad := append([]byte(nil), first.Passwd...)
	bad[0] ^= 0xff
	c := dialRaw(t, s)
	resp := c.connect(jute.ConnectRequest{TimeOut: 2000, SessionID: first.SessionID, Passwd: bad, HasReadOnly: true})
	require.Zero(t, resp.TimeOut)
	c.closed()

	// A client that has seen a newer zxid than ours is refused.
	d := dialRaw(t, s)
	_, err := d.nc.Write(jute.FrameRecords(&jute.ConnectRequest{LastZxidSeen: 1 << 40, TimeOut: 2000, Passwd: make([]byte, 16)}))
	require.NoError(t, err)
	d.closed()
}

func TestSessionExpiryRemovesEphemerals(t *testing.T) {
	s := startServer(t, testConfig(t))
	watcher, _ := dialZK(t, s, 2*time.Second)
	r := dialRaw(t, s)
	resp := r.session(300)
	code, _ := r.call(jute.OpCreate, &jute.CreateRequest{Path: "/eph", ACL: jute.WorldAnyone, Flags: jute.ModeEphemeral}, nil)
	require.Equal(t, jute.OK, code)
	ok, _, ch, err := watcher.ExistsW("/eph")
	require.NoError(t, err)
	require.True(t, ok)

	// Stop pinging: the session expires, its ephemeral goes, watchers hear.
	start := time.Now()
	ev := waitEvent(t, ch)
	require.Equal(t, zk.EventNodeDeleted, ev.Type)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	r.closed()

	// Reconnecting to the expired session is refused like ZooKeeper does.
	again := dialRaw(t, s)
	got := again.connect(jute.ConnectRequest{TimeOut: 300, SessionID: resp.SessionID, Passwd: resp.Passwd})
	require.Zero(t, got.TimeOut)
	again.closed()
}

func TestSessionPingsKeepAlive(t *testing.T) {
	s := startServer(t, testConfig(t))
	c, _ := dialZK(t, s, 300*time.Millisecond)
	_, err := c.Create("/alive", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	// Three timeouts long, go-zookeeper's pings keep the session and its
	// ephemeral alive.
	require.Never(t, func() bool {
		ok, _, err := c.Exists("/alive")
		return err != nil || !ok
	}, 900*time.Millisecond, 50*time.Millisecond)
}

func TestSessionCloseRemovesEphemerals(t *testing.T) {
	s := startServer(t, testConfig(t))
	c, _ := dialZK(t, s, 2*time.Second)
	other, _ := dialZK(t, s, 2*time.Second)
	_, err := c.Create("/bye", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	c.Close()
	require.Eventually(t, func() bool {
		ok, _, err := other.Exists("/bye")
		return err == nil && !ok
	}, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return s.tracker.count() == 1 }, 5*time.Second, 10*time.Millisecond)
}

func TestSessionTrackerBuckets(t *testing.T) {
	tr := newTracker(100, 1000)
	tr.add(1, 250, 1000) // due at round(1250) = 1300
	tr.add(2, 1000, 1000)
	require.Empty(t, tr.expire(1299))
	require.True(t, tr.touch(1, 0, 1200)) // moves to round(1450) = 1500
	require.Empty(t, tr.expire(1499))
	got := tr.expire(1500)
	require.Len(t, got, 1)
	require.EqualValues(t, 1, got[0].id)
	require.False(t, tr.touch(1, 0, 1500), "an expiring session cannot be touched back to life")
	require.EqualValues(t, 2, tr.expire(2100)[0].id)
	tr.remove(1)
	tr.remove(2)
	require.Zero(t, tr.count())
}
