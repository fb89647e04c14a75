package tree

import (
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestTreeNewHoldsZooKeeperNodes(t *testing.T) {
	tr := New(Options{})
	root, code := tr.Exists("/")
	require.Equal(t, jute.OK, code)
	require.Equal(t, jute.Stat{NumChildren: 1, Cversion: -1}, root, "ZooKeeper serves 2*0-1 for a fresh root")
	zk, _ := tr.Exists("/zookeeper")
	require.Equal(t, jute.Stat{NumChildren: 2, Cversion: -2}, zk)
	kids, _, code := tr.Children("/", nil)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []string{"zookeeper"}, kids)
	kids, _, code = tr.Children("/zookeeper", nil)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []string{"config", "quota"}, kids)

	acls, st, code := tr.GetACL("/zookeeper/config", nil)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []jute.ACL{acl(jute.PermRead, "world", "anyone")}, acls)
	require.Equal(t, int32(-1), st.Aversion)

	data, _, code := tr.GetData("/", nil)
	require.Equal(t, jute.OK, code)
	require.NotNil(t, data)
	require.Empty(t, data)

	require.Equal(t, 5, tr.NodeCount())
	require.Equal(t, int64(len("/")+len("/zookeeper")+len("/zookeeper/quota")+len("/zookeeper/config")), tr.DataSize())
	n, code := tr.AllChildrenNumber("/", nil)
	require.Equal(t, jute.OK, code)
	require.Equal(t, int32(3), n)
	require.Equal(t, int64(0), tr.LastZxid())
}

func TestTreeApplyPanicsOnAppliedZxid(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	require.Panics(t, func() { h.tr.Apply(&Entry{Zxid: h.zxid, Type: jute.OpCreateSession}) })
	require.Panics(t, func() { h.tr.Apply(&Entry{Zxid: 0, Type: jute.OpCreateSession}) })
}

func TestTreeCheckPath(t *testing.T) {
	tr := New(Options{})
	for _, tc := range []struct {
		path string
		want jute.Code
	}{
		{"/", jute.OK},
		{"/a", jute.OK},
		{"/a/b/c", jute.OK},
		{"/a/.../b", jute.OK},
		{"/a.b", jute.OK},
		{"/ünï", jute.OK},
		{"", jute.ErrBadArguments},
		{"a", jute.ErrBadArguments},
		{"/a/", jute.ErrBadArguments},
		{"//a", jute.ErrBadArguments},
		{"/a//b", jute.ErrBadArguments},
		{"/a/./b", jute.ErrBadArguments},
		{"/a/../b", jute.ErrBadArguments},
		{"/.", jute.ErrBadArguments},
		{"/..", jute.ErrBadArguments},
		{"/a\x00b", jute.ErrBadArguments},
		{"/a\x01", jute.ErrBadArguments},
		{"/a\u007f", jute.ErrBadArguments},
		{"/a\u0085", jute.ErrBadArguments},
		{"/a\ue000", jute.ErrBadArguments},
		{"/a\ufff5", jute.ErrBadArguments},
		{"/a\U0001F600", jute.ErrBadArguments},
		{"/a\xff", jute.ErrBadArguments},
	} {
		require.Equal(t, tc.want, tr.CheckPath(tc.path), "path %q", tc.path)
	}
}

func TestTreeEntryRoundTrip(t *testing.T) {
	for _, e := range []*Entry{
		{Zxid: 1, Type: jute.OpCloseSession},
		{Zxid: 0x100000002, Time: 1700000000000, Session: -5, Cxid: 7, Type: jute.OpCreate,
			Auth: []jute.ID{{Scheme: "digest", ID: "u:h"}, {Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "super"}},
			Body: []byte{1, 2, 3}},
		{Zxid: 3, Type: jute.OpMulti, Body: []byte{}},
	} {
		b := e.Marshal()
		back, err := UnmarshalEntry(b)
		require.NoError(t, err)
		require.Equal(t, e, back)
		for i := 0; i < len(b); i++ {
			_, err := UnmarshalEntry(b[:i])
			require.ErrorIs(t, err, ErrCorrupt, "prefix of %d bytes", i)
		}
		_, err = UnmarshalEntry(append(b, 0))
		require.ErrorIs(t, err, ErrCorrupt)
	}
}

func TestTreeUndecodableBodies(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	for _, op := range []jute.Op{jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL, jute.OpDelete,
		jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti, jute.OpDeleteContainer, jute.OpCreateSession} {
		r := h.tr.Apply(h.entry(1, op, nil, []byte{0, 0, 0, 9, 'x'}))
		require.Equal(t, jute.ErrMarshallingError, r.Err, "op %v", op)
		require.Empty(t, r.Events)
	}
	r := h.tr.Apply(h.entry(1, jute.OpGetData, nil, nil))
	require.Equal(t, jute.ErrUnimplemented, r.Err)
	require.Equal(t, h.zxid, h.tr.LastZxid(), "failed entries consume their zxid")
}
