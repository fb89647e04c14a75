//go:build integration

package integration

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

// coordTemplates are valid requests of every op a 3.8 client sends (but
// those in skip), on paths under /fz; the mutation test breaks them. With
// readable, no request makes a node its creator's later sessions cannot read.
func coordTemplates(r *rand.Rand, readable bool, skip ...jute.Op) []jute.Record {
	// Mostly a few valid paths, so that ops meet each other's nodes; one in
	// eight a path ZooKeeper refuses or protects.
	odd := []string{"/fz/", "/fz//a", "fz", "/fz/.", "/fz/..", "/fz/a\x00b", "/", "/zookeeper", "/zookeeper/quota",
		"/fz/n1/./x", "/fz/\u2028", "/fz/\ufffe", "/fz/n\u00e9"}
	p := func() string {
		if r.IntN(8) == 0 {
			return odd[r.IntN(len(odd))]
		}
		return fmt.Sprintf("/fz/n%d", r.IntN(6))
	}
	digest := []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: "u:PaPk2vQkO+1IIrzlK4Fd7oP6XnE="}}}
	acls := [][]jute.ACL{
		jute.WorldAnyone, digest, nil,
		{{Perms: jute.PermAll, ID: jute.ID{Scheme: "auth", ID: ""}}},
		{{Perms: jute.PermAll, ID: jute.ID{Scheme: "ip", ID: "127.0.0.1"}}},
		{{Perms: jute.PermAll, ID: jute.ID{Scheme: "ip", ID: "127.0.0.0/8"}}},
		{{Perms: jute.PermAll, ID: jute.ID{Scheme: "ip", ID: "300.1.1.1"}}},
		{{Perms: jute.PermAll, ID: jute.ID{Scheme: "foo", ID: "bar"}}},
		{{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: "nocolon"}}},
		{{Perms: 1, ID: jute.ID{Scheme: "world", ID: "anyone"}}},
		{{Perms: 0, ID: jute.ID{Scheme: "world", ID: "anyone"}}},
		{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "someone"}}},
	}
	if readable {
		acls = slices.DeleteFunc(acls, func(a []jute.ACL) bool {
			return len(a) == 1 && (a[0].ID.Scheme == "digest" && a[0].ID.ID != "nocolon" || a[0].ID.Scheme == "auth" || a[0].Perms == 0)
		})
		digest = jute.WorldAnyone
	}
	acl := func() []jute.ACL {
		if r.IntN(2) == 0 {
			return jute.WorldAnyone
		}
		return acls[r.IntN(len(acls))]
	}
	with := func(op jute.Op, rs ...jute.Record) jute.Record {
		return coordRecords(append([]jute.Record{&jute.RequestHeader{Xid: int32(r.IntN(1000)), Type: op}}, rs...))
	}
	all := []jute.Record{
		with(jute.OpCreate, &jute.CreateRequest{Path: p(), Data: []byte("d"), ACL: acl(), Flags: int32(r.IntN(4))}),
		with(jute.OpCreate, &jute.CreateRequest{Path: p(), Data: []byte("bad flags"), ACL: jute.WorldAnyone, Flags: []int32{-1, 7, 4, 5, 6}[r.IntN(5)]}),
		with(jute.OpGetChildren, &jute.PathWatchRequest{Path: p(), Watch: r.IntN(2) == 0}),
		with(jute.OpCheck, &jute.CheckVersionRequest{Path: p(), Version: int32(r.IntN(3)) - 1}),
		with(jute.OpSetWatches, &jute.SetWatches{RelativeZxid: int64(r.IntN(40)), DataWatches: []string{p()}, ExistWatches: []string{p()}, ChildWatches: []string{p()}}),
		with(jute.OpCreate2, &jute.CreateRequest{Path: p() + "/c", Data: nil, ACL: digest, Flags: 2}),
		with(jute.OpDelete, &jute.DeleteRequest{Path: p(), Version: -1}),
		with(jute.OpSetData, &jute.SetDataRequest{Path: p(), Data: []byte("x"), Version: int32(r.IntN(3)) - 1}),
		with(jute.OpGetData, &jute.PathWatchRequest{Path: p(), Watch: r.IntN(2) == 0}),
		with(jute.OpExists, &jute.PathWatchRequest{Path: p(), Watch: true}),
		with(jute.OpGetChildren2, &jute.PathWatchRequest{Path: "/fz", Watch: true}),
		with(jute.OpSetACL, &jute.SetACLRequest{Path: p(), ACL: acl(), Version: int32(r.IntN(3)) - 1}),
		with(jute.OpGetACL, &jute.PathRequest{Path: p()}),
		with(jute.OpSync, &jute.PathRequest{Path: "/fz"}),
		with(jute.OpGetEphemerals, &jute.PathRequest{Path: "/fz"}),
		with(jute.OpGetAllChildrenNumber, &jute.PathRequest{Path: "/fz"}),
		with(jute.OpAddWatch, &jute.AddWatchRequest{Path: "/fz", Mode: int32(r.IntN(2))}),
		with(jute.OpSetWatches2, &jute.SetWatches{RelativeZxid: 1, DataWatches: []string{p()}, ChildWatches: []string{"/fz"},
			PersistentWatches: []string{p()}, Two: true}),
		with(jute.OpRemoveWatches, &jute.WatchTypeRequest{Path: "/fz", Type: 1 + int32(r.IntN(3))}),
		coordRecords{&jute.RequestHeader{Xid: -4, Type: jute.OpAuth}, &jute.AuthPacket{Scheme: "digest", Auth: []byte("u:pw")}},
		with(jute.OpWhoAmI),
		with(jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{
			{Type: jute.OpCreate, Req: &jute.CreateRequest{Path: p(), Data: []byte("m"), ACL: jute.WorldAnyone}},
			{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: p(), Data: []byte("m2"), Version: -1}},
			{Type: jute.OpCheck, Req: &jute.CheckVersionRequest{Path: p(), Version: int32(r.IntN(3)) - 1}},
			{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: p(), Version: -1}},
		}}),
		with(jute.OpMultiRead, &jute.MultiRequest{Ops: []jute.MultiOp{
			{Type: jute.OpGetData, Req: &jute.PathWatchRequest{Path: p()}},
			{Type: jute.OpGetChildren, Req: &jute.PathWatchRequest{Path: "/fz"}},
		}}),
	}
	var out []jute.Record
	for _, rec := range all {
		var h jute.RequestHeader
		_ = jute.Unmarshal(jute.Marshal(rec)[:8], &h)
		if !slices.Contains(skip, h.Type) {
			out = append(out, rec)
		}
	}
	return out
}

