package tree

// delete (2).
//
// Behavior, in PrepRequestProcessor's order: a session the tree does not
// hold is SessionExpired; a path without a slash, with a NUL, or one of the
// special paths ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config")
// is BadArguments (the path is otherwise not validated, so a malformed one
// is simply NoNode); a missing parent is NoNode; no DELETE permission on the
// parent is NoAuth; a missing node NoNode; a version other than -1 that does
// not match BadVersion; children NotEmpty. The parent's pzxid moves to this
// zxid; its stored create count does not change (ZooKeeper 3.8's
// DataTree.deleteNode), so its served cversion goes up by one.

import "kzoo/coordinator/jute"

func (t *Tree) applyDelete(e *Entry, r *jute.DeleteRequest) Result {
	if code := t.checkSession(e.Session); code != jute.OK {
		return Result{Err: code}
	}
	parentPath, _, ok := splitParent(r.Path)
	if !ok || isSpecialPath(r.Path) {
		return Result{Err: jute.ErrBadArguments}
	}
	parent := t.nodes[lookupPath(parentPath)]
	if parent == nil {
		return Result{Err: jute.ErrNoNode}
	}
	if code := checkACL(parent.acl, jute.PermDelete, e.Auth); code != jute.OK {
		return Result{Err: code}
	}
	n := t.nodes[r.Path]
	if n == nil {
		return Result{Err: jute.ErrNoNode}
	}
	if r.Version != -1 && r.Version != n.stat.Version {
		return Result{Err: jute.ErrBadVersion}
	}
	if len(n.children) > 0 {
		return Result{Err: jute.ErrNotEmpty}
	}
	t.removeNode(r.Path, e.Zxid)
	return Result{Path: r.Path}
}
