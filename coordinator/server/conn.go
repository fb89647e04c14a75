package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"kzoo/coordinator/jute"
	"kzoo/coordinator/tree"
)

// conn is one client connection. Two goroutines serve it: readLoop
// decodes requests in arrival order and submits writes or runs reads;
// writeLoop sends whatever replies and notifications have gathered in out,
// one write call per batch.
type conn struct {
	execAuth []jute.ID // set by execRead for a deferred read; Lock should be held
	s        *Server
	nc       net.Conn
	ip       string
	remote   string // "/ip:port", as ZooKeeper prints a socket address
	br       *bufio.Reader
	buf      []byte // readLoop's frame buffer
	// draining is readLoop's: it stopped reading because a reply that
	// closes the connection is queued; the writer closes after sending it.
	draining bool
	// unsent is readLoop's: it answered a read since it last woke the
	// writer.
	unsent bool
	// wakeQueued is the applier's: this connection's writer is to be woken
	// at the end of the batch being applied (Server.wakeLater).
	wakeQueued bool

	sid       atomic.Int64
	timeoutMs atomic.Int32
	est       time.Time
	auth      atomic.Pointer[[]jute.ID] // replaced, never modified in place

	wake      chan struct{}
	closeOnce sync.Once
	gone      chan struct{}

	// mu guards everything below.
	mu      sync.Mutex
	out     []byte
	spare   []byte
	queue   []*item // replies not yet sent, in request order, from head on
	head    int
	closing bool // close once out is flushed
	closed  bool
	room    sync.Cond // signalled when the queue shrinks or the conn closes
	waiting bool

	recv, sent         int64
	lastOp             string
	lastCxid           int64
	lastZxid           int64
	lastResp           int64
	lastLat            int64
	minLat, maxLat     int64
	latTotal, latCount int64
}

// maxPending bounds one connection's outstanding requests
// (ZooKeeper's globalOutstandingLimit is 1000 for the whole server).
const maxPending = 1000

// sessionlessTimeout is how long a new connection may take to send its
// ConnectRequest or four-letter word (zookeeper.nio.sessionlessCnxnTimeout).
const sessionlessTimeout = 10 * time.Second

// item is a reply slot. A pipeline item waits for the applier; any other
// item is a read that waits only for the pipeline items ahead of it.
type item struct {
	xid      int32
	op       jute.Op
	pipeline bool
	body     []byte // a deferred read's request body (a copy)
	start    time.Time
	auth     []jute.ID // a deferred read's identities when it arrived
	canned   bool      // answer is (code, close) below, computed on arrival
	code     jute.Code
	close    bool
}

func newConn(s *Server, nc net.Conn, ip string) *conn {
	c := &conn{
		s:        s,
		nc:       nc,
		ip:       ip,
		remote:   "/" + nc.RemoteAddr().String(),
		br:       bufio.NewReaderSize(nc, 64<<10),
		wake:     make(chan struct{}, 1),
		gone:     make(chan struct{}),
		minLat:   -1,
		lastOp:   "NA",
		lastCxid: -1,
		est:      s.now(),
	}
	c.room.L = &c.mu
	c.setAuthIDs([]jute.ID{{Scheme: "ip", ID: ip}})
	return c
}

func (c *conn) session() int64 { return c.sid.Load() }

func (c *conn) authIDs() []jute.ID { return *c.auth.Load() }

// readAuth is the identities the read being executed checks ACLs with:
// those its session had when the read arrived. Lock should be held.
func (c *conn) readAuth() []jute.ID {
	if c.execAuth != nil {
		return c.execAuth
	}
	return c.authIDs()
}

func (c *conn) setAuthIDs(ids []jute.ID) { c.auth.Store(&ids) }

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// closeNow closes the socket at once; pending replies are dropped.
func (c *conn) closeNow() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.queue, c.head = nil, 0
		c.wakeWaiter()
		c.mu.Unlock()
		c.nc.Close()
		close(c.gone)
		c.s.forget(c)
	})
}

