// Package client is a small ZooKeeper 3.8 client built on coordinator/jute:
// it owns one session at a time against a list of servers (with an
// optional chroot), keeps that session alive across reconnects (session
// id and password, last zxid seen, watches re-sent with setWatches2,
// credentials re-sent with auth), pings at a third of the negotiated
// timeout, pipelines requests and matches replies by xid, and delivers
// watch notifications and session state changes as Events on a channel.
//
// It never interprets znode contents, never retries an operation on its
// own (a request in flight when a connection drops fails with
// jute.ErrConnectionLoss, as ZooKeeper's client does), and never blocks
// its connection on a slow Events reader: events queue without bound and
// keep their order.
//
// Errors from the server come back as jute.Code values, which implement
// error; client-side failures are the Err* sentinels below, wrapped with
// the address or path they concern.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"kzoo/coordinator/jute"
)

// ErrClosed is returned by every operation once Close has been called or
// the session has ended (expired or failed authentication).
var ErrClosed = errors.New("client: closed")

// ErrProtocol reports a reply the client could not make sense of; the
// connection it came on is dropped.
var ErrProtocol = errors.New("client: protocol error")

// ErrConnectString reports an unusable connect string.
var ErrConnectString = errors.New("client: bad connect string")

// State is the client's connection state, named as ZooKeeper's
// ZooKeeper.States are (the shell prints it in its prompt).
type State int32

const (
	StateConnecting State = iota
	StateConnected
	StateConnectedReadOnly
	StateClosed
	StateAuthFailed
	StateNotConnected
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "CONNECTING"
	case StateConnected:
		return "CONNECTED"
	case StateConnectedReadOnly:
		return "CONNECTEDREADONLY"
	case StateClosed:
		return "CLOSED"
	case StateAuthFailed:
		return "AUTH_FAILED"
	}
	return "NOT_CONNECTED"
}

// Event is a watch notification (Type other than jute.EventNone, Path set)
// or a session state change (Type jute.EventNone, State one of
// jute.StateSyncConnected, StateDisconnected, StateExpired, StateClosed,
// StateAuthFailed, StateConnectedReadOnly). Server is the address the
// session was on; Err says why a connection ended, when it did.
type Event struct {
	Type   int32
	State  int32
	Path   string
	Server string
	Err    error
}

// String renders the event as ZooKeeper's WatchedEvent.toString does:
// "WatchedEvent state:SyncConnected type:NodeDataChanged path:/x", with
// "path:null" for a state change.
func (e Event) String() string {
	p := e.Path
	if e.Type == jute.EventNone && p == "" {
		p = "null"
	}
	return fmt.Sprintf("WatchedEvent state:%s type:%s path:%s", KeeperStateName(e.State), EventTypeName(e.Type), p)
}

// KeeperStateName is Watcher.Event.KeeperState's name for a state code.
func KeeperStateName(s int32) string {
	switch s {
	case jute.StateDisconnected:
		return "Disconnected"
	case jute.StateSyncConnected:
		return "SyncConnected"
	case jute.StateAuthFailed:
		return "AuthFailed"
	case jute.StateConnectedReadOnly:
		return "ConnectedReadOnly"
	case jute.StateSASLAuthenticated:
		return "SaslAuthenticated"
	case jute.StateExpired:
		return "Expired"
	case jute.StateClosed:
		return "Closed"
	}
	return fmt.Sprintf("Unknown(%d)", s)
}

// EventTypeName is Watcher.Event.EventType's name for a type code.
func EventTypeName(t int32) string {
	switch t {
	case jute.EventNone:
		return "None"
	case jute.EventNodeCreated:
		return "NodeCreated"
	case jute.EventNodeDeleted:
		return "NodeDeleted"
	case jute.EventNodeDataChanged:
		return "NodeDataChanged"
	case jute.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case jute.EventDataWatchRemoved:
		return "DataWatchRemoved"
	case jute.EventChildWatchRemoved:
		return "ChildWatchRemoved"
	case jute.EventPersistentWatchRemoved:
		return "PersistentWatchRemoved"
	}
	return fmt.Sprintf("Unknown(%d)", t)
}

// Dialer opens a connection to addr; it is net.Dialer.DialContext's shape
// so tests can inject pipes or fault-injecting proxies.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Options configures Connect. Servers is required; the rest have defaults.
type Options struct {
	// Servers are host:port addresses, tried in order and round robin on
	// reconnect.
	Servers []string
	// Chroot, when set ("/kafka"), is prefixed to every path sent and
	// stripped from every path received.
	Chroot string
	// SessionTimeout is the timeout asked for (default 30s); the server
	// negotiates it within its bounds.
	SessionTimeout time.Duration
	// CanBeReadOnly lets the session attach to a read-only server.
	CanBeReadOnly bool
	// Dial defaults to a net.Dialer.
	Dial Dialer
	// EventBuffer is the Events channel's capacity (default 256); beyond
	// it events queue in memory, in order.
	EventBuffer int
	// Logf, when set, receives connection log lines (connect, disconnect,
	// reconnect); nil discards them.
	Logf func(format string, args ...any)
}

