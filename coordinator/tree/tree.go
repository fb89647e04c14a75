package tree

import (
	"fmt"
	"math"
	"sync/atomic"

	"kzoo/coordinator/jute"
)

// Event is a raw change; the server maps it to watches.
type Event struct {
	Type int32 // jute.EventNodeCreated, EventNodeDeleted, EventNodeDataChanged, EventNodeChildrenChanged
	Path string
	// ACL is the ACL of Path's node when the change happened (the deleted
	// node's, for NodeDeleted): ZooKeeper 3.8 notifies only watchers whose
	// session may READ it (see CanRead).
	ACL []jute.ACL
}

// CanRead reports whether a session with auth may READ a node with acl:
// the check watch delivery makes.
func CanRead(acl []jute.ACL, auth []jute.ID) bool {
	return checkACL(acl, jute.PermRead, auth) == jute.OK
}

// Result is what applying one entry produced.
type Result struct {
	Err    jute.Code   // the reply header's err
	Resp   jute.Record // the reply body (nil when none)
	Events []Event     // in the order they happened; none when the write failed
	Path   string      // for create: the created path (sequential suffix applied)
}

// Options are the ensemble-wide settings that change what Apply accepts.
// Every server of an ensemble must use the same Options.
type Options struct {
	// ExtendedTypes is zookeeper.extendedTypesEnabled: createTTL and the
	// TTL create modes are allowed, and ephemeral owners whose top byte is
	// 0xff are read as TTL encodings.
	ExtendedTypes bool
	// SuperDigest is zookeeper.DigestAuthenticationProvider.superDigest
	// ("super:base64"). The tree itself trusts {"super",""} in an entry's
	// identities; IsSuperDigest helps the server decide to add it.
	SuperDigest string
}

// IsSuperDigest reports whether a digest identity ("user:hash", as
// DigestID makes) is the configured super user.
func (o Options) IsSuperDigest(id string) bool {
	return o.SuperDigest != "" && id == o.SuperDigest
}

// SessionInfo is one row of the session table.
type SessionInfo struct {
	ID        int64
	TimeoutMs int32
	Passwd    []byte
}

// Ephemeral owner encodings (ZooKeeper's EphemeralType). They are what the
// tree stores and snapshots; clients are served ephemeralOwner 0 for
// containers and TTL nodes, as DataNode.copyStat does.
const (
	// ContainerOwner is EphemeralType.CONTAINER_EPHEMERAL_OWNER.
	ContainerOwner int64 = math.MinInt64
	// TTLMax is the largest TTL in ms (EphemeralType.TTL.maxValue()).
	TTLMax int64 = 0x000000ffffffffff

	extendedMask     = -0x0100000000000000 // 0xff00000000000000
	reservedBitsMask = 0x00ffff0000000000
)

// TTLOwner is EphemeralType.TTL.toEphemeralOwner: the ephemeralOwner a TTL
// node is stored with. ttl must be in (0, TTLMax].
func TTLOwner(ttl int64) int64 { return extendedMask | ttl }

type kind uint8

const (
	kindPersistent kind = iota
	kindEphemeral
	kindContainer
	kindTTL
)

// kindOf is EphemeralType.get. An owner whose top byte is 0xff but whose
// reserved bits name no known feature makes ZooKeeper throw; here it is an
// ordinary session owner.
func (t *Tree) kindOf(owner int64) kind {
	if t.opts.ExtendedTypes && owner&extendedMask == extendedMask && owner&reservedBitsMask == 0 {
		return kindTTL
	}
	switch owner {
	case ContainerOwner:
		return kindContainer
	case 0:
		return kindPersistent
	}
	return kindEphemeral
}

// node is one znode. stat holds ZooKeeper's StatPersisted fields as
// DataTree stores them: cversion counts child creates only (it is the
// sequential counter) and ephemeralOwner holds the container and TTL
// encodings. fullStat translates to what clients are served.
type node struct {
	data     []byte
	acl      []jute.ACL // never mutated in place: replaced on setACL
	stat     jute.Stat
	children map[string]struct{}
	kind     kind
}

// fullStat is DataNode.copyStat: dataLength and numChildren derived, the
// stored create count turned into the count of child changes (every create
// has had its delete except for the children still present: 2*creates -
// numChildren, so a fresh root shows -1), and ephemeralOwner shown only for
// session ephemerals (0 for containers and TTL nodes).
func (n *node) fullStat() jute.Stat {
	s := n.stat
	s.DataLength = int32(len(n.data))
	s.NumChildren = int32(len(n.children))
	s.Cversion = n.stat.Cversion*2 - s.NumChildren
	if n.kind != kindEphemeral {
		s.EphemeralOwner = 0
	}
	return s
}

type session struct {
	timeoutMs int32
	passwd    []byte
}

