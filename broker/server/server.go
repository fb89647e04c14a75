package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
	"kzoo/broker/config"
	"kzoo/broker/controller"
	"kzoo/broker/meta"
	"kzoo/broker/storage"
	"kzoo/broker/zkstate"
	"kzoo/internal/rawio"
)

// ErrInconsistentClusterID is wrapped when a log dir's meta.properties
// names another cluster or broker.
var ErrInconsistentClusterID = errors.New("server: meta.properties does not match")

// ErrLogDirLocked is wrapped when another process holds a log dir.
var ErrLogDirLocked = errors.New("server: log dir is in use by another process")

// Options injects the outside world.
type Options struct {
	Logf   func(string, ...any)
	Listen func(network, addr string) (net.Listener, error) // net.Listen by default
	Dial   func(network, addr string) (net.Conn, error)     // net.Dial by default
	Now    func() time.Time
}

// Server is one broker.
type Server struct {
	cfg  *config.Config
	o    Options
	logf func(string, ...any)

	zk        *zkstate.Client
	clusterID string
	h         *api.Handler
	ctrl      *controller.Controller
	ctrlStop  func()
	sender    *sender
	epoch     int64

	mu        sync.Mutex
	listeners map[string]net.Listener
	conns     map[net.Conn]struct{}
	locks     []*os.File
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopped   bool // Stop was called
	closing   bool // listeners are closing: refuse new connections
	done      chan struct{}
}

// New returns a broker for cfg; nothing happens until Start.
func New(cfg *config.Config, o Options) *Server {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Listen == nil {
		o.Listen = net.Listen
	}
	if o.Dial == nil {
		o.Dial = net.Dial
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Server{cfg: cfg, o: o, logf: o.Logf, listeners: map[string]net.Listener{}, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
}

// Handler is the broker's request handler (tests, tools).
func (s *Server) Handler() *api.Handler { return s.h }

// ClusterID is the id read from (or created in) ZooKeeper.
func (s *Server) ClusterID() string { return s.clusterID }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// Addr is the bound address of the named listener.
func (s *Server) Addr(listener string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.listeners[listener]; ok {
		return l.Addr()
	}
	return nil
}

// Start runs the start sequence; on error everything opened is closed.
func (s *Server) Start(ctx context.Context) (err error) {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.cancel()
			s.closeAll()
		}
	}()
	if err := s.lockLogDirs(); err != nil {
		return err
	}
	if err := s.checkMeta(); err != nil {
		return err
	}
	s.logf("connecting to zookeeper %s", s.cfg.ZKConnect)
	zc, err := zkstate.Dial(s.cfg.ZKConnect, time.Duration(s.cfg.ZKSessionTimeoutMs)*time.Millisecond, time.Duration(s.cfg.ZKConnectionTimeoutMs)*time.Millisecond, s.logf)
	if err != nil {
		return err
	}
	s.zk = zc
	if s.cfg.BrokerID < 0 {
		seq, err := zc.NextBrokerSequenceID()
		if err != nil {
			return fmt.Errorf("generating broker.id: %w", err)
		}
		maxID, _ := strconv.Atoi(s.cfg.Values["reserved.broker.max.id"])
		s.cfg.BrokerID = int32(maxID) + seq
		s.logf("generated broker.id %d", s.cfg.BrokerID)
	}
	if s.clusterID, err = zc.ClusterID(); err != nil {
		return fmt.Errorf("reading cluster id: %w", err)
	}
	if err := s.writeMeta(); err != nil {
		return err
	}
	s.logf("cluster id %s", s.clusterID)

	s.h = api.New(api.Options{
		Config:      s.cfg,
		ClusterID:   s.clusterID,
		Advertised:  s.advertised,
		BrokerEpoch: func() int64 { return s.zk.BrokerEpoch() },
		Store:       zc,
		Assign:      controller.AssignReplicas,
		OpenLog:     openLog(s.logf, func() int64 { return s.o.Now().UnixMilli() }, s.cfg.LogCleanerEnable),
		ConvertToV2: func(set []byte, _ int64) ([]byte, error) { return storage.ConvertToV2(set) },
		DownConvert: storage.DownConvert,
		Dial:        s.o.Dial,
		Logf:        s.logf,
		Now:         s.o.Now,
	})
	if err := s.h.LoadLogDirs(); err != nil {
		return err
	}
	if err := s.listen(); err != nil {
		return err
	}
	info := s.brokerInfo()
	if s.epoch, err = zc.RegisterBroker(info); err != nil {
		return err
	}
	s.logf("registered broker %d at %s (epoch %d)", s.cfg.BrokerID, strings.Join(info.Endpoints, ","), s.epoch)
	if err := s.startController(); err != nil {
		return err
	}
	// Leaders shrink and expand their ISRs.
	s.every(time.Duration(min(max(s.cfg.ReplicaLagTimeMaxMs/2, 10), 500))*time.Millisecond, s.h.MaybeUpdateISRs)
	s.every(time.Duration(s.cfg.LogRetentionCheckIntervalMs)*time.Millisecond, s.h.EnforceRetention)
	s.wg.Add(1)
	go s.configChangeLoop()
	// The log flusher runs every log.flush.scheduler.interval.ms (never by
	// default, as in Kafka: appends apply flush.ms and flush.messages; an
	// interval too long for a time.Duration is never too).
	if iv := s.cfg.LogFlushSchedulerIntervalMs; iv < math.MaxInt64/int64(time.Millisecond) {
		s.every(time.Duration(iv)*time.Millisecond, s.h.FlushDue)
	}
	// Session and join timeouts, and loading or unloading __consumer_offsets
	// partitions as leadership moves.
	s.every(100*time.Millisecond, s.h.GroupTick)
	return nil
}

