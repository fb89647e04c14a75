package tree

// deleteContainer (20), proposed by the leader for what Expirable returns.
//
// Behavior: the body is a PathRequest. A path without a slash, with a NUL,
// or a special path is BadArguments; a missing node NoNode; a node with
// children NotEmpty. The node must still be expirable at the entry's time
// (a container whose cversion is above 0, or a TTL node whose ttl has
// passed since its mtime); otherwise the entry is a no-op BadVersion (the
// code ZooKeeper uses for a node that is not of a deletable type). No
// session or ACL check: this is the server's own housekeeping.

import "kzoo/coordinator/jute"

func (t *Tree) applyDeleteContainer(e *Entry) Result {
	var r jute.PathRequest
	if d := jute.Unmarshal(e.Body, &r); d.Err != nil {
		return Result{Err: jute.ErrMarshallingError}
	}
	if _, _, ok := splitParent(r.Path); !ok || isSpecialPath(r.Path) {
		return Result{Err: jute.ErrBadArguments}
	}
	n := t.nodes[r.Path]
	if n == nil {
		return Result{Err: jute.ErrNoNode}
	}
	if len(n.children) > 0 {
		return Result{Err: jute.ErrNotEmpty}
	}
	if !expired(n, e.Time) {
		return Result{Err: jute.ErrBadVersion}
	}
	t.removeNode(r.Path, e.Zxid)
	return Result{Path: r.Path}
}

// expired is ContainerManager.getCandidates' condition for a childless node.
func expired(n *node, nowMs int64) bool {
	switch n.kind {
	case kindContainer:
		return n.stat.Cversion > 0
	case kindTTL:
		ttl := n.stat.EphemeralOwner & TTLMax
		return ttl != 0 && nowMs-n.stat.Mtime > ttl
	}
	return false
}
