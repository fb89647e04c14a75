package server

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"kzoo/coordinator/jute"
	"kzoo/coordinator/tree"
	"kzoo/coordinator/wal"
	"kzoo/coordinator/zab"
)

// proposal is one step through the write pipeline: a log entry, or (entry
// nil) a sync barrier that is answered once everything before it applied.
type proposal struct {
	conn     *conn // nil for the server's own entries (expiry, containers)
	item     *item
	entry    *tree.Entry
	syncPath string
	connect  *jute.ConnectResponse // a createSession's answer
	install  *tree.Tree            // ensemble: the leader's snapshot replaces the tree
}

// pipeline carries proposals from the connections to the logger goroutine
// (which alone assigns zxids and owns the log), and batches from it to the
// applier. While one batch is being fsynced the next one gathers: that is
// the group commit.
type pipeline struct {
	mu      sync.Mutex
	queue   []*proposal
	closed  bool
	wake    chan struct{}
	applyCh chan []*proposal

	// Owned by logLoop.
	lastZxid  int64
	sinceSnap int
	snapRoll  int
	recs      []wal.Record

	snapWanted atomic.Bool
	snapping   atomic.Bool
	pending    atomic.Int64 // proposed, not yet applied: outstanding_requests
}

func (p *pipeline) init() {
	p.wake = make(chan struct{}, 1)
	p.applyCh = make(chan []*proposal, 2)
}

func (p *pipeline) wakeUp() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// submit queues a proposal; after Close it is dropped.
func (p *pipeline) submit(pr *proposal) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, pr)
	p.mu.Unlock()
	p.pending.Add(1)
	p.wakeUp()
}

// drain returns what is queued without waiting (the ensemble loop selects
// on wake itself).
func (p *pipeline) drain() []*proposal {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.queue
	p.queue = nil
	return b
}

// take returns everything queued, waiting for something to arrive; after
// stop it returns the last proposals and true.
func (p *pipeline) take(stop <-chan struct{}) ([]*proposal, bool) {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			b := p.queue
			p.queue = make([]*proposal, 0, len(b))
			p.mu.Unlock()
			return b, false
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-stop:
			p.mu.Lock()
			b := p.queue
			p.queue, p.closed = nil, true
			p.mu.Unlock()
			return b, true
		}
	}
}

// logLoop is the only goroutine that assigns zxids and writes the log.
func (s *Server) logLoop() {
	defer s.wg.Done()
	defer close(s.pipe.applyCh)
	for {
		batch, stopping := s.pipe.take(s.stop)
		if len(batch) > 0 {
			if err := s.logBatch(batch); err != nil {
				s.fail(err)
				return
			}
			s.pipe.applyCh <- batch
		}
		if stopping {
			return
		}
	}
}

// logBatch numbers a batch's entries, makes them durable with one fsync and
// rolls the log when a snapshot is due.
func (s *Server) logBatch(batch []*proposal) error {
	p := &s.pipe
	now := s.nowMs()
	recs := p.recs[:0]
	for _, pr := range batch {
		if pr.entry == nil {
			continue
		}
		p.lastZxid++
		pr.entry.Zxid = p.lastZxid
		pr.entry.Time = now
		recs = append(recs, wal.Record{Zxid: pr.entry.Zxid, Data: pr.entry.Marshal()})
	}
	defer func() {
		clear(recs)
		p.recs = recs[:0]
	}()
	if len(recs) == 0 {
		return nil
	}
	start := time.Now()
	if err := s.persist(recs); err != nil {
		return err
	}
	s.stats.fsync.observe(time.Since(start))
	p.sinceSnap += len(recs)
	if p.sinceSnap > p.snapRoll {
		p.sinceSnap = 0
		p.snapRoll = s.randRoll()
		if p.snapping.Load() {
			s.log.Warn("Too busy to snap, skipping")
			return nil
		}
		if err := s.wal.Roll(); err != nil {
			return fmt.Errorf("server: roll the log in %s: %w", s.cfg.DataLogDir, err)
		}
		p.snapWanted.Store(true)
	}
	return nil
}

// persist makes a batch of entries durable before any of them is applied
// or acknowledged: append, then one fsync for the whole batch (none when
// forceSync=no). The ensemble replaces this step with "propose to a quorum
// and wait for its acknowledgements".
func (s *Server) persist(recs []wal.Record) error {
	if err := s.wal.Append(recs...); err != nil {
		return fmt.Errorf("server: append 0x%x..0x%x to the log in %s: %w", recs[0].Zxid, recs[len(recs)-1].Zxid, s.cfg.DataLogDir, err)
	}
	if err := s.wal.Sync(); err != nil {
		return fmt.Errorf("server: fsync the log in %s: %w", s.cfg.DataLogDir, err)
	}
	return nil
}

