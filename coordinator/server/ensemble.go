package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kzoo/coordinator/quorum"
	"kzoo/coordinator/tree"
	"kzoo/coordinator/wal"
	"kzoo/coordinator/zab"
)

// An ensemble server replaces the standalone pipeline's "number the batch,
// append, fsync" step by ZAB: the ensemble loop owns the zab.Peer, the log
// and the mesh to the other servers; a client write is forwarded to the
// leader (or proposed, on the leader), and every server hands committed
// entries, in zxid order, to the same applier the standalone server uses.
//
// Ordering rules, on top of zab's (persist before send, apply only what is
// committed):
//   - a write is answered by the server its client is connected to, when
//     that server applies it: after a quorum has it durable;
//   - a client's writes are forwarded over one connection to one leader,
//     so they commit in the order they were sent;
//   - sync is an entry of its own through the leader, answered when
//     applied, so the read that follows sees everything committed before;
//   - a forwarded write that did not survive a change of leader is forwarded
//     again, to the new leader, once the new leader's first entry commits:
//     everything older that survived commits before that entry, so what has
//     not by then never will. Until then nothing new is forwarded, so a
//     client's writes keep their order.

// Kinds of replicated data. A standalone log holds bare tree entries; the
// first byte tells the two apart.
const (
	kindEntry byte = 0xE1 // a tree entry
	kindSync  byte = 0xE2 // a client's sync barrier
	kindNoop  byte = 0xE3 // a new leader's first entry
)

var errNotEnsembleData = errors.New("server: not ensemble log data")

// wrap encodes a replicated datum: kind, origin server, origin sequence, body.
func wrap(kind byte, origin int64, seq uint64, body []byte) []byte {
	b := make([]byte, 0, 17+len(body))
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(origin))
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, body...)
}

// unwrap decodes what wrap made; a bare tree entry (a standalone log) reads
// as an entry of origin 0.
func unwrap(b []byte) (kind byte, origin int64, seq uint64, body []byte, err error) {
	if len(b) == 0 {
		return 0, 0, 0, nil, errNotEnsembleData
	}
	switch b[0] {
	case kindEntry, kindSync, kindNoop:
		if len(b) < 17 {
			return 0, 0, 0, nil, errNotEnsembleData
		}
		return b[0], int64(binary.BigEndian.Uint64(b[1:])), binary.BigEndian.Uint64(b[9:]), b[17:], nil
	}
	return kindEntry, 0, 0, b, nil
}

type localProp struct {
	seq   uint64
	epoch uint32
	pr    *proposal
	at    time.Time
}

type ensemble struct {
	s    *Server
	self int64
	peer *zab.Peer
	tr   *quorum.Transport

	// Owned by the ensemble loop.
	seq        uint64
	local      []localProp // forwarded, not yet applied, in forward order
	waiting    []*proposal // arrived while no leadership served
	snap       zab.Snapshot
	appliedEp  uint32
	sinceSnap  int
	snapRoll   int
	wasLeading bool
	recs       []wal.Record
	durable    int64         // the highest zxid this server's log holds durably
	hs         zab.HardState // as last written
	hsWritten  bool

	role      atomic.Int32 // zab.Role
	isServing atomic.Bool
	servingMu sync.Mutex
	servingCh chan struct{} // closed while serving
	appliedCh chan struct{} // closed by the applier after a batch; guarded by servingMu

	compact chan zab.Snapshot

	elections  atomic.Int64
	lastSwitch time.Time

	// Published by the loop for mntr and /metrics.
	learners, syncedFollowers, syncedObservers atomic.Int64
	maxLag                                     atomic.Int64 // entries the slowest synced follower is behind
	syncs                                      atomic.Int64 // client syncs forwarded, not yet applied
	voters                                     []int64
	electionTime                               summary // from looking to serving, ms
	proposalTime                               summary // local write forwarded → committed here
}

// epochFile names ZooKeeper's acceptedEpoch / currentEpoch files.
func (s *Server) epochFile(name string) string {
	return s.cfg.DataDir + "/version-2/" + name
}

