package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestOpsACL(t *testing.T) {
	cfg := testConfig(t)
	cfg.SuperDigest = digestOf("super:secret")
	s := startServer(t, cfg)
	owner, _ := dialZK(t, s, 2*time.Second)
	require.NoError(t, owner.AddAuth("digest", []byte("alice:pw")))
	_, err := owner.Create("/private", []byte("p"), 0, zk.DigestACL(zk.PermAll, "alice", "pw"))
	require.NoError(t, err)
	_, err = owner.Create("/mine", []byte("m"), 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth", ID: ""}})
	require.NoError(t, err)
	data, _, err := owner.Get("/private")
	require.NoError(t, err)
	require.Equal(t, []byte("p"), data)

	stranger, _ := dialZK(t, s, 2*time.Second)
	_, _, err = stranger.Get("/private")
	require.ErrorIs(t, err, zk.ErrNoAuth)
	_, err = stranger.Set("/mine", []byte("x"), -1)
	require.ErrorIs(t, err, zk.ErrNoAuth)
	require.NoError(t, stranger.AddAuth("digest", []byte("bob:pw")))
	_, _, err = stranger.Get("/private")
	require.ErrorIs(t, err, zk.ErrNoAuth)

	admin, _ := dialZK(t, s, 2*time.Second)
	require.NoError(t, admin.AddAuth("digest", []byte("super:secret")))
	_, err = admin.Set("/private", []byte("root"), -1)
	require.NoError(t, err)

	// ip identity from the connection.
	_, err = owner.Create("/local", nil, 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "ip", ID: "127.0.0.1"}})
	require.NoError(t, err)
	_, _, err = stranger.Get("/local")
	require.NoError(t, err)

	// An unknown auth scheme fails and closes the connection.
	r := dialRaw(t, s)
	r.session(2000)
	code, _ := r.call(jute.OpAuth, &jute.AuthPacket{Scheme: "kerberos", Auth: []byte("x")}, nil)
	require.Equal(t, jute.ErrAuthFailed, code)
	r.closed()
}

func TestOpsWhoAmIEphemeralsAllChildren(t *testing.T) {
	s := startServer(t, testConfig(t))
	r := dialRaw(t, s)
	r.session(2000)
	code, _ := r.call(jute.OpAuth, &jute.AuthPacket{Scheme: "digest", Auth: []byte("carol:pw")}, nil)
	require.Equal(t, jute.OK, code)
	var who jute.WhoAmIResponse
	code, _ = r.call(jute.OpWhoAmI, nil, &who)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []jute.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "carol"}}, who.ClientInfo)

	for _, p := range []string{"/x", "/x/a", "/x/a/b", "/x/c"} {
		code, _ := r.call(jute.OpCreate, &jute.CreateRequest{Path: p, ACL: jute.WorldAnyone}, nil)
		require.Equal(t, jute.OK, code)
	}
	for _, p := range []string{"/x/e1", "/y"} {
		code, _ := r.call(jute.OpCreate, &jute.CreateRequest{Path: p, ACL: jute.WorldAnyone, Flags: jute.ModeEphemeral}, nil)
		require.Equal(t, jute.OK, code)
	}
	var n jute.GetAllChildrenNumberResponse
	code, _ = r.call(jute.OpGetAllChildrenNumber, &jute.PathRequest{Path: "/x"}, &n)
	require.Equal(t, jute.OK, code)
	require.EqualValues(t, 4, n.TotalNumber)
	var eph jute.GetEphemeralsResponse
	code, _ = r.call(jute.OpGetEphemerals, &jute.PathRequest{Path: "/x"}, &eph)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []string{"/x/e1"}, eph.Ephemerals)

	var mr jute.MultiResponse
	code, _ = r.call(jute.OpMultiRead, &jute.MultiRequest{Ops: []jute.MultiOp{
		{Type: jute.OpGetChildren, Req: &jute.PathWatchRequest{Path: "/x/a", Watch: true}},
		{Type: jute.OpGetData, Req: &jute.PathWatchRequest{Path: "/missing"}},
	}}, &mr)
	require.Equal(t, jute.OK, code)
	require.Len(t, mr.Results, 2)
	require.Equal(t, []string{"b"}, mr.Results[0].Resp.(*jute.GetChildrenResponse).Children)
	require.Equal(t, jute.ErrNoNode, mr.Results[1].Err)
	// The multiRead's child watch is armed.
	_, evs := r.call(jute.OpCreate, &jute.CreateRequest{Path: "/x/a/z", ACL: jute.WorldAnyone}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeChildrenChanged, State: 3, Path: "/x/a"}}, evs)

	code, _ = r.call(jute.OpReconfig, &jute.PathRequest{Path: ""}, nil)
	require.Equal(t, jute.ErrReconfigDisabled, code)
}

