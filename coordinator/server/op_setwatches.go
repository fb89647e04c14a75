package server

// setWatches (op 101) and setWatches2 (op 105).
//
// Behavior: as DataTree.setWatches (below); the notifications of what the
// client missed are queued before the reply.

import "kzoo/coordinator/jute"

func (s *Server) opSetWatches(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	req := jute.SetWatches{Two: op == jute.OpSetWatches2}
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	s.setWatches(c, &req)
	return jute.OK, nil
}

// setWatches re-arms a reconnecting client's watches, firing at once those
// whose change it missed since relativeZxid, exactly as DataTree.setWatches
// does. Lock should be held (c.mu, treeMu).
func (s *Server) setWatches(c *conn, req *jute.SetWatches) {
	t := s.tree
	rel := req.RelativeZxid
	for _, p := range req.DataWatches {
		st, code := t.Exists(p)
		switch {
		case code != jute.OK:
			c.appendNotify(jute.EventNodeDeleted, p)
		case st.Mzxid > rel:
			c.appendNotify(jute.EventNodeDataChanged, p)
		default:
			s.watches.addData(p, c)
		}
	}
	for _, p := range req.ExistWatches {
		if _, code := t.Exists(p); code == jute.OK {
			c.appendNotify(jute.EventNodeCreated, p)
		} else {
			s.watches.addData(p, c)
		}
	}
	for _, p := range req.ChildWatches {
		st, code := t.Exists(p)
		switch {
		case code != jute.OK:
			c.appendNotify(jute.EventNodeDeleted, p)
		case st.Pzxid > rel:
			c.appendNotify(jute.EventNodeChildrenChanged, p)
		default:
			s.watches.addChild(p, c)
		}
	}
	for _, p := range req.PersistentWatches {
		s.watches.addPersistent(p, c, false)
	}
	for _, p := range req.PersistentRecursiveWatches {
		s.watches.addRecursiveBoth(p, c)
	}
}