// closeAfterFlush closes the connection once everything queued is sent.
// Lock should be held.
func (c *conn) closeAfterFlushLocked() {
	c.closing = true
	c.signal()
}

func (c *conn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.gone:
			return
		}
		c.mu.Lock()
		buf := c.out
		c.out, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		if len(buf) > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.nc.Write(buf); err != nil {
				c.closeNow()
				return
			}
		}
		c.mu.Lock()
		if cap(buf) <= 1<<20 {
			c.spare = buf[:0]
		}
		done := c.closing && len(c.out) == 0
		if len(c.out) > 0 {
			c.signal()
		}
		c.mu.Unlock()
		if done {
			c.closeNow()
			return
		}
	}
}

func (c *conn) readLoop() {
	defer func() {
		if !c.draining {
			c.closeNow()
		}
	}()
	// A connection has sessionlessCnxnTimeout to say what it wants.
	c.nc.SetReadDeadline(time.Now().Add(sessionlessTimeout))
	hdr, err := c.br.Peek(4)
	if err != nil {
		return
	}
	if w := string(hdr); fourLetterWords[w] {
		c.br.Discard(4)
		c.s.fourLetter(c, w)
		return
	}
	frame, err := c.readFrame()
	if err != nil {
		return
	}
	if !c.handshake(frame) {
		return
	}
	c.nc.SetReadDeadline(time.Time{})
	for {
		frame, err := c.readFrame()
		if err != nil {
			return
		}
		if !c.handle(frame) {
			c.signal()
			return
		}
		// Replies of pipelined reads leave together: wake the writer only
		// once no further request is already buffered, and only if a read
		// was answered here (writes are answered by the applier, which
		// wakes the writer itself).
		if c.unsent && c.br.Buffered() == 0 {
			c.unsent = false
			c.signal()
		}
	}
}

func (c *conn) readFrame() ([]byte, error) {
	frame, err := jute.ReadFrame(c.br, c.s.maxFrame, c.buf)
	if err != nil {
		var tl *jute.ErrFrameTooLarge
		switch {
		case errors.As(err, &tl):
			c.s.log.Warn(fmt.Sprintf("Close of session 0x%x: Len error. A message from %s with advertised length of %d is either a malformed message or too large to process (length is greater than jute.maxbuffer=%d)",
				c.session(), c.remote, tl.Len, tl.Max))
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		default:
			c.s.log.Info(fmt.Sprintf("Close of session 0x%x from %s: %v", c.session(), c.remote, err))
		}
		return nil, err
	}
	c.buf = frame[:0]
	return frame, nil
}

// malformed logs a frame that does not decode; the caller closes.
func (c *conn) malformed(what string, err error) {
	c.s.log.Warn(fmt.Sprintf("Close of session 0x%x: malformed %s from %s: %v", c.session(), what, c.remote, err))
}

