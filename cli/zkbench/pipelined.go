package zkbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kzoo/coordinator/jute"
)

// pipeSession is a session of the "pipelined" client: the wire protocol
// spoken directly, the way an asynchronous ZooKeeper client (the Java
// client's async API, the C client's) keeps requests outstanding. During a
// phase one goroutine per session keeps --inflight requests outstanding
// and, after reading every reply the socket had, sends the requests that
// replace them in one write call. It spends far less CPU per request than
// a client that hands each request between goroutines, so on a small
// machine it leaves more of the cores to the server being measured.
//
// Replies arrive in request order on a session (ZooKeeper's FIFO client
// order), so outstanding requests are a FIFO queue and every reply's xid
// is checked against its head.
type pipeSession struct {
	nc   net.Conn
	br   *bufio.Reader
	addr string
	xid  int32
	out  []byte
	buf  []byte // frame buffer
}

// pipeMaxFrame bounds a reply frame (jute.maxbuffer's default plus slack).
const pipeMaxFrame = 4<<20 + 1024

func connectPipelined(ctx context.Context, cfg Config) ([]benchConn, error) {
	return openSessions(cfg, func(i int) (benchConn, error) {
		servers := sessionServers(cfg, i)
		var errs []string
		for j := range servers {
			s, err := dialPipelined(ctx, servers[(i+j)%len(servers)], cfg.SessionTimeout)
			if err == nil {
				return s, nil
			}
			errs = append(errs, err.Error())
		}
		return nil, fmt.Errorf("zk-bench: session %d: %s", i, strings.Join(errs, "; "))
	})
}

// dialPipelined connects to addr and establishes a new session.
func dialPipelined(ctx context.Context, addr string, timeout time.Duration) (*pipeSession, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	s := &pipeSession{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), addr: addr}
	req := jute.ConnectRequest{TimeOut: int32(timeout / time.Millisecond), Passwd: make([]byte, 16)}
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write(jute.FrameRecords(&req)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	frame, err := jute.ReadFrame(s.br, pipeMaxFrame, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to %s: reading the session's answer: %w", addr, err)
	}
	var resp jute.ConnectResponse
	if jute.Unmarshal(frame, &resp).Err != nil || resp.SessionID == 0 || resp.TimeOut <= 0 {
		nc.Close()
		return nil, fmt.Errorf("connect to %s: the server refused a session", addr)
	}
	nc.SetDeadline(time.Time{})
	return s, nil
}

// appendRequest adds one framed request to s.out and returns its xid.
func (s *pipeSession) appendRequest(op jute.Op, rec jute.Record) int32 {
	s.xid++
	start := len(s.out)
	s.out = append(s.out, 0, 0, 0, 0)
	e := jute.Encoder{B: s.out}
	hdr := jute.RequestHeader{Xid: s.xid, Type: op}
	hdr.Encode(&e)
	if rec != nil {
		rec.Encode(&e)
	}
	s.out = e.B
	binary.BigEndian.PutUint32(s.out[start:], uint32(len(s.out)-start-4))
	return s.xid
}

func (s *pipeSession) flush() error {
	if len(s.out) == 0 {
		return nil
	}
	_, err := s.nc.Write(s.out)
	s.out = s.out[:0]
	if err != nil {
		return fmt.Errorf("write to %s: %w", s.addr, err)
	}
	return nil
}

// readReply returns the next reply's header and body, skipping watch
// notifications.
func (s *pipeSession) readReply() (jute.ReplyHeader, *jute.Decoder, error) {
	for {
		frame, err := jute.ReadFrame(s.br, pipeMaxFrame, s.buf)
		if err != nil {
			return jute.ReplyHeader{}, nil, fmt.Errorf("read from %s: %w", s.addr, err)
		}
		s.buf = frame[:0]
		var h jute.ReplyHeader
		d := jute.NewDecoder(frame)
		h.Decode(d)
		if d.Err != nil {
			return h, nil, fmt.Errorf("reply from %s: %w", s.addr, d.Err)
		}
		if h.Xid == jute.XidNotification {
			continue
		}
		return h, d, nil
	}
}

// call sends one request and waits for its reply.
func (s *pipeSession) call(op jute.Op, rec, resp jute.Record) error {
	xid := s.appendRequest(op, rec)
	if err := s.flush(); err != nil {
		return err
	}
	h, d, err := s.readReply()
	if err != nil {
		return err
	}
	if h.Xid != xid {
		return fmt.Errorf("reply from %s has xid %d, want %d", s.addr, h.Xid, xid)
	}
	if h.Err != jute.OK {
		return h.Err
	}
	if resp != nil {
		resp.Decode(d)
		return d.Err
	}
	return nil
}

func (s *pipeSession) create(path string, data []byte) error {
	return s.call(jute.OpCreate, &jute.CreateRequest{Path: path, Data: data, ACL: jute.WorldAnyone}, nil)
}

func (s *pipeSession) createSequential(prefix string) (string, error) {
	var resp jute.CreateResponse
	err := s.call(jute.OpCreate, &jute.CreateRequest{Path: prefix, ACL: jute.WorldAnyone, Flags: jute.ModePersistentSequential}, &resp)
	return resp.Path, err
}

