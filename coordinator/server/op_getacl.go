package server

// getACL (op 6).
//
// Behavior: the tree decides the permission and masks nothing the client
// may not see.

import "kzoo/coordinator/jute"

func (s *Server) opGetACL(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	auth := c.readAuth()
	var req jute.PathRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	acl, st, code := t.GetACL(req.Path, auth)
	return code, &jute.GetACLResponse{ACL: acl, Stat: st}
}
