package tree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

// checkInvariants recomputes every derived structure and compares.
func checkInvariants(t testing.TB, tr *Tree) {
	t.Helper()
	require.NotNil(t, tr.nodes["/"], "root")
	var size int64
	eph := map[int64]map[string]struct{}{}
	containers, ttls := map[string]struct{}{}, map[string]struct{}{}
	for p, n := range tr.nodes {
		size += int64(len(p) + len(n.data))
		if p != "/" {
			parent, child, ok := splitParent(p)
			require.True(t, ok)
			pn := tr.nodes[lookupPath(parent)]
			require.NotNil(t, pn, "parent of %s", p)
			_, linked := pn.children[child]
			require.True(t, linked, "%s linked under its parent", p)
			require.NotEqual(t, kindEphemeral, pn.kind, "%s under an ephemeral", p)
		}
		for c := range n.children {
			cp := p + "/" + c
			if p == "/" {
				cp = "/" + c
			}
			require.NotNil(t, tr.nodes[cp], "child %s of %s", cp, p)
		}
		require.Equal(t, tr.kindOf(n.stat.EphemeralOwner), n.kind, p)
		switch n.kind {
		case kindEphemeral:
			if eph[n.stat.EphemeralOwner] == nil {
				eph[n.stat.EphemeralOwner] = map[string]struct{}{}
			}
			eph[n.stat.EphemeralOwner][p] = struct{}{}
		case kindContainer:
			containers[p] = struct{}{}
		case kindTTL:
			ttls[p] = struct{}{}
		}
	}
	require.Equal(t, size, tr.dataSize)
	require.Equal(t, eph, tr.ephemerals)
	require.Equal(t, containers, tr.containers)
	require.Equal(t, ttls, tr.ttls)
	require.Nil(t, tr.undo)
}

func snapshotBytes(t testing.TB, tr *Tree) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, tr.WriteSnapshot(&buf))
	return buf.Bytes()
}

