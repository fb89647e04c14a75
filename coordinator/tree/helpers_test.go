package tree

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

// harness drives a Tree with consecutive zxids and a settable clock.
type harness struct {
	t    *testing.T
	tr   *Tree
	zxid int64
	now  int64
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	return &harness{t: t, tr: New(opts), now: 1_700_000_000_000}
}

func (h *harness) entry(session int64, op jute.Op, auth []jute.ID, body []byte) *Entry {
	h.zxid++
	h.now++
	return &Entry{Zxid: h.zxid, Time: h.now, Session: session, Cxid: int32(h.zxid), Type: op, Auth: auth, Body: body}
}

// apply applies one op, checking that its entry survives marshalling.
func (h *harness) apply(session int64, op jute.Op, auth []jute.ID, rec jute.Record) Result {
	h.t.Helper()
	var body []byte
	if rec != nil {
		body = jute.Marshal(rec)
	}
	e := h.entry(session, op, auth, body)
	back, err := UnmarshalEntry(e.Marshal())
	require.NoError(h.t, err)
	require.Equal(h.t, e.Zxid, back.Zxid)
	r := h.tr.Apply(back)
	require.Equal(h.t, e.Zxid, h.tr.LastZxid())
	if r.Err != jute.OK {
		require.Empty(h.t, r.Events, "a failed write has no events")
	}
	return r
}

func (h *harness) openSession(id int64, timeoutMs int32) {
	h.t.Helper()
	var enc jute.Encoder
	enc.Int(timeoutMs)
	enc.Buffer([]byte{byte(id), 1, 2, 3})
	r := h.tr.Apply(h.entry(id, jute.OpCreateSession, nil, enc.B))
	require.Equal(h.t, jute.OK, r.Err)
}

func (h *harness) closeSession(id int64) Result {
	h.t.Helper()
	return h.tr.Apply(h.entry(id, jute.OpCloseSession, nil, nil))
}

func (h *harness) create(session int64, auth []jute.ID, path string, data []byte, acl []jute.ACL, flags int32) Result {
	h.t.Helper()
	return h.apply(session, jute.OpCreate2, auth, &jute.CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags})
}

// mustCreate creates a world-open node and returns its final path.
func (h *harness) mustCreate(session int64, path string, data []byte, flags int32) string {
	h.t.Helper()
	r := h.create(session, nil, path, data, jute.WorldAnyone, flags)
	require.Equal(h.t, jute.OK, r.Err, "create %s", path)
	return r.Path
}

func (h *harness) del(session int64, auth []jute.ID, path string, version int32) Result {
	h.t.Helper()
	return h.apply(session, jute.OpDelete, auth, &jute.DeleteRequest{Path: path, Version: version})
}

func (h *harness) set(session int64, auth []jute.ID, path string, data []byte, version int32) Result {
	h.t.Helper()
	return h.apply(session, jute.OpSetData, auth, &jute.SetDataRequest{Path: path, Data: data, Version: version})
}

func (h *harness) stat(path string) jute.Stat {
	h.t.Helper()
	st, code := h.tr.Exists(path)
	require.Equal(h.t, jute.OK, code, "exists %s", path)
	return st
}

// state is the tree's content minus lastZxid, for "nothing changed" checks.
func (h *harness) state() []byte {
	h.t.Helper()
	saved := h.tr.lastZxid
	h.tr.lastZxid = 0
	defer func() { h.tr.lastZxid = saved }()
	var buf bytes.Buffer
	require.NoError(h.t, h.tr.WriteSnapshot(&buf))
	return buf.Bytes()
}

func digestAuth(user, pass string) []jute.ID {
	return []jute.ID{{Scheme: SchemeDigest, ID: DigestID(user, pass)}}
}

func acl(perms int32, scheme, id string) jute.ACL {
	return jute.ACL{Perms: perms, ID: jute.ID{Scheme: scheme, ID: id}}
}

func ev(typ int32, path string) Event { return Event{Type: typ, Path: path} }

// bare drops what events carry besides type and path, for comparisons.
func bare(es []Event) []Event {
	out := make([]Event, len(es))
	for i, e := range es {
		out[i] = Event{Type: e.Type, Path: e.Path}
	}
	return out
}
