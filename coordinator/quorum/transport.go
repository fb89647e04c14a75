// Package quorum owns the TCP mesh between the servers of a coordinator
// ensemble: one connection per pair of servers, dialled by the server with
// the larger id, framed zab messages in order on it. It never interprets
// a message beyond stamping who sent it.
//
// Delivery contract (what coordinator/zab needs): messages between two
// servers arrive in the order they were sent, or not at all; whenever a
// connection is lost or a new one replaces it, the local side receives a
// zab.MsgDisconnected from that peer before any message of the new
// connection, so a message dropped on the way is always followed by a
// disconnect notice.
package quorum

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"kzoo/coordinator/zab"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("quorum: transport closed")

const (
	magic        = "KZQ1"
	maxFrame     = 1 << 30 // a snapshot can be large; a frame past this is a broken peer
	maxQueued    = 1 << 16 // messages queued for one slow peer before we cut it off
	redialPeriod = 100 * time.Millisecond
)

// Options configures a Transport.
type Options struct {
	Self     int64
	Listen   []string         // addresses to accept peers on (quorum and election ports)
	Peers    map[int64]string // every other server's quorum address
	Logf     func(format string, args ...any)
	Dial     func(network, addr string, timeout time.Duration) (net.Conn, error) // nil: net.DialTimeout
	ListenFn func(network, addr string) (net.Listener, error)                    // nil: net.Listen
}

