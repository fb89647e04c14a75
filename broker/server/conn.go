package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
)

// ErrFrameTooLarge is returned (wrapped, with the size) for a request
// whose size prefix exceeds socket.request.max.bytes.
var ErrFrameTooLarge = errors.New("server: request larger than socket.request.max.bytes")

// ErrBadRequest is wrapped for a request that cannot be parsed.
var ErrBadRequest = errors.New("server: malformed request")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	*bp = (*bp)[:n]
	return bp
}

func putBuf(bp *[]byte) {
	if cap(*bp) > 16<<20 {
		return // do not pin huge buffers
	}
	bufPool.Put(bp)
}

// request is one parsed request waiting for its turn.
type request struct {
	hdr  api.Header
	req  kmsg.Request
	buf  *[]byte       // frame body, returned to the pool after handling
	resp kmsg.Response // preset answer (unsupported ApiVersions)
}

// connServer serves one client connection.
type connServer struct {
	h        *api.Handler
	c        net.Conn
	listener string
	maxBytes int32
	logf     func(string, ...any)
	clientID *string // the last request's client id, shared with the next request when it is the same
}

// readRequest reads and parses one frame. The size is checked before the
// body is read.
func (cs *connServer) readRequest(r *bufio.Reader) (*request, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 0 || n > cs.maxBytes {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrFrameTooLarge, n, cs.maxBytes)
	}
	bp := getBuf(int(n))
	if _, err := io.ReadFull(r, *bp); err != nil {
		putBuf(bp)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	rq, err := parseRequestID(*bp, cs.listener, cs.clientID)
	if err != nil {
		putBuf(bp)
		return nil, err
	}
	if rq.hdr.ClientID != nil {
		cs.clientID = rq.hdr.ClientID
	}
	rq.buf = bp
	return rq, nil
}

// parseRequest decodes a request header (v0, v1 or flexible v2) and body.
func parseRequest(b []byte, listener string) (*request, error) {
	return parseRequestID(b, listener, nil)
}

// parseRequestID is parseRequest sharing lastID (the connection's previous
// client id, nil if none) when the client id is the same, as it is on
// every request of a connection, rather than allocating it again.
func parseRequestID(b []byte, listener string, lastID *string) (*request, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a request header", ErrBadRequest, len(b))
	}
	rq := &request{}
	rq.hdr.Key = int16(binary.BigEndian.Uint16(b))
	rq.hdr.Version = int16(binary.BigEndian.Uint16(b[2:]))
	rq.hdr.CorrelationID = int32(binary.BigEndian.Uint32(b[4:]))
	rq.hdr.Listener = listener
	b = b[8:]
	if rq.hdr.Key == 7 && rq.hdr.Version == 0 {
		// ControlledShutdown v0 is the one request sent with header v0:
		// no client id.
		return finishRequest(rq, b)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: no client id", ErrBadRequest)
	}
	idLen := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	if idLen >= 0 {
		if len(b) < idLen {
			return nil, fmt.Errorf("%w: client id length %d beyond the frame", ErrBadRequest, idLen)
		}
		if lastID != nil && *lastID == string(b[:idLen]) {
			rq.hdr.ClientID = lastID
		} else {
			s := string(b[:idLen])
			rq.hdr.ClientID = &s
		}
		b = b[idLen:]
	}
	return finishRequest(rq, b)
}

// finishRequest decodes the body once the header's client id is consumed.
func finishRequest(rq *request, b []byte) (*request, error) {
	if rq.hdr.Key == 18 {
		if r, ok := api.Versions[18]; ok && (rq.hdr.Version > r[1] || rq.hdr.Version < r[0]) {
			// Kafka answers an ApiVersions it cannot parse with a v0 response.
			rq.resp = api.UnsupportedApiVersions()
			return rq, nil
		}
	}
	req := kmsg.RequestForKey(rq.hdr.Key)
	if req == nil {
		return nil, fmt.Errorf("%w: unknown api key %d", ErrBadRequest, rq.hdr.Key)
	}
	if !api.Supported(rq.hdr.Key, rq.hdr.Version) {
		return nil, fmt.Errorf("%w: api key %d version %d is not supported", ErrBadRequest, rq.hdr.Key, rq.hdr.Version)
	}
	req.SetVersion(rq.hdr.Version)
	if req.IsFlexible() {
		var err error
		if b, err = api.SkipTags(b); err != nil {
			return nil, fmt.Errorf("%w: header tags: %v", ErrBadRequest, err)
		}
	}
	if err := req.ReadFrom(b); err != nil {
		// kmsg's decoders fail only when the data ends before the fields
		// do, with a text that speaks of a response.
		return nil, fmt.Errorf("%w: api key %d v%d: its %d-byte body ends before its fields do", ErrBadRequest, rq.hdr.Key, rq.hdr.Version, len(b))
	}
	rq.req = req
	return rq, nil
}

