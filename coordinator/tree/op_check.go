package tree

// check (13), normally inside a multi.
//
// Behavior, in PrepRequestProcessor's order: a session the tree does not
// hold is SessionExpired; an invalid path BadArguments; a missing node
// NoNode; no READ permission NoAuth; a version other than -1 that does not
// match BadVersion. Nothing changes. Alone, the answer is the node's Stat;
// inside a multi the result carries no body.

import "kzoo/coordinator/jute"

func (t *Tree) applyCheck(e *Entry, r *jute.DeleteRequest) Result {
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
	if code := checkACL(n.acl, jute.PermRead, e.Auth); code != jute.OK {
		return Result{Err: code}
	}
	if r.Version != -1 && r.Version != n.stat.Version {
		return Result{Err: jute.ErrBadVersion}
	}
	return Result{Path: r.Path, Resp: &jute.StatResponse{Stat: n.fullStat()}}
}
