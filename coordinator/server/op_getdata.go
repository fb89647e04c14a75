package server

// getData (op 4).
//
// Behavior: needs READ; a watch is set only when the node exists and is
// readable. Data created as null reads back as null.

import "kzoo/coordinator/jute"

func (s *Server) opGetData(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	auth := c.readAuth()
	var req jute.PathWatchRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	data, st, code := t.GetData(req.Path, auth)
	if code == jute.OK && req.Watch {
		s.watches.addData(req.Path, c)
	}
	return code, &jute.GetDataResponse{Data: data, Stat: st}
}
