package zkstate

import (
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Sentinel errors. Call sites wrap them with the topic, broker id or path
// they are about.
var (
	ErrUnreachable            = errors.New("zkstate: coordinator unreachable")
	ErrBrokerIDInUse          = errors.New("zkstate: broker id in use")
	ErrTopicExists            = errors.New("zkstate: topic already exists")
	ErrTopicNotFound          = errors.New("zkstate: topic not found")
	ErrPartitionStateNotFound = errors.New("zkstate: partition state not found")
	ErrBadVersion             = errors.New("zkstate: znode version changed")
	ErrStaleController        = errors.New("zkstate: controller epoch moved on")
	ErrReassignmentInProgress = errors.New("zkstate: a partition reassignment is already in progress (/admin/reassign_partitions exists)")
	ErrElectionInProgress     = errors.New("zkstate: a preferred replica election is already in progress (/admin/preferred_replica_election exists)")
)

// PersistentPaths are the znodes Kafka creates at startup (ZkData.PersistentZkPaths).
var PersistentPaths = []string{
	"/consumers",
	"/brokers/ids",
	"/brokers/topics",
	"/config/changes",
	"/admin/delete_topics",
	"/brokers/seqid",
	"/isr_change_notification",
	"/latest_producer_id_block",
	"/log_dir_event_notification",
	"/config/topics",
	"/config/clients",
	"/config/users",
	"/config/brokers",
	"/config/ips",
}

// Options are Dial's parameters; DialOptions exposes the ones tests need.
type Options struct {
	Connect        string // "h1:2181,h2:2181/chroot"
	SessionTimeout time.Duration
	ConnectTimeout time.Duration
	Logf           func(string, ...any)
	// Dialer replaces net.DialTimeout (fault injection, session capture).
	Dialer zk.Dialer
}

// core is what every view of a Client shares.
//
// Lock order: core.mu only; it is never held while calling ZooKeeper.
type core struct {
	conn   *zk.Conn
	chroot string
	addrs  []string
	logf   func(string, ...any)

	mu        sync.Mutex
	expired   bool // saw StateExpired, waiting for the next session
	closed    bool
	onExpired []func()
	broker    *BrokerInfo // registered broker, re-registered after expiry
	renewals  chan struct{}
	done      chan struct{}
}

// Client is Kafka's view of ZooKeeper. It is safe for concurrent use.
// A Client returned by Fenced shares the connection and makes every write
// conditional on the /controller_epoch znode version it was given.
type Client struct {
	*core
	fence int32 // -1: unfenced
}

// Dial connects to the ensemble in connect, creates the chroot if missing and
// the persistent paths Kafka creates. It returns an error naming the
// addresses when no session is established within connectTimeout.
func Dial(connect string, sessionTimeout, connectTimeout time.Duration, logf func(string, ...any)) (*Client, error) {
	return DialOptions(Options{Connect: connect, SessionTimeout: sessionTimeout, ConnectTimeout: connectTimeout, Logf: logf})
}

// SplitConnect splits "h1:2181,h2:2181/kafka" into its addresses and chroot
// ("" when there is none).
func SplitConnect(connect string) (addrs []string, chroot string, err error) {
	hosts := connect
	if i := strings.IndexByte(connect, '/'); i >= 0 {
		hosts, chroot = connect[:i], connect[i:]
		chroot = strings.TrimRight(chroot, "/")
		if chroot != "" && path.Clean(chroot) != chroot {
			return nil, "", fmt.Errorf("zkstate: zookeeper.connect %q: chroot %q is not a clean path", connect, chroot)
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "2181")
		}
		addrs = append(addrs, h)
	}
	if len(addrs) == 0 {
		return nil, "", fmt.Errorf("zkstate: zookeeper.connect %q names no server", connect)
	}
	return addrs, chroot, nil
}

type zkLogger struct{ logf func(string, ...any) }

func (l zkLogger) Printf(format string, args ...any) { l.logf("zk: "+format, args...) }

