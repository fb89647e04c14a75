package tree

// setData (5).
//
// Behavior, in PrepRequestProcessor's order: a session the tree does not
// hold is SessionExpired; an invalid path BadArguments; a missing node
// NoNode; no WRITE permission NoAuth; a version other than -1 that does not
// match BadVersion. The node's version goes up by one (wrapping as Java's
// int does), mtime and mzxid become the entry's. The answer is the new Stat.

import "kzoo/coordinator/jute"

func (t *Tree) applySetData(e *Entry, r *jute.SetDataRequest) Result {
	if code := t.checkSession(e.Session); code != jute.OK {
		return Result{Err: code}
	}
	if !validPath(r.Path) {
		return Result{Err: jute.ErrBadArguments}
	}
	n := t.nodes[r.Path]
	if n == nil {
		return Result{Err: jute.ErrNoNode}
	}
	if code := checkACL(n.acl, jute.PermWrite, e.Auth); code != jute.OK {
		return Result{Err: code}
	}
	if r.Version != -1 && r.Version != n.stat.Version {
		return Result{Err: jute.ErrBadVersion}
	}
	oldData, oldStat := n.data, n.stat
	n.data = r.Data
	n.stat.Version++
	n.stat.Mtime = e.Time
	n.stat.Mzxid = e.Zxid
	t.dataSize += int64(len(n.data) - len(oldData))
	t.onUndo(func() {
		t.dataSize -= int64(len(n.data) - len(oldData))
		n.data, n.stat = oldData, oldStat
	})
	t.emit(jute.EventNodeDataChanged, r.Path)
	return Result{Path: r.Path, Resp: &jute.StatResponse{Stat: n.fullStat()}}
}
