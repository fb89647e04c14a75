package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"kzoo/coordinator/jute"
)

// maxFrame bounds a reply frame: a 1 MiB znode plus headers, and some
// slack for a large getChildren answer, as ZooKeeper's client allows
// jute.maxbuffer (4 MiB by default on the client side).
const maxFrame = 4 << 20

// run is the connection loop: connect, serve until the connection drops,
// then try the next server, keeping the session, until it ends.
func (c *Client) run() {
	defer close(c.finished)
	failures := 0
	var passErrs []string // why each server of the current pass failed
	for i := 0; ; i++ {
		select {
		case <-c.done:
			c.failAll(ErrClosed)
			return
		default:
		}
		addr := c.servers[i%len(c.servers)]
		conn, err := c.connectOnce(addr)
		if err != nil {
			if errors.Is(err, jute.ErrSessionExpired) {
				c.logf("session 0x%x expired (server %s)", c.SessionID(), addr)
				c.shutdown(StateClosed, jute.StateExpired, fmt.Errorf("%w: server %s", jute.ErrSessionExpired, addr))
				c.failAll(jute.ErrSessionExpired)
				return
			}
			c.logf("connect to %s: %v", addr, err)
			failures++
			passErrs = append(passErrs, err.Error())
			if failures%len(c.servers) == 0 {
				// A whole pass failed: requests that have waited long
				// enough for a connection fail now, as ZooKeeper's client
				// fails them (it fails them at once; a short grace lets a
				// server that is still starting up answer).
				c.failQueued(fmt.Errorf("%w: %s", jute.ErrConnectionLoss, strings.Join(passErrs, "; ")), time.Now().Add(-queueGrace))
				passErrs = nil
				if !c.pause(backoff(failures / len(c.servers))) {
					c.failAll(ErrClosed)
					return
				}
			}
			continue
		}
		failures, passErrs = 0, nil
		err = c.serve(conn, addr)
		c.mu.Lock()
		if c.closing {
			// Close is waiting for closeSession: whatever ended the
			// connection, the session is being closed.
			c.mu.Unlock()
			c.failAll(ErrClosed)
			<-c.done
			c.failAll(ErrClosed)
			return
		}
		wasLive := c.state == StateConnected || c.state == StateConnectedReadOnly
		if c.closeErr == nil {
			c.state = StateConnecting
			c.signalEdgeLocked()
		}
		c.mu.Unlock()
		c.failAll(fmt.Errorf("%w: server %s: %v", jute.ErrConnectionLoss, addr, err))
		if wasLive {
			c.logf("disconnected from %s: %v", addr, err)
			c.emit(Event{Type: jute.EventNone, State: jute.StateDisconnected, Server: addr, Err: err})
		}
	}
}

// backoff grows with the number of failed passes, up to a second.
func backoff(passes int) time.Duration {
	d := time.Duration(passes) * 100 * time.Millisecond
	if d > time.Second {
		d = time.Second
	}
	return d
}

// pause waits d unless the client is closed first; it reports whether to
// go on.
func (c *Client) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

// queueGrace is how long a request waits for a connection through
// failed passes over the server list before it fails.
const queueGrace = time.Second

// failQueued fails the requests not yet written that were queued before
// cutoff.
func (c *Client) failQueued(err error, cutoff time.Time) {
	c.mu.Lock()
	var failed, kept []*request
	for _, r := range c.queue {
		if r.queued.Before(cutoff) {
			failed = append(failed, r)
		} else {
			kept = append(kept, r)
		}
	}
	c.queue = kept
	c.mu.Unlock()
	for _, r := range failed {
		r.done <- err
	}
}

// failAll fails every request written or waiting, with the session's
// final error when it has ended.
func (c *Client) failAll(err error) {
	c.mu.Lock()
	if c.closeErr != nil {
		err = c.closeErr
	}
	q := append(c.pending, c.queue...)
	c.pending, c.queue = nil, nil
	c.mu.Unlock()
	for _, r := range q {
		if r.op == jute.OpCloseSession && errors.Is(err, ErrClosed) {
			r.done <- nil
			continue
		}
		r.done <- err
	}
}

