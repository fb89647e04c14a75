package jute

import "fmt"

// MultiOp is one operation of a multi or multiRead request.
type MultiOp struct {
	Type Op
	Req  Record // *CreateRequest, *CreateTTLRequest, *DeleteRequest, *SetDataRequest, *PathWatchRequest
}

// MultiRequest is multi (op 14) and multiRead (op 22).
type MultiRequest struct{ Ops []MultiOp }

func (r *MultiRequest) Encode(e *Encoder) {
	for _, op := range r.Ops {
		h := MultiHeader{Type: op.Type, Done: false, Err: -1}
		h.Encode(e)
		op.Req.Encode(e)
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(e)
}

// NewMultiOpRecord returns an empty request record for a multi op type.
func NewMultiOpRecord(t Op) (Record, error) {
	switch t {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}, nil
	case OpCreateTTL:
		return &CreateTTLRequest{}, nil
	case OpDelete, OpCheck:
		return &DeleteRequest{}, nil
	case OpSetData:
		return &SetDataRequest{}, nil
	case OpGetData, OpGetChildren:
		return &PathWatchRequest{}, nil
	}
	return nil, fmt.Errorf("jute: op %v is not allowed in a multi", t)
}

func (r *MultiRequest) Decode(d *Decoder) {
	r.Ops = nil
	for d.Err == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err != nil || h.Done {
			return
		}
		if d.Remaining() < 4 {
			d.fail(ErrShort)
			return
		}
		rec, err := NewMultiOpRecord(h.Type)
		if err != nil {
			d.fail(err)
			return
		}
		rec.Decode(d)
		r.Ops = append(r.Ops, MultiOp{Type: h.Type, Req: rec})
	}
}

// MultiResult is one op's outcome in a multi answer. Resp is nil for
// delete and check, and for errors (Type OpError, Err the code).
type MultiResult struct {
	Type Op
	Err  Code
	Resp Record
}

// MultiResponse is the answer to multi and multiRead.
type MultiResponse struct{ Results []MultiResult }

func (r *MultiResponse) Encode(e *Encoder) {
	for _, res := range r.Results {
		if res.Type == OpError {
			h := MultiHeader{Type: OpError, Done: false, Err: res.Err}
			h.Encode(e)
			er := ErrorResponse{Err: res.Err}
			er.Encode(e)
			continue
		}
		h := MultiHeader{Type: res.Type, Done: false, Err: OK}
		h.Encode(e)
		if res.Resp != nil {
			res.Resp.Encode(e)
		}
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(e)
}

func (r *MultiResponse) Decode(d *Decoder) {
	r.Results = nil
	for d.Err == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err != nil || h.Done {
			return
		}
		res := MultiResult{Type: h.Type}
		switch h.Type {
		case OpError:
			var er ErrorResponse
			er.Decode(d)
			res.Err = er.Err
		case OpCreate:
			res.Resp = &CreateResponse{}
		case OpCreate2, OpCreateContainer, OpCreateTTL:
			res.Resp = &Create2Response{}
		case OpSetData:
			res.Resp = &StatResponse{}
		case OpGetData:
			res.Resp = &GetDataResponse{}
		case OpGetChildren:
			res.Resp = &GetChildrenResponse{}
		case OpDelete, OpCheck:
		default:
			d.fail(fmt.Errorf("jute: unknown multi result type %v", h.Type))
			return
		}
		if res.Resp != nil {
			res.Resp.Decode(d)
		}
		r.Results = append(r.Results, res)
	}
}
