package tree

import (
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestTreeSessions(t *testing.T) {
	h := newHarness(t, Options{})
	_, _, ok := h.tr.Session(5)
	require.False(t, ok)

	h.openSession(5, 30000)
	h.openSession(2, 4000)
	to, pw, ok := h.tr.Session(5)
	require.True(t, ok)
	require.Equal(t, int32(30000), to)
	require.Equal(t, []byte{5, 1, 2, 3}, pw)

	// createSession for a known session is a no-op
	var enc jute.Encoder
	enc.Int(1)
	enc.Buffer([]byte("other"))
	r := h.tr.Apply(h.entry(5, jute.OpCreateSession, nil, enc.B))
	require.Equal(t, jute.OK, r.Err)
	to, _, _ = h.tr.Session(5)
	require.Equal(t, int32(30000), to)

	require.Equal(t, []SessionInfo{{ID: 2, TimeoutMs: 4000, Passwd: []byte{2, 1, 2, 3}}, {ID: 5, TimeoutMs: 30000, Passwd: []byte{5, 1, 2, 3}}}, h.tr.Sessions())
}

func TestTreeCloseSessionRemovesEphemerals(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.openSession(2, 30000)
	h.mustCreate(1, "/app", nil, 0)
	h.mustCreate(1, "/app/b", nil, jute.ModeEphemeral)
	h.mustCreate(1, "/app/a", nil, jute.ModeEphemeral)
	h.mustCreate(1, "/top", nil, jute.ModeEphemeral)
	h.mustCreate(2, "/app/other", nil, jute.ModeEphemeral)
	require.Equal(t, 4, h.tr.EphemeralCount())
	require.Equal(t, []string{"/app/a", "/app/b", "/top"}, h.tr.Ephemerals(1, ""))
	require.Equal(t, []string{"/app/a", "/app/b", "/top"}, h.tr.Ephemerals(1, " / "))
	require.Equal(t, []string{"/app/a", "/app/b"}, h.tr.Ephemerals(1, "/app"))
	require.Equal(t, []string{"/top"}, h.tr.Ephemerals(1, "/t"))
	require.Empty(t, h.tr.Ephemerals(3, ""))
	appCversion := h.stat("/app").Cversion

	r := h.closeSession(1)
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, []Event{
		ev(jute.EventNodeDeleted, "/app/a"), ev(jute.EventNodeChildrenChanged, "/app"),
		ev(jute.EventNodeDeleted, "/app/b"), ev(jute.EventNodeChildrenChanged, "/app"),
		ev(jute.EventNodeDeleted, "/top"), ev(jute.EventNodeChildrenChanged, "/"),
	}, bare(r.Events))
	_, _, ok := h.tr.Session(1)
	require.False(t, ok)
	require.Empty(t, h.tr.SessionEphemerals(1))
	require.Equal(t, 1, h.tr.EphemeralCount())
	kids, st, _ := h.tr.Children("/app", nil)
	require.Equal(t, []string{"other"}, kids)
	require.Equal(t, h.zxid, st.Pzxid)
	require.Equal(t, appCversion+2, st.Cversion, "two child deletes")

	// a closed session can no longer write
	require.Equal(t, jute.ErrSessionExpired, h.create(1, nil, "/late", nil, jute.WorldAnyone, jute.ModeEphemeral).Err)
	require.Equal(t, jute.ErrSessionExpired, h.create(1, nil, "/late", nil, jute.WorldAnyone, 0).Err)
	// closing an unknown session is harmless
	r = h.closeSession(77)
	require.Equal(t, jute.OK, r.Err)
	require.Empty(t, r.Events)
}

