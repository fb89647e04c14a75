package tree

import (
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func multi(ops ...jute.MultiOp) *jute.MultiRequest { return &jute.MultiRequest{Ops: ops} }

func opCreate(path string, flags int32) jute.MultiOp {
	return jute.MultiOp{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: path, ACL: jute.WorldAnyone, Flags: flags}}
}

func TestTreeMultiCommits(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/old", []byte("x"), 0)
	r := h.apply(1, jute.OpMulti, nil, multi(
		opCreate("/m", 0),
		jute.MultiOp{Type: jute.OpCreate2, Req: &jute.CreateRequest{Path: "/m/s-", ACL: jute.WorldAnyone, Flags: jute.ModePersistentSequential}},
		jute.MultiOp{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: "/m", Data: []byte("v"), Version: 0}},
		jute.MultiOp{Type: jute.OpCheck, Req: &jute.CheckVersionRequest{Path: "/m", Version: 1}},
		jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/old", Version: 0}},
	))
	require.Equal(t, jute.OK, r.Err)
	z := h.zxid
	resp := r.Resp.(*jute.MultiResponse)
	require.Len(t, resp.Results, 5)
	require.Equal(t, jute.MultiResult{Type: jute.OpCreate, Resp: &jute.CreateResponse{Path: "/m"}}, resp.Results[0])
	require.Equal(t, jute.OpCreate2, resp.Results[1].Type)
	require.Equal(t, "/m/s-0000000000", resp.Results[1].Resp.(*jute.Create2Response).Path)
	require.Equal(t, jute.OpSetData, resp.Results[2].Type)
	require.Equal(t, int32(1), resp.Results[2].Resp.(*jute.StatResponse).Stat.Version)
	require.Equal(t, jute.MultiResult{Type: jute.OpCheck}, resp.Results[3])
	require.Equal(t, jute.MultiResult{Type: jute.OpDelete}, resp.Results[4])
	require.Equal(t, []Event{
		ev(jute.EventNodeCreated, "/m"), ev(jute.EventNodeChildrenChanged, "/"),
		ev(jute.EventNodeCreated, "/m/s-0000000000"), ev(jute.EventNodeChildrenChanged, "/m"),
		ev(jute.EventNodeDataChanged, "/m"),
		ev(jute.EventNodeDeleted, "/old"), ev(jute.EventNodeChildrenChanged, "/"),
	}, bare(r.Events))
	st := h.stat("/m")
	require.Equal(t, z, st.Czxid, "every op of a multi shares its zxid")
	require.Equal(t, z, st.Mzxid)
	require.Equal(t, int32(1), st.Version)

	// the encoded answer decodes as a client would read it
	var back jute.MultiResponse
	d := jute.Unmarshal(jute.Marshal(resp), &back)
	require.NoError(t, d.Err)
	require.Len(t, back.Results, 5)
}

func TestTreeMultiRollsBack(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/keep", []byte("k"), 0)
	h.mustCreate(1, "/gone", nil, 0)
	before := h.state()
	nodes, eph, size := h.tr.NodeCount(), h.tr.EphemeralCount(), h.tr.DataSize()

	r := h.apply(1, jute.OpMulti, nil, multi(
		opCreate("/x", 0),
		opCreate("/x/seq-", jute.ModeEphemeralSequential),
		jute.MultiOp{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: "/keep", Data: []byte("changed"), Version: -1}},
		jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/gone", Version: -1}},
		jute.MultiOp{Type: jute.OpCheck, Req: &jute.CheckVersionRequest{Path: "/keep", Version: 0}}, // version is 1 by now
		opCreate("/never", 0),
	))
	require.Equal(t, jute.OK, r.Err, "a failed multi's header err is OK; the results carry the failure")
	require.Empty(t, r.Events)
	require.Equal(t, &jute.MultiResponse{Results: []jute.MultiResult{
		{Type: jute.OpError, Err: jute.OK},
		{Type: jute.OpError, Err: jute.OK},
		{Type: jute.OpError, Err: jute.OK},
		{Type: jute.OpError, Err: jute.OK},
		{Type: jute.OpError, Err: jute.ErrBadVersion},
		{Type: jute.OpError, Err: jute.ErrRuntimeInconsistency},
	}}, r.Resp)
	require.Equal(t, before, h.state(), "nothing of a failed multi remains")
	require.Equal(t, nodes, h.tr.NodeCount())
	require.Equal(t, eph, h.tr.EphemeralCount())
	require.Equal(t, size, h.tr.DataSize())
	require.Empty(t, h.tr.SessionEphemerals(1))

	// the next sequential number is unaffected by the rolled-back one
	r = h.apply(1, jute.OpMulti, nil, multi(opCreate("/x", 0), opCreate("/x/seq-", jute.ModePersistentSequential)))
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, "/x/seq-0000000000", r.Resp.(*jute.MultiResponse).Results[1].Resp.(*jute.CreateResponse).Path)
}

