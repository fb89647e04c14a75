package server

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestWatchOneShot(t *testing.T) {
	s := startServer(t, testConfig(t))
	c, _ := dialZK(t, s, 2*time.Second)
	other, _ := dialZK(t, s, 2*time.Second)
	acl := zk.WorldACL(zk.PermAll)

	// exists on a missing node, fired by its creation.
	ok, _, ch, err := c.ExistsW("/w")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = other.Create("/w", []byte("x"), 0, acl)
	require.NoError(t, err)
	ev := waitEvent(t, ch)
	require.Equal(t, zk.EventNodeCreated, ev.Type)
	require.Equal(t, "/w", ev.Path)

	// data watch fired by setData, only once.
	_, _, dch, err := c.GetW("/w")
	require.NoError(t, err)
	_, _, kch, err := c.ChildrenW("/w")
	require.NoError(t, err)
	_, err = other.Set("/w", []byte("y"), -1)
	require.NoError(t, err)
	require.Equal(t, zk.EventNodeDataChanged, waitEvent(t, dch).Type)

	_, err = other.Create("/w/k", nil, 0, acl)
	require.NoError(t, err)
	ev = waitEvent(t, kch)
	require.Equal(t, zk.EventNodeChildrenChanged, ev.Type)
	require.Equal(t, "/w", ev.Path)

	// A data and a child watch on a deleted node: one NodeDeleted each.
	_, _, dch, err = c.GetW("/w/k")
	require.NoError(t, err)
	_, _, kch, err = c.ChildrenW("/w/k")
	require.NoError(t, err)
	require.NoError(t, other.Delete("/w/k", -1))
	require.Equal(t, zk.EventNodeDeleted, waitEvent(t, dch).Type)
	require.Equal(t, zk.EventNodeDeleted, waitEvent(t, kch).Type)
	require.Eventually(t, func() bool { return s.watches.count() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestWatchNotificationBeforeReply checks that a client sees the event of
// a change before any reply that reflects it.
func TestWatchNotificationBeforeReply(t *testing.T) {
	s := startServer(t, testConfig(t))
	w := dialRaw(t, s)
	w.session(2000)
	code, _ := w.call(jute.OpCreate, &jute.CreateRequest{Path: "/n", Data: []byte("0"), ACL: jute.WorldAnyone}, nil)
	require.Equal(t, jute.OK, code)
	var gd jute.GetDataResponse
	code, _ = w.call(jute.OpGetData, &jute.PathWatchRequest{Path: "/n", Watch: true}, &gd)
	require.Equal(t, jute.OK, code)

	// The same connection changes the node: the notification precedes the
	// setData reply.
	var st jute.StatResponse
	code, evs := w.call(jute.OpSetData, &jute.SetDataRequest{Path: "/n", Data: []byte("1"), Version: -1}, &st)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeDataChanged, State: jute.StateSyncConnected, Path: "/n"}}, evs)
}

func TestWatchPersistentAndRemove(t *testing.T) {
	s := startServer(t, testConfig(t))
	r := dialRaw(t, s)
	r.session(2000)
	mk := func(p string) {
		code, _ := r.call(jute.OpCreate, &jute.CreateRequest{Path: p, ACL: jute.WorldAnyone}, nil)
		require.Equal(t, jute.OK, code, p)
	}
	mk("/p")
	code, _ := r.call(jute.OpAddWatch, &jute.AddWatchRequest{Path: "/p", Mode: jute.AddWatchPersistentRecursive}, nil)
	require.Equal(t, jute.OK, code)
	code, _ = r.call(jute.OpAddWatch, &jute.AddWatchRequest{Path: "/q", Mode: jute.AddWatchPersistent}, nil)
	require.Equal(t, jute.OK, code)

	// Recursive: created below, data changed below; never children-changed.
	_, evs := r.call(jute.OpCreate, &jute.CreateRequest{Path: "/p/a", ACL: jute.WorldAnyone}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeCreated, State: 3, Path: "/p/a"}}, evs)
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/p/a/b", ACL: jute.WorldAnyone}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeCreated, State: 3, Path: "/p/a/b"}}, evs)
	_, evs = r.call(jute.OpSetData, &jute.SetDataRequest{Path: "/p/a/b", Data: []byte("x"), Version: -1}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeDataChanged, State: 3, Path: "/p/a/b"}}, evs)

	// Persistent (not recursive): created, children changed, and it stays.
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/q", ACL: jute.WorldAnyone}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeCreated, State: 3, Path: "/q"}}, evs)
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/q/1", ACL: jute.WorldAnyone}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeChildrenChanged, State: 3, Path: "/q"}}, evs)
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/q/1/deeper", ACL: jute.WorldAnyone}, nil)
	require.Empty(t, evs)
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/q/2", ACL: jute.WorldAnyone}, nil)
	require.Len(t, evs, 1)

	// checkWatches / removeWatches per type.
	code, _ = r.call(jute.OpCheckWatches, &jute.WatchTypeRequest{Path: "/q", Type: jute.WatcherChildren}, nil)
	require.Equal(t, jute.OK, code)
	code, _ = r.call(jute.OpRemoveWatches, &jute.WatchTypeRequest{Path: "/q", Type: jute.WatcherAny}, nil)
	require.Equal(t, jute.OK, code)
	code, _ = r.call(jute.OpCheckWatches, &jute.WatchTypeRequest{Path: "/q", Type: jute.WatcherData}, nil)
	require.Equal(t, jute.ErrNoWatcher, code)
	code, _ = r.call(jute.OpRemoveWatches, &jute.WatchTypeRequest{Path: "/nothing", Type: jute.WatcherData}, nil)
	require.Equal(t, jute.ErrNoWatcher, code)
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/q/3", ACL: jute.WorldAnyone}, nil)
	require.Empty(t, evs)
}