// coordRecords encodes several records back to back.
type coordRecords []jute.Record

func (rs coordRecords) Encode(e *jute.Encoder) {
	for _, r := range rs {
		r.Encode(e)
	}
}

func (rs coordRecords) Decode(*jute.Decoder) { panic("coordRecords is encode-only") }

// coordMutate breaks a request body (header included) in one of several
// ways, leaving the op code alone so that no op the test does not expect
// (containers, TTL nodes, whose reaping is timed) is created.
func coordMutate(r *rand.Rand, body []byte) []byte {
	b := append([]byte(nil), body...)
	switch r.IntN(6) {
	case 0: // flip bytes after the header's op code
		for n := 1 + r.IntN(3); n > 0 && len(b) > 8; n-- {
			b[8+r.IntN(len(b)-8)] ^= byte(1 + r.IntN(255))
		}
	case 1: // truncate
		if len(b) > 0 {
			b = b[:r.IntN(len(b))]
		}
	case 2: // trailing junk
		junk := make([]byte, 1+r.IntN(40))
		for i := range junk {
			junk[i] = byte(r.IntN(256))
		}
		b = append(b, junk...)
	case 3: // an int32 (a length, a count, flags) set to an extreme
		if len(b) >= 12 {
			at := 8 + r.IntN(len(b)-11)
			v := []uint32{0xffffffff, 0x7fffffff, 0x80000000, 0, 0xfffffffe, 1 << 20}[r.IntN(6)]
			binary.BigEndian.PutUint32(b[at:], v)
		}
	case 4: // a random op code from the set the test expects
		if len(b) >= 8 {
			ops := []jute.Op{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 17, 18, 22, 100, 101, 103, 104, 105, 106, 107, 999, -1}
			binary.BigEndian.PutUint32(b[4:], uint32(ops[r.IntN(len(ops))]))
		}
	default: // left valid
	}
	return b
}

