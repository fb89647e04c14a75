package tree

// multi (14).
//
// Behavior: the ops apply in order, each seeing the effects of the ones
// before it, each validated exactly as it would be alone. If one fails the
// whole multi is undone: the ops before it report OK, the failing op its
// code and the ones after RuntimeInconsistency, each as an error result
// (type -1); no event fires. The reply header's err is OK either way, as
// ZooKeeper's FinalRequestProcessor leaves it for multi: clients find the
// failure in the results. A body that does not decode, or that holds an op
// jute does not allow in a multi, is MarshallingError; a read op (getData,
// getChildren) mixed into a write multi is BadArguments at its position.

import "kzoo/coordinator/jute"

func (t *Tree) applyMulti(e *Entry) Result {
	var req jute.MultiRequest
	if d := jute.Unmarshal(e.Body, &req); d.Err != nil {
		return Result{Err: jute.ErrMarshallingError}
	}
	t.undo = make([]func(), 0, 2*len(req.Ops))
	defer func() { t.undo = nil }()

	resp := &jute.MultiResponse{Results: make([]jute.MultiResult, 0, len(req.Ops))}
	failed := -1
	var failCode jute.Code
	for i, op := range req.Ops {
		var r Result
		switch op.Type {
		case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL,
			jute.OpDelete, jute.OpSetData, jute.OpCheck:
			r = t.applyOp(e, op.Type, op.Req)
		default:
			r = Result{Err: jute.ErrBadArguments}
		}
		if r.Err != jute.OK {
			failed, failCode = i, r.Err
			break
		}
		res := jute.MultiResult{Type: op.Type}
		switch op.Type {
		case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpSetData:
			res.Resp = r.Resp
		}
		resp.Results = append(resp.Results, res)
	}
	if failed < 0 {
		return Result{Resp: resp}
	}
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.events = nil
	resp.Results = resp.Results[:0]
	for i := range req.Ops {
		code := jute.OK
		switch {
		case i == failed:
			code = failCode
		case i > failed:
			code = jute.ErrRuntimeInconsistency
		}
		resp.Results = append(resp.Results, jute.MultiResult{Type: jute.OpError, Err: code})
	}
	return Result{Resp: resp}
}
