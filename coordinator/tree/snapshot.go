package tree

// Snapshot format (bytes only; coordinator/wal owns the files):
//
//	magic    "KZTREE" 0x00 0x01
//	lastZxid Long
//	nodes    Int count, then per node in ascending path order ("/" first):
//	         String path, Buffer data (-1 for null), Long czxid, mzxid,
//	         ctime, mtime, Int version, cversion, aversion,
//	         Long ephemeralOwner, Long pzxid, ACL vector
//	sessions Int count, then per session in ascending id order:
//	         Long id, Int timeoutMs, Buffer passwd
//	crc      4 bytes, big-endian CRC-32C of everything before it
//
// Child sets, data size and the ephemeral/container/TTL indexes are
// derived on read, so equal trees write equal bytes.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sort"

	"kzoo/coordinator/jute"
)

var snapshotMagic = []byte("KZTREE\x00\x01")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// minNodeBytes is the smallest encoding of one node: empty path and data,
// the stat fields and an empty ACL vector.
const minNodeBytes = 4 + 4 + 8*6 + 4*3 + 4

// minSessionBytes is the smallest encoding of one session.
const minSessionBytes = 8 + 4 + 4

// WriteSnapshot writes the whole state: nodes with their stats and ACLs,
// sessions, and the last applied zxid.
func (t *Tree) WriteSnapshot(w io.Writer) error {
	_, err := t.Capture().WriteTo(w)
	return err
}

// Capture is the tree's state at one zxid, not yet encoded or put in
// order. Capturing is one pass over the nodes that copies each one's stat
// and takes its path, data and ACL by reference (a node's data and ACL are
// replaced, never changed in place, so the references stay as they were),
// so the server can take it where applies must wait and leave sorting,
// encoding and writing (WriteTo) to another goroutine; the tree may change
// meanwhile.
type Capture struct {
	tree     *Tree
	lastZxid int64
	nodes    []capNode // unordered
	sessions []byte
}

type capNode struct {
	path string
	data []byte
	acl  []jute.ACL
	stat jute.Stat
}

// Capture takes the state as of now. It does not mutate the tree.
func (t *Tree) Capture() *Capture {
	c := &Capture{tree: t, lastZxid: t.lastZxid}
	// The last capture's array, already paged in, serves when it is large
	// enough.
	if p := t.spare.Swap(nil); p != nil && cap(*p) >= len(t.nodes) {
		c.nodes = (*p)[:0]
	} else {
		c.nodes = make([]capNode, 0, len(t.nodes))
	}
	for p, n := range t.nodes {
		c.nodes = append(c.nodes, capNode{path: p, data: n.data, acl: n.acl, stat: n.stat})
	}
	var se jute.Encoder
	sessions := t.Sessions()
	se.Int(int32(len(sessions)))
	for _, s := range sessions {
		se.Long(s.ID)
		se.Int(s.TimeoutMs)
		se.Buffer(s.Passwd)
	}
	c.sessions = se.B
	return c
}

// Release hands the capture's array back to its tree for the next
// Capture; the capture must not be used afterwards. Any goroutine may call
// it once WriteTo has returned.
func (c *Capture) Release() {
	nodes := c.nodes
	c.nodes, c.sessions = nil, nil
	if nodes != nil {
		clear(nodes) // drop the references to data the tree may have let go
		c.tree.spare.Store(&nodes)
	}
}

// Zxid is the last zxid the capture holds.
func (c *Capture) Zxid() int64 { return c.lastZxid }

