package tree

// setACL (7).
//
// Behavior, in PrepRequestProcessor's order: a session the tree does not
// hold is SessionExpired; an invalid path BadArguments; a bad ACL InvalidACL
// ("auth" expands to the session's digest identities); a missing node
// NoNode; no ADMIN permission NoAuth; a version other than -1 that does not
// match the aversion BadVersion. The aversion goes up by one; no event
// fires (ZooKeeper has no ACL watch). The answer is the new Stat.

import "kzoo/coordinator/jute"

func (t *Tree) applySetACL(e *Entry, r *jute.SetACLRequest) Result {
	if code := t.checkSession(e.Session); code != jute.OK {
		return Result{Err: code}
	}
	if !validPath(r.Path) {
		return Result{Err: jute.ErrBadArguments}
	}
	fixed, code := fixupACL(r.ACL, e.Auth)
	if code != jute.OK {
		return Result{Err: code}
	}
	n := t.nodes[r.Path]
	if n == nil {
		return Result{Err: jute.ErrNoNode}
	}
	if code := checkACL(n.acl, jute.PermAdmin, e.Auth); code != jute.OK {
		return Result{Err: code}
	}
	if r.Version != -1 && r.Version != n.stat.Aversion {
		return Result{Err: jute.ErrBadVersion}
	}
	oldACL, oldAversion := n.acl, n.stat.Aversion
	n.acl = fixed
	n.stat.Aversion++
	t.onUndo(func() { n.acl, n.stat.Aversion = oldACL, oldAversion })
	return Result{Path: r.Path, Resp: &jute.StatResponse{Stat: n.fullStat()}}
}
