package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/client"
	"kzoo/coordinator/client/ztest"
	"kzoo/coordinator/jute"
)

func connect(t *testing.T, servers []string, chroot string, timeout time.Duration) *client.Client {
	t.Helper()
	c, err := client.Connect(client.Options{Servers: servers, Chroot: chroot, SessionTimeout: timeout, Logf: t.Logf})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.WaitConnected(ctx))
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nextEvent waits for the next event that is not a state change.
func nextEvent(t *testing.T, c *client.Client) client.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(t, ok, "events closed")
			if ev.Type == jute.EventNone {
				continue
			}
			return ev
		case <-deadline:
			t.Fatal("no watch event within 10s")
		}
	}
}

func nextState(t *testing.T, c *client.Client) client.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(t, ok, "events closed")
			if ev.Type != jute.EventNone {
				continue
			}
			return ev
		case <-deadline:
			t.Fatal("no state event within 30s")
		}
	}
}

func TestClientOps(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	require.Equal(t, client.StateConnected, c.State())
	require.NotZero(t, c.SessionID())
	require.Equal(t, "WatchedEvent state:SyncConnected type:None path:null", nextState(t, c).String())

	p, st, err := c.Create(ctx, "/ops", []byte("v1"), nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	require.Equal(t, "/ops", p)
	require.Equal(t, int32(2), st.DataLength)
	require.Equal(t, st.Czxid, st.Mzxid)

	_, _, err = c.Create(ctx, "/ops", nil, nil, jute.ModePersistent, 0)
	require.ErrorIs(t, err, jute.ErrNodeExists)

	p, _, err = c.Create(ctx, "/ops/nodata", nil, nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	data, st, err := c.Get(ctx, p, false)
	require.NoError(t, err)
	require.Nil(t, data, "created without data reads back null")
	require.Equal(t, int32(0), st.DataLength)

	data, st, err = c.Get(ctx, "/ops", false)
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), data)
	st2, err := c.Set(ctx, "/ops", []byte("v2"), st.Version)
	require.NoError(t, err)
	require.Equal(t, st.Version+1, st2.Version)
	_, err = c.Set(ctx, "/ops", []byte("v3"), st.Version)
	require.ErrorIs(t, err, jute.ErrBadVersion)

	s1, _, err := c.Create(ctx, "/ops/seq-", nil, nil, jute.ModePersistentSequential, 0)
	require.NoError(t, err)
	s2, _, err := c.Create(ctx, "/ops/seq-", nil, nil, jute.ModePersistentSequential, 0)
	require.NoError(t, err)
	require.Regexp(t, `^/ops/seq-\d{10}$`, s1)
	require.Less(t, s1, s2)

	kids, st, err := c.Children(ctx, "/ops", false)
	require.NoError(t, err)
	sort.Strings(kids)
	require.Equal(t, []string{"nodata", s1[5:], s2[5:]}, kids)
	require.Equal(t, int32(3), st.NumChildren)
	n, err := c.GetAllChildrenNumber(ctx, "/ops")
	require.NoError(t, err)
	require.Equal(t, int32(3), n)

	e, st, err := c.Create(ctx, "/ops/eph", []byte("e"), nil, jute.ModeEphemeral, 0)
	require.NoError(t, err)
	require.Equal(t, c.SessionID(), st.EphemeralOwner)
	eph, err := c.GetEphemerals(ctx, "/")
	require.NoError(t, err)
	require.Equal(t, []string{e}, eph)

	st, ok, err := c.Exists(ctx, "/ops/eph", false)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int32(1), st.DataLength)
	_, ok, err = c.Exists(ctx, "/ops/none", false)
	require.NoError(t, err)
	require.False(t, ok)

	require.ErrorIs(t, c.Delete(ctx, "/ops", -1), jute.ErrNotEmpty)
	require.ErrorIs(t, c.Delete(ctx, "/ops/none", -1), jute.ErrNoNode)
	require.ErrorIs(t, c.Delete(ctx, "/ops/nodata", 5), jute.ErrBadVersion)
	require.NoError(t, c.Delete(ctx, "/ops/nodata", 0))

	_, err = c.Sync(ctx, "/ops")
	require.NoError(t, err)

	_, _, err = c.Create(ctx, "ops", nil, nil, jute.ModePersistent, 0)
	require.ErrorIs(t, err, client.ErrInvalidPath)
	require.Contains(t, err.Error(), "Path must start with / character")
}

