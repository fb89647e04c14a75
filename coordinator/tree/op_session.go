package tree

// createSession (-10) and closeSession (-11).
//
// Behavior: createSession registers {timeoutMs, passwd} from its body (jute
// Int timeoutMs, Buffer passwd) and is a no-op for a session the tree
// already holds. closeSession deletes the session's ephemeral nodes in path
// order (each: NodeDeleted, then NodeChildrenChanged on its parent, the
// parent's pzxid moving to this zxid) and forgets the session; closing a
// session the tree does not hold still removes any ephemerals it owns and
// is OK, as ZooKeeper's killSession is.

import (
	"sort"

	"kzoo/coordinator/jute"
)

func (t *Tree) applyCreateSession(e *Entry) Result {
	d := jute.NewDecoder(e.Body)
	timeoutMs := d.Int()
	passwd := d.Buffer()
	if d.Err != nil {
		return Result{Err: jute.ErrMarshallingError}
	}
	if _, ok := t.sessions[e.Session]; !ok {
		t.sessions[e.Session] = &session{timeoutMs: timeoutMs, passwd: passwd}
	}
	return Result{}
}

func (t *Tree) applyCloseSession(e *Entry) Result {
	for _, p := range t.SessionEphemerals(e.Session) {
		t.removeNode(p, e.Zxid)
	}
	delete(t.sessions, e.Session)
	return Result{}
}

// Session returns a session's timeout and password.
func (t *Tree) Session(id int64) (timeoutMs int32, passwd []byte, ok bool) {
	s, ok := t.sessions[id]
	if !ok {
		return 0, nil, false
	}
	return s.timeoutMs, append([]byte(nil), s.passwd...), true
}

// Sessions lists the session table sorted by id.
func (t *Tree) Sessions() []SessionInfo {
	out := make([]SessionInfo, 0, len(t.sessions))
	for id, s := range t.sessions {
		out = append(out, SessionInfo{ID: id, TimeoutMs: s.timeoutMs, Passwd: append([]byte(nil), s.passwd...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SessionEphemerals lists the ephemeral nodes a session owns, sorted.
func (t *Tree) SessionEphemerals(id int64) []string {
	set := t.ephemerals[id]
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