func TestOpsUnknownOpClosesConnection(t *testing.T) {
	s := startServer(t, testConfig(t))
	r := dialRaw(t, s)
	r.session(2000)
	code, _ := r.call(jute.Op(77), nil, nil)
	require.Equal(t, jute.ErrUnimplemented, code)
	r.closed()

	// check outside a multi runs as a write, as Apache ZooKeeper 3.8 does.
	r = dialRaw(t, s)
	r.session(2000)
	var st jute.StatResponse
	code, _ = r.call(jute.OpCheck, &jute.CheckVersionRequest{Path: "/", Version: -1}, &st)
	require.Equal(t, jute.OK, code)
	code, _ = r.call(jute.OpCheck, &jute.CheckVersionRequest{Path: "/nope", Version: -1}, nil)
	require.Equal(t, jute.ErrNoNode, code)
}

func TestOpsMultiAtomic(t *testing.T) {
	s := startServer(t, testConfig(t))
	c, _ := dialZK(t, s, 2*time.Second)
	acl := zk.WorldACL(zk.PermAll)
	_, err := c.Create("/m", []byte("0"), 0, acl)
	require.NoError(t, err)

	_, err = c.Multi(
		&zk.CreateRequest{Path: "/m/a", Acl: acl},
		&zk.SetDataRequest{Path: "/m", Data: []byte("1"), Version: 7},
	)
	require.Error(t, err)
	ok, _, err := c.Exists("/m/a")
	require.NoError(t, err)
	require.False(t, ok, "a failed multi changes nothing")

	res, err := c.Multi(
		&zk.CreateRequest{Path: "/m/a", Acl: acl},
		&zk.SetDataRequest{Path: "/m", Data: []byte("1"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
		&zk.DeleteRequest{Path: "/m/a", Version: 0},
	)
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.Equal(t, "/m/a", res[0].String)
	data, _, err := c.Get("/m")
	require.NoError(t, err)
	require.Equal(t, []byte("1"), data)
}

func TestOpsSyncOrdersAfterWrites(t *testing.T) {
	s := startServer(t, testConfig(t))
	w, _ := dialZK(t, s, 2*time.Second)
	r, _ := dialZK(t, s, 2*time.Second)
	acl := zk.WorldACL(zk.PermAll)
	_, err := w.Create("/s", []byte("0"), 0, acl)
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		_, err := w.Set("/s", []byte{byte(i)}, -1)
		require.NoError(t, err)
		_, err = r.Sync("/s")
		require.NoError(t, err)
		data, _, err := r.Get("/s")
		require.NoError(t, err)
		require.Equal(t, []byte{byte(i)}, data)
	}
}

func TestOpsContainersAndTTL(t *testing.T) {
	cfg := testConfig(t)
	cfg.ExtendedTypesEnabled = true
	s := startServer(t, cfg, func(o *Options) { o.ContainerCheckInterval = 50 * time.Millisecond })
	c, _ := dialZK(t, s, 2*time.Second)
	acl := zk.WorldACL(zk.PermAll)

	_, err := c.CreateContainer("/box", nil, zk.FlagContainer, acl)
	require.NoError(t, err)
	_, err = c.Create("/box/item", nil, 0, acl)
	require.NoError(t, err)
	// A container is removed only once it had a child and is empty again.
	require.Never(t, func() bool { ok, _, _ := c.Exists("/box"); return !ok }, 300*time.Millisecond, 50*time.Millisecond)
	require.NoError(t, c.Delete("/box/item", -1))
	require.Eventually(t, func() bool { ok, _, err := c.Exists("/box"); return err == nil && !ok }, 5*time.Second, 20*time.Millisecond)

	_, err = c.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, acl, 100*time.Millisecond)
	require.NoError(t, err)
	require.Eventually(t, func() bool { ok, _, err := c.Exists("/ttl"); return err == nil && !ok }, 5*time.Second, 20*time.Millisecond)
}

// TestOpsReadWaitsBehindPendingWrite pipelines writes and reads on one
// connection: every reply comes back in request order and each read sees
// the writes sent before it.
func TestOpsReadWaitsBehindPendingWrite(t *testing.T) {
	s := startServer(t, testConfig(t))
	r := dialRaw(t, s)
	r.session(2000)
	var xids []int32
	for i := 0; i < 50; i++ {
		p := fmt.Sprintf("/o%d", i)
		xids = append(xids, r.send(jute.OpCreate, &jute.CreateRequest{Path: p, Data: []byte(p), ACL: jute.WorldAnyone}))
		xids = append(xids, r.send(jute.OpGetData, &jute.PathWatchRequest{Path: p}))
		xids = append(xids, r.send(jute.OpPing, nil))
	}
	xids = append(xids, r.send(jute.OpSync, &jute.PathRequest{Path: "/"}))
	for i, xid := range xids {
		h, d := r.next()
		require.Equal(t, xid, h.Xid, "reply %d out of order", i)
		require.Equal(t, jute.OK, h.Err)
		if i%3 == 1 && i < 150 {
			var gd jute.GetDataResponse
			gd.Decode(d)
			require.Equal(t, fmt.Sprintf("/o%d", i/3), string(gd.Data))
		}
	}
}