// Transport is the mesh. Send never blocks; Recv delivers what peers sent.
type Transport struct {
	opts   Options
	recv   chan zab.Message
	lns    []net.Listener
	mu     sync.Mutex // guards conns and closed
	conns  map[int64]*conn
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

type conn struct {
	peer int64
	nc   net.Conn
	mu   sync.Mutex
	q    [][]byte
	wake chan struct{}
	dead bool
}

// New returns a transport; Start begins listening and dialling.
func New(opts Options) *Transport {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Dial == nil {
		opts.Dial = net.DialTimeout
	}
	if opts.ListenFn == nil {
		opts.ListenFn = net.Listen
	}
	return &Transport{opts: opts, recv: make(chan zab.Message, 4096), conns: map[int64]*conn{}, done: make(chan struct{})}
}

// Start listens on every address and starts dialling smaller ids.
func (t *Transport) Start() error {
	for _, a := range t.opts.Listen {
		ln, err := t.opts.ListenFn("tcp", a)
		if err != nil {
			t.Close()
			return fmt.Errorf("quorum: listen on %s: %w", a, err)
		}
		t.lns = append(t.lns, ln)
		t.wg.Add(1)
		go t.accept(ln)
	}
	for id, addr := range t.opts.Peers {
		if id < t.opts.Self {
			t.wg.Add(1)
			go t.dialLoop(id, addr)
		}
	}
	return nil
}

// Addrs are the listeners' addresses (useful with port 0).
func (t *Transport) Addrs() []net.Addr {
	var as []net.Addr
	for _, ln := range t.lns {
		as = append(as, ln.Addr())
	}
	return as
}

// Recv is where peers' messages and disconnect notices arrive.
func (t *Transport) Recv() <-chan zab.Message { return t.recv }

// Connected reports whether a connection to peer is up.
func (t *Transport) Connected(peer int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns[peer] != nil
}

// Send queues m for m.To; without a connection it is dropped (the peer
// will see a disconnect notice before anything newer from us).
func (t *Transport) Send(m zab.Message) {
	t.mu.Lock()
	c := t.conns[m.To]
	t.mu.Unlock()
	if c == nil {
		return
	}
	body := zab.AppendMessage(make([]byte, 4, 128), &m)
	binary.BigEndian.PutUint32(body, uint32(len(body)-4))
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	if len(c.q) >= maxQueued {
		c.mu.Unlock()
		t.opts.Logf("quorum: peer %d is not keeping up (%d messages queued); closing its connection", c.peer, maxQueued)
		t.drop(c)
		return
	}
	c.q = append(c.q, body)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (t *Transport) accept(ln net.Listener) {
	defer t.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go t.handshakeIn(nc)
	}
}

func (t *Transport) handshakeIn(nc net.Conn) {
	var hdr [12]byte
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(nc, hdr[:]); err != nil || string(hdr[:4]) != magic {
		t.opts.Logf("quorum: connection from %s is not a kzoo peer; closed", nc.RemoteAddr())
		nc.Close()
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	id := int64(binary.BigEndian.Uint64(hdr[4:]))
	if _, ok := t.opts.Peers[id]; !ok || id <= t.opts.Self {
		t.opts.Logf("quorum: connection from %s claims server id %d, which is not a server.N line that dials us; closed", nc.RemoteAddr(), id)
		nc.Close()
		return
	}
	t.attach(id, nc)
}

func (t *Transport) dialLoop(id int64, addr string) {
	defer t.wg.Done()
	logged := false
	for {
		select {
		case <-t.done:
			return
		default:
		}
		if !t.Connected(id) {
			nc, err := t.opts.Dial("tcp", addr, time.Second)
			if err == nil {
				var hdr [12]byte
				copy(hdr[:], magic)
				binary.BigEndian.PutUint64(hdr[4:], uint64(t.opts.Self))
				if _, err = nc.Write(hdr[:]); err == nil {
					t.attach(id, nc)
					logged = false
				} else {
					nc.Close()
				}
			}
			if err != nil && !logged {
				t.opts.Logf("quorum: cannot reach server %d at %s: %v (retrying)", id, addr, err)
				logged = true
			}
		}
		select {
		case <-t.done:
			return
		case <-time.After(redialPeriod):
		}
	}
}

// attach makes nc the connection to id, replacing any older one, and
// announces the break before any message of the new connection.
func (t *Transport) attach(id int64, nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &conn{peer: id, nc: nc, wake: make(chan struct{}, 1)}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		nc.Close()
		return
	}
	old := t.conns[id]
	t.conns[id] = c
	t.mu.Unlock()
	if old != nil {
		old.kill()
	}
	t.deliver(zab.Message{Type: zab.MsgDisconnected, From: id, To: t.opts.Self})
	t.wg.Add(2)
	go t.writer(c)
	go t.reader(c)
}

func (t *Transport) deliver(m zab.Message) {
	select {
	case t.recv <- m:
	case <-t.done:
	}
}

func (c *conn) kill() {
	c.mu.Lock()
	c.dead = true
	c.q = nil
	c.mu.Unlock()
	c.nc.Close()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// drop closes c and, if it was still the current connection, tells the
// local side the peer is gone.
func (t *Transport) drop(c *conn) {
	t.mu.Lock()
	current := t.conns[c.peer] == c
	if current {
		delete(t.conns, c.peer)
	}
	t.mu.Unlock()
	c.kill()
	if current {
		t.deliver(zab.Message{Type: zab.MsgDisconnected, From: c.peer, To: t.opts.Self})
	}
}

func (t *Transport) writer(c *conn) {
	defer t.wg.Done()
	w := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		c.mu.Lock()
		q, dead := c.q, c.dead
		c.q = nil
		c.mu.Unlock()
		if dead {
			return
		}
		for _, b := range q {
			if _, err := w.Write(b); err != nil {
				t.drop(c)
				return
			}
		}
		if len(q) > 0 {
			if err := w.Flush(); err != nil {
				t.drop(c)
				return
			}
			continue
		}
		select {
		case <-c.wake:
		case <-t.done:
			return
		}
	}
}

func (t *Transport) reader(c *conn) {
	defer t.wg.Done()
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			t.drop(c)
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			t.opts.Logf("quorum: server %d sent a %d-byte frame (limit %d); closing its connection", c.peer, n, maxFrame)
			t.drop(c)
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			t.drop(c)
			return
		}
		m, err := zab.UnmarshalMessage(b)
		if err != nil {
			t.opts.Logf("quorum: server %d sent a malformed message (%v); closing its connection", c.peer, err)
			t.drop(c)
			return
		}
		m.From, m.To = c.peer, t.opts.Self
		// Deliver under the connection's lock: kill() waits for it, so no
		// message of an old connection can follow the notice that replaced it.
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			return
		}
		t.deliver(*m)
		c.mu.Unlock()
	}
}

// Close stops everything and waits for the goroutines.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	conns := t.conns
	t.conns = map[int64]*conn{}
	t.mu.Unlock()
	close(t.done)
	for _, ln := range t.lns {
		ln.Close()
	}
	for _, c := range conns {
		c.kill()
	}
	t.wg.Wait()
	return nil
}