// requireSameReads compares two trees through the read API only.
func requireSameReads(t *testing.T, a, b *Tree) {
	t.Helper()
	require.Equal(t, a.LastZxid(), b.LastZxid())
	require.Equal(t, a.NodeCount(), b.NodeCount())
	require.Equal(t, a.DataSize(), b.DataSize())
	require.Equal(t, a.EphemeralCount(), b.EphemeralCount())
	require.Equal(t, a.Sessions(), b.Sessions())
	require.Equal(t, a.Expirable(1<<62, 0), b.Expirable(1<<62, 0))
	super := []jute.ID{{Scheme: SchemeSuper}}
	var walk func(p string)
	walk = func(p string) {
		da, sa, ca := a.GetData(p, super)
		db, sb, cb := b.GetData(p, super)
		require.Equal(t, ca, cb, p)
		require.Equal(t, da, db, p)
		require.Equal(t, sa, sb, p)
		acla, _, _ := a.GetACL(p, super)
		aclb, _, _ := b.GetACL(p, super)
		require.Equal(t, acla, aclb, p)
		ka, _, _ := a.Children(p, super)
		kb, _, _ := b.Children(p, super)
		require.Equal(t, ka, kb, p)
		for _, k := range ka {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	for _, s := range a.Sessions() {
		require.Equal(t, a.SessionEphemerals(s.ID), b.SessionEphemerals(s.ID))
	}
}

func buildVariedTree(t *testing.T) *harness {
	h := newHarness(t, Options{ExtendedTypes: true})
	h.openSession(1, 30000)
	h.openSession(0x0200000000000002, 6000)
	h.mustCreate(1, "/a", nil, 0)
	h.mustCreate(1, "/a/b", []byte{}, 0)
	h.mustCreate(1, "/a/b/c", []byte("deep"), 0)
	h.mustCreate(1, "/a/s-", []byte("x"), jute.ModePersistentSequential)
	h.mustCreate(0x0200000000000002, "/a/e", []byte("ephemeral"), jute.ModeEphemeral)
	require.Equal(t, jute.OK, h.apply(1, jute.OpCreateContainer, nil, &jute.CreateRequest{Path: "/box", ACL: jute.WorldAnyone, Flags: jute.ModeContainer}).Err)
	require.Equal(t, jute.OK, h.apply(1, jute.OpCreateTTL, nil, &jute.CreateTTLRequest{Path: "/ttl", ACL: jute.WorldAnyone, Flags: jute.ModePersistentWithTTL, TTL: 60000}).Err)
	require.Equal(t, jute.OK, h.create(1, digestAuth("u", "p"), "/locked", []byte("s"), []jute.ACL{acl(jute.PermAll, "auth", ""), acl(jute.PermRead, "ip", "10.0.0.0/8")}, 0).Err)
	require.Equal(t, jute.OK, h.set(1, nil, "/a", []byte("v2"), -1).Err)
	require.Equal(t, jute.OK, h.del(1, nil, "/a/b/c", -1).Err)
	require.Equal(t, jute.OK, h.set(1, []jute.ID{{Scheme: SchemeSuper}}, "/zookeeper/config", []byte("server.1=x"), -1).Err)
	return h
}

func TestTreeSnapshotRoundTrip(t *testing.T) {
	h := buildVariedTree(t)
	first := snapshotBytes(t, h.tr)
	back, err := ReadSnapshot(bytes.NewReader(first), Options{ExtendedTypes: true})
	require.NoError(t, err)
	checkInvariants(t, back)
	require.Equal(t, first, snapshotBytes(t, back), "write -> read -> write gives the same bytes")
	requireSameReads(t, h.tr, back)

	// both trees keep evolving identically
	for _, tr := range []*Tree{h.tr, back} {
		e := &Entry{Zxid: h.zxid + 1, Time: h.now + 1, Session: 1, Type: jute.OpCreate2,
			Body: jute.Marshal(&jute.CreateRequest{Path: "/a/s-", ACL: jute.WorldAnyone, Flags: jute.ModePersistentSequential})}
		r := tr.Apply(e)
		require.Equal(t, jute.OK, r.Err)
		require.Equal(t, "/a/s-0000000003", r.Path)
		r = tr.Apply(&Entry{Zxid: h.zxid + 2, Time: h.now + 2, Session: 0x0200000000000002, Type: jute.OpCloseSession})
		require.Equal(t, []Event{ev(jute.EventNodeDeleted, "/a/e"), ev(jute.EventNodeChildrenChanged, "/a")}, bare(r.Events))
	}
	require.Equal(t, snapshotBytes(t, h.tr), snapshotBytes(t, back))
}

func TestTreeSnapshotRejectsDamage(t *testing.T) {
	h := buildVariedTree(t)
	good := snapshotBytes(t, h.tr)
	for i := 0; i < len(good); i += 7 {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x40
		_, err := ReadSnapshot(bytes.NewReader(bad), Options{})
		require.ErrorIs(t, err, ErrCorrupt, "flipped byte %d", i)
	}
	for _, n := range []int{0, 3, len(snapshotMagic), len(good) / 2, len(good) - 1} {
		_, err := ReadSnapshot(bytes.NewReader(good[:n]), Options{})
		require.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n)
	}
	// structurally wrong but correctly checksummed: a child before its parent
	var enc jute.Encoder
	enc.B = append(enc.B, snapshotMagic...)
	enc.Long(1)
	enc.Int(2)
	for _, p := range []string{"/", "/x/y"} {
		enc.String(p)
		enc.Buffer(nil)
		for i := 0; i < 4; i++ {
			enc.Long(0)
		}
		enc.Int(0)
		enc.Int(0)
		enc.Int(0)
		enc.Long(0)
		enc.Long(0)
		jute.EncodeACLs(&enc, nil)
	}
	enc.Int(0)
	_, err := ReadSnapshot(bytes.NewReader(withCRC(enc.B)), Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), `"/x/y" has no parent`)
}

