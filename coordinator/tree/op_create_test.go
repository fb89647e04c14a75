package tree

import (
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestTreeCreateStatAndEvents(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(7, 30000)

	r := h.create(7, nil, "/a", nil, jute.WorldAnyone, jute.ModePersistent)
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, "/a", r.Path)
	require.Equal(t, []Event{ev(jute.EventNodeCreated, "/a"), ev(jute.EventNodeChildrenChanged, "/")}, bare(r.Events))
	zA, tA := h.zxid, h.now
	want := jute.Stat{Czxid: zA, Mzxid: zA, Pzxid: zA, Ctime: tA, Mtime: tA}
	require.Equal(t, &jute.Create2Response{Path: "/a", Stat: want}, r.Resp)
	require.Equal(t, want, h.stat("/a"))

	data, _, code := h.tr.GetData("/a", nil)
	require.Equal(t, jute.OK, code)
	require.Nil(t, data, "created without data reads back as null")

	root := h.stat("/")
	require.Equal(t, int32(0), root.Cversion, "served cversion 2*creates-children: 2*1-2 (/zookeeper was never created)")
	require.Equal(t, zA, root.Pzxid)
	require.Equal(t, int32(2), root.NumChildren)

	r = h.apply(7, jute.OpCreate, nil, &jute.CreateRequest{Path: "/a/b", Data: []byte{}, ACL: jute.WorldAnyone})
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, &jute.CreateResponse{Path: "/a/b"}, r.Resp)
	data, st, code := h.tr.GetData("/a/b", nil)
	require.Equal(t, jute.OK, code)
	require.NotNil(t, data, "empty data reads back as empty, not null")
	require.Empty(t, data)
	require.Equal(t, int32(0), st.DataLength)

	a := h.stat("/a")
	require.Equal(t, int32(1), a.Cversion)
	require.Equal(t, h.zxid, a.Pzxid)
	require.Equal(t, zA, a.Mzxid, "a child create does not touch the parent's mzxid")
	require.Equal(t, int32(1), a.NumChildren)

	h.mustCreate(7, "/a/c", []byte("hello"), jute.ModePersistent)
	require.Equal(t, int32(5), h.stat("/a/c").DataLength)
	kids, _, _ := h.tr.Children("/a", nil)
	require.Equal(t, []string{"b", "c"}, kids)
	n, code := h.tr.AllChildrenNumber("/a", nil)
	require.Equal(t, jute.OK, code)
	require.Equal(t, int32(2), n)
	n, _ = h.tr.AllChildrenNumber("/", nil)
	require.Equal(t, int32(6), n)
	require.Equal(t, 8, h.tr.NodeCount())

	// an ephemeral's owner is its session
	p := h.mustCreate(7, "/a/e", nil, jute.ModeEphemeral)
	require.Equal(t, int64(7), h.stat(p).EphemeralOwner)
	require.Equal(t, 1, h.tr.EphemeralCount())
	require.Equal(t, []string{"/a/e"}, h.tr.SessionEphemerals(7))
}