// ParseConnectString splits ZooKeeper's connect string
// "host:port[,host:port...][/chroot]" into servers and chroot. A host
// without a port gets 2181.
func ParseConnectString(s string) (servers []string, chroot string, err error) {
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], s[i:]
		if chroot == "/" {
			chroot = ""
		}
		if chroot != "" {
			if err := ValidatePath(chroot); err != nil {
				return nil, "", fmt.Errorf("%w %q: chroot: %v", ErrConnectString, s, err)
			}
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			if strings.Count(h, ":") > 1 && !strings.HasPrefix(h, "[") {
				return nil, "", fmt.Errorf("%w %q: address %q: %v", ErrConnectString, s, h, err)
			}
			h = net.JoinHostPort(strings.Trim(h, "[]"), "2181")
		}
		servers = append(servers, h)
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("%w %q: no server address", ErrConnectString, s)
	}
	return servers, chroot, nil
}

// ValidatePath applies ZooKeeper's PathUtils.validatePath rules: absolute,
// no trailing slash (except "/"), no empty, "." or ".." segment, no NUL or
// control characters.
func ValidatePath(p string) error {
	if p == "" {
		return errors.New("Path length must be > 0")
	}
	if p[0] != '/' {
		return errors.New("Path must start with / character")
	}
	if p == "/" {
		return nil
	}
	if p[len(p)-1] == '/' {
		return errors.New("Path must not end with / character")
	}
	for _, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "":
			return errors.New("empty node name specified")
		case ".", "..":
			return fmt.Errorf("relative paths not allowed")
		}
	}
	for _, r := range p {
		if r == 0 || (r > 0 && r < 0x1f) || (r > 0x7f && r < 0x9f) || (r > 0xd800 && r < 0xf8ff) || (r > 0xfff0 && r < 0xffff) {
			return fmt.Errorf("invalid character %q", r)
		}
	}
	return nil
}

// Client is one ZooKeeper session. Its methods are safe for concurrent
// use; requests from all goroutines are pipelined on one connection and
// answered in the order they were sent.
//
// Lock order: mu, then evMu. Fields below mu are guarded by it.
type Client struct {
	opts    Options
	servers []string
	dial    Dialer

	events     chan Event
	evMu       sync.Mutex
	evOverflow []Event
	evWake     chan struct{}
	evClosed   bool

	done     chan struct{} // closed by Close
	finished chan struct{} // closed when the connection loop has exited

	mu        sync.Mutex
	state     State
	server    string // address of the current connection
	sessionID int64
	passwd    []byte
	timeout   time.Duration // negotiated
	lastZxid  int64
	xid       int32
	queue     []*request // not yet written on the current connection
	pending   []*request // written, awaiting a reply, in send order
	wake      chan struct{}
	closeErr  error // what ended the session for good
	closing   bool  // Close has sent closeSession
	watches   watchSet
	auths     []jute.AuthPacket
	closeOnce sync.Once
	connected chan struct{} // closed and replaced on each (dis)connect edge
}

// request is one call in flight.
type request struct {
	xid  int32
	op   jute.Op
	body jute.Record // nil for ops with no body (whoAmI, closeSession)
	resp jute.Record // nil for ops with no answer body
	done chan error  // buffered 1
	zxid int64
	// queued is when the request was queued.
	queued time.Time
	// onReply runs under mu when the reply arrives, before done is
	// signalled: it registers watches and rewrites paths.
	onReply func(err jute.Code)
}

// Connect starts a session against opts.Servers and returns at once; the
// first connection is made in the background (watch Events for
// SyncConnected or use WaitConnected). Requests made before then wait
// for it, and fail with jute.ErrConnectionLoss (naming the address and
// the cause) once a pass over every server has failed and they have
// waited a second.
func Connect(opts Options) (*Client, error) {
	if len(opts.Servers) == 0 {
		return nil, fmt.Errorf("%w: no server address", ErrConnectString)
	}
	if opts.Chroot == "/" {
		opts.Chroot = ""
	}
	if opts.Chroot != "" {
		if err := ValidatePath(opts.Chroot); err != nil {
			return nil, fmt.Errorf("%w: chroot %q: %v", ErrConnectString, opts.Chroot, err)
		}
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 30 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 256
	}
	c := &Client{
		opts:      opts,
		servers:   append([]string(nil), opts.Servers...),
		dial:      opts.Dial,
		events:    make(chan Event, opts.EventBuffer),
		evWake:    make(chan struct{}, 1),
		done:      make(chan struct{}),
		finished:  make(chan struct{}),
		state:     StateConnecting,
		passwd:    make([]byte, 16),
		timeout:   opts.SessionTimeout,
		wake:      make(chan struct{}, 1),
		watches:   newWatchSet(),
		connected: make(chan struct{}),
	}
	if c.dial == nil {
		var d net.Dialer
		c.dial = d.DialContext
	}
	go c.dispatchEvents()
	go c.run()
	return c, nil
}