func TestClientContainerAndTTL(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	p, _, err := c.Create(ctx, "/cont", nil, nil, jute.ModeContainer, 0)
	require.NoError(t, err)
	require.Equal(t, "/cont", p)
	p, st, err := c.Create(ctx, "/ttl", []byte("t"), nil, jute.ModePersistentWithTTL, 60000)
	require.NoError(t, err)
	require.Equal(t, "/ttl", p)
	require.NotZero(t, st.Czxid)
	_, _, err = c.Create(ctx, "/ttl2", nil, nil, jute.ModePersistentWithTTL, 0)
	require.ErrorIs(t, err, client.ErrTTL)
}

func TestClientACLAndAuth(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	acl, st, err := c.GetACL(ctx, "/")
	require.NoError(t, err)
	require.Equal(t, jute.WorldAnyone, acl)
	require.Equal(t, int32(0), st.Aversion)

	who, err := c.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, []jute.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}}, who)

	require.NoError(t, c.AddAuth(ctx, "digest", []byte("alice:secret")))
	who, err = c.WhoAmI(ctx)
	require.NoError(t, err)
	require.Contains(t, who, jute.ClientInfo{AuthScheme: "digest", User: "alice"})

	authACL := []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "auth", ID: ""}}}
	_, _, err = c.Create(ctx, "/secret", []byte("s"), authACL, jute.ModePersistent, 0)
	require.NoError(t, err)
	acl, _, err = c.GetACL(ctx, "/secret")
	require.NoError(t, err)
	require.Len(t, acl, 1)
	require.Equal(t, "digest", acl[0].ID.Scheme)
	require.Regexp(t, `^alice:`, acl[0].ID.ID)

	other := connect(t, []string{srv.Addr}, "", 10*time.Second)
	_, _, err = other.Get(ctx, "/secret", false)
	require.ErrorIs(t, err, jute.ErrNoAuth)

	st, err = c.SetACL(ctx, "/secret", jute.WorldAnyone, 0)
	require.NoError(t, err)
	require.Equal(t, int32(1), st.Aversion)
	_, err = c.SetACL(ctx, "/secret", jute.WorldAnyone, 0)
	require.ErrorIs(t, err, jute.ErrBadVersion)
	_, err = c.SetACL(ctx, "/secret", nil, -1)
	require.ErrorIs(t, err, jute.ErrInvalidACL)
	data, _, err := other.Get(ctx, "/secret", false)
	require.NoError(t, err)
	require.Equal(t, []byte("s"), data)
}

func TestClientAuthFailedEndsSession(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	nextState(t, c)
	err := c.AddAuth(ctx, "nosuchscheme", []byte("x"))
	require.ErrorIs(t, err, jute.ErrAuthFailed)
	ev := nextState(t, c)
	require.Equal(t, jute.StateAuthFailed, ev.State)
	require.Equal(t, client.StateAuthFailed, c.State())
	_, _, err = c.Get(ctx, "/", false)
	require.ErrorIs(t, err, jute.ErrAuthFailed)
}

