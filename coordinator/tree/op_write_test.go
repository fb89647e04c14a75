package tree

import (
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestTreeDelete(t *testing.T) {
	cases := []struct {
		name    string
		sess    int64
		path    string
		version int32
		want    jute.Code
	}{
		{name: "root", path: "/", version: -1, want: jute.ErrBadArguments},
		{name: "zookeeper", path: "/zookeeper", version: -1, want: jute.ErrBadArguments},
		{name: "quota", path: "/zookeeper/quota", version: -1, want: jute.ErrBadArguments},
		{name: "config", path: "/zookeeper/config", version: -1, want: jute.ErrBadArguments},
		{name: "no slash", path: "d", version: -1, want: jute.ErrBadArguments},
		{name: "nul", path: "/d\x00", version: -1, want: jute.ErrBadArguments},
		{name: "unknown session", sess: 42, path: "/d", version: -1, want: jute.ErrSessionExpired},
		{name: "missing parent", path: "/nope/x", version: -1, want: jute.ErrNoNode},
		{name: "missing node", path: "/d/x", version: -1, want: jute.ErrNoNode},
		{name: "trailing slash is just missing", path: "/d/", version: -1, want: jute.ErrNoNode},
		{name: "no delete permission on parent", path: "/nodel/c", version: -1, want: jute.ErrNoAuth},
		{name: "bad version", path: "/d", version: 3, want: jute.ErrBadVersion},
		{name: "not empty", path: "/full", version: -1, want: jute.ErrNotEmpty},
		{name: "bad version before not empty", path: "/full", version: 9, want: jute.ErrBadVersion},
		{name: "any version", path: "/d", version: -1, want: jute.OK},
		{name: "exact version", path: "/d", version: 1, want: jute.OK},
		{name: "node's own acl does not matter", path: "/nodel", version: -1, want: jute.ErrNotEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.openSession(1, 30000)
			h.mustCreate(1, "/d", nil, 0)
			require.Equal(t, jute.OK, h.set(1, nil, "/d", []byte("v1"), -1).Err)
			h.mustCreate(1, "/full", nil, 0)
			h.mustCreate(1, "/full/kid", nil, 0)
			require.Equal(t, jute.OK, h.create(1, nil, "/nodel", nil, []jute.ACL{acl(jute.PermAll&^jute.PermDelete, "world", "anyone")}, 0).Err)
			require.Equal(t, jute.OK, h.create(1, nil, "/nodel/c", nil, jute.WorldAnyone, 0).Err)
			before := h.state()
			rootBefore := h.stat("/")
			s := c.sess
			if s == 0 {
				s = 1
			}
			r := h.del(s, nil, c.path, c.version)
			require.Equal(t, c.want, r.Err)
			require.Nil(t, r.Resp)
			if c.want != jute.OK {
				require.Equal(t, before, h.state())
				return
			}
			require.Equal(t, []Event{ev(jute.EventNodeDeleted, c.path), ev(jute.EventNodeChildrenChanged, "/")}, bare(r.Events))
			_, code := h.tr.Exists(c.path)
			require.Equal(t, jute.ErrNoNode, code)
			root := h.stat("/")
			require.Equal(t, rootBefore.Cversion+1, root.Cversion, "a delete is a child change")
			require.Equal(t, h.zxid, root.Pzxid)
			require.Equal(t, rootBefore.NumChildren-1, root.NumChildren)
		})
	}
}

func TestTreeSetData(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/s", []byte("abc"), 0)
	created := h.stat("/s")
	size := h.tr.DataSize()

	r := h.set(1, nil, "/s", []byte("hello"), 0)
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, []Event{ev(jute.EventNodeDataChanged, "/s")}, bare(r.Events))
	st := r.Resp.(*jute.StatResponse).Stat
	require.Equal(t, int32(1), st.Version)
	require.Equal(t, h.zxid, st.Mzxid)
	require.Equal(t, h.now, st.Mtime)
	require.Equal(t, created.Czxid, st.Czxid)
	require.Equal(t, created.Ctime, st.Ctime)
	require.Equal(t, created.Pzxid, st.Pzxid)
	require.Equal(t, int32(5), st.DataLength)
	require.Equal(t, size+2, h.tr.DataSize())
	require.Equal(t, st, h.stat("/s"))

	require.Equal(t, jute.ErrBadVersion, h.set(1, nil, "/s", nil, 0).Err)
	require.Equal(t, jute.OK, h.set(1, nil, "/s", nil, 1).Err)
	data, st, _ := h.tr.GetData("/s", nil)
	require.Nil(t, data, "setData with a null buffer reads back as null")
	require.Equal(t, int32(2), st.Version)
	require.Equal(t, int32(0), st.DataLength)

	require.Equal(t, jute.ErrNoNode, h.set(1, nil, "/missing", nil, -1).Err)
	require.Equal(t, jute.ErrBadArguments, h.set(1, nil, "/s/", nil, -1).Err)
	require.Equal(t, jute.ErrSessionExpired, h.set(2, nil, "/s", nil, -1).Err)
	require.Equal(t, jute.ErrNoAuth, h.set(1, nil, "/zookeeper/config", []byte("x"), -1).Err)
	require.Equal(t, jute.OK, h.set(1, []jute.ID{{Scheme: "super"}}, "/zookeeper/config", []byte("x"), -1).Err)
	// setting the root's data counts twice in ZooKeeper's approximate size (the "" alias)
	size = h.tr.DataSize()
	require.Equal(t, jute.OK, h.set(1, nil, "/", []byte("rr"), -1).Err)
	require.Equal(t, size+4, h.tr.DataSize())
}