// connectOnce dials addr and performs the session handshake. On success
// the client is connected and the primed requests (setWatches2, auth)
// are at the head of the queue.
func (c *Client) connectOnce(addr string) (net.Conn, error) {
	c.mu.Lock()
	timeout := c.timeout
	req := jute.ConnectRequest{
		ProtocolVersion: 0,
		LastZxidSeen:    c.lastZxid,
		TimeOut:         int32(c.opts.SessionTimeout / time.Millisecond),
		SessionID:       c.sessionID,
		Passwd:          append([]byte(nil), c.passwd...),
		ReadOnly:        c.opts.CanBeReadOnly,
		HasReadOnly:     true,
	}
	c.mu.Unlock()
	connectTimeout := timeout / time.Duration(len(c.servers))
	if connectTimeout < time.Second {
		connectTimeout = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	conn, err := c.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(connectTimeout)
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(jute.FrameRecords(&req)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send connect request to %s: %w", addr, err)
	}
	buf, err := jute.ReadFrame(conn, maxFrame, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read connect response from %s: %w", addr, err)
	}
	var resp jute.ConnectResponse
	if d := jute.Unmarshal(buf, &resp); d.Err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: connect response from %s: %v", ErrProtocol, addr, d.Err)
	}
	if resp.TimeOut <= 0 {
		conn.Close()
		return nil, jute.ErrSessionExpired
	}
	_ = conn.SetDeadline(time.Time{})

	c.mu.Lock()
	if c.closeErr != nil {
		c.mu.Unlock()
		conn.Close()
		return nil, c.closeErr
	}
	c.sessionID = resp.SessionID
	c.passwd = resp.Passwd
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	c.server = addr
	st, keeper := StateConnected, jute.StateSyncConnected
	if resp.ReadOnly {
		st, keeper = StateConnectedReadOnly, jute.StateConnectedReadOnly
	}
	c.state = st
	var primed []*request
	for _, sw := range c.watches.setWatches(c.lastZxid) {
		primed = append(primed, &request{xid: jute.XidSetWatches, op: jute.OpSetWatches2, body: sw, done: make(chan error, 1)})
	}
	for i := range c.auths {
		a := c.auths[i]
		primed = append(primed, &request{xid: jute.XidAuth, op: jute.OpAuth, body: &a, done: make(chan error, 1)})
	}
	c.queue = append(primed, c.queue...)
	c.signalEdgeLocked()
	sid := c.sessionID
	c.mu.Unlock()
	c.logf("session 0x%x established with %s, negotiated timeout %d ms", sid, addr, resp.TimeOut)
	c.emit(Event{Type: jute.EventNone, State: keeper, Server: addr})
	return conn, nil
}

// serve writes queued requests and pings, while a reader goroutine
// matches replies, until the connection fails or the client closes.
func (c *Client) serve(conn net.Conn, addr string) error {
	c.mu.Lock()
	timeout := c.timeout
	c.mu.Unlock()
	readTimeout := timeout * 2 / 3
	pingEvery := timeout / 3
	readErr := make(chan error, 1)
	go func() { readErr <- c.readLoop(conn, addr, readTimeout) }()
	finish := func(err error) error {
		conn.Close()
		<-readErr
		return err
	}
	ticker := time.NewTicker(pingEvery)
	defer ticker.Stop()
	lastSend := time.Now()
	c.kick()
	for {
		select {
		case <-c.wake:
			n, err := c.flush(conn, timeout)
			if err != nil {
				return finish(fmt.Errorf("write to %s: %w", addr, err))
			}
			if n > 0 {
				lastSend = time.Now()
			}
		case <-ticker.C:
			if time.Since(lastSend) < pingEvery*9/10 {
				continue
			}
			ping := jute.RequestHeader{Xid: jute.XidPing, Type: jute.OpPing}
			_ = conn.SetWriteDeadline(time.Now().Add(timeout))
			if _, err := conn.Write(jute.FrameRecords(&ping)); err != nil {
				return finish(fmt.Errorf("ping %s: %w", addr, err))
			}
			lastSend = time.Now()
		case err := <-readErr:
			conn.Close()
			return err
		case <-c.done:
			return finish(ErrClosed)
		}
	}
}