func TestClientWatches(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	w := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	nextState(t, c)

	_, ok, err := c.Exists(ctx, "/w", true)
	require.NoError(t, err)
	require.False(t, ok)
	_, _, err = w.Create(ctx, "/w", []byte("a"), nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	require.Equal(t, "WatchedEvent state:SyncConnected type:NodeCreated path:/w", nextEvent(t, c).String())

	_, _, err = c.Get(ctx, "/w", true)
	require.NoError(t, err)
	_, _, err = c.Children(ctx, "/w", true)
	require.NoError(t, err)
	_, err = w.Set(ctx, "/w", []byte("b"), -1)
	require.NoError(t, err)
	ev := nextEvent(t, c)
	require.Equal(t, jute.EventNodeDataChanged, ev.Type)
	require.Equal(t, "/w", ev.Path)
	_, _, err = w.Create(ctx, "/w/k", nil, nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	ev = nextEvent(t, c)
	require.Equal(t, jute.EventNodeChildrenChanged, ev.Type)

	// One-shot watches fired; a second change brings nothing until a
	// persistent recursive watch is added.
	require.NoError(t, c.AddWatch(ctx, "/w", jute.AddWatchPersistentRecursive))
	_, err = w.Set(ctx, "/w/k", []byte("x"), -1)
	require.NoError(t, err)
	ev = nextEvent(t, c)
	require.Equal(t, "WatchedEvent state:SyncConnected type:NodeDataChanged path:/w/k", ev.String())
	require.NoError(t, w.Delete(ctx, "/w/k", -1))
	require.Equal(t, jute.EventNodeDeleted, nextEvent(t, c).Type)

	require.ErrorIs(t, c.RemoveWatches(ctx, "/w", jute.WatcherData, false), jute.ErrNoWatcher)
	require.NoError(t, c.RemoveWatches(ctx, "/w", jute.WatcherAny, false))
	require.Equal(t, "WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/w", nextEvent(t, c).String())

	_, _, err = c.Get(ctx, "/w", true)
	require.NoError(t, err)
	require.NoError(t, c.RemoveWatches(ctx, "/w", jute.WatcherData, true))
	require.Equal(t, jute.EventDataWatchRemoved, nextEvent(t, c).Type)
}

func TestClientChroot(t *testing.T) {
	srv := ztest.Start(t)
	root := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	_, _, err := root.Create(ctx, "/app", nil, nil, jute.ModePersistent, 0)
	require.NoError(t, err)

	servers, chroot, err := client.ParseConnectString(srv.Addr + "/app")
	require.NoError(t, err)
	c := connect(t, servers, chroot, 10*time.Second)
	nextState(t, c)
	p, _, err := c.Create(ctx, "/x", []byte("1"), nil, jute.ModeEphemeralSequential, 0)
	require.NoError(t, err)
	require.Regexp(t, `^/x\d{10}$`, p)
	kids, _, err := root.Children(ctx, "/app", false)
	require.NoError(t, err)
	require.Equal(t, []string{p[1:]}, kids)
	eph, err := c.GetEphemerals(ctx, "/")
	require.NoError(t, err)
	require.Equal(t, []string{p}, eph)

	_, _, err = c.Get(ctx, p, true)
	require.NoError(t, err)
	_, err = root.Set(ctx, "/app"+p, []byte("2"), -1)
	require.NoError(t, err)
	ev := nextEvent(t, c)
	require.Equal(t, p, ev.Path)

	kids, _, err = c.Children(ctx, "/", false)
	require.NoError(t, err)
	require.Equal(t, []string{p[1:]}, kids)
}

func TestClientMulti(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	res, err := c.Multi(ctx,
		jute.MultiOp{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: "/m", Data: []byte("m")}},
		jute.MultiOp{Type: jute.OpCreate2, Req: &jute.CreateRequest{Path: "/m/a"}},
		jute.MultiOp{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: "/m", Data: []byte("n"), Version: 0}},
		jute.MultiOp{Type: jute.OpCheck, Req: &jute.CheckVersionRequest{Path: "/m", Version: 1}},
	)
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.Equal(t, "/m", createdPath(res[0]))
	require.Equal(t, "/m/a", createdPath(res[1]))

	res, err = c.Multi(ctx,
		jute.MultiOp{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: "/m/b"}},
		jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/m/zz", Version: -1}},
	)
	require.ErrorIs(t, err, jute.ErrNoNode)
	require.Len(t, res, 2)
	_, ok, err := c.Exists(ctx, "/m/b", false)
	require.NoError(t, err)
	require.False(t, ok, "a failed multi applies nothing")
}