// handshake answers the ConnectRequest: a new session goes through the log
// as a createSession entry; a resumed one is checked against the tree's
// password and the tracker.
func (c *conn) handshake(frame []byte) bool {
	s := c.s
	var req jute.ConnectRequest
	if d := jute.Unmarshal(frame, &req); d.Err != nil {
		c.malformed("ConnectRequest", d.Err)
		return false
	}
	c.mu.Lock()
	c.recv++
	c.mu.Unlock()
	s.stats.received.Add(1)
	if s.ens != nil && !s.ens.waitServing(time.Duration(max(req.TimeOut, int32(s.cfg.MinSessionTimeoutMs)))*time.Millisecond) {
		s.log.Info(fmt.Sprintf("Refusing session request for client %s: this server is not serving (no leader)", c.remote))
		return false
	}
	if s.ens != nil && req.LastZxidSeen > 0 {
		s.ens.waitApplied(req.LastZxidSeen, min(2*time.Second, time.Duration(max(req.TimeOut, 1))*time.Millisecond/3))
	}
	s.treeMu.RLock()
	last := s.tree.LastZxid()
	s.treeMu.RUnlock()
	if req.LastZxidSeen > last {
		s.log.Info(fmt.Sprintf("Refusing session request for client %s as it has seen zxid 0x%x our last zxid is 0x%x client must try another server",
			c.remote, req.LastZxidSeen, last))
		return false
	}
	timeout := req.TimeOut
	if m := int32(s.cfg.MinSessionTimeoutMs); timeout < m {
		timeout = m
	}
	if m := int32(s.cfg.MaxSessionTimeoutMs); m > 0 && timeout > m {
		timeout = m
	}
	now := s.nowMs()
	if req.SessionID == 0 {
		id := s.ids.take()
		s.treeMu.RLock()
		for _, _, taken := s.tree.Session(id); taken; _, _, taken = s.tree.Session(id) {
			id = s.ids.take() // a clock that went back must not reuse a live id
		}
		s.treeMu.RUnlock()
		passwd := newPasswd()
		c.sid.Store(id)
		c.timeoutMs.Store(timeout)
		s.tracker.add(id, timeout, now)
		s.bind(id, c)
		var body jute.Encoder
		body.Int(timeout)
		body.Buffer(passwd)
		it := &item{pipeline: true, op: jute.OpCreateSession, start: time.Now()}
		if !c.enqueue(it) {
			return false
		}
		s.pipe.submit(&proposal{
			conn: c, item: it,
			entry:   &tree.Entry{Session: id, Type: jute.OpCreateSession, Auth: c.authIDs(), Body: body.B},
			connect: &jute.ConnectResponse{TimeOut: timeout, SessionID: id, Passwd: passwd, HasReadOnly: req.HasReadOnly},
		})
		return true
	}
	s.treeMu.RLock()
	_, passwd, ok := s.tree.Session(req.SessionID)
	s.treeMu.RUnlock()
	valid := ok && string(passwd) == string(req.Passwd) && s.tracker.touch(req.SessionID, timeout, now)
	resp := jute.ConnectResponse{HasReadOnly: req.HasReadOnly}
	if valid {
		c.sid.Store(req.SessionID)
		c.timeoutMs.Store(timeout)
		s.bind(req.SessionID, c)
		resp.TimeOut, resp.SessionID, resp.Passwd = timeout, req.SessionID, passwd
		s.log.Info(fmt.Sprintf("Established session 0x%x with negotiated timeout %d for client %s", req.SessionID, timeout, c.remote))
	} else {
		resp.Passwd = make([]byte, 16)
		s.log.Info(fmt.Sprintf("Invalid session 0x%x for client %s, probably expired", req.SessionID, c.remote))
	}
	c.mu.Lock()
	c.appendConnect(&resp)
	if !valid {
		c.draining = true
		c.closeAfterFlushLocked()
	}
	c.mu.Unlock()
	c.signal()
	return valid
}

// appendConnect queues a ConnectResponse. Lock should be held.
func (c *conn) appendConnect(resp *jute.ConnectResponse) {
	start := len(c.out)
	e := jute.Encoder{B: append(c.out, 0, 0, 0, 0)}
	resp.Encode(&e)
	c.out = e.B
	binary.BigEndian.PutUint32(c.out[start:], uint32(len(c.out)-start-4))
	c.sent++
	c.s.stats.sent.Add(1)
}

// appendReply queues one reply; the body is written only for OK. Lock
// should be held.
func (c *conn) appendReply(xid int32, zxid int64, code jute.Code, rec jute.Record) {
	start := len(c.out)
	e := jute.Encoder{B: append(c.out, 0, 0, 0, 0)}
	h := jute.ReplyHeader{Xid: xid, Zxid: zxid, Err: code}
	h.Encode(&e)
	if code == jute.OK && rec != nil {
		rec.Encode(&e)
	}
	c.out = e.B
	binary.BigEndian.PutUint32(c.out[start:], uint32(len(c.out)-start-4))
	c.sent++
	c.s.stats.sent.Add(1)
}

// appendNotify queues a watch notification (xid -1). Lock should be held.
func (c *conn) appendNotify(typ int32, path string) {
	ev := jute.WatcherEvent{Type: typ, State: jute.StateSyncConnected, Path: path}
	c.appendReply(jute.XidNotification, -1, jute.OK, &ev)
}

