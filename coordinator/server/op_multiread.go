package server

// multiRead (op 22).
//
// Behavior: getData and getChildren ops answered one by one from the same
// tree state; header err is 0 and per-op errors ride in the body; a
// watch flag on an op that succeeded arms that watch, as ZooKeeper does.

import "kzoo/coordinator/jute"

func (s *Server) opMultiRead(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	auth := c.readAuth()
	var req jute.MultiRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	resp := t.MultiRead(&req, auth)
	for i, op := range req.Ops {
		pw, ok := op.Req.(*jute.PathWatchRequest)
		if !ok || !pw.Watch || i >= len(resp.Results) || resp.Results[i].Type == jute.OpError {
			continue
		}
		if op.Type == jute.OpGetChildren {
			s.watches.addChild(pw.Path, c)
		} else {
			s.watches.addData(pw.Path, c)
		}
	}
	return jute.OK, resp
}