func TestTreeCreateErrors(t *testing.T) {
	const sess = 3
	ttlOff := Options{}
	ttlOn := Options{ExtendedTypes: true}
	world := jute.WorldAnyone
	type tc struct {
		name  string
		opts  Options
		op    jute.Op
		sess  int64
		auth  []jute.ID
		path  string
		acl   []jute.ACL
		flags int32
		ttl   int64
		want  jute.Code
	}
	cases := []tc{
		{name: "flag out of range", op: jute.OpCreate, path: "/n", acl: world, flags: 7, want: jute.ErrBadArguments},
		{name: "negative flag", op: jute.OpCreate, path: "/n", acl: world, flags: -1, want: jute.ErrBadArguments},
		{name: "ttl mode with extended types off", opts: ttlOff, op: jute.OpCreateTTL, path: "/n", acl: world, flags: jute.ModePersistentWithTTL, ttl: 10, want: jute.ErrUnimplemented},
		{name: "ttl mode via create2 with extended types off", opts: ttlOff, op: jute.OpCreate2, path: "/n", acl: world, flags: jute.ModePersistentWithTTL, want: jute.ErrUnimplemented},
		{name: "ttl mode via create2", opts: ttlOn, op: jute.OpCreate2, path: "/n", acl: world, flags: jute.ModePersistentWithTTL, want: jute.ErrBadArguments},
		{name: "ttl zero", opts: ttlOn, op: jute.OpCreateTTL, path: "/n", acl: world, flags: jute.ModePersistentWithTTL, ttl: 0, want: jute.ErrBadArguments},
		{name: "ttl too large", opts: ttlOn, op: jute.OpCreateTTL, path: "/n", acl: world, flags: jute.ModePersistentWithTTL, ttl: TTLMax + 1, want: jute.ErrBadArguments},
		{name: "createTTL with persistent mode", opts: ttlOn, op: jute.OpCreateTTL, path: "/n", acl: world, flags: jute.ModePersistent, ttl: 100, want: jute.ErrBadArguments},
		{name: "createTTL with persistent mode and no ttl", opts: ttlOn, op: jute.OpCreateTTL, path: "/n", acl: world, flags: jute.ModePersistent, ttl: -1, want: jute.ErrBadArguments},
		{name: "unknown session", op: jute.OpCreate, sess: 99, path: "/n", acl: world, want: jute.ErrSessionExpired},
		{name: "ephemeral for unknown session", op: jute.OpCreate, sess: 99, path: "/n", acl: world, flags: jute.ModeEphemeral, want: jute.ErrSessionExpired},
		{name: "no slash", op: jute.OpCreate, path: "n", acl: world, want: jute.ErrBadArguments},
		{name: "empty path", op: jute.OpCreate, path: "", acl: world, want: jute.ErrBadArguments},
		{name: "nul in path", op: jute.OpCreate, path: "/n\x00", acl: world, want: jute.ErrBadArguments},
		{name: "empty acl", op: jute.OpCreate, path: "/n", acl: nil, want: jute.ErrInvalidACL},
		{name: "unknown scheme", op: jute.OpCreate, path: "/n", acl: []jute.ACL{acl(31, "foo", "x")}, want: jute.ErrInvalidACL},
		{name: "world not anyone", op: jute.OpCreate, path: "/n", acl: []jute.ACL{acl(31, "world", "someone")}, want: jute.ErrInvalidACL},
		{name: "malformed digest", op: jute.OpCreate, path: "/n", acl: []jute.ACL{acl(31, "digest", "nocolon")}, want: jute.ErrInvalidACL},
		{name: "digest with two colons", op: jute.OpCreate, path: "/n", acl: []jute.ACL{acl(31, "digest", "a:b:c")}, want: jute.ErrInvalidACL},
		{name: "malformed ip", op: jute.OpCreate, path: "/n", acl: []jute.ACL{acl(31, "ip", "10.0.0")}, want: jute.ErrInvalidACL},
		{name: "ip mask too wide", op: jute.OpCreate, path: "/n", acl: []jute.ACL{acl(31, "ip", "10.0.0.0/33")}, want: jute.ErrInvalidACL},
		{name: "auth without identity", op: jute.OpCreate, path: "/n", acl: []jute.ACL{acl(31, "auth", "")}, want: jute.ErrInvalidACL},
		{name: "auth with only ip identity", op: jute.OpCreate, auth: []jute.ID{{Scheme: "ip", ID: "127.0.0.1"}}, path: "/n", acl: []jute.ACL{acl(31, "auth", "")}, want: jute.ErrInvalidACL},
		{name: "invalid acl before missing parent", op: jute.OpCreate, path: "/missing/n", acl: nil, want: jute.ErrInvalidACL},
		{name: "missing parent", op: jute.OpCreate, path: "/missing/n", acl: world, want: jute.ErrNoNode},
		{name: "no create permission", op: jute.OpCreate, path: "/locked/n", acl: world, want: jute.ErrNoAuth},
		{name: "trailing slash", op: jute.OpCreate, path: "/p/", acl: world, want: jute.ErrBadArguments},
		{name: "dot segment", op: jute.OpCreate, path: "/p/.", acl: world, want: jute.ErrBadArguments},
		{name: "exists", op: jute.OpCreate, path: "/p", acl: world, want: jute.ErrNodeExists},
		{name: "root exists", op: jute.OpCreate, path: "/", acl: world, want: jute.ErrNodeExists},
		{name: "exists before ephemeral parent", op: jute.OpCreate, path: "/eph", acl: world, want: jute.ErrNodeExists},
		{name: "ephemeral parent", op: jute.OpCreate, path: "/eph/n", acl: world, want: jute.ErrNoChildrenForEphemerals},
		{name: "ephemeral parent for containers too", op: jute.OpCreateContainer, path: "/eph/n", acl: world, flags: jute.ModeContainer, want: jute.ErrNoChildrenForEphemerals},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.opts)
			h.openSession(sess, 30000)
			h.mustCreate(sess, "/p", nil, jute.ModePersistent)
			h.mustCreate(sess, "/eph", nil, jute.ModeEphemeral)
			r := h.create(sess, nil, "/locked", nil, []jute.ACL{acl(jute.PermAll&^jute.PermCreate, "world", "anyone")}, 0)
			require.Equal(t, jute.OK, r.Err)
			before := h.state()
			s := c.sess
			if s == 0 {
				s = sess
			}
			var rec jute.Record = &jute.CreateRequest{Path: c.path, ACL: c.acl, Flags: c.flags}
			if c.op == jute.OpCreateTTL {
				rec = &jute.CreateTTLRequest{Path: c.path, ACL: c.acl, Flags: c.flags, TTL: c.ttl}
			}
			r = h.apply(s, c.op, c.auth, rec)
			require.Equal(t, c.want, r.Err)
			require.Nil(t, r.Resp)
			require.Equal(t, before, h.state(), "a failed create changes nothing")
		})
	}
}

