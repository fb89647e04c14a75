package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"kzoo/coordinator/config"
	"kzoo/coordinator/jute"
	"kzoo/coordinator/tree"
	"kzoo/coordinator/wal"
	"kzoo/coordinator/zab"
)

// Version is what srvr, stat, mntr and envi report as ZooKeeper's version.
const Version = "3.8.4-kzoo, built on 2026-11-24 00:00 UTC"

// ErrClosed is returned by Start on a server that was closed.
var ErrClosed = errors.New("server: closed")

// ErrNoConfig is returned by New without a Config.
var ErrNoConfig = errors.New("server: Options.Config is nil")

// ErrEnsemble is returned by New for an ensemble zoo.cfg it cannot run:
// this server is not one of its server.N lines.
var ErrEnsemble = errors.New("server: bad ensemble configuration")

// Options configure a Server. Only Config is required.
type Options struct {
	Config *config.Config
	Logger *slog.Logger                                     // nil → stderr, ZooKeeper-like lines
	Listen func(network, addr string) (net.Listener, error) // nil → net.Listen
	FS     wal.FS                                           // nil → wal.OSFS
	Now    func() time.Time                                 // nil → time.Now

	// ContainerCheckInterval is how often empty containers and expired TTL
	// nodes are looked for (ZooKeeper's znode.container.checkIntervalMs);
	// 0 → one minute.
	ContainerCheckInterval time.Duration
	// ContainerMaxPerCheck bounds the deletions proposed per check
	// (znode.container.maxPerMinute); 0 → 10000.
	ContainerMaxPerCheck int
	// Mode names the server's role for srvr/stat/mntr; nil → "standalone".
	// The ensemble replaces it.
	Mode func() string
}

// Server is one standalone coordinator: a client listener, the log, the
// tree and the goroutines that drive them.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	listen   func(network, addr string) (net.Listener, error)
	fs       wal.FS
	now      func() time.Time
	mode     func() string
	treeOpts tree.Options
	maxFrame int
	serverID int64

	containerEvery time.Duration
	containerMax   int

	// treeMu guards tree: the applier writes under Lock, readers read
	// under RLock (see the package doc for the lock order).
	treeMu sync.RWMutex
	tree   *tree.Tree

	toWake []*conn // the applier's: writers to wake after its batch

	wal     *wal.WAL
	watches *watches
	tracker *tracker
	ids     *sessionIDs
	stats   stats
	started time.Time

	ln        net.Listener
	metricsLn net.Listener
	metrics   *http.Server

	connMu    sync.Mutex // a leaf lock
	connsDone bool       // Close has taken the connection list
	conns     map[*conn]struct{}
	perIP     map[string]int
	bySession map[int64]*conn

	pipe pipeline
	ens  *ensemble // nil when standalone

	stop      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
	failed    atomic.Pointer[error]
	running   atomic.Bool
}

// New checks the options and builds a server that has not touched the
// disk or the network yet.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, ErrNoConfig
	}
	cfg := opts.Config
	s := &Server{
		cfg:            cfg,
		log:            opts.Logger,
		listen:         opts.Listen,
		fs:             opts.FS,
		now:            opts.Now,
		mode:           opts.Mode,
		treeOpts:       tree.Options{ExtendedTypes: cfg.ExtendedTypesEnabled, SuperDigest: cfg.SuperDigest},
		maxFrame:       jute.MaxFrame(cfg.JuteMaxBuffer),
		containerEvery: opts.ContainerCheckInterval,
		containerMax:   opts.ContainerMaxPerCheck,
		watches:        newWatches(),
		conns:          map[*conn]struct{}{},
		perIP:          map[string]int{},
		bySession:      map[int64]*conn{},
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(newZKHandler(os.Stderr, cfg.MyID))
	}
	if s.listen == nil {
		s.listen = net.Listen
	}
	if s.fs == nil {
		s.fs = wal.OSFS
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.mode == nil {
		s.mode = func() string { return "standalone" }
	}
	if s.containerEvery <= 0 {
		s.containerEvery = time.Minute
	}
	if s.containerMax <= 0 {
		s.containerMax = 10000
	}
	// ZooKeeper's standalone server numbers its sessions as server 1.
	s.serverID = cfg.MyID
	if s.serverID == 0 {
		s.serverID = 1
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("server: %s: dataDir is not set", cfg.Path)
	}
	if !cfg.Standalone() && cfg.Self() == nil {
		return nil, fmt.Errorf("%w: %s: myid %d has no server.%d line", ErrEnsemble, cfg.Path, cfg.MyID, cfg.MyID)
	}
	if cfg.TickTimeMs <= 0 {
		return nil, fmt.Errorf("server: %s: tickTime %d is not positive", cfg.Path, cfg.TickTimeMs)
	}
	s.pipe.init()
	return s, nil
}