// appendResponse frames resp for the request it answers.
func appendResponse(dst []byte, rq *request, resp kmsg.Response) []byte {
	return appendFramed(dst[:0], rq, resp)
}

// appendFramed appends resp's frame after what dst already holds.
func appendFramed(dst []byte, rq *request, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(rq.hdr.CorrelationID))
	if rq.hdr.Key != 18 && resp.IsFlexible() {
		dst = append(dst, 0) // response header v1: no tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// serve runs the connection until it closes or ctx ends, reading and
// handling one request at a time, in order, on this goroutine (as Kafka
// serves a connection: the next request is read once the previous one is
// answered). A handoff to a second goroutine per request would cost a
// wakeup per request, which on a busy broker is more than parsing ahead
// saves.
func (cs *connServer) serve(ctx context.Context) {
	defer cs.c.Close()
	remote := cs.c.RemoteAddr().String()
	r := bufio.NewReaderSize(cs.c, 64<<10)
	out := getBuf(0)
	defer putBuf(out)
	for ctx.Err() == nil {
		rq, err := cs.readRequest(r)
		if err != nil {
			if len(*out) > 0 {
				cs.c.Write(*out) // answers to the requests before a bad frame, best effort
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				cs.logf("connection %s (listener %s): %v; closing it", remote, cs.listener, err)
			}
			return
		}
		rq.hdr.ClientHost = remote
		// Responses held back for coalescing go out before anything that
		// may wait (a long-poll fetch, an acks=all produce, a join).
		if len(*out) > 0 && !quickRequest(rq) {
			if _, err := cs.c.Write(*out); err != nil {
				putBuf(rq.buf)
				return
			}
			*out = (*out)[:0]
		}
		resp := rq.resp
		if resp == nil {
			resp, err = cs.handle(ctx, rq)
			if err != nil {
				cs.logf("connection %s (listener %s): api key %d v%d: %v; closing it", remote, cs.listener, rq.hdr.Key, rq.hdr.Version, err)
				putBuf(rq.buf)
				return
			}
		}
		if resp != nil {
			*out = appendFramed(*out, rq, resp)
		}
		putBuf(rq.buf)
		// Write when no whole request is already read and waiting (or a
		// lot is buffered): a pipelining client gets several responses
		// per syscall, and a lone request is answered at once.
		if len(*out) > 0 && (!frameBuffered(r) || len(*out) >= 256<<10) {
			if _, err := cs.c.Write(*out); err != nil {
				return
			}
			*out = (*out)[:0]
		}
	}
}

// frameBuffered reports whether r holds a whole request frame, so reading
// it will not wait on the client.
func frameBuffered(r *bufio.Reader) bool {
	n := r.Buffered()
	if n < 4 {
		return false
	}
	sz, err := r.Peek(4)
	if err != nil {
		return false
	}
	size := int32(binary.BigEndian.Uint32(sz))
	return size >= 0 && n-4 >= int(size)
}

// quickRequest reports whether rq is answered without waiting: a produce
// with acks 0 or 1 — the request a pipelining producer sends back to back.
func quickRequest(rq *request) bool {
	if p, ok := rq.req.(*kmsg.ProduceRequest); ok {
		return p.Acks != -1
	}
	return false
}

// handle runs one request, turning a handler panic into a closed
// connection rather than a dead broker.
func (cs *connServer) handle(ctx context.Context, rq *request) (resp kmsg.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return cs.h.Handle(ctx, &rq.hdr, rq.req)
}