// DialOptions is Dial with every option.
func DialOptions(o Options) (*Client, error) {
	addrs, chroot, err := SplitConnect(o.Connect)
	if err != nil {
		return nil, err
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 18 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = o.SessionTimeout
	}
	c := &core{chroot: chroot, addrs: addrs, logf: o.Logf, renewals: make(chan struct{}, 1), done: make(chan struct{})}
	connected := make(chan struct{}, 1)
	onEvent := func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		switch ev.State {
		case zk.StateHasSession:
			select {
			case connected <- struct{}{}:
			default:
			}
			c.mu.Lock()
			renew := c.expired
			c.expired = false
			c.mu.Unlock()
			if renew {
				select {
				case c.renewals <- struct{}{}:
				default:
				}
			}
		case zk.StateExpired:
			c.mu.Lock()
			c.expired = true
			c.mu.Unlock()
			o.Logf("zkstate: session to %s expired; opening a new one", strings.Join(addrs, ","))
		}
	}
	dialer := o.Dialer
	if dialer == nil {
		dialer = net.DialTimeout
	}
	conn, _, err := zk.Connect(addrs, o.SessionTimeout, zk.WithLogger(zkLogger{o.Logf}), zk.WithLogInfo(false),
		zk.WithEventCallback(onEvent), zk.WithDialer(dialer))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, strings.Join(addrs, ","), err)
	}
	c.conn = conn
	select {
	case <-connected:
	case <-time.After(o.ConnectTimeout):
		conn.Close()
		return nil, fmt.Errorf("%w: no session with %s within %v", ErrUnreachable, strings.Join(addrs, ","), o.ConnectTimeout)
	}
	cl := &Client{core: c, fence: -1}
	if chroot != "" {
		if err := cl.ensureRaw(chroot); err != nil {
			conn.Close()
			return nil, fmt.Errorf("zkstate: creating chroot %s on %s: %w", chroot, strings.Join(addrs, ","), err)
		}
	}
	for _, p := range PersistentPaths {
		if err := cl.ensure(p); err != nil {
			conn.Close()
			return nil, fmt.Errorf("zkstate: creating %s%s: %w", chroot, p, err)
		}
	}
	go c.renewLoop()
	return cl, nil
}

// Conn is the underlying connection; paths on it are not chrooted.
func (c *Client) Conn() *zk.Conn { return c.conn }

// Chroot is the chroot of zookeeper.connect ("" when none).
func (c *Client) Chroot() string { return c.chroot }

// OnSessionExpired registers fn to run after a new session replaced an
// expired one (after the registered broker, if any, was re-registered).
func (c *Client) OnSessionExpired(fn func()) {
	c.mu.Lock()
	c.onExpired = append(c.onExpired, fn)
	c.mu.Unlock()
}

// Fenced returns a view of c whose writes are conditional on /controller_epoch
// still having zkVersion epochZkVersion; a write after another controller
// bumped the epoch fails with ErrStaleController.
func (c *Client) Fenced(epochZkVersion int32) *Client {
	return &Client{core: c.core, fence: epochZkVersion}
}

// Close ends the session; ephemerals go at once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	c.conn.Close()
	return nil
}

func (c *core) renewLoop() {
	for {
		select {
		case <-c.done:
			return
		case <-c.renewals:
		}
		c.mu.Lock()
		b := c.broker
		fns := append([]func(){}, c.onExpired...)
		c.mu.Unlock()
		if b != nil {
			cl := &Client{core: c, fence: -1}
			for attempt := 0; ; attempt++ {
				_, err := cl.RegisterBroker(*b)
				if err == nil {
					break
				}
				c.logf("zkstate: re-registering broker %d after session expiry: %v", b.ID, err)
				if errors.Is(err, ErrBrokerIDInUse) && attempt < 50 {
					// The old session's node may still be visible until its
					// expiry is applied; wait for its deletion and retry.
					select {
					case <-c.done:
						return
					case <-time.After(200 * time.Millisecond):
					}
					continue
				}
				if attempt >= 50 {
					break
				}
				select {
				case <-c.done:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
		for _, fn := range fns {
			fn()
		}
	}
}

// p maps a Kafka path to its chrooted path.
func (c *core) p(kafkaPath string) string { return c.chroot + kafkaPath }

var openACL = zk.WorldACL(zk.PermAll)

// ensureRaw creates an absolute (not chrooted) path and its parents.
func (c *Client) ensureRaw(abs string) error {
	parts := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		_, err := c.conn.Create(cur, nil, 0, openACL)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}

// ensure creates a Kafka path (chrooted) and its parents.
func (c *Client) ensure(kafkaPath string) error { return c.ensureRaw(c.p(kafkaPath)) }

// multi runs ops (on chrooted paths) atomically, prefixed by the fence check
// when c is fenced. It returns the responses of ops (without the check).
func (c *Client) multi(ops ...any) ([]zk.MultiResponse, error) {
	if c.fence >= 0 {
		ops = append([]any{&zk.CheckVersionRequest{Path: c.p("/controller_epoch"), Version: c.fence}}, ops...)
	}
	res, err := c.conn.Multi(ops...)
	if c.fence >= 0 {
		if len(res) > 0 && (errors.Is(res[0].Error, zk.ErrBadVersion) || errors.Is(res[0].Error, zk.ErrNoNode)) {
			// The check itself failed: another controller bumped the epoch.
			return nil, fmt.Errorf("%w: /controller_epoch is no longer at version %d", ErrStaleController, c.fence)
		}
		if len(res) > 0 {
			res = res[1:]
		}
	}
	return res, err
}
