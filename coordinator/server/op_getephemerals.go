package server

// getEphemerals (op 103).
//
// Behavior: the session's own ephemerals under a path prefix ("/" or
// empty means all).

import "kzoo/coordinator/jute"

func (s *Server) opGetEphemerals(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	var req jute.PathRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	return jute.OK, &jute.GetEphemeralsResponse{Ephemerals: t.Ephemerals(c.session(), req.Path)}
}