// TestWatchSetWatchesOnReconnect replays ZooKeeper's setWatches rules: a
// data watch on a node changed after relativeZxid fires at once, an exist
// watch on a node that now exists fires NodeCreated, a child watch on a
// deleted node fires NodeDeleted, the rest are armed.
func TestWatchSetWatchesOnReconnect(t *testing.T) {
	s := startServer(t, testConfig(t))
	r := dialRaw(t, s)
	r.session(2000)
	for _, p := range []string{"/same", "/changed", "/kids"} {
		code, _ := r.call(jute.OpCreate, &jute.CreateRequest{Path: p, ACL: jute.WorldAnyone}, nil)
		require.Equal(t, jute.OK, code)
	}
	var st jute.StatResponse
	code, _ := r.call(jute.OpExists, &jute.PathWatchRequest{Path: "/kids"}, &st)
	require.Equal(t, jute.OK, code)
	rel := st.Stat.Mzxid
	r.call(jute.OpSetData, &jute.SetDataRequest{Path: "/changed", Data: []byte("1"), Version: -1}, nil)
	r.call(jute.OpCreate, &jute.CreateRequest{Path: "/born", ACL: jute.WorldAnyone}, nil)

	code, evs := r.call(jute.OpSetWatches2, &jute.SetWatches{
		RelativeZxid: rel, Two: true,
		DataWatches:                []string{"/same", "/changed", "/gone"},
		ExistWatches:               []string{"/born", "/unborn"},
		ChildWatches:               []string{"/kids", "/gone"},
		PersistentRecursiveWatches: []string{"/"},
	}, nil)
	require.Equal(t, jute.OK, code)
	require.ElementsMatch(t, []jute.WatcherEvent{
		{Type: jute.EventNodeDataChanged, State: 3, Path: "/changed"},
		{Type: jute.EventNodeDeleted, State: 3, Path: "/gone"},
		{Type: jute.EventNodeCreated, State: 3, Path: "/born"},
		{Type: jute.EventNodeDeleted, State: 3, Path: "/gone"},
	}, evs)
	// "/same" (data), "/unborn" (exist), "/kids" (child) and "/" (recursive)
	// are armed; one change gives one event per connection.
	_, evs = r.call(jute.OpSetData, &jute.SetDataRequest{Path: "/same", Data: []byte("x"), Version: -1}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeDataChanged, State: 3, Path: "/same"}}, evs)
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/unborn", ACL: jute.WorldAnyone}, nil)
	require.Equal(t, []jute.WatcherEvent{{Type: jute.EventNodeCreated, State: 3, Path: "/unborn"}}, evs)
	_, evs = r.call(jute.OpCreate, &jute.CreateRequest{Path: "/kids/a", ACL: jute.WorldAnyone}, nil)
	require.ElementsMatch(t, []jute.WatcherEvent{
		{Type: jute.EventNodeCreated, State: 3, Path: "/kids/a"},
		{Type: jute.EventNodeChildrenChanged, State: 3, Path: "/kids"},
	}, evs)
}

// TestWatchGoZKReconnect checks that go-zookeeper's own setWatches after a
// dropped connection keeps its watches working.
func TestWatchGoZKReconnect(t *testing.T) {
	s := startServer(t, testConfig(t))
	c, ev := dialZK(t, s, 2*time.Second)
	other, _ := dialZK(t, s, 2*time.Second)
	_, err := c.Create("/r", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, _, ch, err := c.GetW("/r")
	require.NoError(t, err)
	s.connMu.Lock()
	victim := s.bySession[c.SessionID()]
	s.connMu.Unlock()
	victim.closeNow()
	waitState(t, ev, zk.StateHasSession)
	require.Equal(t, c.SessionID(), c.SessionID())
	_, err = other.Set("/r", []byte("z"), -1)
	require.NoError(t, err)
	require.Equal(t, zk.EventNodeDataChanged, waitEvent(t, ch).Type)
}