func (s *Server) readEpoch(name string) (uint32, error) {
	f, err := s.fs.OpenFile(s.epochFile(name), os.O_RDONLY, 0)
	if errors.Is(err, iofs.ErrNotExist) {
		return 0, nil // a new server has none
	}
	if err != nil {
		return 0, fmt.Errorf("server: open %s: %w", s.epochFile(name), err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, fmt.Errorf("server: read %s: %w", s.epochFile(name), err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("server: %s: %q is not an epoch", s.epochFile(name), b)
	}
	return uint32(v), nil
}

// newEnsemble builds the ensemble side after recovery: hs from the epoch
// files, snap and log from what recover kept aside.
func (s *Server) newEnsemble(snap zab.Snapshot, log []zab.Entry) (*ensemble, error) {
	cfg := s.cfg
	self := cfg.Self()
	if self == nil {
		return nil, fmt.Errorf("server: %s: myid %d has no server.%d line", cfg.Path, cfg.MyID, cfg.MyID)
	}
	var hs zab.HardState
	var err error
	if hs.AcceptedEpoch, err = s.readEpoch("acceptedEpoch"); err != nil {
		return nil, err
	}
	if hs.CurrentEpoch, err = s.readEpoch("currentEpoch"); err != nil {
		return nil, err
	}
	zc := zab.Config{ID: cfg.MyID, InitLimit: cfg.InitLimit, SyncLimit: cfg.SyncLimit}
	peers := map[int64]string{}
	for _, sv := range cfg.Servers {
		if sv.Observer {
			zc.Observers = append(zc.Observers, sv.ID)
		} else {
			zc.Voters = append(zc.Voters, sv.ID)
		}
		if sv.ID != cfg.MyID {
			peers[sv.ID] = fmt.Sprintf("%s:%d", sv.Host, sv.QuorumPort)
		}
	}
	e := &ensemble{s: s, self: cfg.MyID, snap: snap, compact: make(chan zab.Snapshot, 4), servingCh: make(chan struct{}), voters: zc.Voters}
	e.peer = zab.New(zc, hs, snap, log)
	e.durable = snap.Zxid
	if len(log) > 0 {
		e.durable = log[len(log)-1].Zxid
	}
	e.hs = hs
	e.snapRoll = s.randRoll()
	e.tr = quorum.New(quorum.Options{
		Self: cfg.MyID,
		Listen: []string{
			fmt.Sprintf("%s:%d", self.Host, self.QuorumPort),
			fmt.Sprintf("%s:%d", self.Host, self.ElectionPort),
		},
		Peers: peers,
		Logf:  func(format string, args ...any) { s.log.Warn(fmt.Sprintf(format, args...)) },
	})
	e.lastSwitch = time.Now()
	return e, nil
}

// mode is what srvr/stat/mntr and zkServer.sh status report.
func (e *ensemble) mode() string {
	switch zab.Role(e.role.Load()) {
	case zab.Leading:
		return "leader"
	case zab.Following:
		return "follower"
	case zab.Observing:
		return "observer"
	}
	return "looking"
}

// peerState is mntr's zk_peer_state: the role and, when serving, the phase.
func (e *ensemble) peerState() string {
	m := e.mode()
	if m == "looking" {
		return m
	}
	m = map[string]string{"leader": "leading", "follower": "following", "observer": "observing"}[m]
	if e.isServing.Load() {
		return m + " - broadcast"
	}
	return m + " - synchronization"
}

func (e *ensemble) pendingSyncs() int64 { return e.syncs.Load() }

func (e *ensemble) leading() bool {
	return zab.Role(e.role.Load()) == zab.Leading && e.isServing.Load()
}

// applied wakes handshakes waiting for the tree to reach a zxid. Called by
// the applier after each batch.
func (e *ensemble) applied() {
	e.servingMu.Lock()
	if e.appliedCh != nil {
		close(e.appliedCh)
		e.appliedCh = nil
	}
	e.servingMu.Unlock()
}

// waitApplied waits until the tree has applied zxid, or d passes: a client
// that saw a write through another server reconnects here right after a
// change of leader, while this server's applier may still be a batch behind.
func (e *ensemble) waitApplied(zxid int64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		e.s.treeMu.RLock()
		last := e.s.tree.LastZxid()
		e.s.treeMu.RUnlock()
		if last >= zxid {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 || !e.isServing.Load() {
			return false
		}
		e.servingMu.Lock()
		if e.appliedCh == nil {
			e.appliedCh = make(chan struct{})
		}
		ch := e.appliedCh
		e.servingMu.Unlock()
		t := time.NewTimer(left)
		select {
		case <-ch:
		case <-t.C:
		case <-e.s.stop:
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// waitServing blocks until the server is part of a serving leadership, or
// d passes, or the server stops.
func (e *ensemble) waitServing(d time.Duration) bool {
	if e.isServing.Load() {
		return true
	}
	e.servingMu.Lock()
	ch := e.servingCh
	e.servingMu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return e.isServing.Load()
	case <-e.s.stop:
		return false
	}
}

func (e *ensemble) setServing(on bool) {
	if e.isServing.Load() == on {
		return
	}
	e.servingMu.Lock()
	if on {
		close(e.servingCh)
	} else {
		e.servingCh = make(chan struct{})
	}
	e.isServing.Store(on)
	e.servingMu.Unlock()
}

// loop is the ensemble's only goroutine that touches the peer and the log.
func (e *ensemble) loop() {
	s := e.s
	defer s.wg.Done()
	defer close(s.pipe.applyCh)
	defer e.tr.Close()
	tick := time.NewTicker(time.Duration(s.cfg.TickTimeMs) * time.Millisecond)
	defer tick.Stop()
	touch := time.NewTicker(time.Duration(s.cfg.TickTimeMs) * time.Millisecond / 2)
	defer touch.Stop()
	recv := e.tr.Recv()
	for {
		select {
		case <-s.stop:
			e.failAll()
			return
		case <-s.pipe.wake:
			e.submit(s.pipe.drain())
		case m := <-recv:
			e.step(m)
		case <-tick.C:
			e.peer.Tick()
		case <-touch.C:
			e.reportTouches()
		case sn := <-e.compact:
			if sn.Zxid > e.snap.Zxid {
				e.peer.Compact(sn)
				e.snap = sn
			}
		}
		// Take whatever else is already here before the next fsync: the
		// group commit of an ensemble.
	more:
		for i := 0; i < 1024; i++ {
			select {
			case m := <-recv:
				e.step(m)
			case <-s.pipe.wake:
				e.submit(s.pipe.drain())
			default:
				break more
			}
		}
		if err := e.ready(); err != nil {
			s.fail(err)
			e.failAll()
			return
		}
	}
}

func (e *ensemble) step(m zab.Message) {
	if m.Type == zab.MsgTouch {
		if zab.Role(e.role.Load()) == zab.Leading {
			now := e.s.nowMs()
			for i := 0; i+8 <= len(m.Data); i += 8 {
				e.s.tracker.touch(int64(binary.BigEndian.Uint64(m.Data[i:])), 0, now)
			}
		}
		return
	}
	e.peer.Step(m)
}

// reportTouches tells the leader which sessions had traffic here, so that
// it, the only server that expires sessions, keeps them alive.
func (e *ensemble) reportTouches() {
	ids := e.s.tracker.drainTouched()
	if len(ids) == 0 || zab.Role(e.role.Load()) == zab.Leading || !e.isServing.Load() {
		return
	}
	b := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint64(b, uint64(id))
	}
	e.tr.Send(zab.Message{Type: zab.MsgTouch, From: e.self, To: e.peer.Leader(), Data: b})
}

// submit forwards local proposals, or holds them until a leadership serves.
func (e *ensemble) submit(batch []*proposal) {
	for _, pr := range batch {
		if !e.canForward() || len(e.waiting) > 0 {
			e.waiting = append(e.waiting, pr)
			continue
		}
		e.forward(pr)
	}
}

// canForward: a leadership serves and its first entry has committed here,
// so the fate of everything forwarded before it is known.
func (e *ensemble) canForward() bool {
	return e.peer.Serving() && e.appliedEp >= e.peer.LeaderEpoch()
}

func (e *ensemble) forward(pr *proposal) bool {
	if !e.canForward() {
		return false
	}
	e.seq++
	var data []byte
	if pr.entry != nil {
		pr.entry.Time = e.s.nowMs()
		data = wrap(kindEntry, e.self, e.seq, pr.entry.Marshal())
	} else {
		data = wrap(kindSync, e.self, e.seq, nil)
	}
	if err := e.peer.Forward(data); err != nil {
		e.seq--
		return false
	}
	e.local = append(e.local, localProp{seq: e.seq, epoch: e.peer.LeaderEpoch(), pr: pr, at: time.Now()})
	return true
}

// ready carries out what the peer asks, in zab's order, until a change of
// role (which may propose or forward more) leaves nothing to do.
func (e *ensemble) ready() error {
	for {
		if err := e.readyOnce(); err != nil {
			return err
		}
		e.afterStep()
		if !e.peer.HasReady() {
			return nil
		}
	}
}

func (e *ensemble) readyOnce() error {
	s := e.s
	for e.peer.HasReady() {
		rd := e.peer.Ready()
		if rd.Snapshot != nil {
			if err := e.install(*rd.Snapshot); err != nil {
				return err
			}
		}
		if rd.Truncate {
			e.durable = min(e.durable, rd.TruncateZxid)
			if err := s.wal.TruncateAfter(rd.TruncateZxid); err != nil {
				return fmt.Errorf("server: truncate the log in %s after 0x%x: %w", s.cfg.DataLogDir, rd.TruncateZxid, err)
			}
			s.log.Info(fmt.Sprintf("Truncating log to get in sync with the leader 0x%x", rd.TruncateZxid))
		}
		if rd.HardState != nil {
			if err := e.writeHardState(*rd.HardState); err != nil {
				return err
			}
		}
		// A leader's proposals go out before its own fsync, as ZooKeeper's
		// leader logs and sends in parallel: it counts its own
		// acknowledgement only once durable (at Advance), so nothing
		// commits on a copy it may lose. Only each destination's leading
		// run of proposals goes early, so no message overtakes another to
		// the same peer.
		rest := rd.Messages
		if e.peer.Established() && len(rd.Entries) > 0 {
			rest = e.sendProposalsEarly(rd.Messages)
		}
		// Committed entries this server already holds durably go to the
		// applier now, so applying (and answering clients) overlaps the
		// fsync below instead of waiting for it.
		late := rd.Committed
		if rd.Snapshot == nil && len(rd.Entries) > 0 {
			i := 0
			for i < len(late) && late[i].Zxid <= e.durable {
				i++
			}
			e.apply(late[:i])
			late = late[i:]
		}
		if len(rd.Entries) > 0 {
			recs := e.recs[:0]
			for _, en := range rd.Entries {
				recs = append(recs, wal.Record{Zxid: en.Zxid, Data: en.Data})
			}
			start := time.Now()
			err := s.persist(recs)
			clear(recs)
			e.recs = recs[:0]
			if err != nil {
				return err
			}
			s.stats.fsync.observe(time.Since(start))
			e.durable = rd.Entries[len(rd.Entries)-1].Zxid
			e.sinceSnap += len(rd.Entries)
			if e.sinceSnap > e.snapRoll {
				e.sinceSnap, e.snapRoll = 0, s.randRoll()
				if !s.pipe.snapping.Load() {
					if err := s.wal.Roll(); err != nil {
						return fmt.Errorf("server: roll the log in %s: %w", s.cfg.DataLogDir, err)
					}
					s.pipe.snapWanted.Store(true)
				}
			}
		}
		for _, m := range rest {
			e.tr.Send(m)
		}
		e.apply(late)
		e.peer.Advance(rd)
	}
	return nil
}

// apply hands committed entries to the applier, in order.
func (e *ensemble) apply(es []zab.Entry) {
	if len(es) == 0 {
		return
	}
	if batch, fresh := e.committed(es); len(batch) > 0 {
		// Local proposals were counted as pending when submitted.
		e.s.pipe.pending.Add(int64(fresh))
		e.s.pipe.applyCh <- batch
	}
}

// sendProposalsEarly sends, per destination, the proposals that come before
// any other message to it, and returns the rest in their order.
func (e *ensemble) sendProposalsEarly(ms []zab.Message) []zab.Message {
	held := map[int64]bool{}
	rest := ms[:0:0]
	for _, m := range ms {
		if m.Type == zab.MsgProposal && !held[m.To] {
			e.tr.Send(m)
			continue
		}
		held[m.To] = true
		rest = append(rest, m)
	}
	return rest
}

// afterStep publishes the role and reacts to leadership changes.
func (e *ensemble) afterStep() {
	s := e.s
	role := e.peer.Role()
	if zab.Role(e.role.Swap(int32(role))) != role {
		s.log.Info(fmt.Sprintf("Peer state changed: %s", e.modeOf(role)))
		if role == zab.Looking {
			e.elections.Add(1)
		}
	}
	serving := e.peer.Serving()
	switch wasServing := e.isServing.Load(); {
	case serving && !wasServing:
		e.electionTime.observe(time.Since(e.lastSwitch))
	case !serving && wasServing:
		// The election (and sync) being timed starts now.
		e.lastSwitch = time.Now()
	}
	e.setServing(serving)
	var learners, synced, observers, maxLag int64
	last := e.peer.LastZxid()
	for _, li := range e.peer.LearnerInfos() {
		learners++
		switch {
		case !li.Synced:
		case li.Observer:
			observers++
		default:
			synced++
			if lag := last - li.Acked; zab.Epoch(li.Acked) == zab.Epoch(last) && lag > maxLag {
				maxLag = lag
			}
		}
	}
	syncs := int64(0)
	for _, lp := range e.local {
		if lp.pr.entry == nil {
			syncs++
		}
	}
	e.syncs.Store(syncs)
	e.learners.Store(learners)
	e.syncedFollowers.Store(synced)
	e.syncedObservers.Store(observers)
	e.maxLag.Store(maxLag)
	leading := e.peer.Established()
	if leading && !e.wasLeading {
		// A new leader: every session gets a full timeout from now (its
		// touches went to the old leader), and the first entry of the
		// epoch marks where forwarded writes that did not survive end.
		now := s.nowMs()
		s.treeMu.RLock()
		for _, si := range s.tree.Sessions() {
			s.tracker.add(si.ID, si.TimeoutMs, now)
		}
		s.treeMu.RUnlock()
		e.seq++
		if _, err := e.peer.Propose(wrap(kindNoop, e.self, e.seq, nil)); err == nil {
			s.log.Info(fmt.Sprintf("LEADING - LEADER ELECTION TOOK - %d MS", time.Since(e.lastSwitch).Milliseconds()))
		}
	}
	e.wasLeading = leading
	if e.canForward() && len(e.waiting) > 0 {
		w := e.waiting
		e.waiting = nil
		for i, pr := range w {
			if !e.forward(pr) {
				e.waiting = append(e.waiting, w[i:]...)
				break
			}
		}
	}
}

func (e *ensemble) modeOf(r zab.Role) string {
	switch r {
	case zab.Leading:
		return "LEADING"
	case zab.Following:
		return "FOLLOWING"
	case zab.Observing:
		return "OBSERVING"
	}
	return "LOOKING"
}

// committed turns committed zab entries into proposals for the applier,
// matching the ones forwarded from here to their waiting clients.
func (e *ensemble) committed(es []zab.Entry) (batch []*proposal, fresh int) {
	batch = make([]*proposal, 0, len(es))
	for _, ze := range es {
		if ep := zab.Epoch(ze.Zxid); ep > e.appliedEp {
			e.appliedEp = ep
			e.dropLost(ep)
		}
		kind, origin, seq, body, err := unwrap(ze.Data)
		if err != nil {
			panic(fmt.Sprintf("server: committed entry 0x%x is not ensemble data: %v", ze.Zxid, err))
		}
		var pr *proposal
		if origin == e.self {
			pr = e.takeLocal(seq)
		}
		switch kind {
		case kindNoop:
			continue
		case kindSync:
			if pr != nil {
				batch = append(batch, pr)
			}
			continue
		}
		te, err := tree.UnmarshalEntry(body)
		if err != nil {
			panic(fmt.Sprintf("server: committed entry 0x%x does not decode: %v", ze.Zxid, err))
		}
		te.Zxid = ze.Zxid
		if pr == nil {
			pr = &proposal{}
			fresh++
		}
		pr.entry = te
		batch = append(batch, pr)
	}
	return batch, fresh
}

// takeLocal pops the local proposal with seq; earlier ones were lost.
func (e *ensemble) takeLocal(seq uint64) *proposal {
	for len(e.local) > 0 {
		lp := e.local[0]
		if lp.seq > seq {
			return nil
		}
		e.local = e.local[1:]
		if lp.seq == seq {
			e.proposalTime.observe(time.Since(lp.at))
			return lp.pr
		}
		e.lose(lp.pr)
	}
	return nil
}

// dropLost takes back the writes forwarded under an epoch before ep: had
// they survived the change of leader they would have committed before ep's
// first entry. They never will, so they go to the front of the queue, to be
// forwarded again in their order.
func (e *ensemble) dropLost(ep uint32) {
	i := 0
	var again []*proposal
	for ; i < len(e.local) && e.local[i].epoch < ep; i++ {
		again = append(again, e.local[i].pr)
	}
	e.local = e.local[i:]
	if len(again) > 0 {
		e.s.log.Info(fmt.Sprintf("Forwarding %d write(s) again that did not survive the change of leader", len(again)))
		e.waiting = append(again, e.waiting...)
	}
}

// lose fails a proposal whose fate is unknown to its client: like
// ZooKeeper, close the connection so the client sees ConnectionLoss.
func (e *ensemble) lose(pr *proposal) {
	e.s.pipe.pending.Add(-1)
	if pr.conn != nil {
		pr.conn.closeNow()
	}
}

// failAll fails every proposal still waiting (the server is stopping).
func (e *ensemble) failAll() {
	for _, lp := range e.local {
		e.lose(lp.pr)
	}
	for _, pr := range e.waiting {
		e.lose(pr)
	}
	e.local, e.waiting = nil, nil
}

// install replaces the state with the leader's snapshot: on disk first,
// then in the tree, through the applier so it lands between batches.
func (e *ensemble) install(sn zab.Snapshot) error {
	s := e.s
	t, err := tree.ReadSnapshot(bytes.NewReader(sn.Data), s.treeOpts)
	if err != nil {
		return fmt.Errorf("server: the leader's snapshot 0x%x does not read: %w", sn.Zxid, err)
	}
	if err := s.wal.InstallSnapshot(sn.Zxid, func(w io.Writer) error {
		_, err := w.Write(sn.Data)
		return err
	}); err != nil {
		return fmt.Errorf("server: install the leader's snapshot 0x%x in %s: %w", sn.Zxid, s.cfg.DataDir, err)
	}
	s.log.Info(fmt.Sprintf("Getting a snapshot from leader 0x%x", sn.Zxid))
	e.snap = sn
	e.durable = sn.Zxid
	s.pipe.pending.Add(1)
	s.pipe.applyCh <- []*proposal{{install: t}}
	return nil
}

// writeHardState persists the epochs the way ZooKeeper does: one decimal
// file each, written aside, fsynced and renamed into place.
func (e *ensemble) writeHardState(hs zab.HardState) error {
	s := e.s
	dir := s.cfg.DataDir + "/version-2"
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("server: create %s: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		v    uint32
		old  uint32
	}{{"acceptedEpoch", hs.AcceptedEpoch, e.hs.AcceptedEpoch}, {"currentEpoch", hs.CurrentEpoch, e.hs.CurrentEpoch}} {
		if f.v == f.old && e.hsWritten {
			continue // each fsync here delays an election: write only what changed
		}
		path := s.epochFile(f.name)
		if err := writeFileSync(s.fs, path, []byte(strconv.FormatUint(uint64(f.v), 10)+"\n")); err != nil {
			return fmt.Errorf("server: write %s: %w", path, err)
		}
	}
	if err := s.fs.SyncDir(dir); err != nil {
		return fmt.Errorf("server: sync %s: %w", dir, err)
	}
	e.hs, e.hsWritten = hs, true
	return nil
}

// writeFileSync replaces path with b durably: written aside, fsynced,
// renamed over (the caller syncs the directory).
func writeFileSync(fsys wal.FS, path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsys.Rename(tmp, path)
}
