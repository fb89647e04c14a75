package server

// getChildren (op 8) and getChildren2 (op 12).
//
// Behavior: needs READ; the child watch is set only when the node exists
// and is readable; getChildren2 adds the parent's Stat.

import "kzoo/coordinator/jute"

func (s *Server) opGetChildren(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	auth := c.readAuth()
	var req jute.PathWatchRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	kids, st, code := t.Children(req.Path, auth)
	if code == jute.OK && req.Watch {
		s.watches.addChild(req.Path, c)
	}
	if op == jute.OpGetChildren {
		return code, &jute.GetChildrenResponse{Children: kids}
	}
	return code, &jute.GetChildren2Response{Children: kids, Stat: st}
}
