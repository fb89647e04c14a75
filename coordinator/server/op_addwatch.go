package server

// addWatch (op 106).
//
// Behavior: mode 0 persistent (data and child tables), mode 1
// persistent-recursive (data table only); any other mode is a
// MarshallingError as ZooKeeper's enum lookup makes it.

import "kzoo/coordinator/jute"

func (s *Server) opAddWatch(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	var req jute.AddWatchRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	if code := t.CheckPath(req.Path); code != jute.OK {
		return code, nil
	}
	switch req.Mode {
	case jute.AddWatchPersistent:
		s.watches.addPersistent(req.Path, c, false)
	case jute.AddWatchPersistentRecursive:
		s.watches.addPersistent(req.Path, c, true)
	default:
		return jute.ErrMarshallingError, nil
	}
	// FinalRequestProcessor answers addWatch with ErrorResponse(0): four
	// bytes a Java client reads and fails without.
	return jute.OK, &jute.ErrorResponse{Err: jute.OK}
}
