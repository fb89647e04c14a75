package zktest

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"kzoo/coordinator/jute"
)

// Sessions is a dialer for go-zookeeper that remembers the id and password
// of the last session its connections negotiated, so that a test can end
// that session for real from a second connection (Kill).
//
// With HoldUntilWatchesReset set, a connection that resumes a session
// passes the server's answers to the client only once the client has sent
// its SetWatches: go-zookeeper (v1.0.4, the newest) reads its last zxid for
// that request while its receive loop, already running, may be writing it
// for an answer to a request queued during the outage, a data race the
// race detector reports. Holding the answers orders the two. A client
// that holds no watch sends no SetWatches, so a test setting this keeps
// one that never fires.
type Sessions struct {
	HoldUntilWatchesReset bool

	mu     sync.Mutex
	id     int64
	passwd []byte
	conn   net.Conn // the newest connection
}

// Dial has zk.Dialer's signature.
func (s *Sessions) Dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	sc := &sniffConn{Conn: c, s: s, hold: make(chan struct{}), closed: make(chan struct{})}
	s.mu.Lock()
	sc.prevID = s.id
	s.conn = sc
	s.mu.Unlock()
	return sc, nil
}

// Drop closes the newest connection, as a network fault would; the client
// reconnects and keeps its session, but requests in flight fail.
func (s *Sessions) Drop() {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// Current returns the last negotiated session id (0 before any).
func (s *Sessions) Current() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

type sniffConn struct {
	net.Conn
	s    *Sessions
	buf  []byte
	done bool // the ConnectResponse has been read

	prevID    int64         // the session before this connection
	held      bool          // it resumed prevID: answers wait for hold
	hold      chan struct{} // closed once the client sent SetWatches
	holdOnce  sync.Once
	closed    chan struct{}
	closeOnce sync.Once
}

// Read passes bytes through and decodes the first frame, the
// ConnectResponse; after it, a held connection waits for SetWatches.
func (c *sniffConn) Read(p []byte) (int, error) {
	if c.held {
		select {
		case <-c.hold:
		case <-c.closed:
		}
	}
	n, err := c.Conn.Read(p)
	if !c.done && n > 0 {
		c.buf = append(c.buf, p[:n]...)
		if len(c.buf) >= 4 {
			l := int(uint32(c.buf[0])<<24 | uint32(c.buf[1])<<16 | uint32(c.buf[2])<<8 | uint32(c.buf[3]))
			if len(c.buf) >= 4+l {
				var r jute.ConnectResponse
				if d := jute.Unmarshal(c.buf[4:4+l], &r); d.Err == nil && r.SessionID != 0 {
					c.s.mu.Lock()
					c.s.id, c.s.passwd = r.SessionID, append([]byte(nil), r.Passwd...)
					c.held = c.s.HoldUntilWatchesReset && r.SessionID == c.prevID
					c.s.mu.Unlock()
				}
				c.done, c.buf = true, nil
			}
		}
	}
	return n, err
}

// opSetWatches is the SetWatches request's op code.
const opSetWatches = 101

// Write passes a frame through; a SetWatches (go-zookeeper writes a
// request in one call: length, xid, op code, body) releases held answers.
func (c *sniffConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if len(p) >= 12 && int32(binary.BigEndian.Uint32(p[8:12])) == opSetWatches {
		c.holdOnce.Do(func() { close(c.hold) })
	}
	return n, err
}

func (c *sniffConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Kill attaches to the last session from a new connection to addr and
// closes it, as a second client holding the same id and password can. The
// server deletes the session's ephemerals; the original client is cut off
// and finds its session expired when it reconnects.
func (s *Sessions) Kill(addr string) error {
	s.mu.Lock()
	id, pw := s.id, s.passwd
	s.mu.Unlock()
	if id == 0 {
		return fmt.Errorf("zktest: no session seen yet")
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(jute.FrameRecords(&jute.ConnectRequest{TimeOut: 30000, SessionID: id, Passwd: pw})); err != nil {
		return err
	}
	body, err := jute.ReadFrame(c, 1<<20, nil)
	if err != nil {
		return fmt.Errorf("zktest: reattaching session 0x%x at %s: %v", id, addr, err)
	}
	var resp jute.ConnectResponse
	if d := jute.Unmarshal(body, &resp); d.Err != nil || resp.SessionID != id {
		return fmt.Errorf("zktest: session 0x%x at %s is already gone", id, addr)
	}
	if _, err := c.Write(jute.FrameRecords(&jute.RequestHeader{Xid: 1, Type: jute.OpCloseSession})); err != nil {
		return err
	}
	body, err = jute.ReadFrame(c, 1<<20, nil)
	if err != nil {
		return fmt.Errorf("zktest: closing session 0x%x at %s: %v", id, addr, err)
	}
	var h jute.ReplyHeader
	if d := jute.Unmarshal(body, &h); d.Err != nil || h.Err != 0 {
		return fmt.Errorf("zktest: closing session 0x%x at %s: reply %+v", id, addr, h)
	}
	return nil
}