// kick wakes the writer.
func (c *Client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flush moves the queue to pending and writes it as one batch; pending is
// extended before the write so a fast reply always finds its request.
func (c *Client) flush(conn net.Conn, timeout time.Duration) (int, error) {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.pending = append(c.pending, q...)
	c.mu.Unlock()
	if len(q) == 0 {
		return 0, nil
	}
	var out []byte
	for _, r := range q {
		hdr := jute.RequestHeader{Xid: r.xid, Type: r.op}
		if r.body != nil {
			out = append(out, jute.FrameRecords(&hdr, r.body)...)
		} else {
			out = append(out, jute.FrameRecords(&hdr)...)
		}
	}
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := conn.Write(out)
	return len(q), err
}

// readLoop reads replies until the connection fails. A reply that does
// not answer the oldest pending request is a protocol error.
func (c *Client) readLoop(conn net.Conn, addr string, readTimeout time.Duration) error {
	var buf []byte
	for {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		frame, err := jute.ReadFrame(conn, maxFrame, buf)
		if err != nil {
			return fmt.Errorf("read from %s: %w", addr, err)
		}
		buf = frame[:0]
		hdr, d, err := decodeHeader(frame)
		if err != nil {
			return fmt.Errorf("%w: reply header from %s: %v", ErrProtocol, addr, err)
		}
		switch hdr.Xid {
		case jute.XidPing:
			continue
		case jute.XidNotification:
			ev, err := decodeNotification(d)
			if err != nil {
				return fmt.Errorf("%w: notification from %s: %v", ErrProtocol, addr, err)
			}
			c.mu.Lock()
			c.watches.fire(ev.Type, ev.Path)
			c.mu.Unlock()
			c.emit(Event{Type: ev.Type, State: ev.State, Path: c.stripChroot(ev.Path), Server: addr})
			continue
		}
		c.mu.Lock()
		if len(c.pending) == 0 || c.pending[0].xid != hdr.Xid {
			want := "none"
			if len(c.pending) > 0 {
				want = fmt.Sprint(c.pending[0].xid)
			}
			c.mu.Unlock()
			return fmt.Errorf("%w: reply xid %d from %s, expected %s", ErrProtocol, hdr.Xid, addr, want)
		}
		r := c.pending[0]
		c.pending = c.pending[1:]
		if hdr.Zxid > c.lastZxid {
			c.lastZxid = hdr.Zxid
		}
		r.zxid = hdr.Zxid
		var derr error
		if hdr.Err == jute.OK && r.resp != nil {
			if err := decodeBody(d, r.resp); err != nil {
				derr = fmt.Errorf("%w: %v reply from %s: %v", ErrProtocol, r.op, addr, err)
			}
		}
		if derr == nil && r.onReply != nil {
			r.onReply(hdr.Err)
		}
		c.mu.Unlock()
		switch {
		case derr != nil:
			r.done <- derr
			return derr
		case hdr.Err != jute.OK:
			r.done <- hdr.Err
		default:
			r.done <- nil
		}
		if r.xid == jute.XidAuth && hdr.Err == jute.ErrAuthFailed {
			c.logf("authentication failed on %s", addr)
			c.shutdown(StateAuthFailed, jute.StateAuthFailed, jute.ErrAuthFailed)
			return jute.ErrAuthFailed
		}
		if r.op == jute.OpCloseSession {
			return ErrClosed
		}
	}
}

// enqueue queues r (assigning an xid unless it has a special one) and
// waits for its answer or ctx.
func (c *Client) enqueue(ctx context.Context, r *request) error {
	c.mu.Lock()
	if c.closeErr != nil {
		err := c.closeErr
		c.mu.Unlock()
		return err
	}
	if r.xid == 0 {
		c.xid++
		if c.xid <= 0 {
			c.xid = 1
		}
		r.xid = c.xid
	}
	r.queued = time.Now()
	c.queue = append(c.queue, r)
	live := c.state == StateConnected || c.state == StateConnectedReadOnly
	c.mu.Unlock()
	if live {
		c.kick()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// do sends op with body and decodes the answer into resp.
func (c *Client) do(ctx context.Context, op jute.Op, body, resp jute.Record, onReply func(jute.Code)) error {
	return c.enqueue(ctx, &request{op: op, body: body, resp: resp, done: make(chan error, 1), onReply: onReply})
}

// decodeHeader reads a reply frame's header and returns the decoder
// positioned at its body.
func decodeHeader(frame []byte) (jute.ReplyHeader, *jute.Decoder, error) {
	d := jute.NewDecoder(frame)
	var hdr jute.ReplyHeader
	hdr.Decode(d)
	return hdr, d, d.Err
}

// decodeNotification reads a watch notification's body.
func decodeNotification(d *jute.Decoder) (jute.WatcherEvent, error) {
	var ev jute.WatcherEvent
	ev.Decode(d)
	if d.Err == nil && ev.Path == "" && ev.Type != jute.EventNone {
		return ev, fmt.Errorf("notification of type %d without a path", ev.Type)
	}
	return ev, d.Err
}

// decodeBody reads a successful reply's body into resp.
func decodeBody(d *jute.Decoder, resp jute.Record) error {
	resp.Decode(d)
	return d.Err
}
