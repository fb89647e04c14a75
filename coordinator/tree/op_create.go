package tree

// create (1), create2 (15), createContainer (19), createTTL (21).
//
// Behavior, in PrepRequestProcessor.pRequest2TxnCreate's order:
//   - flags outside 0..6 are BadArguments;
//   - a TTL mode while extended types are off is Unimplemented; a TTL mode
//     without a ttl in (0, TTLMax], or createTTL with a non-TTL mode, is
//     BadArguments;
//   - a session the tree does not hold is SessionExpired;
//   - a path without a slash or with a NUL is BadArguments;
//   - a bad ACL is InvalidACL; a missing parent NoNode; no CREATE permission
//     on the parent NoAuth;
//   - the sequential suffix is %010d of the parent's stored cversion (the
//     number of children ever created under it), then the full path is validated
//     (BadArguments);
//   - an existing node is NodeExists; a session-ephemeral parent
//     NoChildrenForEphemerals.
//
// The node's ephemeralOwner follows the op, as DataTree does: createContainer
// always makes a container and createTTL a TTL node whatever the flags say,
// while create and create2 make an ephemeral for the ephemeral modes and a
// persistent node otherwise (the container flag on a plain create makes a
// persistent node in ZooKeeper 3.8, and so it does here).

import (
	"fmt"

	"kzoo/coordinator/jute"
)

func modeSequential(flags int32) bool {
	return flags == jute.ModePersistentSequential || flags == jute.ModeEphemeralSequential ||
		flags == jute.ModePersistentSequentialWithTTL
}

func modeEphemeral(flags int32) bool {
	return flags == jute.ModeEphemeral || flags == jute.ModeEphemeralSequential
}

func modeTTL(flags int32) bool {
	return flags == jute.ModePersistentWithTTL || flags == jute.ModePersistentSequentialWithTTL
}

func (t *Tree) applyCreate(e *Entry, op jute.Op, path string, data []byte, acl []jute.ACL, flags int32, ttl int64) Result {
	if flags < jute.ModePersistent || flags > jute.ModePersistentSequentialWithTTL {
		return Result{Err: jute.ErrBadArguments}
	}
	if modeTTL(flags) {
		if !t.opts.ExtendedTypes {
			return Result{Err: jute.ErrUnimplemented}
		}
		if ttl <= 0 || ttl > TTLMax {
			return Result{Err: jute.ErrBadArguments}
		}
	} else if ttl >= 0 || op == jute.OpCreateTTL {
		return Result{Err: jute.ErrBadArguments}
	}
	if code := t.checkSession(e.Session); code != jute.OK {
		return Result{Err: code}
	}
	parentPath, _, ok := splitParent(path)
	if !ok {
		return Result{Err: jute.ErrBadArguments}
	}
	parentPath = lookupPath(parentPath)
	fixed, code := fixupACL(acl, e.Auth)
	if code != jute.OK {
		return Result{Err: code}
	}
	parent := t.nodes[parentPath]
	if parent == nil {
		return Result{Err: jute.ErrNoNode}
	}
	if code := checkACL(parent.acl, jute.PermCreate, e.Auth); code != jute.OK {
		return Result{Err: code}
	}
	if modeSequential(flags) {
		path += fmt.Sprintf("%010d", parent.stat.Cversion)
	}
	if !validPath(path) {
		return Result{Err: jute.ErrBadArguments}
	}
	if _, exists := t.nodes[path]; exists {
		return Result{Err: jute.ErrNodeExists}
	}
	if parent.kind == kindEphemeral {
		return Result{Err: jute.ErrNoChildrenForEphemerals}
	}

	var owner int64
	switch {
	case op == jute.OpCreateContainer:
		owner = ContainerOwner
	case op == jute.OpCreateTTL:
		owner = TTLOwner(ttl)
	case modeEphemeral(flags):
		owner = e.Session
	}
	n := &node{
		data: data,
		acl:  fixed,
		stat: jute.Stat{
			Czxid: e.Zxid, Mzxid: e.Zxid, Pzxid: e.Zxid,
			Ctime: e.Time, Mtime: e.Time,
			EphemeralOwner: owner,
		},
		children: map[string]struct{}{},
		kind:     t.kindOf(owner),
	}
	_, child, _ := splitParent(path)
	t.addNode(path, parentPath, child, n, e.Zxid)
	r := Result{Path: path}
	if op == jute.OpCreate {
		r.Resp = &jute.CreateResponse{Path: path}
	} else {
		r.Resp = &jute.Create2Response{Path: path, Stat: n.fullStat()}
	}
	return r
}