// applyLoop applies durable batches in zxid order, fires watches and
// answers the clients.
func (s *Server) applyLoop() {
	defer s.wg.Done()
	var notes []notice
	for batch := range s.pipe.applyCh {
		s.treeMu.Lock()
		for _, pr := range batch {
			notes = s.applyOne(pr, notes[:0])
		}
		s.treeMu.Unlock()
		s.wakeWriters()
		if s.ens != nil {
			s.ens.applied()
		}
		clear(notes)
		s.pipe.pending.Add(-int64(len(batch)))
		if s.pipe.snapWanted.Load() {
			s.snapshot()
		}
	}
}

// wakeLater marks c's writer to be woken once the applier finishes its
// batch: a connection with several replies in one batch then sends them in
// one write, and its writer is not woken while the applier is still adding
// to its buffer. Only the applier calls it.
func (s *Server) wakeLater(c *conn) {
	if !c.wakeQueued {
		c.wakeQueued = true
		s.toWake = append(s.toWake, c)
	}
}

// wakeWriters wakes the writers wakeLater marked. Only the applier calls it.
func (s *Server) wakeWriters() {
	for _, c := range s.toWake {
		c.wakeQueued = false
		c.signal()
	}
	clear(s.toWake)
	s.toWake = s.toWake[:0]
}

// applyOne applies one proposal. treeMu must be held for writing.
func (s *Server) applyOne(pr *proposal, notes []notice) []notice {
	if pr.install != nil {
		s.tree = pr.install
		now := s.nowMs()
		for _, si := range s.tree.Sessions() {
			s.tracker.add(si.ID, si.TimeoutMs, now)
		}
		return notes
	}
	if pr.entry == nil {
		if pr.conn != nil {
			pr.conn.complete(pr, s.tree.LastZxid(), nil)
		}
		return notes
	}
	e := pr.entry
	res := s.tree.Apply(e)
	for _, ev := range res.Events {
		start := len(notes)
		notes = s.watches.fire(ev.Type, ev.Path, notes)
		// ZooKeeper 3.8 tells a watcher only about nodes it may read.
		kept := notes[:start]
		for _, n := range notes[start:] {
			if tree.CanRead(ev.ACL, n.c.authIDs()) {
				kept = append(kept, n)
			}
		}
		notes = kept
	}
	// Notifications go out before the reply that reflects their change.
	for _, n := range notes {
		n.c.notify(n.typ, n.path)
	}
	switch e.Type {
	case jute.OpCreateSession:
		if res.Err != jute.OK {
			s.tracker.remove(e.Session)
		} else if s.ens != nil && pr.conn == nil {
			// A session created through another server of the ensemble:
			// track it here too, so it can move here and, if this server
			// leads, expire.
			if timeout, _, ok := s.tree.Session(e.Session); ok {
				s.tracker.add(e.Session, timeout, s.nowMs())
			}
		}
	case jute.OpCloseSession:
		s.tracker.remove(e.Session)
		s.closeSessionConn(e.Session, pr.conn)
		if pr.conn == nil {
			s.log.Info(fmt.Sprintf("Session 0x%x closed by expiry at zxid 0x%x", e.Session, e.Zxid))
		}
	}
	if pr.conn != nil {
		pr.conn.complete(pr, e.Zxid, &res)
	}
	return notes
}

// snapshot serializes the tree at its last applied zxid and writes it in
// the background. It runs in the applier, the tree's only writer, so it
// needs no lock: reads continue and only applies wait for the
// serialization (in memory); the file is written while applies go on.
func (s *Server) snapshot() {
	s.pipe.snapWanted.Store(false)
	if !s.pipe.snapping.CompareAndSwap(false, true) {
		s.log.Warn("Too busy to snap, skipping")
		return
	}
	// Applies wait only for the capture (one unsorted pass over the
	// nodes); ordering and writing happen in the background.
	begin := time.Now()
	capture := s.tree.Capture()
	zxid := capture.Zxid()
	stalled := time.Since(begin)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.pipe.snapping.Store(false)
		var buf bytes.Buffer
		_, err := capture.WriteTo(&buf)
		capture.Release()
		if err != nil {
			s.log.Error(fmt.Sprintf("Unexpected exception serializing snapshot 0x%x: %v", zxid, err))
			return
		}
		s.log.Info(fmt.Sprintf("Snapshotting: 0x%x to %s (%d bytes, applies paused %d ms to capture)",
			zxid, s.cfg.DataDir, buf.Len(), stalled.Milliseconds()))
		err = s.wal.WriteSnapshot(zxid, func(w io.Writer) error {
			_, err := w.Write(buf.Bytes())
			return err
		})
		if err != nil {
			s.log.Error(fmt.Sprintf("Unexpected exception writing snapshot 0x%x to %s: %v", zxid, s.cfg.DataDir, err))
			return
		}
		if s.ens != nil {
			// The ensemble serves learners too far behind from it and
			// drops the log entries it covers from memory.
			select {
			case s.ens.compact <- zab.Snapshot{Zxid: zxid, Data: buf.Bytes()}:
			case <-s.stop:
			}
		}
	}()
}