// Tree is the data tree and session table. The zero value is not usable;
// call New or ReadSnapshot.
type Tree struct {
	opts       Options
	nodes      map[string]*node
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	sessions   map[int64]*session
	lastZxid   int64
	dataSize   int64 // sum of len(path)+len(data) over nodes

	// spare is the node array of the last Capture, handed back by its
	// Release (from the goroutine that wrote it out) for the next one.
	spare atomic.Pointer[[]capNode]

	// undo is non-nil while a multi runs: every mutation appends its
	// inverse so a failed multi leaves no trace.
	undo []func()
	// events collects the current entry's events.
	events []Event
}

var (
	openACL   = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: SchemeWorld, ID: "anyone"}}}
	readACL   = []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: SchemeWorld, ID: "anyone"}}}
	emptyData = []byte{}
)

// New returns a tree holding what a fresh ZooKeeper 3.8 DataTree holds:
// "/", "/zookeeper", "/zookeeper/quota" (world:anyone all, zeroed stats)
// and "/zookeeper/config" (world:anyone read, aversion -1, as
// DataTree.addConfigNode leaves it).
func New(opts Options) *Tree {
	t := newEmpty(opts)
	t.putNode("/", &node{data: emptyData, acl: openACL, children: map[string]struct{}{}})
	t.putNode(procPath, &node{data: emptyData, acl: openACL, children: map[string]struct{}{}})
	t.putNode(quotaPath, &node{data: emptyData, acl: openACL, children: map[string]struct{}{}})
	t.putNode(configPath, &node{data: emptyData, acl: readACL, stat: jute.Stat{Aversion: -1}, children: map[string]struct{}{}})
	return t
}

func newEmpty(opts Options) *Tree {
	return &Tree{
		opts:       opts,
		nodes:      map[string]*node{},
		ephemerals: map[int64]map[string]struct{}{},
		containers: map[string]struct{}{},
		ttls:       map[string]struct{}{},
		sessions:   map[int64]*session{},
	}
}

// putNode links n under its parent and indexes it, touching no stat.
func (t *Tree) putNode(path string, n *node) {
	if path != "/" {
		parent, child, _ := splitParent(path)
		t.nodes[lookupPath(parent)].children[child] = struct{}{}
	}
	t.nodes[path] = n
	t.dataSize += int64(len(path) + len(n.data))
	t.index(path, n)
}

func (t *Tree) index(path string, n *node) {
	switch n.kind {
	case kindEphemeral:
		owner := n.stat.EphemeralOwner
		set := t.ephemerals[owner]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[owner] = set
		}
		set[path] = struct{}{}
	case kindContainer:
		t.containers[path] = struct{}{}
	case kindTTL:
		t.ttls[path] = struct{}{}
	}
}

func (t *Tree) unindex(path string, n *node) {
	switch n.kind {
	case kindEphemeral:
		owner := n.stat.EphemeralOwner
		if set := t.ephemerals[owner]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.ephemerals, owner)
			}
		}
	case kindContainer:
		delete(t.containers, path)
	case kindTTL:
		delete(t.ttls, path)
	}
}

// LastZxid is the zxid of the last entry applied (0 for a new tree).
func (t *Tree) LastZxid() int64 { return t.lastZxid }

// Apply applies one entry and returns the client's answer and the change
// events. It panics if e.Zxid <= LastZxid(): callers skip entries already
// applied when they replay a log over a snapshot.
func (t *Tree) Apply(e *Entry) Result {
	if e.Zxid <= t.lastZxid {
		panic(fmt.Sprintf("tree: apply zxid 0x%x at or below last applied 0x%x", e.Zxid, t.lastZxid))
	}
	t.lastZxid = e.Zxid
	t.events = nil
	var r Result
	switch e.Type {
	case jute.OpMulti:
		r = t.applyMulti(e)
	case jute.OpCreateSession:
		r = t.applyCreateSession(e)
	case jute.OpCloseSession:
		r = t.applyCloseSession(e)
	case jute.OpDeleteContainer:
		r = t.applyDeleteContainer(e)
	default:
		rec, err := requestRecord(e.Type)
		if err != jute.OK {
			r = Result{Err: err}
			break
		}
		if d := jute.Unmarshal(e.Body, rec); d.Err != nil {
			r = Result{Err: jute.ErrMarshallingError}
			break
		}
		r = t.applyOp(e, e.Type, rec)
	}
	if r.Err == jute.OK {
		r.Events = t.events
	}
	t.events = nil
	return r
}

// requestRecord returns an empty request record for a write op that can
// appear alone or inside a multi.
func requestRecord(op jute.Op) (jute.Record, jute.Code) {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
		return &jute.CreateRequest{}, jute.OK
	case jute.OpCreateTTL:
		return &jute.CreateTTLRequest{}, jute.OK
	case jute.OpDelete, jute.OpCheck:
		return &jute.DeleteRequest{}, jute.OK
	case jute.OpSetData:
		return &jute.SetDataRequest{}, jute.OK
	case jute.OpSetACL:
		return &jute.SetACLRequest{}, jute.OK
	}
	return nil, jute.ErrUnimplemented
}