func withCRC(body []byte) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
}

// randomEntries makes a seeded stream of entries that exercises every write
// op, failures included.
func randomEntries(seed int64, n int) []*Entry {
	rng := rand.New(rand.NewSource(seed))
	paths := []string{"/a", "/a/b", "/a/b/c", "/c", "/c/d", "/e", "/a/e", "/t", "/t/x"}
	sessions := []int64{1, 2, 3}
	auths := [][]jute.ID{nil, digestAuth("u", "p"), {{Scheme: "ip", ID: "10.0.0.1"}}, {{Scheme: SchemeSuper}}}
	acls := [][]jute.ACL{jute.WorldAnyone, {acl(jute.PermAll, "auth", "")}, {acl(jute.PermRead|jute.PermCreate, "ip", "10.0.0.0/8")}, nil}
	var out []*Entry
	zxid, now := int64(0), int64(1_000_000)
	pick := func(v []string) string { return v[rng.Intn(len(v))] }
	writeOp := func() (jute.Op, jute.Record) {
		p := pick(paths)
		switch rng.Intn(8) {
		case 0, 1:
			return jute.OpCreate, &jute.CreateRequest{Path: p, Data: []byte(p), ACL: acls[rng.Intn(len(acls))], Flags: int32(rng.Intn(5))}
		case 2:
			return jute.OpCreateContainer, &jute.CreateRequest{Path: p, ACL: jute.WorldAnyone, Flags: jute.ModeContainer}
		case 3:
			return jute.OpCreateTTL, &jute.CreateTTLRequest{Path: p, ACL: jute.WorldAnyone, Flags: jute.ModePersistentWithTTL, TTL: int64(rng.Intn(50))}
		case 4:
			return jute.OpDelete, &jute.DeleteRequest{Path: p, Version: int32(rng.Intn(3) - 1)}
		case 5:
			return jute.OpSetData, &jute.SetDataRequest{Path: p, Data: []byte(fmt.Sprint(rng.Intn(100))), Version: int32(rng.Intn(3) - 1)}
		case 6:
			return jute.OpCheck, &jute.CheckVersionRequest{Path: p, Version: int32(rng.Intn(3) - 1)}
		default:
			return jute.OpCreate2, &jute.CreateRequest{Path: p + "/s-", ACL: jute.WorldAnyone, Flags: jute.ModeEphemeralSequential}
		}
	}
	for len(out) < n {
		zxid++
		now += int64(rng.Intn(20))
		e := &Entry{Zxid: zxid, Time: now, Session: sessions[rng.Intn(len(sessions))], Cxid: int32(zxid), Auth: auths[rng.Intn(len(auths))]}
		switch r := rng.Intn(20); {
		case r == 0:
			var enc jute.Encoder
			enc.Int(int32(rng.Intn(30000)))
			enc.Buffer([]byte{byte(r)})
			e.Type, e.Body = jute.OpCreateSession, enc.B
		case r == 1:
			e.Type = jute.OpCloseSession
		case r == 2:
			e.Type, e.Body = jute.OpDeleteContainer, jute.Marshal(&jute.PathRequest{Path: pick(paths)})
		case r == 3:
			e.Type, e.Body = jute.OpSetACL, jute.Marshal(&jute.SetACLRequest{Path: pick(paths), ACL: acls[rng.Intn(len(acls))], Version: -1})
		case r <= 6:
			var req jute.MultiRequest
			for i := rng.Intn(4); i >= 0; i-- {
				op, rec := writeOp()
				req.Ops = append(req.Ops, jute.MultiOp{Type: op, Req: rec})
			}
			e.Type, e.Body = jute.OpMulti, jute.Marshal(&req)
		default:
			op, rec := writeOp()
			e.Type, e.Body = op, jute.Marshal(rec)
		}
		out = append(out, e)
	}
	return out
}