func (s *Server) nowMs() int64 { return s.now().UnixMilli() }

// Start recovers the tree from disk (newest snapshot plus the log after
// it), then listens on the client port and starts serving. It returns once
// the client port listens.
func (s *Server) Start() error {
	err := ErrClosed
	s.startOnce.Do(func() { err = s.start() })
	return err
}

func (s *Server) start() error {
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	s.started = s.now()
	if s.cfg.AdminEnableServer {
		s.log.Warn(fmt.Sprintf("%s: admin.enableServer=true is ignored: there is no admin server, use the four-letter words", s.cfg.Path))
	}
	if err := s.recover(); err != nil {
		return err
	}
	addr := s.cfg.ClientAddr()
	ln, err := s.listen("tcp", addr)
	if err != nil {
		s.wal.Close()
		return fmt.Errorf("server: listen on client port %s: %w", addr, err)
	}
	s.ln = ln
	s.log.Info(fmt.Sprintf("binding to port %s", ln.Addr()))
	if s.cfg.MetricsEnabled() {
		if err := s.startMetrics(); err != nil {
			ln.Close()
			s.wal.Close()
			return err
		}
	}
	if s.ens != nil {
		if err := s.ens.tr.Start(); err != nil {
			ln.Close()
			s.wal.Close()
			return fmt.Errorf("server: %w", err)
		}
	}
	s.running.Store(true)
	s.wg.Add(5)
	go s.acceptLoop()
	if s.ens != nil {
		go s.ens.loop()
	} else {
		go s.logLoop()
	}
	go s.applyLoop()
	go s.expiryLoop()
	go s.containerLoop()
	if s.cfg.PurgeIntervalHours > 0 {
		s.wg.Add(1)
		go s.purgeLoop()
	}
	return nil
}

