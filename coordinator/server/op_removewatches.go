package server

// removeWatches (op 18) and checkWatches (op 17).
//
// Behavior: per WatcherType (children, data, any); NoWatcher when there is
// no such watch. The server sends no event: the client raises its own
// *WatchRemoved events.

import "kzoo/coordinator/jute"

func (s *Server) opRemoveWatches(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	var req jute.WatchTypeRequest
	if jute.Unmarshal(body, &req).Err != nil {
		return jute.ErrMarshallingError, nil
	}
	if !s.watches.remove(req.Path, c, req.Type, op == jute.OpCheckWatches) {
		return jute.ErrNoWatcher, nil
	}
	return jute.OK, nil
}