func TestTreeContainers(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	createContainer := func(path string) {
		r := h.apply(1, jute.OpCreateContainer, nil, &jute.CreateRequest{Path: path, ACL: jute.WorldAnyone, Flags: jute.ModeContainer})
		require.Equal(t, jute.OK, r.Err)
	}
	deleteContainer := func(path string, at int64) Result {
		e := h.entry(0, jute.OpDeleteContainer, nil, jute.Marshal(&jute.PathRequest{Path: path}))
		e.Time = at
		return h.tr.Apply(e)
	}
	createContainer("/c")
	createContainer("/d")
	h.mustCreate(1, "/plain", nil, 0)
	require.Empty(t, h.tr.Expirable(h.now, 0), "a container that never had a child stays")
	require.Equal(t, jute.ErrBadVersion, deleteContainer("/c", h.now).Err)

	h.mustCreate(1, "/c/kid", nil, 0)
	h.mustCreate(1, "/d/kid", nil, 0)
	require.Empty(t, h.tr.Expirable(h.now, 0), "a container with children stays")
	require.Equal(t, jute.ErrNotEmpty, deleteContainer("/c", h.now).Err)

	require.Equal(t, jute.OK, h.del(1, nil, "/c/kid", -1).Err)
	require.Equal(t, jute.OK, h.del(1, nil, "/d/kid", -1).Err)
	require.Equal(t, []string{"/c", "/d"}, h.tr.Expirable(h.now, 0))
	require.Equal(t, []string{"/c"}, h.tr.Expirable(h.now, 1))

	r := deleteContainer("/c", h.now)
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, []Event{ev(jute.EventNodeDeleted, "/c"), ev(jute.EventNodeChildrenChanged, "/")}, bare(r.Events))
	require.Equal(t, jute.ErrNoNode, deleteContainer("/c", h.now).Err, "a stale proposal is a harmless error")
	require.Equal(t, []string{"/d"}, h.tr.Expirable(h.now, 0))

	// a child arriving before the proposal is applied saves the container
	h.mustCreate(1, "/d/again", nil, 0)
	require.Equal(t, jute.ErrNotEmpty, deleteContainer("/d", h.now).Err)

	require.Equal(t, jute.ErrBadVersion, deleteContainer("/plain", h.now).Err, "only containers and TTL nodes")
	require.Equal(t, jute.ErrBadArguments, deleteContainer("/zookeeper", h.now).Err)
	require.Equal(t, jute.ErrBadArguments, deleteContainer("nope", h.now).Err)
}

func TestTreeTTLNodes(t *testing.T) {
	h := newHarness(t, Options{ExtendedTypes: true})
	h.openSession(1, 30000)
	r := h.apply(1, jute.OpCreateTTL, nil, &jute.CreateTTLRequest{Path: "/t", ACL: jute.WorldAnyone, Flags: jute.ModePersistentWithTTL, TTL: 1000})
	require.Equal(t, jute.OK, r.Err)
	mtime := h.stat("/t").Mtime

	require.Empty(t, h.tr.Expirable(mtime+1000, 0), "expiry needs more than ttl ms since mtime")
	require.Equal(t, []string{"/t"}, h.tr.Expirable(mtime+1001, 0))

	// a child keeps it; so does a fresh setData (mtime moves)
	h.mustCreate(1, "/t/kid", nil, 0)
	require.Empty(t, h.tr.Expirable(mtime+5000, 0))
	require.Equal(t, jute.OK, h.del(1, nil, "/t/kid", -1).Err)
	require.Equal(t, jute.OK, h.set(1, nil, "/t", []byte("touch"), -1).Err)
	mtime = h.stat("/t").Mtime
	require.Empty(t, h.tr.Expirable(mtime+10, 0))

	apply := func(at int64) Result {
		e := h.entry(0, jute.OpDeleteContainer, nil, jute.Marshal(&jute.PathRequest{Path: "/t"}))
		e.Time = at
		return h.tr.Apply(e)
	}
	require.Equal(t, jute.ErrBadVersion, apply(mtime+500).Err, "not yet expired at the entry's time")
	r = apply(mtime + 1001)
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, []Event{ev(jute.EventNodeDeleted, "/t"), ev(jute.EventNodeChildrenChanged, "/")}, bare(r.Events))
	require.Empty(t, h.tr.Expirable(mtime+1_000_000, 0))
}
