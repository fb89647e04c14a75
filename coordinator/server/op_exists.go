package server

// exists (op 3).
//
// Behavior: needs READ on an existing node (ZooKeeper 3.8.x); the watch is
// set unless the path is malformed or unreadable, so an exists watch on a
// missing node fires on its creation.

import "kzoo/coordinator/jute"

func (s *Server) opExists(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	auth := c.readAuth()
	var req jute.PathWatchRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	st, code := t.ExistsAuth(req.Path, auth)
	if req.Watch && (code == jute.OK || code == jute.ErrNoNode) {
		s.watches.addData(req.Path, c)
	}
	return code, &jute.StatResponse{Stat: st}
}