// TestCoordinatorBadInputMutations sends seeded mutations of valid requests
// (flipped bytes, truncations, junk, extreme lengths and counts, swapped op
// codes) over 400 sessions to the real binary. The server must stay up and
// keep serving; no panic reaches its log; every ephemeral goes with its
// session; and the tree after kill -9 and recovery equals the tree before.
// KZOO_MUTATION_SEED replays a seed.
func TestCoordinatorBadInputMutations(t *testing.T) {
	seed := uint64(20261124)
	if s := os.Getenv("KZOO_MUTATION_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = v
	}
	t.Logf("seed %d (replay with KZOO_MUTATION_SEED=%d)", seed, seed)
	cfg, _, port := keeperConfig(t, "snapCount=300\n")
	// The dumps read every znode whatever its ACL, as the super user.
	sum := sha1.Sum([]byte("super:fz"))
	super := "SERVER_JVMFLAGS=-Dzookeeper.DigestAuthenticationProvider.superDigest=super:" + base64.StdEncoding.EncodeToString(sum[:])
	p := coordStart(t, cfg, port, super)
	bystander := coordConnect(t, p.addr, 10*time.Second)
	require.NoError(t, bystander.AddAuth("digest", []byte("super:fz")))
	_, err := bystander.Create("/fz", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	start := time.Now()
	sessions, workers := 400, 4
	if s := os.Getenv("KZOO_MUTATION_SESSIONS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(t, err)
		sessions = v
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	closedByServer := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for s := w; s < sessions; s += workers {
				r := rand.New(rand.NewPCG(seed, uint64(s)))
				if coordMutationSession(t, p.addr, r) {
					mu.Lock()
					closedByServer++
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	t.Logf("%d sessions of mutated requests in %v, %d closed by the server", sessions, time.Since(start).Round(time.Millisecond), closedByServer)

	select {
	case <-p.exited:
		t.Fatalf("the server died; log:\n%s", p.log)
	default:
	}
	for _, bad := range []string{"panic", "goroutine ", "fatal error"} {
		require.NotContains(t, p.log.String(), bad, "the server's log")
	}
	_, err = bystander.Set("/fz", []byte("still serving"), -1)
	require.NoError(t, err)

	// Every session is closed or expired: no ephemeral is left.
	require.Eventually(t, func() bool {
		eph := 0
		for _, n := range coordDump(t, bystander, "/fz") {
			if n.owner != 0 {
				eph++
			}
		}
		return eph == 0
	}, 30*time.Second, 100*time.Millisecond, "ephemerals outlived their sessions")

	before := coordDump(t, bystander, "/")
	p.kill9()
	p = coordStart(t, cfg, port, super)
	reader := coordConnect(t, p.addr, 10*time.Second)
	require.NoError(t, reader.AddAuth("digest", []byte("super:fz")))
	after := coordDump(t, reader, "/")
	require.Equal(t, before, after, "the tree recovered after kill -9 differs from the tree before")
	t.Logf("%d znodes compared across kill -9", len(after))
}

// coordMutationSession runs one session: a handshake, 1-8 requests (most
// of them mutated), a ping and a closeSession. It reports whether the
// server closed the connection before the ping was answered.
func coordMutationSession(t *testing.T, addr string, r *rand.Rand) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(jute.FrameRecords(&jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})); err != nil {
		t.Errorf("connect: %v", err)
		return false
	}
	if _, err := jute.ReadFrame(c, 1<<20, nil); err != nil {
		t.Errorf("no ConnectResponse from %s: %v", addr, err)
		return false
	}
	templates := coordTemplates(r, false)
	var out []byte
	for n := 1 + r.IntN(8); n > 0; n-- {
		body := jute.Marshal(templates[r.IntN(len(templates))])
		out = jute.AppendFrame(out, coordMutate(r, body))
	}
	out = append(out, jute.FrameRecords(&jute.RequestHeader{Xid: -2, Type: jute.OpPing})...)
	if _, err := c.Write(out); err != nil {
		return true
	}
	for {
		frame, err := jute.ReadFrame(c, 1<<24, nil)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("the server neither answered the ping nor closed the connection")
			}
			return true
		}
		var h jute.ReplyHeader
		if jute.Unmarshal(frame, &h).Err == nil && h.Xid == -2 {
			break
		}
	}
	_, _ = c.Write(jute.FrameRecords(&jute.RequestHeader{Xid: 1 << 20, Type: jute.OpCloseSession}))
	for {
		if _, err := jute.ReadFrame(c, 1<<24, nil); err != nil {
			return false
		}
	}
}

// coordNode is what a dump keeps of a znode.
type coordNode struct {
	data  string
	stat  zk.Stat
	acl   string
	owner int64
}

// coordDump walks the tree from root through a client.
func coordDump(t *testing.T, c *zk.Conn, root string) map[string]coordNode {
	t.Helper()
	out := map[string]coordNode{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err == zk.ErrNoNode {
			return
		}
		require.NoError(t, err, "dump %s", p)
		acl, _, err := c.GetACL(p)
		require.NoError(t, err, "dump the ACL of %s", p)
		var acls []string
		for _, a := range acl {
			acls = append(acls, fmt.Sprintf("%s:%s:%d", a.Scheme, a.ID, a.Perms))
		}
		sort.Strings(acls)
		out[p] = coordNode{data: string(data), stat: *st, acl: strings.Join(acls, ","), owner: st.EphemeralOwner}
		kids, _, err := c.Children(p)
		if err == zk.ErrNoNode {
			return
		}
		require.NoError(t, err, "children of %s", p)
		sort.Strings(kids)
		for _, k := range kids {
			walk(path.Join(p, k))
		}
	}
	walk(root)
	return out
}
