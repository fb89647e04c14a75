// Package faultproxy owns a fault-injecting TCP proxy for black-box tests:
// one Proxy listens on a loopback port and forwards every connection it
// accepts to one target address, and on command it partitions (no byte
// crosses in either direction until Heal), delays every chunk it forwards,
// or resets every connection it carries with a TCP RST.
//
// Tests put one Proxy on each directed link between ensemble peers, so the
// peers reach each other only through proxies while clients connect to the
// servers directly.
//
// A partition never loses or reorders bytes: a connection's bytes wait in
// the proxy (and, once its buffer is full, in the kernel) until Heal, as a
// real TCP connection's segments wait for retransmission. Peers that give up
// meanwhile close their end, and the proxy passes the close on once healed.
// The package must never touch anything but the sockets it opened itself,
// and never listen on anything but the address it is given.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by operations on a closed Proxy.
var ErrClosed = errors.New("faultproxy: proxy closed")

// chunkBytesMax is how much one direction of a connection reads before it
// forwards.
const chunkBytesMax = 32 << 10

// dialTimeout bounds the dial of a proxied connection's target.
const dialTimeout = 2 * time.Second

// Proxy forwards connections from its listener to one target. Its methods
// are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	// mu guards everything below; it is never held while doing I/O.
	mu      sync.Mutex
	healed  chan struct{} // closed while traffic flows; open while partitioned
	delay   time.Duration
	conns   map[*link]struct{}
	closed  bool
	stopped chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// link is one proxied connection: the accepted client side and the dialed
// target side (nil until dialed).
type link struct {
	client net.Conn
	// Lock of Proxy.mu should be held to read or write server and gone.
	server net.Conn
	gone   chan struct{} // closed when the link is torn down
	once   sync.Once
}

// New listens on listenAddr (use "127.0.0.1:0") and forwards every accepted
// connection to target.
func New(listenAddr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s for %s: %w", listenAddr, target, err)
	}
	healed := make(chan struct{})
	close(healed)
	p := &Proxy{
		ln:      ln,
		target:  target,
		healed:  healed,
		conns:   make(map[*link]struct{}),
		stopped: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Partition stops all traffic: no byte crosses the proxy in either direction
// and new connections are accepted but not forwarded until Heal.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.healed:
		p.healed = make(chan struct{})
	default: // already partitioned
	}
}

// Heal lets traffic flow again after Partition.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.healed:
	default:
		close(p.healed)
	}
}

// Partitioned reports whether the proxy currently stops traffic.
func (p *Proxy) Partitioned() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.healed:
		return false
	default:
		return true
	}
}

// SetDelay makes every chunk of bytes wait d before it is forwarded (0 turns
// the delay off). Chunks of one direction stay in order.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = max(d, 0)
}

// Reset tears down every connection the proxy carries with a TCP RST on
// both sides and returns how many there were. New connections are accepted
// as before.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		p.drop(l, true)
	}
	return len(links)
}

// Conns is the number of connections the proxy currently carries.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, resets every connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	close(p.stopped)
	p.mu.Unlock()
	err := p.ln.Close()
	p.Reset()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		l := &link{client: c, gone: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		p.conns[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// gate waits until the proxy is healed, then the configured delay. It
// returns false when the link or the proxy goes away meanwhile.
func (p *Proxy) gate(l *link) bool {
	p.mu.Lock()
	healed, delay := p.healed, p.delay
	p.mu.Unlock()
	select {
	case <-healed:
	case <-l.gone:
		return false
	case <-p.stopped:
		return false
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.gone:
			return false
		case <-p.stopped:
			return false
		}
	}
	return true
}

// serve dials the target once traffic may flow, then pumps both directions.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	if !p.gate(l) {
		p.drop(l, false)
		return
	}
	s, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		// The target is down: the client sees its connection reset, as it
		// would when connecting to a closed port.
		p.drop(l, true)
		return
	}
	p.mu.Lock()
	select {
	case <-l.gone:
		p.mu.Unlock()
		_ = s.Close()
		return
	default:
	}
	l.server = s
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(l, s, l.client) }()
	go func() { defer wg.Done(); p.pump(l, l.client, s) }()
	wg.Wait()
	p.drop(l, false)
}

// pump copies src to dst chunk by chunk, each chunk through the gate. An
// EOF from src is passed on as a half close once the gate opens; any other
// error tears the link down.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	buf := make([]byte, chunkBytesMax)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.drop(l, true)
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && p.gate(l) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					return
				}
			}
			p.drop(l, true)
			return
		}
	}
}

// drop closes both sides of l once, with an RST when reset is set, and
// forgets it.
func (p *Proxy) drop(l *link, reset bool) {
	l.once.Do(func() {
		p.mu.Lock()
		delete(p.conns, l)
		close(l.gone)
		s := l.server
		p.mu.Unlock()
		for _, c := range []net.Conn{l.client, s} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok && reset {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
	})
}
