package server

// getAllChildrenNumber (op 104).
//
// Behavior: counts every descendant; needs READ on the node.

import "kzoo/coordinator/jute"

func (s *Server) opGetAllChildrenNumber(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	auth := c.readAuth()
	var req jute.PathRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	n, code := t.AllChildrenNumber(req.Path, auth)
	return code, &jute.GetAllChildrenNumberResponse{TotalNumber: n}
}