// notify queues a notification from the applier; the writer is woken at
// the end of the applier's batch.
func (c *conn) notify(typ int32, path string) {
	c.mu.Lock()
	if !c.closed {
		c.appendNotify(typ, path)
	}
	c.mu.Unlock()
	c.s.wakeLater(c)
}

// enqueue adds a reply slot; false when the connection is closed. When
// the connection already has maxPending replies outstanding it waits for
// room, which stops reading from that client (ZooKeeper throttles the same
// way) instead of queueing without bound.
func (c *conn) enqueue(it *item) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitRoomLocked()
	if c.closed {
		return false
	}
	c.queue = append(c.queue, it)
	return true
}

// Lock should be held.
func (c *conn) waitRoomLocked() {
	for !c.closed && len(c.queue)-c.head >= maxPending {
		c.waiting = true
		c.room.Wait()
	}
}

// Lock should be held.
func (c *conn) wakeWaiter() {
	if c.waiting {
		c.waiting = false
		c.room.Broadcast()
	}
}

// noteReply updates the per-connection statistics cons prints. Lock
// should be held.
func (c *conn) noteReply(it *item, zxid int64) {
	now := time.Now()
	lat := now.Sub(it.start).Milliseconds()
	c.lastOp = lastOpName(it.op)
	if it.xid >= 0 {
		c.lastCxid = int64(it.xid)
	}
	c.lastZxid = zxid
	c.lastResp = now.UnixMilli()
	c.lastLat = lat
	if c.minLat < 0 || lat < c.minLat {
		c.minLat = lat
	}
	c.maxLat = max(c.maxLat, lat)
	c.latTotal += lat
	c.latCount++
	d := now.Sub(it.start)
	c.s.stats.latency(d)
	if it.pipeline {
		c.s.stats.update.observe(d)
	} else {
		c.s.stats.read.observe(d)
	}
}

// handle runs one request frame; false closes the connection.
func (c *conn) handle(frame []byte) bool {
	s := c.s
	var h jute.RequestHeader
	d := jute.NewDecoder(frame)
	h.Decode(d)
	if d.Err != nil {
		c.malformed("request header", d.Err)
		return false
	}
	body := frame[d.Off:]
	s.stats.received.Add(1)
	c.mu.Lock()
	c.recv++
	c.mu.Unlock()
	sid := c.session()
	it := &item{xid: h.Xid, op: h.Type, start: time.Now()}
	if !s.tracker.touch(sid, 0, s.nowMs()) {
		it.canned, it.code, it.close = true, jute.ErrSessionExpired, true
		c.read(it, nil)
		return false
	}
	switch h.Type {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete,
		jute.OpSetData, jute.OpSetACL, jute.OpMulti, jute.OpDeleteContainer, jute.OpCloseSession, jute.OpCheck:
		// A body that does not decode still goes through the log: the tree
		// answers MarshallingError and the write spends its zxid, as
		// ZooKeeper's error transaction does.
		if h.Type == jute.OpCloseSession {
			s.tracker.setClosing(sid)
		}
		it.pipeline = true
		if !c.enqueue(it) {
			return false
		}
		s.pipe.submit(&proposal{conn: c, item: it, entry: &tree.Entry{
			Session: sid, Cxid: h.Xid, Type: h.Type, Auth: c.authIDs(), Body: append([]byte(nil), body...),
		}})
		return true
	case jute.OpSync:
		var req jute.PathRequest
		if jute.Unmarshal(body, &req).Err != nil {
			it.canned, it.code = true, jute.ErrMarshallingError
			c.read(it, nil)
			return true
		}
		it.pipeline = true
		if !c.enqueue(it) {
			return false
		}
		s.pipe.submit(&proposal{conn: c, item: it, syncPath: req.Path})
		return true
	case jute.OpAuth:
		it.canned = true
		it.code, it.close = c.authenticate(body)
		c.read(it, nil)
		return !it.close
	case jute.OpPing, jute.OpExists, jute.OpGetData, jute.OpGetChildren, jute.OpGetChildren2, jute.OpGetACL,
		jute.OpGetAllChildrenNumber, jute.OpGetEphemerals, jute.OpWhoAmI, jute.OpMultiRead, jute.OpSetWatches,
		jute.OpSetWatches2, jute.OpAddWatch, jute.OpRemoveWatches, jute.OpCheckWatches, jute.OpReconfig:
		c.read(it, body)
		return true
	}
	// ZooKeeper's UnimplementedRequestProcessor: answer Unimplemented and
	// close the connection.
	s.log.Warn(fmt.Sprintf("Received packet at server of unknown type %d from %s", int32(h.Type), c.remote))
	it.canned, it.code, it.close = true, jute.ErrUnimplemented, true
	c.read(it, nil)
	return false
}