func TestTreeDeterminism(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			entries := randomEntries(seed, 600)
			opts := Options{ExtendedTypes: true}
			a, b := New(opts), New(opts)
			var mid []byte
			outcomes := map[jute.Code]int{}
			for i, e := range entries {
				ra := a.Apply(e)
				again, err := UnmarshalEntry(e.Marshal())
				require.NoError(t, err)
				rb := b.Apply(again)
				require.Equal(t, ra, rb, "entry %d (seed %d)", i, seed)
				outcomes[ra.Err]++
				if i%50 == 0 {
					checkInvariants(t, a)
				}
				if i == len(entries)/2 {
					mid = snapshotBytes(t, a)
				}
			}
			checkInvariants(t, a)
			require.Equal(t, snapshotBytes(t, a), snapshotBytes(t, b), "seed %d", seed)
			require.Greater(t, outcomes[jute.OK], 100, "the stream must mostly succeed: %v", outcomes)
			require.Greater(t, len(outcomes), 4, "and fail in several ways: %v", outcomes)

			// a server restored from the midpoint snapshot replays the rest to the same state
			c, err := ReadSnapshot(bytes.NewReader(mid), opts)
			require.NoError(t, err)
			for _, e := range entries[len(entries)/2+1:] {
				c.Apply(e)
			}
			checkInvariants(t, c)
			require.Equal(t, snapshotBytes(t, a), snapshotBytes(t, c), "seed %d", seed)
			requireSameReads(t, a, c)
		})
	}
}

func FuzzUnmarshalEntry(f *testing.F) {
	for _, e := range randomEntries(99, 30) {
		f.Add(e.Marshal())
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEntry(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		again, err := UnmarshalEntry(e.Marshal())
		require.NoError(t, err)
		require.Equal(t, e, again)
		// any decodable entry applies without panicking, to a tree where
		// its session exists and there is something to act on
		tr := New(Options{ExtendedTypes: true})
		if e.Zxid > 3 {
			var enc jute.Encoder
			enc.Int(30000)
			enc.Buffer(nil)
			tr.Apply(&Entry{Zxid: 1, Session: e.Session, Type: jute.OpCreateSession, Body: enc.B})
			tr.Apply(&Entry{Zxid: 2, Session: e.Session, Type: jute.OpCreate, Body: jute.Marshal(&jute.CreateRequest{Path: "/a", ACL: jute.WorldAnyone})})
			tr.Apply(&Entry{Zxid: 3, Session: e.Session, Type: jute.OpCreate, Body: jute.Marshal(&jute.CreateRequest{Path: "/a/e", ACL: jute.WorldAnyone, Flags: jute.ModeEphemeral})})
			before := snapshotBytes(t, tr)
			r := tr.Apply(e)
			checkInvariants(t, tr)
			if r.Err != jute.OK {
				require.Empty(t, r.Events)
				tr.lastZxid = 3
				require.Equal(t, before, snapshotBytes(t, tr), "a failed entry changes nothing")
			}
		}
	})
}

func FuzzReadSnapshot(f *testing.F) {
	tr := New(Options{ExtendedTypes: true})
	for _, e := range randomEntries(7, 200) {
		tr.Apply(e)
	}
	var buf bytes.Buffer
	if err := tr.WriteSnapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	var small bytes.Buffer
	if err := New(Options{}).WriteSnapshot(&small); err != nil {
		f.Fatal(err)
	}
	f.Add(small.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		read := func(b []byte) {
			got, err := ReadSnapshot(bytes.NewReader(b), Options{ExtendedTypes: true})
			if err != nil {
				require.ErrorIs(t, err, ErrCorrupt)
				return
			}
			checkInvariants(t, got)
			out := snapshotBytes(t, got)
			again, err := ReadSnapshot(bytes.NewReader(out), Options{ExtendedTypes: true})
			require.NoError(t, err)
			require.Equal(t, out, snapshotBytes(t, again))
			// what was read keeps working
			if z := got.LastZxid(); z < 1<<62 {
				for i, e := range randomEntries(int64(len(b)), 20) {
					e.Zxid = z + int64(i) + 1
					got.Apply(e)
				}
				for _, p := range got.Expirable(1<<62, 3) {
					got.Apply(&Entry{Zxid: got.LastZxid() + 1, Time: 1 << 62, Type: jute.OpDeleteContainer, Body: jute.Marshal(&jute.PathRequest{Path: p})})
				}
				checkInvariants(t, got)
			}
		}
		read(b)
		// most mutations die at the checksum; also try them with a fixed one
		if len(b) > 4 {
			read(withCRC(b[:len(b)-4]))
		}
	})
}