func TestTreeCreateModes(t *testing.T) {
	h := newHarness(t, Options{ExtendedTypes: true})
	h.openSession(5, 30000)

	r := h.apply(5, jute.OpCreateContainer, nil, &jute.CreateRequest{Path: "/c", ACL: jute.WorldAnyone, Flags: jute.ModeContainer})
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, int64(0), r.Resp.(*jute.Create2Response).Stat.EphemeralOwner, "clients see 0 for a container")
	require.Equal(t, int64(0), h.stat("/c").EphemeralOwner)
	require.Equal(t, ContainerOwner, h.tr.nodes["/c"].stat.EphemeralOwner, "stored as EphemeralType's container owner")

	// The container flag on a plain create makes a persistent node (3.8's CreateTxn).
	r = h.create(5, nil, "/notc", nil, jute.WorldAnyone, jute.ModeContainer)
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, int64(0), h.stat("/notc").EphemeralOwner)

	r = h.apply(5, jute.OpCreateTTL, nil, &jute.CreateTTLRequest{Path: "/t", ACL: jute.WorldAnyone, Flags: jute.ModePersistentWithTTL, TTL: 5000})
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, int64(-0x0100000000000000)|5000, h.tr.nodes["/t"].stat.EphemeralOwner, "stored as EphemeralType's TTL encoding")
	require.Equal(t, int64(0), r.Resp.(*jute.Create2Response).Stat.EphemeralOwner, "clients see 0 for a TTL node")
	require.Equal(t, int64(0), h.stat("/t").EphemeralOwner)

	r = h.apply(5, jute.OpCreateTTL, nil, &jute.CreateTTLRequest{Path: "/t/s-", ACL: jute.WorldAnyone, Flags: jute.ModePersistentSequentialWithTTL, TTL: TTLMax})
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, "/t/s-0000000000", r.Path)

	// containers and TTL nodes may have children; session ephemerals may not
	h.mustCreate(5, "/c/child", nil, jute.ModeEphemeral)
	p := h.mustCreate(5, "/c/seq-", nil, jute.ModeEphemeralSequential)
	require.Equal(t, "/c/seq-0000000001", p)
	require.Equal(t, []string{"/c/child", "/c/seq-0000000001"}, h.tr.SessionEphemerals(5))
}

func TestTreeSequentialNumbering(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/q", nil, jute.ModePersistent)
	require.Equal(t, "/q/n-0000000000", h.mustCreate(1, "/q/n-", nil, jute.ModePersistentSequential))
	require.Equal(t, "/q/n-0000000001", h.mustCreate(1, "/q/n-", nil, jute.ModeEphemeralSequential))
	require.Equal(t, "/q/plain", h.mustCreate(1, "/q/plain", nil, jute.ModePersistent))

	require.Equal(t, int32(3), h.stat("/q").Cversion)
	for i, p := range []string{"/q/n-0000000000", "/q/n-0000000001"} {
		r := h.del(1, nil, p, -1)
		require.Equal(t, jute.OK, r.Err)
		q := h.stat("/q")
		require.Equal(t, int32(4+i), q.Cversion, "the served cversion counts deletes too")
		require.Equal(t, h.zxid, q.Pzxid)
		require.Equal(t, int32(3), h.tr.nodes["/q"].stat.Cversion, "the stored one counts creates only")
	}
	// the suffix counts every child ever created, deleted ones and plain ones included
	require.Equal(t, "/q/n-0000000003", h.mustCreate(1, "/q/n-", nil, jute.ModePersistentSequential))
	// a trailing slash is allowed for sequential creates: the suffix is the name
	require.Equal(t, "/q/0000000004", h.mustCreate(1, "/q/", nil, jute.ModePersistentSequential))
	// the root counts only created children: /q was its first, /zookeeper does not count
	require.Equal(t, "/x0000000001", h.mustCreate(1, "/x", nil, jute.ModePersistentSequential))
}

func TestTreeCreateACLExpansion(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	auth := append(digestAuth("bob", "pw"), jute.ID{Scheme: "ip", ID: "10.1.2.3"}, jute.ID{Scheme: "super"})
	dupes := []jute.ACL{acl(jute.PermAll, "auth", ""), acl(jute.PermAll, "auth", ""), acl(jute.PermRead, "ip", "10.0.0.0/8")}
	r := h.create(1, auth, "/x", nil, dupes, 0)
	require.Equal(t, jute.OK, r.Err)
	got, _, code := h.tr.GetACL("/x", auth)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []jute.ACL{
		{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: DigestID("bob", "pw")}},
		acl(jute.PermRead, "ip", "10.0.0.0/8"),
	}, got)
}
