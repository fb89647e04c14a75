package tree

// Reads. None of these mutates the tree; callers hold a read lock.
// As in ZooKeeper's FinalRequestProcessor, reads look the path up as given
// (a malformed path is simply NoNode) and check the node's own ACL.

import (
	"sort"
	"strings"

	"kzoo/coordinator/jute"
)

// Exists returns a node's Stat, NoNode when it is absent, and BadArguments
// for a path holding a NUL. It checks no permission; see ExistsAuth.
func (t *Tree) Exists(path string) (jute.Stat, jute.Code) {
	if strings.IndexByte(path, 0) >= 0 {
		return jute.Stat{}, jute.ErrBadArguments
	}
	n := t.nodes[path]
	if n == nil {
		return jute.Stat{}, jute.ErrNoNode
	}
	return n.fullStat(), jute.OK
}

// ExistsAuth is exists as ZooKeeper 3.8.x serves it: like Exists, but an
// existing node also needs READ permission (NoAuth otherwise).
func (t *Tree) ExistsAuth(path string, auth []jute.ID) (jute.Stat, jute.Code) {
	st, code := t.Exists(path)
	if code != jute.OK {
		return st, code
	}
	if code := checkACL(t.nodes[path].acl, jute.PermRead, auth); code != jute.OK {
		return jute.Stat{}, code
	}
	return st, jute.OK
}

// readable returns the node at path if it exists and auth may READ it.
func (t *Tree) readable(path string, auth []jute.ID) (*node, jute.Code) {
	n := t.nodes[path]
	if n == nil {
		return nil, jute.ErrNoNode
	}
	if code := checkACL(n.acl, jute.PermRead, auth); code != jute.OK {
		return nil, code
	}
	return n, jute.OK
}

// GetData returns a node's data (nil when created without data) and Stat;
// it needs READ. The returned slice is a copy.
func (t *Tree) GetData(path string, auth []jute.ID) ([]byte, jute.Stat, jute.Code) {
	n, code := t.readable(path, auth)
	if code != jute.OK {
		return nil, jute.Stat{}, code
	}
	var data []byte
	if n.data != nil {
		data = append(make([]byte, 0, len(n.data)), n.data...)
	}
	return data, n.fullStat(), jute.OK
}

// Children returns a node's child names, sorted, and its Stat; it needs
// READ.
func (t *Tree) Children(path string, auth []jute.ID) ([]string, jute.Stat, jute.Code) {
	n, code := t.readable(path, auth)
	if code != jute.OK {
		return nil, jute.Stat{}, code
	}
	out := make([]string, 0, len(n.children))
	for c := range n.children {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, n.fullStat(), jute.OK
}

// GetACL returns a node's ACL and Stat. It needs READ or ADMIN; without
// ADMIN, digest ids are masked to "user:x" (ZooKeeper 3.8's rule).
func (t *Tree) GetACL(path string, auth []jute.ID) ([]jute.ACL, jute.Stat, jute.Code) {
	n := t.nodes[path]
	if n == nil {
		return nil, jute.Stat{}, jute.ErrNoNode
	}
	if code := checkACL(n.acl, jute.PermRead|jute.PermAdmin, auth); code != jute.OK {
		return nil, jute.Stat{}, code
	}
	if checkACL(n.acl, jute.PermAdmin, auth) != jute.OK {
		return maskDigests(n.acl), n.fullStat(), jute.OK
	}
	return append([]jute.ACL(nil), n.acl...), n.fullStat(), jute.OK
}

// AllChildrenNumber counts every descendant of path (for "/", every node
// but the root, /zookeeper's included); it needs READ.
func (t *Tree) AllChildrenNumber(path string, auth []jute.ID) (int32, jute.Code) {
	if _, code := t.readable(path, auth); code != jute.OK {
		return 0, code
	}
	if path == "/" {
		return int32(len(t.nodes) - 1), jute.OK
	}
	var count int32
	stack := []string{path}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for c := range t.nodes[p].children {
			count++
			stack = append(stack, p+"/"+c)
		}
	}
	return count, jute.OK
}

// Ephemerals is getEphemerals: the session's ephemeral paths starting with
// prefix (all of them for "", blanks or "/"), sorted.
func (t *Tree) Ephemerals(session int64, prefix string) []string {
	all := t.SessionEphemerals(session)
	if p := strings.TrimSpace(prefix); p == "" || p == "/" {
		return all
	}
	out := all[:0]
	for _, e := range all {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// MultiRead answers multiRead: each getData/getChildren op independently,
// a failing op as an error result with its code. Any other op type is an
// Unimplemented error result at its position.
func (t *Tree) MultiRead(req *jute.MultiRequest, auth []jute.ID) *jute.MultiResponse {
	resp := &jute.MultiResponse{Results: make([]jute.MultiResult, 0, len(req.Ops))}
	for _, op := range req.Ops {
		pw, isPath := op.Req.(*jute.PathWatchRequest)
		var res jute.MultiResult
		switch {
		case op.Type == jute.OpGetData && isPath:
			data, st, code := t.GetData(pw.Path, auth)
			if code != jute.OK {
				res = jute.MultiResult{Type: jute.OpError, Err: code}
			} else {
				res = jute.MultiResult{Type: jute.OpGetData, Resp: &jute.GetDataResponse{Data: data, Stat: st}}
			}
		case op.Type == jute.OpGetChildren && isPath:
			kids, _, code := t.Children(pw.Path, auth)
			if code != jute.OK {
				res = jute.MultiResult{Type: jute.OpError, Err: code}
			} else {
				res = jute.MultiResult{Type: jute.OpGetChildren, Resp: &jute.GetChildrenResponse{Children: kids}}
			}
		default:
			res = jute.MultiResult{Type: jute.OpError, Err: jute.ErrUnimplemented}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

// Expirable lists, sorted, up to limit (all when limit <= 0) paths the
// leader should delete now: childless containers whose cversion is above 0
// and childless TTL nodes whose ttl has passed since their mtime
// (ContainerManager's candidates). The server proposes an
// OpDeleteContainer entry for each; Apply re-checks with the entry's time.
func (t *Tree) Expirable(nowMs int64, limit int) []string {
	var out []string
	for p := range t.containers {
		if n := t.nodes[p]; len(n.children) == 0 && expired(n, nowMs) {
			out = append(out, p)
		}
	}
	for p := range t.ttls {
		if n := t.nodes[p]; len(n.children) == 0 && expired(n, nowMs) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