// WriteTo writes the snapshot format: nodes in ascending path order, then
// sessions, then the CRC.
func (c *Capture) WriteTo(w io.Writer) (int64, error) {
	sort.Slice(c.nodes, func(i, j int) bool { return c.nodes[i].path < c.nodes[j].path })
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(w, crc)
	var total int64
	enc := jute.Encoder{B: make([]byte, 0, 64<<10)}
	flush := func(force bool) error {
		if !force && len(enc.B) < 60<<10 {
			return nil
		}
		n, err := out.Write(enc.B)
		total += int64(n)
		if err != nil {
			return fmt.Errorf("tree: write snapshot at zxid 0x%x: %w", c.lastZxid, err)
		}
		enc.B = enc.B[:0]
		return nil
	}
	enc.B = append(enc.B, snapshotMagic...)
	enc.Long(c.lastZxid)
	enc.Int(int32(len(c.nodes)))
	for i := range c.nodes {
		n := &c.nodes[i]
		enc.String(n.path)
		enc.Buffer(n.data)
		s := &n.stat
		enc.Long(s.Czxid)
		enc.Long(s.Mzxid)
		enc.Long(s.Ctime)
		enc.Long(s.Mtime)
		enc.Int(s.Version)
		enc.Int(s.Cversion)
		enc.Int(s.Aversion)
		enc.Long(s.EphemeralOwner)
		enc.Long(s.Pzxid)
		jute.EncodeACLs(&enc, n.acl)
		if err := flush(false); err != nil {
			return total, err
		}
	}
	enc.B = append(enc.B, c.sessions...)
	if err := flush(true); err != nil {
		return total, err
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	n, err := w.Write(sum[:])
	total += int64(n)
	if err != nil {
		return total, fmt.Errorf("tree: write snapshot at zxid 0x%x: %w", c.lastZxid, err)
	}
	return total, nil
}

// ReadSnapshot reads what WriteSnapshot wrote. It never panics: a bad
// checksum, a truncated or malformed record, a path out of order, a node
// without its parent or a duplicate session is an error wrapping
// ErrCorrupt that names what is wrong.
func ReadSnapshot(r io.Reader, opts Options) (*Tree, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("tree: read snapshot: %w", err)
	}
	if len(b) < len(snapshotMagic)+4 || !bytes.Equal(b[:len(snapshotMagic)], snapshotMagic) {
		return nil, fmt.Errorf("%w: snapshot: bad magic", ErrCorrupt)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: snapshot: crc 0x%08x, want 0x%08x", ErrCorrupt, got, sum)
	}
	d := jute.NewDecoder(body[len(snapshotMagic):])
	t := newEmpty(opts)
	t.lastZxid = d.Long()

	count := d.Int()
	if d.Err == nil && (count < 1 || int(count) > d.Remaining()/minNodeBytes) {
		return nil, fmt.Errorf("%w: snapshot: %d nodes in %d bytes", ErrCorrupt, count, d.Remaining())
	}
	prev := ""
	for i := 0; i < int(count) && d.Err == nil; i++ {
		p := d.String()
		n := &node{data: d.Buffer(), children: map[string]struct{}{}}
		s := &n.stat
		s.Czxid = d.Long()
		s.Mzxid = d.Long()
		s.Ctime = d.Long()
		s.Mtime = d.Long()
		s.Version = d.Int()
		s.Cversion = d.Int()
		s.Aversion = d.Int()
		s.EphemeralOwner = d.Long()
		s.Pzxid = d.Long()
		n.acl = jute.DecodeACLs(d)
		if d.Err != nil {
			break
		}
		if len(n.acl) == 1 && n.acl[0] == openACL[0] {
			n.acl = openACL
		}
		if i == 0 {
			if p != "/" {
				return nil, fmt.Errorf("%w: snapshot: first node %q, want \"/\"", ErrCorrupt, p)
			}
		} else {
			if p <= prev {
				return nil, fmt.Errorf("%w: snapshot: node %q after %q is out of order", ErrCorrupt, p, prev)
			}
			if !validPath(p) {
				return nil, fmt.Errorf("%w: snapshot: invalid node path %q", ErrCorrupt, p)
			}
			parent, _, _ := splitParent(p)
			pn := t.nodes[lookupPath(parent)]
			if pn == nil {
				return nil, fmt.Errorf("%w: snapshot: node %q has no parent", ErrCorrupt, p)
			}
			if pn.kind == kindEphemeral {
				return nil, fmt.Errorf("%w: snapshot: node %q is under an ephemeral", ErrCorrupt, p)
			}
		}
		n.kind = t.kindOf(s.EphemeralOwner)
		t.putNode(p, n)
		prev = p
	}

	scount := d.Int()
	if d.Err == nil && (scount < 0 || int(scount) > d.Remaining()/minSessionBytes) {
		return nil, fmt.Errorf("%w: snapshot: %d sessions in %d bytes", ErrCorrupt, scount, d.Remaining())
	}
	for i := 0; i < int(scount) && d.Err == nil; i++ {
		id := d.Long()
		s := &session{timeoutMs: d.Int(), passwd: d.Buffer()}
		if d.Err != nil {
			break
		}
		if _, dup := t.sessions[id]; dup {
			return nil, fmt.Errorf("%w: snapshot: session 0x%x twice", ErrCorrupt, id)
		}
		t.sessions[id] = s
	}
	if d.Err != nil {
		return nil, fmt.Errorf("%w: snapshot: %v", ErrCorrupt, d.Err)
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("%w: snapshot: %d trailing bytes", ErrCorrupt, d.Remaining())
	}
	return t, nil
}