// FuzzTreeApplySequence drives seeded entry streams through a tree and
// checks the invariants, the snapshot round trip and replay from it.
func FuzzTreeApplySequence(f *testing.F) {
	f.Add(int64(1), uint8(50))
	f.Add(int64(42), uint8(255))
	f.Fuzz(func(t *testing.T, seed int64, n uint8) {
		entries := randomEntries(seed, int(n)+1)
		tr := New(Options{ExtendedTypes: true})
		for _, e := range entries {
			r := tr.Apply(e)
			if r.Err != jute.OK {
				require.Empty(t, r.Events)
			}
		}
		checkInvariants(t, tr)
		snap := snapshotBytes(t, tr)
		back, err := ReadSnapshot(bytes.NewReader(snap), Options{ExtendedTypes: true})
		require.NoError(t, err)
		checkInvariants(t, back)
		require.Equal(t, snap, snapshotBytes(t, back))
	})
}

// TestTreeCaptureIsTheStateWhenTaken: a capture written after the tree has
// moved on (data replaced, ACLs replaced, nodes deleted and created, a
// failed multi undone) is byte for byte the snapshot of the moment it was
// taken; so is one that reuses a released capture's array.
func TestTreeCaptureIsTheStateWhenTaken(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	for i := 0; i < 50; i++ {
		h.mustCreate(1, fmt.Sprintf("/n%02d", i), []byte(fmt.Sprintf("v%d", i)), 0)
	}
	mutate := func(round int) {
		for i := 0; i < 50; i += 3 {
			require.Equal(t, jute.OK, h.set(1, nil, fmt.Sprintf("/n%02d", i), []byte(fmt.Sprintf("round %d", round)), -1).Err)
		}
		perms := jute.PermRead | jute.PermAdmin
		if round%2 == 1 {
			perms = jute.PermAll
		}
		require.Equal(t, jute.OK, h.apply(1, jute.OpSetACL, nil, &jute.SetACLRequest{Path: "/n01", ACL: []jute.ACL{acl(perms, "world", "anyone")}, Version: -1}).Err)
		require.Equal(t, jute.OK, h.del(1, nil, fmt.Sprintf("/n%02d", 40+round), -1).Err)
		h.mustCreate(1, fmt.Sprintf("/new%d", round), []byte("fresh"), 0)
		h.apply(1, jute.OpMulti, nil, &jute.MultiRequest{Ops: []jute.MultiOp{
			{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: "/n02", Data: []byte("undone"), Version: -1}},
			{Type: jute.OpDelete, Req: &jute.DeleteRequest{Path: "/missing", Version: -1}},
		}})
	}
	for round := 0; round < 3; round++ {
		want := h.state()
		c := h.tr.Capture()
		mutate(round)
		saved := c.lastZxid
		c.lastZxid = 0 // as state() writes it
		var got bytes.Buffer
		_, err := c.WriteTo(&got)
		require.NoError(t, err)
		c.lastZxid = saved
		c.Release()
		require.Equal(t, want, got.Bytes(), "round %d: the capture changed with the tree", round)
		require.NotEqual(t, want, h.state(), "round %d: the tree did move on", round)
	}
}