// read answers a non-pipeline request now, or queues it behind this
// connection's pending writes so that replies keep request order.
func (c *conn) read(it *item, body []byte) {
	s := c.s
	if it.close {
		c.draining = true
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.waitRoomLocked()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.head < len(c.queue) {
		if body != nil {
			it.body = append([]byte(nil), body...)
		}
		// An auth packet behind this read must not count for it.
		it.auth = c.authIDs()
		c.queue = append(c.queue, it)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	// Only readLoop adds to the queue, so it stays empty meanwhile.
	s.treeMu.RLock()
	c.mu.Lock()
	if !c.closed {
		s.execRead(c, it, body)
	}
	full := len(c.out) >= flushAt
	c.mu.Unlock()
	s.treeMu.RUnlock()
	c.unsent = true
	if full || it.close {
		c.signal()
	}
}

// flushAt is how many reply bytes a connection gathers before its writer
// is woken even though more requests are buffered.
const flushAt = 64 << 10

// complete answers a pipeline item after the applier has applied it; the
// writer is woken at the end of the applier's batch. Called by the applier
// with treeMu held.
func (c *conn) complete(p *proposal, zxid int64, res *tree.Result) {
	c.s.wakeLater(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.head == len(c.queue) || c.queue[c.head] != p.item {
		panic(fmt.Sprintf("server: reply for xid %d of session 0x%x is not at the head of its connection's queue", p.item.xid, c.session()))
	}
	c.popFront()
	it := p.item
	switch {
	case p.connect != nil:
		if res.Err != jute.OK {
			p.connect = &jute.ConnectResponse{Passwd: make([]byte, 16), HasReadOnly: p.connect.HasReadOnly}
			c.closeAfterFlushLocked()
		} else {
			c.s.log.Info(fmt.Sprintf("Established session 0x%x with negotiated timeout %d for client %s", p.connect.SessionID, p.connect.TimeOut, c.remote))
		}
		c.appendConnect(p.connect)
	case p.entry == nil:
		c.appendReply(it.xid, zxid, jute.OK, &jute.PathRequest{Path: p.syncPath})
	default:
		code, resp := res.Err, res.Resp
		if it.op == jute.OpMulti && resp != nil {
			code = jute.OK // per-op errors travel inside the MultiResponse
		}
		c.appendReply(it.xid, zxid, code, resp)
		if it.op == jute.OpCloseSession {
			c.closeAfterFlushLocked()
		}
	}
	c.noteReply(it, zxid)
	c.drainLocked()
}

// drainLocked runs the reads queued behind pipeline items that are now
// answered. Lock should be held, and treeMu (read or write).
func (c *conn) drainLocked() {
	for c.head < len(c.queue) && !c.queue[c.head].pipeline {
		it := c.popFront()
		c.s.execRead(c, it, it.body)
	}
}

// Lock should be held.
func (c *conn) popFront() *item {
	it := c.queue[c.head]
	c.queue[c.head] = nil
	c.head++
	c.wakeWaiter()
	if c.head == len(c.queue) {
		c.queue, c.head = c.queue[:0], 0
	}
	return it
}