func TestTreeSetACL(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/a", nil, 0)
	set := func(auth []jute.ID, path string, acls []jute.ACL, version int32) Result {
		return h.apply(1, jute.OpSetACL, auth, &jute.SetACLRequest{Path: path, ACL: acls, Version: version})
	}
	alice := digestAuth("alice", "secret")
	r := set(alice, "/a", []jute.ACL{acl(jute.PermAll, "auth", "")}, 0)
	require.Equal(t, jute.OK, r.Err)
	require.Empty(t, r.Events, "no event for an ACL change")
	st := r.Resp.(*jute.StatResponse).Stat
	require.Equal(t, int32(1), st.Aversion)
	require.Equal(t, int32(0), st.Version)

	require.Equal(t, jute.ErrNoAuth, set(nil, "/a", jute.WorldAnyone, -1).Err)
	require.Equal(t, jute.ErrBadVersion, set(alice, "/a", jute.WorldAnyone, 0).Err)
	require.Equal(t, jute.ErrInvalidACL, set(alice, "/a", nil, -1).Err)
	require.Equal(t, jute.ErrInvalidACL, set(alice, "/missing", nil, -1).Err, "InvalidACL is checked before NoNode")
	require.Equal(t, jute.ErrNoNode, set(alice, "/missing", jute.WorldAnyone, -1).Err)
	require.Equal(t, jute.ErrBadArguments, set(alice, "bad", jute.WorldAnyone, -1).Err)
	require.Equal(t, jute.OK, set(alice, "/a", jute.WorldAnyone, 1).Err)
	require.Equal(t, int32(2), h.stat("/a").Aversion)

	// /zookeeper/config starts at aversion -1
	require.Equal(t, jute.ErrBadVersion, set([]jute.ID{{Scheme: "super"}}, "/zookeeper/config", jute.WorldAnyone, 0).Err)
	require.Equal(t, jute.OK, set([]jute.ID{{Scheme: "super"}}, "/zookeeper/config", jute.WorldAnyone, -1).Err)
	require.Equal(t, int32(0), h.stat("/zookeeper/config").Aversion)
}

func TestTreeCheck(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/c", nil, 0)
	require.Equal(t, jute.OK, h.create(1, nil, "/noread", nil, []jute.ACL{acl(jute.PermWrite, "world", "anyone")}, 0).Err)
	check := func(path string, version int32) Result {
		return h.apply(1, jute.OpCheck, nil, &jute.CheckVersionRequest{Path: path, Version: version})
	}
	r := check("/c", 0)
	require.Equal(t, jute.OK, r.Err)
	require.Empty(t, r.Events)
	require.Equal(t, h.stat("/c"), r.Resp.(*jute.StatResponse).Stat)
	require.Equal(t, jute.OK, check("/c", -1).Err)
	require.Equal(t, jute.ErrBadVersion, check("/c", 1).Err)
	require.Equal(t, jute.ErrNoNode, check("/x", -1).Err)
	require.Equal(t, jute.ErrBadArguments, check("/c/", -1).Err)
	require.Equal(t, jute.ErrNoAuth, check("/noread", -1).Err)
}

func TestTreeStatEvolution(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/p", []byte("x"), 0)
	z0, t0 := h.zxid, h.now
	h.mustCreate(1, "/p/a", nil, 0)
	z1 := h.zxid
	require.Equal(t, jute.OK, h.set(1, nil, "/p", []byte("yy"), 0).Err)
	z2, t2 := h.zxid, h.now
	require.Equal(t, jute.OK, h.apply(1, jute.OpSetACL, nil, &jute.SetACLRequest{Path: "/p", ACL: jute.WorldAnyone, Version: 0}).Err)
	require.Equal(t, jute.OK, h.del(1, nil, "/p/a", 0).Err)
	z4 := h.zxid
	require.Equal(t, jute.Stat{
		Czxid: z0, Mzxid: z2, Ctime: t0, Mtime: t2,
		Version: 1, Cversion: 2, Aversion: 1,
		DataLength: 2, NumChildren: 0, Pzxid: z4,
	}, h.stat("/p"))
	require.NotEqual(t, z1, z4)
}

func TestTreeEventsCarryTheNodeACL(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(5, 1000)
	secret := []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: DigestID("u", "pw")}}}
	owner := []jute.ID{{Scheme: "digest", ID: DigestID("u", "pw")}}
	r := h.create(5, owner, "/s", nil, secret, jute.ModePersistent)
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, secret, r.Events[0].ACL, "NodeCreated carries the new node's ACL")
	require.Equal(t, jute.WorldAnyone, r.Events[1].ACL, "NodeChildrenChanged carries the parent's")
	require.False(t, CanRead(r.Events[0].ACL, nil))
	require.True(t, CanRead(r.Events[0].ACL, owner))
	r = h.apply(5, jute.OpDelete, owner, &jute.DeleteRequest{Path: "/s", Version: -1})
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, secret, r.Events[0].ACL, "NodeDeleted carries the deleted node's ACL")
}