func TestClientPipelinedConcurrent(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	_, _, err := c.Create(ctx, "/p", nil, nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				p, _, err := c.Create(ctx, "/p/n-", []byte{byte(j)}, nil, jute.ModePersistentSequential, 0)
				if err != nil {
					errs <- err
					return
				}
				d, _, err := c.Get(ctx, p, false)
				if err != nil || len(d) != 1 || d[0] != byte(j) {
					errs <- errors.Join(err, errors.New("wrong data for "+p))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n, err := c.GetAllChildrenNumber(ctx, "/p")
	require.NoError(t, err)
	require.Equal(t, int32(200), n)
}

// createdPath reads a create result of either shape (Apache ZooKeeper 3.8
// answers a create2 inside a multi with a plain create result).
func createdPath(r jute.MultiResult) string {
	switch v := r.Resp.(type) {
	case *jute.CreateResponse:
		return v.Path
	case *jute.Create2Response:
		return v.Path
	}
	return ""
}

// proxy forwards loopback TCP to a server and can cut every connection.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	refuse bool
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{l: l, target: target}
	t.Cleanup(func() { l.Close(); p.cut() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			refuse := p.refuse
			p.mu.Unlock()
			if refuse {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// open reports whether the proxy carries a connection made since the last
// cut (so the client has noticed the cut and dialled again).
func (p *proxy) open() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) > 0
}

func (p *proxy) setRefuse(v bool) {
	p.mu.Lock()
	p.refuse = v
	p.mu.Unlock()
}

func TestClientReconnectKeepsSessionAndWatches(t *testing.T) {
	srv := ztest.Start(t)
	px1 := newProxy(t, srv.Addr)
	px2 := newProxy(t, srv.Addr)
	c := connect(t, []string{px1.addr(), px2.addr()}, "", 10*time.Second)
	w := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	require.Equal(t, jute.StateSyncConnected, nextState(t, c).State)
	sid := c.SessionID()
	_, _, err := c.Create(ctx, "/rc", []byte("1"), nil, jute.ModeEphemeral, 0)
	require.NoError(t, err)
	_, _, err = c.Get(ctx, "/rc", true)
	require.NoError(t, err)

	px1.setRefuse(true)
	px1.cut()
	ev := nextState(t, c)
	require.Equal(t, jute.StateDisconnected, ev.State)
	ev = nextState(t, c)
	require.Equal(t, jute.StateSyncConnected, ev.State)
	require.Equal(t, px2.addr(), ev.Server)
	require.Equal(t, sid, c.SessionID())

	// The data watch came along (setWatches2) and the ephemeral survived.
	_, err = w.Set(ctx, "/rc", []byte("2"), -1)
	require.NoError(t, err)
	require.Equal(t, "WatchedEvent state:SyncConnected type:NodeDataChanged path:/rc", nextEvent(t, c).String())
	d, _, err := c.Get(ctx, "/rc", false)
	require.NoError(t, err)
	require.Equal(t, []byte("2"), d)
}

func TestClientSessionExpires(t *testing.T) {
	srv := ztest.Start(t)
	px := newProxy(t, srv.Addr)
	c := connect(t, []string{px.addr()}, "", 4*time.Second)
	w := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	nextState(t, c)
	_, _, err := c.Create(ctx, "/exp", nil, nil, jute.ModeEphemeral, 0)
	require.NoError(t, err)
	px.setRefuse(true)
	px.cut()
	require.Equal(t, jute.StateDisconnected, nextState(t, c).State)
	require.Eventually(t, func() bool {
		_, ok, err := w.Exists(ctx, "/exp", false)
		return err == nil && !ok
	}, 30*time.Second, 100*time.Millisecond, "the server expires the session and drops its ephemeral")
	px.setRefuse(false)
	require.Equal(t, jute.StateExpired, nextState(t, c).State)
	require.Equal(t, client.StateClosed, c.State())
	_, _, err = c.Get(ctx, "/", false)
	require.ErrorIs(t, err, jute.ErrSessionExpired)
	_, ok := <-c.Events()
	require.False(t, ok, "events close after the session ends")
}

func TestClientCloseDropsEphemerals(t *testing.T) {
	srv := ztest.Start(t)
	c := connect(t, []string{srv.Addr}, "", 10*time.Second)
	w := connect(t, []string{srv.Addr}, "", 10*time.Second)
	ctx := ctxT(t)
	nextState(t, c)
	_, _, err := c.Create(ctx, "/cl", nil, nil, jute.ModeEphemeral, 0)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.Equal(t, "WatchedEvent state:Closed type:None path:null", nextState(t, c).String())
	_, ok, err := w.Exists(ctx, "/cl", false)
	require.NoError(t, err)
	require.False(t, ok, "closeSession removes ephemerals at once")
	_, _, err = c.Get(ctx, "/", false)
	require.ErrorIs(t, err, client.ErrClosed)
	require.NoError(t, c.Close())
}

func TestClientUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c, err := client.Connect(client.Options{Servers: []string{addr}, SessionTimeout: 4 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, _, err = c.Get(ctxT(t), "/", false)
	require.ErrorIs(t, err, jute.ErrConnectionLoss)
	require.Contains(t, err.Error(), addr)
	require.Equal(t, client.StateConnecting, c.State())
}

func TestClientParseConnectString(t *testing.T) {
	for _, tc := range []struct {
		in      string
		servers []string
		chroot  string
		err     bool
	}{
		{in: "localhost:2181", servers: []string{"localhost:2181"}},
		{in: "a:1,b:2/kafka", servers: []string{"a:1", "b:2"}, chroot: "/kafka"},
		{in: "a:1/", servers: []string{"a:1"}},
		{in: "a", servers: []string{"a:2181"}},
		{in: "a:1/k/", err: true},
		{in: "", err: true},
		{in: "/k", err: true},
	} {
		s, ch, err := client.ParseConnectString(tc.in)
		if tc.err {
			require.ErrorIs(t, err, client.ErrConnectString, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.servers, s, tc.in)
		require.Equal(t, tc.chroot, ch, tc.in)
	}
}

func TestClientEventString(t *testing.T) {
	require.Equal(t, "WatchedEvent state:Disconnected type:None path:null",
		client.Event{Type: jute.EventNone, State: jute.StateDisconnected}.String())
	require.Equal(t, "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/a",
		client.Event{Type: jute.EventNodeChildrenChanged, State: jute.StateSyncConnected, Path: "/a"}.String())
}

// TestClientCutsUnderLoad cuts the connection again and again while
// goroutines keep requests in flight: every request must come back, with
// success or connection loss, and the session must survive.
func TestClientCutsUnderLoad(t *testing.T) {
	srv := ztest.Start(t)
	px := newProxy(t, srv.Addr)
	c := connect(t, []string{px.addr()}, "", 10*time.Second)
	sid := c.SessionID()
	ctx := ctxT(t)
	_, _, err := c.Create(ctx, "/load", nil, nil, jute.ModePersistent, 0)
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, lost := 0, 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := c.Set(rctx, "/load", []byte("x"), -1)
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, jute.ErrConnectionLoss):
					lost++
				default:
					mu.Unlock()
					t.Errorf("request failed with %v", err)
					return
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 5; i++ {
		require.Eventually(t, func() bool { return c.State() == client.StateConnected }, 10*time.Second, 5*time.Millisecond)
		before := func() int { mu.Lock(); defer mu.Unlock(); return ok }()
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return ok > before+10 }, 10*time.Second, 5*time.Millisecond)
		px.cut()
	}
	close(stop)
	wg.Wait()
	// Connected on a connection made after the last cut: until the client
	// reads the cut's EOF, its state is still the old connection's.
	require.Eventually(t, func() bool { return px.open() && c.State() == client.StateConnected }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, sid, c.SessionID())
	_, st, err := c.Get(ctx, "/load", false)
	require.NoError(t, err)
	t.Logf("%d sets acknowledged, %d lost to cuts, version %d", ok, lost, st.Version)
	require.GreaterOrEqual(t, int(st.Version), ok, "every acknowledged set was applied")
}