// recover opens the log and rebuilds the tree and the session tracker.
func (s *Server) recover() error {
	cfg := s.cfg
	logDir := cfg.DataLogDir
	if logDir == "" {
		logDir = cfg.DataDir
	}
	w, err := wal.Open(wal.Options{
		FS:           s.fs,
		LogDir:       logDir,
		SnapDir:      cfg.DataDir,
		ForceSync:    cfg.ForceSync,
		PreAllocSize: int64(cfg.PreAllocSizeKB) * 1024,
		Logf:         func(format string, args ...any) { s.log.Info(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return fmt.Errorf("server: open log in %s: %w", logDir, err)
	}
	begin := time.Now()
	t := tree.New(s.treeOpts)
	ensemble := !cfg.Standalone()
	var snap zab.Snapshot
	var zlog []zab.Entry
	last, err := w.Recover(func(snapZxid int64, r io.Reader) error {
		var raw bytes.Buffer
		if ensemble {
			// The ensemble serves this snapshot to learners too far behind.
			r = io.TeeReader(r, &raw)
		}
		nt, err := tree.ReadSnapshot(r, s.treeOpts)
		if err != nil {
			return fmt.Errorf("snapshot 0x%x in %s: %w", snapZxid, cfg.DataDir, err)
		}
		t = nt
		snap = zab.Snapshot{Zxid: snapZxid, Data: raw.Bytes()}
		return nil
	}, func(rec wal.Record) error {
		if ensemble {
			// An ensemble server applies only what a leader says is
			// committed: its log tail may hold proposals that never were.
			if rec.Zxid > snap.Zxid {
				zlog = append(zlog, zab.Entry{Zxid: rec.Zxid, Data: rec.Data})
			}
			return nil
		}
		if rec.Zxid <= t.LastZxid() {
			return nil
		}
		e, err := tree.UnmarshalEntry(rec.Data)
		if err != nil {
			return fmt.Errorf("log entry 0x%x in %s: %w", rec.Zxid, logDir, err)
		}
		if e.Zxid != rec.Zxid {
			return fmt.Errorf("log entry 0x%x in %s carries zxid 0x%x", rec.Zxid, logDir, e.Zxid)
		}
		t.Apply(e)
		return nil
	})
	if err != nil {
		w.Close()
		return fmt.Errorf("server: recover from %s: %w", cfg.DataDir, err)
	}
	s.wal = w
	s.tree = t
	s.pipe.lastZxid = max(last, t.LastZxid())
	s.pipe.snapRoll = s.randRoll()
	now := s.nowMs()
	s.tracker = newTracker(int64(cfg.TickTimeMs), now)
	s.ids = newSessionIDs(s.serverID, now)
	for _, si := range t.Sessions() {
		s.tracker.add(si.ID, si.TimeoutMs, now)
	}
	s.log.Info(fmt.Sprintf("Snapshot loaded in %d ms, highest zxid is 0x%x, digest is %d",
		time.Since(begin).Milliseconds(), t.LastZxid(), 0))
	if ensemble {
		if snap.Data == nil {
			// No snapshot yet: the empty tree is the state at zxid 0.
			var buf bytes.Buffer
			if err := t.WriteSnapshot(&buf); err != nil {
				w.Close()
				return fmt.Errorf("server: serialize the empty tree: %w", err)
			}
			snap = zab.Snapshot{Data: buf.Bytes()}
		}
		e, err := s.newEnsemble(snap, zlog)
		if err != nil {
			w.Close()
			return err
		}
		s.ens = e
		s.mode = e.mode
		return nil
	}
	// Like ZooKeeper's startup, snapshot what was recovered so the next
	// recovery does not replay the same log again.
	if s.pipe.lastZxid > 0 && t.LastZxid() == s.pipe.lastZxid {
		var buf bytes.Buffer
		if err := t.WriteSnapshot(&buf); err != nil {
			w.Close()
			return fmt.Errorf("server: serialize the recovered tree at 0x%x: %w", t.LastZxid(), err)
		}
		s.log.Info(fmt.Sprintf("Snapshotting: 0x%x to %s", t.LastZxid(), cfg.DataDir))
		if err := w.WriteSnapshot(t.LastZxid(), func(out io.Writer) error {
			_, err := out.Write(buf.Bytes())
			return err
		}); err != nil {
			w.Close()
			return fmt.Errorf("server: write snapshot 0x%x in %s: %w", t.LastZxid(), cfg.DataDir, err)
		}
	}
	return nil
}

// randRoll is ZooKeeper's snapshot randomisation: a snapshot is taken after
// snapCount/2 + rand[0, snapCount/2) entries, so servers of an ensemble do
// not all snapshot at once.
func (s *Server) randRoll() int {
	half := s.cfg.SnapCount / 2
	if half < 1 {
		return 1
	}
	return half + rand.IntN(half)
}

// Addr is the client listener's address (nil before Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// MetricsAddr is the Prometheus endpoint's address (nil when disabled).
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// Done is closed once the server has stopped, after Close or a fatal log
// error (see Err).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is the fatal error that stopped the server, nil after a plain Close.
func (s *Server) Err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail stops the server after an error it cannot serve through (the log
// failed): ZooKeeper exits in that case.
func (s *Server) fail(err error) {
	if s.failed.CompareAndSwap(nil, &err) {
		s.log.Error(fmt.Sprintf("Severe unrecoverable error, exiting: %v", err))
	}
	go s.Close()
}

// Close stops accepting, drops the connections, lets the writes already
// proposed reach the log and the tree, then closes the log.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() {}) // a server closed before Start never starts
		close(s.stop)
		s.running.Store(false)
		if s.ln != nil {
			s.ln.Close()
		}
		if s.metrics != nil {
			s.metrics.Close()
		}
		s.connMu.Lock()
		s.connsDone = true
		cs := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			cs = append(cs, c)
		}
		s.connMu.Unlock()
		for _, c := range cs {
			c.closeNow()
		}
		s.pipe.wakeUp()
		s.wg.Wait()
		if s.wal != nil {
			if err := s.wal.Close(); err != nil {
				s.log.Error(fmt.Sprintf("closing the log in %s: %v", s.cfg.DataLogDir, err))
			}
		}
		s.log.Info("shutdown of request processor complete")
		close(s.done)
	})
	<-s.done
	return s.Err()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || !errors.Is(err, net.ErrClosed) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn(fmt.Sprintf("Ignoring unexpected exception during accept on %s: %v", s.ln.Addr(), err))
				select {
				case <-time.After(delay):
				case <-s.stop:
					return
				}
				continue
			}
			return
		}
		delay = 0
		s.accept(nc)
	}
}