func (s *pipeSession) set(path string, data []byte) error {
	return s.call(jute.OpSetData, &jute.SetDataRequest{Path: path, Data: data, Version: -1}, nil)
}

func (s *pipeSession) get(path string) ([]byte, error) {
	var resp jute.GetDataResponse
	err := s.call(jute.OpGetData, &jute.PathWatchRequest{Path: path}, &resp)
	return resp.Data, err
}

func (s *pipeSession) delete(path string) error {
	return s.call(jute.OpDelete, &jute.DeleteRequest{Path: path, Version: -1}, nil)
}

// close ends the session (closeSession) and the connection.
func (s *pipeSession) close() {
	s.nc.SetDeadline(time.Now().Add(5 * time.Second))
	_ = s.call(jute.OpCloseSession, nil, nil)
	s.nc.Close()
}

// phaseRequest is what a phase sends for a key, and how it judges the
// reply: nil means success.
type phaseRequest struct {
	op    jute.Op
	req   func(key string) jute.Record
	check func(key string, code jute.Code, d *jute.Decoder) error
}

// runPhasePipelined is runPhase for pipelined sessions: each session keeps
// inflight requests outstanding, taking keys from a shared counter.
func runPhasePipelined(ctx context.Context, phase string, conns []benchConn, inflight int, keys []string, pr phaseRequest) Result {
	lat := make([]time.Duration, len(keys))
	var next, errs atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	note := func(err error) {
		errs.Add(1)
		err = fmt.Errorf("%s: %w", phase, err)
		firstErr.CompareAndSwap(nil, &err)
	}
	start := time.Now()
	for _, c := range conns {
		s := c.(*pipeSession)
		wg.Add(1)
		go func() {
			defer wg.Done()
			type pending struct {
				xid  int32
				key  int64
				sent time.Time
			}
			queue := make([]pending, 0, inflight)
			fill := func() error {
				for len(queue) < inflight && ctx.Err() == nil {
					i := next.Add(1) - 1
					if i >= int64(len(keys)) {
						break
					}
					xid := s.appendRequest(pr.op, pr.req(keys[i]))
					queue = append(queue, pending{xid: xid, key: i, sent: time.Now()})
				}
				return s.flush()
			}
			if err := fill(); err != nil {
				note(err)
				return
			}
			for len(queue) > 0 {
				h, d, err := s.readReply()
				if err != nil {
					// The outstanding requests are lost with the connection.
					for range queue {
						note(err)
					}
					return
				}
				p := queue[0]
				if h.Xid != p.xid {
					note(fmt.Errorf("reply from %s has xid %d, want %d", s.addr, h.Xid, p.xid))
					return
				}
				queue = append(queue[:0], queue[1:]...)
				lat[p.key] = time.Since(p.sent)
				if err := pr.check(keys[p.key], h.Err, d); err != nil {
					note(fmt.Errorf("%s: %w", keys[p.key], err))
				}
				if s.br.Buffered() == 0 {
					if err := fill(); err != nil {
						note(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return phaseResult(phase, keys, lat, start, next.Load(), errs.Load(), firstErr.Load())
}

// phaseRequests is what each phase sends with the pipelined client.
func phaseRequests(phase string, value []byte) phaseRequest {
	okOnly := func(_ string, code jute.Code, _ *jute.Decoder) error {
		if code != jute.OK {
			return code
		}
		return nil
	}
	switch phase {
	case "create":
		return phaseRequest{op: jute.OpCreate, check: okOnly, req: func(key string) jute.Record {
			return &jute.CreateRequest{Path: key, Data: value, ACL: jute.WorldAnyone}
		}}
	case "set":
		return phaseRequest{op: jute.OpSetData, check: okOnly, req: func(key string) jute.Record {
			return &jute.SetDataRequest{Path: key, Data: value, Version: -1}
		}}
	case "get":
		return phaseRequest{op: jute.OpGetData, req: func(key string) jute.Record {
			return &jute.PathWatchRequest{Path: key}
		}, check: func(key string, code jute.Code, d *jute.Decoder) error {
			if code != jute.OK {
				return code
			}
			var resp jute.GetDataResponse
			resp.Decode(d)
			if d.Err != nil {
				return d.Err
			}
			if len(resp.Data) != len(value) {
				return fmt.Errorf("get %s: %d bytes, want %d", key, len(resp.Data), len(value))
			}
			return nil
		}}
	case "cleanup":
		return phaseRequest{op: jute.OpDelete, req: func(key string) jute.Record {
			return &jute.DeleteRequest{Path: key, Version: -1}
		}, check: func(_ string, code jute.Code, _ *jute.Decoder) error {
			if code != jute.OK && !errors.Is(code, jute.ErrNoNode) {
				return code
			}
			return nil
		}}
	}
	// delete
	return phaseRequest{op: jute.OpDelete, check: okOnly, req: func(key string) jute.Record {
		return &jute.DeleteRequest{Path: key, Version: -1}
	}}
}