// applyOp validates and applies one decoded write (alone or as part of a
// multi). On error nothing has changed.
func (t *Tree) applyOp(e *Entry, op jute.Op, rec jute.Record) Result {
	switch r := rec.(type) {
	case *jute.CreateRequest:
		if op == jute.OpCreate || op == jute.OpCreate2 || op == jute.OpCreateContainer {
			return t.applyCreate(e, op, r.Path, r.Data, r.ACL, r.Flags, -1)
		}
	case *jute.CreateTTLRequest:
		if op == jute.OpCreateTTL {
			return t.applyCreate(e, op, r.Path, r.Data, r.ACL, r.Flags, r.TTL)
		}
	case *jute.DeleteRequest:
		switch op {
		case jute.OpDelete:
			return t.applyDelete(e, r)
		case jute.OpCheck:
			return t.applyCheck(e, r)
		}
	case *jute.SetDataRequest:
		if op == jute.OpSetData {
			return t.applySetData(e, r)
		}
	case *jute.SetACLRequest:
		if op == jute.OpSetACL {
			return t.applySetACL(e, r)
		}
	}
	// a record that does not belong to its op: nothing a client could send
	return Result{Err: jute.ErrMarshallingError}
}

// checkSession is SessionTracker.checkSession as seen from the replicated
// table: a write from a session the tree does not hold (never created, or
// already closed) is SessionExpired.
func (t *Tree) checkSession(id int64) jute.Code {
	if _, ok := t.sessions[id]; !ok {
		return jute.ErrSessionExpired
	}
	return jute.OK
}

func (t *Tree) emit(typ int32, path string) {
	var acl []jute.ACL
	if n := t.nodes[path]; n != nil {
		acl = n.acl
	}
	t.events = append(t.events, Event{Type: typ, Path: path, ACL: acl})
}

func (t *Tree) onUndo(f func()) {
	if t.undo != nil {
		t.undo = append(t.undo, f)
	}
}

// addNode creates path under parent at zxid: the parent's cversion is
// bumped and its pzxid set, as DataTree.createNode does.
func (t *Tree) addNode(path, parentPath, child string, n *node, zxid int64) {
	parent := t.nodes[parentPath]
	oldCversion, oldPzxid := parent.stat.Cversion, parent.stat.Pzxid
	parent.stat.Cversion++
	parent.stat.Pzxid = zxid
	parent.children[child] = struct{}{}
	t.nodes[path] = n
	t.dataSize += int64(len(path) + len(n.data))
	t.index(path, n)
	t.emit(jute.EventNodeCreated, path)
	t.emit(jute.EventNodeChildrenChanged, parentPath)
	t.onUndo(func() {
		t.unindex(path, n)
		t.dataSize -= int64(len(path) + len(n.data))
		delete(t.nodes, path)
		delete(parent.children, child)
		parent.stat.Cversion, parent.stat.Pzxid = oldCversion, oldPzxid
	})
}

// removeNode deletes a childless path at zxid: the parent's pzxid moves
// forward and its stored create count stays, as DataTree.deleteNode does in
// 3.8 (the served cversion still goes up by one: see fullStat).
func (t *Tree) removeNode(path string, zxid int64) {
	parentPath, child, _ := splitParent(path)
	parentPath = lookupPath(parentPath)
	parent := t.nodes[parentPath]
	n := t.nodes[path]
	oldPzxid := parent.stat.Pzxid
	if zxid > parent.stat.Pzxid {
		parent.stat.Pzxid = zxid
	}
	delete(parent.children, child)
	t.emit(jute.EventNodeDeleted, path) // while the node's ACL can still be read
	delete(t.nodes, path)
	t.dataSize -= int64(len(path) + len(n.data))
	t.unindex(path, n)
	t.emit(jute.EventNodeChildrenChanged, parentPath)
	t.onUndo(func() {
		t.index(path, n)
		t.dataSize += int64(len(path) + len(n.data))
		t.nodes[path] = n
		parent.children[child] = struct{}{}
		parent.stat.Pzxid = oldPzxid
	})
}

// NodeCount is ZooKeeper's zk_znode_count: the DataTree's node map, where
// the root is held twice (as "" and "/"), so a new tree counts 5.
func (t *Tree) NodeCount() int { return len(t.nodes) + 1 }

// DataSize is ZooKeeper's zk_approximate_data_size: the sum of path and
// data lengths over the node map (the root's alias "" adds the root's data
// once more).
func (t *Tree) DataSize() int64 {
	size := t.dataSize
	if root := t.nodes["/"]; root != nil {
		size += int64(len(root.data))
	}
	return size
}

// EphemeralCount is the number of session-owned ephemeral nodes.
func (t *Tree) EphemeralCount() int {
	n := 0
	for _, set := range t.ephemerals {
		n += len(set)
	}
	return n
}