func TestTreeMultiFirstOpFails(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	r := h.apply(1, jute.OpMulti, nil, multi(
		jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/nope", Version: -1}},
		opCreate("/a", 0),
	))
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, []jute.MultiResult{{Type: jute.OpError, Err: jute.ErrNoNode}, {Type: jute.OpError, Err: jute.ErrRuntimeInconsistency}},
		r.Resp.(*jute.MultiResponse).Results)

	// a read op in a write multi fails at its position
	r = h.apply(1, jute.OpMulti, nil, multi(opCreate("/a", 0),
		jute.MultiOp{Type: jute.OpGetData, Req: &jute.PathWatchRequest{Path: "/a"}}))
	require.Equal(t, []jute.MultiResult{{Type: jute.OpError, Err: jute.OK}, {Type: jute.OpError, Err: jute.ErrBadArguments}},
		r.Resp.(*jute.MultiResponse).Results)
	_, code := h.tr.Exists("/a")
	require.Equal(t, jute.ErrNoNode, code)

	// an empty multi succeeds with no results
	r = h.apply(1, jute.OpMulti, nil, multi())
	require.Equal(t, jute.OK, r.Err)
	require.Empty(t, r.Resp.(*jute.MultiResponse).Results)

	// a multi from an unknown session fails at its first op
	r = h.apply(9, jute.OpMulti, nil, multi(opCreate("/a", 0)))
	require.Equal(t, []jute.MultiResult{{Type: jute.OpError, Err: jute.ErrSessionExpired}}, r.Resp.(*jute.MultiResponse).Results)
}

func TestTreeMultiDeleteThenRecreate(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/p", nil, 0)
	h.mustCreate(1, "/p/c", []byte("old"), 0)
	r := h.apply(1, jute.OpMulti, nil, multi(
		jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/p/c", Version: -1}},
		jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/p", Version: -1}},
		opCreate("/p", jute.ModeEphemeral),
	))
	require.Equal(t, jute.OK, r.Err)
	require.Equal(t, int64(1), h.stat("/p").EphemeralOwner)
	require.Equal(t, int32(0), h.stat("/p").NumChildren)
}

func TestTreeMultiRead(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	h.mustCreate(1, "/r", []byte("data"), 0)
	h.mustCreate(1, "/r/b", nil, 0)
	h.mustCreate(1, "/r/a", nil, 0)
	require.Equal(t, jute.OK, h.create(1, nil, "/secret", nil, []jute.ACL{acl(jute.PermAll, "digest", DigestID("u", "p"))}, 0).Err)
	resp := h.tr.MultiRead(multi(
		jute.MultiOp{Type: jute.OpGetData, Req: &jute.PathWatchRequest{Path: "/r"}},
		jute.MultiOp{Type: jute.OpGetChildren, Req: &jute.PathWatchRequest{Path: "/r"}},
		jute.MultiOp{Type: jute.OpGetData, Req: &jute.PathWatchRequest{Path: "/missing"}},
		jute.MultiOp{Type: jute.OpGetData, Req: &jute.PathWatchRequest{Path: "/secret"}},
		jute.MultiOp{Type: jute.OpGetChildren, Req: &jute.PathWatchRequest{Path: "/r/a"}},
		jute.MultiOp{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/r"}},
	), nil)
	require.Equal(t, []jute.MultiResult{
		{Type: jute.OpGetData, Resp: &jute.GetDataResponse{Data: []byte("data"), Stat: h.stat("/r")}},
		{Type: jute.OpGetChildren, Resp: &jute.GetChildrenResponse{Children: []string{"a", "b"}}},
		{Type: jute.OpError, Err: jute.ErrNoNode},
		{Type: jute.OpError, Err: jute.ErrNoAuth},
		{Type: jute.OpGetChildren, Resp: &jute.GetChildrenResponse{Children: []string{}}},
		{Type: jute.OpError, Err: jute.ErrUnimplemented},
	}, resp.Results)
}