// Events delivers watch notifications and session state changes in the
// order they happened. It is closed after the Closed (or Expired,
// AuthFailed) event once the session has ended.
func (c *Client) Events() <-chan Event { return c.events }

// State is the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SessionID is the session's id, 0 before the first connection.
func (c *Client) SessionID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// SessionTimeout is the timeout the server negotiated (the requested one
// before the first connection).
func (c *Client) SessionTimeout() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeout
}

// Server is the address of the current (or last) connection.
func (c *Client) Server() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// LastZxid is the highest zxid seen in a reply.
func (c *Client) LastZxid() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastZxid
}

// WaitConnected blocks until the client is connected, the session ends
// (returning its error), or ctx is done.
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		st, ch, cerr := c.state, c.connected, c.closeErr
		c.mu.Unlock()
		switch st {
		case StateConnected, StateConnectedReadOnly:
			return nil
		case StateClosed, StateAuthFailed:
			if cerr == nil {
				cerr = ErrClosed
			}
			return cerr
		}
		select {
		case <-ch:
		case <-c.finished:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close ends the session (closeSession, so its ephemerals go at once),
// waits for the server's answer up to a timeout, and emits the Closed
// event. It is safe to call more than once.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		live := c.state == StateConnected || c.state == StateConnectedReadOnly
		c.closing = live
		c.mu.Unlock()
		if live {
			ctx, cancel := context.WithTimeout(context.Background(), c.SessionTimeout()/2+time.Second)
			err = c.do(ctx, jute.OpCloseSession, nil, nil, nil)
			cancel()
			if errors.Is(err, jute.ErrConnectionLoss) {
				err = nil
			}
		}
		c.shutdown(StateClosed, jute.StateClosed, ErrClosed)
		<-c.finished
	})
	return err
}

// shutdown ends the session for good with st, emitting a state event
// (unless one ended it already).
func (c *Client) shutdown(st State, keeperState int32, why error) {
	c.mu.Lock()
	if c.closeErr != nil {
		c.mu.Unlock()
		return
	}
	c.closeErr = why
	c.state = st
	q := c.queue
	c.queue = nil
	c.signalEdgeLocked()
	c.mu.Unlock()
	for _, r := range q {
		r.done <- why
	}
	close(c.done)
	c.emit(Event{Type: jute.EventNone, State: keeperState, Err: why})
}

// signalEdgeLocked wakes WaitConnected callers. Lock should be held.
func (c *Client) signalEdgeLocked() {
	close(c.connected)
	c.connected = make(chan struct{})
}

// emit queues ev for Events without ever blocking the caller.
func (c *Client) emit(ev Event) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.evClosed {
		return
	}
	if len(c.evOverflow) == 0 {
		select {
		case c.events <- ev:
			return
		default:
		}
	}
	c.evOverflow = append(c.evOverflow, ev)
	select {
	case c.evWake <- struct{}{}:
	default:
	}
}

// dispatchEvents moves overflowed events into the channel in order, and
// closes the channel once the session is over. Events that still do not
// fit when the client has finished (nobody is reading) are dropped.
func (c *Client) dispatchEvents() {
	for {
		select {
		case <-c.evWake:
			c.forwardOverflow()
		case <-c.finished:
			c.evMu.Lock()
		flush:
			for len(c.evOverflow) > 0 {
				select {
				case c.events <- c.evOverflow[0]:
					c.evOverflow = c.evOverflow[1:]
				default:
					break flush
				}
			}
			c.evOverflow = nil
			c.evClosed = true
			close(c.events)
			c.evMu.Unlock()
			return
		}
	}
}

// forwardOverflow blocks sending overflowed events until none is left or
// the client has finished.
func (c *Client) forwardOverflow() {
	for {
		c.evMu.Lock()
		if len(c.evOverflow) == 0 {
			c.evMu.Unlock()
			return
		}
		ev := c.evOverflow[0]
		c.evMu.Unlock()
		select {
		case c.events <- ev:
		case <-c.finished:
			return
		}
		c.evMu.Lock()
		c.evOverflow = c.evOverflow[1:]
		c.evMu.Unlock()
	}
}

func (c *Client) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}