func (s *Server) lockLogDirs() error {
	for _, d := range s.cfg.LogDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating log dir %s: %w", d, err)
		}
		f, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("locking log dir %s: %w", d, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			return fmt.Errorf("%w: %s", ErrLogDirLocked, d)
		}
		s.locks = append(s.locks, f)
	}
	return nil
}

func (s *Server) checkMeta() error {
	for _, d := range s.cfg.LogDirs {
		m, err := meta.Read(d)
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(d, "meta.properties"), err)
		}
		if m == nil {
			continue
		}
		if id := m["broker.id"]; id != "" && s.cfg.BrokerID < 0 {
			// broker.id is generated: reuse the one this log dir has.
			n, err := strconv.ParseInt(id, 10, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: %s has broker.id=%s", ErrInconsistentClusterID, filepath.Join(d, "meta.properties"), id)
			}
			s.cfg.BrokerID = int32(n)
		} else if id != "" && id != strconv.Itoa(int(s.cfg.BrokerID)) {
			return fmt.Errorf("%w: %s has broker.id=%s but this broker is %d", ErrInconsistentClusterID, filepath.Join(d, "meta.properties"), id, s.cfg.BrokerID)
		}
	}
	return nil
}

func (s *Server) writeMeta() error {
	for _, d := range s.cfg.LogDirs {
		p := filepath.Join(d, "meta.properties")
		m, err := meta.Read(d)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if m != nil && m["cluster.id"] != "" && m["cluster.id"] != s.clusterID {
			return fmt.Errorf("%w: %s has cluster.id=%s but ZooKeeper says %s", ErrInconsistentClusterID, p, m["cluster.id"], s.clusterID)
		}
		if m != nil {
			continue
		}
		if err := meta.Write(d, s.o.Now(), [2]string{"cluster.id", s.clusterID}, [2]string{"version", "0"},
			[2]string{"broker.id", strconv.Itoa(int(s.cfg.BrokerID))}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) listen() error {
	for _, l := range s.cfg.Listeners {
		addr := net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		ln, err := s.o.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listener %s on %s: %w", l.Name, addr, err)
		}
		s.mu.Lock()
		s.listeners[l.Name] = ln
		s.mu.Unlock()
		s.logf("listening on %s (%s)", ln.Addr(), l.Name)
		s.wg.Add(1)
		go s.accept(ln, l.Name)
	}
	return nil
}

// advertised returns the advertised listeners with port 0 replaced by the
// bound port (listeners on :0 in tests).
func (s *Server) advertised() []config.Listener {
	out := append([]config.Listener(nil), s.cfg.AdvertisedListeners...)
	for i, l := range out {
		if l.Port != 0 {
			continue
		}
		if a, ok := s.Addr(l.Name).(*net.TCPAddr); ok {
			out[i].Port = int32(a.Port)
		}
	}
	return out
}

func (s *Server) brokerInfo() zkstate.BrokerInfo {
	adv := s.advertised()
	b := zkstate.BrokerInfo{ID: s.cfg.BrokerID, Port: -1, SecurityProtocolMap: map[string]string{}, TimestampMs: s.o.Now().UnixMilli()}
	for _, l := range adv {
		b.Endpoints = append(b.Endpoints, fmt.Sprintf("%s://%s:%d", l.Name, l.Host, l.Port))
		b.SecurityProtocolMap[l.Name] = l.Protocol
		if b.Host == "" && l.Protocol == "PLAINTEXT" {
			b.Host, b.Port = l.Host, l.Port
		}
	}
	if b.Host == "" {
		b.Host = ""
	}
	if s.cfg.Rack != "" {
		r := s.cfg.Rack
		b.Rack = &r
	}
	return b
}

func (s *Server) accept(ln net.Listener, name string) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			s.setBuffers(tc, name)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			cs := &connServer{h: s.h, c: rawio.Conn(c), listener: name, maxBytes: s.cfg.SocketRequestMaxBytes, logf: s.logf}
			cs.serve(s.ctx)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// setBuffers applies socket.send.buffer.bytes and
// socket.receive.buffer.bytes to an accepted connection, as Kafka does
// (-1 leaves the OS's sizes and its autotuning).
func (s *Server) setBuffers(tc *net.TCPConn, listener string) {
	if n := s.cfg.SocketSendBufferBytes; n > 0 {
		if err := tc.SetWriteBuffer(int(n)); err != nil {
			s.logf("listener %s: connection %s: socket.send.buffer.bytes=%d: %v", listener, tc.RemoteAddr(), n, err)
		}
	}
	if n := s.cfg.SocketReceiveBufferBytes; n > 0 {
		if err := tc.SetReadBuffer(int(n)); err != nil {
			s.logf("listener %s: connection %s: socket.receive.buffer.bytes=%d: %v", listener, tc.RemoteAddr(), n, err)
		}
	}
}

// every runs fn every d, on a goroutine the server waits for, until the
// server stops: retention checks, the log flusher, the group
// coordinator's timers and partition loading, and ISR changes.
func (s *Server) every(d time.Duration, fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

// configChangeLoop watches /config/changes and applies topic configs.
func (s *Server) configChangeLoop() {
	defer s.wg.Done()
	for {
		_, ev, err := s.zk.ConfigChanges()
		if err != nil {
			s.logf("watching config changes: %v", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		s.h.ApplyTopicConfigs()
		select {
		case <-s.ctx.Done():
			return
		case <-ev:
		}
	}
}

// Stop shuts the broker down: controlled shutdown (when enabled) moves
// leadership away first, then listeners close, the controller resigns,
// logs are flushed and closed, and the ZooKeeper session ends.
func (s *Server) Stop() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	if s.cfg.ControlledShutdownEnable && s.zk != nil && s.h != nil && s.ctrl != nil {
		if err := s.controlledShutdown(); err != nil {
			s.logf("controlled shutdown: %v; shutting down anyway", err)
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.closeAll()
	close(s.done)
	return nil
}

func (s *Server) closeAll() {
	s.mu.Lock()
	s.closing = true
	for _, ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.stopController()
	s.wg.Wait()
	if s.h != nil {
		s.h.Close()
	}
	if s.zk != nil {
		s.zk.Close()
	}
	for _, f := range s.locks {
		f.Close()
	}
	s.locks = nil
}

// controlledShutdown asks the controller to move leadership off this
// broker, retrying controlled.shutdown.max.retries times.
func (s *Server) controlledShutdown() error {
	retries, _ := strconv.Atoi(s.cfg.Values["controlled.shutdown.max.retries"])
	backoff, _ := strconv.Atoi(s.cfg.Values["controlled.shutdown.retry.backoff.ms"])
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(min(backoff, 1000)) * time.Millisecond)
		}
		id, ok, _, err := s.zk.Controller()
		if err != nil || !ok {
			last = fmt.Errorf("no controller (%v)", err)
			continue
		}
		addr, err := s.brokerAddr(id)
		if err != nil {
			last = err
			continue
		}
		req := kmsg.NewPtrControlledShutdownRequest()
		req.Version = 3
		req.BrokerID, req.BrokerEpoch = s.cfg.BrokerID, s.zk.BrokerEpoch()
		resp, err := api.Request(s.o.Dial, addr, "broker-"+strconv.Itoa(int(s.cfg.BrokerID))+"-shutdown", req, 30*time.Second)
		if err != nil {
			last = err
			continue
		}
		r := resp.(*kmsg.ControlledShutdownResponse)
		if r.ErrorCode != 0 {
			last = fmt.Errorf("controller %d: %v", id, kerr.ErrorForCode(r.ErrorCode))
			continue
		}
		if len(r.PartitionsRemaining) > 0 {
			var rem []string
			for _, p := range r.PartitionsRemaining {
				rem = append(rem, fmt.Sprintf("%s-%d", p.Topic, p.Partition))
			}
			sort.Strings(rem)
			last = fmt.Errorf("controller %d: still leading %s", id, strings.Join(rem, ","))
			continue
		}
		s.logf("controlled shutdown succeeded")
		return nil
	}
	return last
}

// brokerAddr is host:port of a broker's inter-broker listener.
func (s *Server) brokerAddr(id int32) (string, error) {
	bs, _, err := s.zk.Brokers()
	if err != nil {
		return "", err
	}
	for _, b := range bs {
		if b.ID != id {
			continue
		}
		for _, e := range b.Endpoints {
			name, hp, ok := strings.Cut(e, "://")
			if ok && name == s.cfg.InterBrokerListenerName {
				return hp, nil
			}
		}
	}
	return "", fmt.Errorf("broker %d has no %s endpoint in /brokers/ids", id, s.cfg.InterBrokerListenerName)
}

// crash stops the broker without controlled shutdown, as a killed process
// would: connections drop first and its ZooKeeper session ends at once
// (rather than timing out). What was written to the log files stays, as the
// page cache keeps it for a killed process. Tests only.
func (s *Server) crash() {
	s.mu.Lock()
	s.stopped, s.closing = true, true
	for _, ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	if s.zk != nil {
		s.zk.Close()
	}
	s.closeAll()
	close(s.done)
}