// accept admits one connection unless its IP already has maxClientCnxns.
func (s *Server) accept(nc net.Conn) {
	ip := hostOf(nc.RemoteAddr())
	s.connMu.Lock()
	if s.connsDone {
		s.connMu.Unlock()
		nc.Close()
		return
	}
	if m := s.cfg.MaxClientCnxns; m > 0 && s.perIP[ip] >= m {
		s.connMu.Unlock()
		s.log.Warn(fmt.Sprintf("Error accepting new connection: Too many connections from /%s - max is %d", ip, m))
		nc.Close()
		return
	}
	c := newConn(s, nc, ip)
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.connMu.Unlock()
	s.stats.connections.Add(1)
	go c.readLoop()
	go c.writeLoop()
}

// forget removes a closed connection from the server's tables.
func (s *Server) forget(c *conn) {
	s.connMu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
		s.stats.connections.Add(-1)
	}
	if id := c.session(); id != 0 && s.bySession[id] == c {
		delete(s.bySession, id)
	}
	s.connMu.Unlock()
	s.watches.removeConn(c)
}

// bind makes c the connection of session id, closing the session's
// previous connection (a client that reconnected elsewhere).
func (s *Server) bind(id int64, c *conn) {
	s.connMu.Lock()
	old := s.bySession[id]
	s.bySession[id] = c
	s.connMu.Unlock()
	if old != nil && old != c {
		old.closeNow()
	}
}

// closeSessionConn closes the connection of a session that ended.
func (s *Server) closeSessionConn(id int64, except *conn) {
	s.connMu.Lock()
	c := s.bySession[id]
	if c != nil {
		delete(s.bySession, id)
	}
	s.connMu.Unlock()
	if c != nil && c != except {
		c.closeNow()
	}
}

func (s *Server) connList() []*conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// expiryLoop expires sessions every tick and proposes their closeSession.
func (s *Server) expiryLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Duration(s.tracker.interval) * time.Millisecond / 2)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		expired := s.tracker.expire(s.nowMs())
		if s.ens != nil && !s.ens.leading() {
			// Only the leader expires sessions; the others report
			// their sessions' traffic to it.
			continue
		}
		for _, ts := range expired {
			s.log.Info(fmt.Sprintf("Expiring session 0x%x, timeout of %dms exceeded", ts.id, ts.timeoutMs))
			s.pipe.submit(&proposal{entry: &tree.Entry{Session: ts.id, Type: jute.OpCloseSession}})
		}
	}
}

// containerLoop is ZooKeeper's ContainerManager: it proposes a
// deleteContainer entry for every empty container and expired TTL node.
func (s *Server) containerLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.containerEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if s.ens != nil && !s.ens.leading() {
			continue
		}
		s.treeMu.RLock()
		paths := s.tree.Expirable(s.nowMs(), s.containerMax)
		s.treeMu.RUnlock()
		for _, p := range paths {
			body := jute.Marshal(&jute.PathRequest{Path: p})
			s.pipe.submit(&proposal{entry: &tree.Entry{Type: jute.OpDeleteContainer, Body: body}})
		}
	}
}

// purgeLoop is autopurge: every purgeInterval hours keep only the newest
// snapRetainCount snapshots and the logs they need.
func (s *Server) purgeLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Duration(s.cfg.PurgeIntervalHours) * time.Hour)
	defer tick.Stop()
	s.purge() // DatadirCleanupManager's first run is at startup
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.purge()
	}
}

func (s *Server) purge() {
	s.log.Info("Purge task started.")
	if err := s.wal.Purge(max(s.cfg.SnapRetainCount, 3)); err != nil {
		s.log.Error(fmt.Sprintf("Error purging old snapshots and logs in %s: %v", s.cfg.DataDir, err))
		return
	}
	s.log.Info("Purge task completed.")
}
