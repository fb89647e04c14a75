package zab

import (
	"fmt"
	"sort"
)

// learner is the leader's record of one follower or observer.
type learner struct {
	id       int64
	observer bool
	// phase: 0 sent NEWEPOCH, 1 synced (NEWLEADER sent), 2 acked NEWLEADER (active)
	phase    int
	acked    int64 // highest zxid the learner has acknowledged as durable
	sent     int64 // highest zxid sent to it
	silent   int   // ticks since we last heard from it
	accepted uint32
	// ACKEPOCH, kept until a quorum has acknowledged the epoch
	ackedEpoch bool
	ackLast    int64
	ackSnap    int64
	ackLasts   []Entry
}

// Peer is one server's ZAB state machine. It is not safe for concurrent
// use: one loop owns it.
type Peer struct {
	cfg    Config
	voters map[int64]bool
	hs     HardState
	role   Role
	leader int64

	snap    Snapshot
	log     []Entry // entries with Zxid > snap.Zxid, in order
	stable  int64   // the driver has made everything up to here durable
	commit  int64
	applied int64

	// election
	round uint64
	vote  Vote
	recv  map[int64]Vote    // votes of looking voters in this round
	outOf map[int64]Message // notifications from peers already following or leading
	early map[int64]Message // FOLLOWERINFO that arrived before we knew we lead
	ticks int               // ticks in the current role/phase

	// leader
	epoch       uint32 // the leadership's epoch, once decided (leader and learner)
	prevEpoch   uint32 // the leader's current epoch when it was elected
	infos       map[int64]uint32
	learners    map[int64]*learner
	established bool
	epochQuorum bool // a quorum acknowledged the new epoch: syncing may start
	counter     uint32

	// learner
	synced  bool // NEWLEADER handled
	current bool // UPTODATE received

	// output
	msgs      []Message
	hsDirty   bool
	installed *Snapshot
	trunc     bool
	truncZxid int64
}

// New returns a peer that starts looking for a leader. hs, snap and log are
// what the driver recovered from disk (zero values for a new server); log
// holds the durable entries after snap.Zxid in order.
func New(cfg Config, hs HardState, snap Snapshot, log []Entry) *Peer {
	if cfg.InitLimit <= 0 {
		cfg.InitLimit = 10
	}
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = 5
	}
	p := &Peer{cfg: cfg, voters: map[int64]bool{}, hs: hs, snap: snap}
	for _, v := range cfg.Voters {
		p.voters[v] = true
	}
	p.log = append([]Entry(nil), log...)
	p.stable = p.lastZxid()
	p.commit = snap.Zxid
	p.applied = snap.Zxid
	p.becomeLooking()
	return p
}

// Role, Leader, Epoch and friends report the peer's view.
func (p *Peer) Role() Role           { return p.role }
func (p *Peer) Leader() int64        { return p.leader }
func (p *Peer) HardState() HardState { return p.hs }
func (p *Peer) Committed() int64     { return p.commit }
func (p *Peer) LastZxid() int64      { return p.lastZxid() }

// Established reports whether this peer is a leader that may propose.
func (p *Peer) Established() bool { return p.role == Leading && p.established }

// Serving reports whether this peer is part of an established leadership:
// an established leader, or a learner that received UPTODATE.
func (p *Peer) Serving() bool {
	return p.Established() || ((p.role == Following || p.role == Observing) && p.current)
}

// LeaderEpoch is the epoch of the leadership this peer belongs to (0 when looking).
func (p *Peer) LeaderEpoch() uint32 { return p.epoch }

// Learners reports, for a leader, how many learners are connected and how
// many are synced (acknowledged NEWLEADER).
func (p *Peer) Learners() (connected, synced int) {
	for _, l := range p.learners {
		connected++
		if l.phase == 2 {
			synced++
		}
	}
	return
}

func (p *Peer) isVoter() bool { return p.voters[p.cfg.ID] }

func (p *Peer) quorum(n int) bool { return n > len(p.voters)/2 }

func (p *Peer) lastZxid() int64 {
	if len(p.log) == 0 {
		return p.snap.Zxid
	}
	return p.log[len(p.log)-1].Zxid
}

func (p *Peer) send(m Message) {
	m.From = p.cfg.ID
	p.msgs = append(p.msgs, m)
}

func (p *Peer) selfVote() Vote {
	return Vote{Leader: p.cfg.ID, Zxid: p.lastZxid(), Epoch: p.hs.CurrentEpoch}
}

// ---- role changes

func (p *Peer) reset(r Role) {
	p.role = r
	p.ticks = 0
	p.learners = nil
	p.infos = nil
	p.established = false
	p.epochQuorum = false
	p.synced = false
	p.current = false
	p.epoch = 0
}

func (p *Peer) becomeLooking() {
	p.reset(Looking)
	p.leader = 0
	p.round++
	p.recv = map[int64]Vote{}
	p.outOf = map[int64]Message{}
	p.early = map[int64]Message{}
	if p.isVoter() {
		p.vote = p.selfVote()
		p.recv[p.cfg.ID] = p.vote
	} else {
		p.vote = Vote{}
	}
	p.broadcastVote()
}

func (p *Peer) broadcastVote() {
	for _, v := range p.cfg.Voters {
		if v != p.cfg.ID {
			p.send(Message{Type: MsgVote, To: v, Round: p.round, Vote: p.vote, State: p.role})
		}
	}
}

func (p *Peer) becomeFollowing(leader int64) {
	if p.isVoter() {
		p.reset(Following)
	} else {
		p.reset(Observing)
	}
	p.leader = leader
	p.send(Message{Type: MsgFollowerInfo, To: leader, Epoch: p.hs.AcceptedEpoch, Observer: !p.isVoter()})
}

func (p *Peer) becomeLeading() {
	p.reset(Leading)
	p.leader = p.cfg.ID
	p.learners = map[int64]*learner{}
	p.infos = map[int64]uint32{p.cfg.ID: p.hs.AcceptedEpoch}
	p.prevEpoch = p.hs.CurrentEpoch
	// A follower that decided before we did may already have asked.
	early := p.early
	p.early = nil
	ids := make([]int64, 0, len(early))
	for id := range early {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if p.role == Leading {
			p.onFollowerInfo(early[id])
		}
	}
}

// ---- input

// Tick advances the peer's clock by one tickTime.
func (p *Peer) Tick() {
	p.ticks++
	switch p.role {
	case Looking:
		// Notifications may have been lost with a broken connection: say it again.
		p.broadcastVote()
	case Following, Observing:
		limit := p.cfg.SyncLimit
		if !p.current {
			limit = p.cfg.InitLimit
		}
		if p.ticks > limit {
			p.becomeLooking()
		} else if p.epoch == 0 {
			// No NEWEPOCH yet: our FOLLOWERINFO may have been lost with a
			// connection. Ask again.
			p.send(Message{Type: MsgFollowerInfo, To: p.leader, Epoch: p.hs.AcceptedEpoch, Observer: !p.isVoter()})
		}
	case Leading:
		p.tickLeader()
	}
}

func (p *Peer) tickLeader() {
	if !p.established {
		if p.ticks > p.cfg.InitLimit {
			p.becomeLooking()
		}
		return
	}
	alive := 1
	for id, l := range p.learners {
		l.silent++
		if l.silent > p.cfg.SyncLimit {
			delete(p.learners, id)
			continue
		}
		if l.phase == 2 && !l.observer {
			alive++
		}
		p.send(Message{Type: MsgPing, To: id, Epoch: p.epoch, Commit: p.commit})
	}
	if !p.quorum(alive) {
		p.becomeLooking()
	}
}

// Step feeds one message to the peer.
func (p *Peer) Step(m Message) {
	if m.Type == MsgVote {
		p.stepVote(m)
		return
	}
	switch p.role {
	case Leading:
		p.stepLeader(m)
	case Following, Observing:
		p.stepLearner(m)
	case Looking:
		if m.Type == MsgDisconnected && p.voters[m.From] {
			// A connection to m.From broke or was just made: whatever we
			// said may be lost, so say our vote again at once rather than
			// at the next tick.
			p.send(Message{Type: MsgVote, To: m.From, Round: p.round, Vote: p.vote, State: p.role})
			return
		}
		// Leader-protocol traffic for a leadership we are not in. Tell a
		// would-be follower that we are not leading so it stops waiting.
		if m.Type == MsgFollowerInfo {
			if p.early != nil {
				p.early[m.From] = m
			}
			p.send(Message{Type: MsgVote, To: m.From, Round: p.round, Vote: p.vote, State: Looking})
		}
	}
}

func (p *Peer) stepVote(m Message) {
	if p.role != Looking {
		// Tell a looking peer who leads.
		if m.State == Looking || m.State == Observing {
			v := Vote{Leader: p.leader, Zxid: p.lastZxid(), Epoch: p.epoch}
			p.send(Message{Type: MsgVote, To: m.From, Round: p.round, Vote: v, State: p.role, Epoch: p.epoch})
		}
		// Our leader is looking again, in a round after the one that chose
		// it: so are we. (A vote from the round that chose it is stale.)
		if m.From == p.leader && m.State == Looking && p.role != Leading && m.Round > p.round {
			p.becomeLooking()
		}
		return
	}
	switch m.State {
	case Observing:
		p.send(Message{Type: MsgVote, To: m.From, Round: p.round, Vote: p.vote, State: Looking})
		return
	case Looking:
		if !p.voters[m.From] || !p.isVoter() {
			return
		}
		switch {
		case m.Round > p.round:
			p.round = m.Round
			p.recv = map[int64]Vote{}
			p.vote = p.selfVote()
			if m.Vote.Better(p.vote) {
				p.vote = m.Vote
			}
			p.broadcastVote()
		case m.Round < p.round:
			p.send(Message{Type: MsgVote, To: m.From, Round: p.round, Vote: p.vote, State: Looking})
			return
		case m.Vote.Better(p.vote):
			p.vote = m.Vote
			p.broadcastVote()
		case m.Vote != p.vote:
			// The sender has not seen our better vote: it may have been
			// following when our notification arrived, and dropped it. Say
			// it again now rather than at the next tick; once it adopts
			// ours it sends nothing back, so this cannot ping-pong.
			p.send(Message{Type: MsgVote, To: m.From, Round: p.round, Vote: p.vote, State: Looking})
		}
		p.recv[m.From] = m.Vote
		p.recv[p.cfg.ID] = p.vote
		n := 0
		for id, v := range p.recv {
			if p.voters[id] && v == p.vote {
				n++
			}
		}
		if p.quorum(n) {
			if p.vote.Leader == p.cfg.ID {
				p.becomeLeading()
			} else {
				p.becomeFollowing(p.vote.Leader)
			}
		}
	case Following, Leading:
		p.outOf[m.From] = m
		p.checkOutOfElection()
	}
}

// checkOutOfElection joins an established leadership when a quorum of
// voters reports the same leader and epoch and the leader itself says it leads.
func (p *Peer) checkOutOfElection() {
	for _, m := range p.outOf {
		if m.State != Leading || m.From != m.Vote.Leader {
			continue
		}
		n := 0
		for id, o := range p.outOf {
			if p.voters[id] && o.Vote.Leader == m.From && o.Epoch == m.Epoch {
				n++
			}
		}
		if p.quorum(n) {
			p.becomeFollowing(m.From)
			return
		}
	}
}

// ---- leader

func (p *Peer) stepLeader(m Message) {
	if m.Type == MsgDisconnected {
		delete(p.learners, m.From)
		return
	}
	if m.Type == MsgFollowerInfo {
		p.onFollowerInfo(m)
		return
	}
	l := p.learners[m.From]
	if l == nil || m.Epoch != p.epoch {
		return
	}
	l.silent = 0
	switch m.Type {
	case MsgAckEpoch:
		if l.phase != 0 || l.ackedEpoch {
			return
		}
		if !p.established && (Vote{Epoch: m.Vote.Epoch, Zxid: m.Zxid}).Better(Vote{Epoch: p.prevEpoch, Zxid: p.lastZxid()}) {
			// A member of our quorum knows more than we do: we must not lead.
			p.becomeLooking()
			return
		}
		l.ackedEpoch, l.ackLast, l.ackSnap, l.ackLasts = true, m.Zxid, m.Commit, m.Entries
		if p.epochQuorum {
			p.syncLearner(l, l.ackLast, l.ackSnap, l.ackLasts)
			return
		}
		// No NEWLEADER before a quorum has promised this epoch: that
		// promise is what stops an older leader from committing more.
		n := 1
		for _, o := range p.learners {
			if o.ackedEpoch && !o.observer {
				n++
			}
		}
		if !p.quorum(n) {
			return
		}
		p.epochQuorum = true
		ids := make([]int64, 0, len(p.learners))
		for id, o := range p.learners {
			if o.ackedEpoch && o.phase == 0 {
				ids = append(ids, id)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			o := p.learners[id]
			p.syncLearner(o, o.ackLast, o.ackSnap, o.ackLasts)
		}
	case MsgAckNewLeader:
		if l.phase != 1 {
			return
		}
		l.phase = 2
		if m.Zxid > l.acked {
			l.acked = m.Zxid
		}
		if p.established {
			p.send(Message{Type: MsgUpToDate, To: l.id, Epoch: p.epoch, Commit: p.commit})
			p.maybeCommit()
			return
		}
		n := 1
		for _, o := range p.learners {
			if o.phase == 2 && !o.observer {
				n++
			}
		}
		if p.quorum(n) {
			p.establish()
		}
	case MsgAck:
		if !l.observer && m.Zxid > l.acked {
			l.acked = m.Zxid
			p.maybeCommit()
		}
	case MsgForward:
		if p.established {
			p.propose(m.Data)
		}
	}
}

func (p *Peer) onFollowerInfo(m Message) {
	if m.Observer == p.voters[m.From] {
		return // a voter claiming to observe or the reverse: misconfigured, ignore
	}
	if p.epoch != 0 && m.Epoch > p.epoch {
		// Someone promised a newer epoch than ours: our leadership is stale.
		p.becomeLooking()
		return
	}
	l := &learner{id: m.From, observer: m.Observer, accepted: m.Epoch}
	p.learners[m.From] = l
	if p.epoch != 0 {
		p.send(Message{Type: MsgNewEpoch, To: m.From, Epoch: p.epoch})
		return
	}
	if !m.Observer {
		p.infos[m.From] = m.Epoch
	}
	if !p.quorum(len(p.infos)) {
		return
	}
	var max uint32
	for _, e := range p.infos {
		if e > max {
			max = e
		}
	}
	p.epoch = max + 1
	p.hs.AcceptedEpoch = p.epoch
	p.hsDirty = true
	for id := range p.learners {
		p.send(Message{Type: MsgNewEpoch, To: id, Epoch: p.epoch})
	}
}

// indexAfter returns the index in p.log of the first entry with Zxid > z.
func (p *Peer) indexAfter(z int64) int {
	return sort.Search(len(p.log), func(i int) bool { return p.log[i].Zxid > z })
}

// epochLasts summarises a log for ACKEPOCH: the last zxid of every epoch
// it holds, in order.
func epochLasts(log []Entry) []Entry {
	var out []Entry
	for i, e := range log {
		if i+1 == len(log) || Epoch(log[i+1].Zxid) != Epoch(e.Zxid) {
			out = append(out, Entry{Zxid: e.Zxid})
		}
	}
	return out
}

// lastOfEpoch is the last zxid of epoch e this leader knows, in its log or
// as its snapshot's zxid.
func (p *Peer) lastOfEpoch(e uint32) (int64, bool) {
	i := p.indexAfter(Zxid(e, ^uint32(0)))
	if i > 0 && Epoch(p.log[i-1].Zxid) == e {
		return p.log[i-1].Zxid, true
	}
	if p.snap.Zxid != 0 && Epoch(p.snap.Zxid) == e && (i == 0 || Epoch(p.log[i-1].Zxid) < e) {
		return p.snap.Zxid, true
	}
	return 0, false
}

// commonPoint finds where a learner's history leaves ours. Its snapshot is
// committed, so we hold it; past it, within one epoch every server holds a
// prefix of that epoch's proposals, so the histories agree up to the first
// epoch where the learner holds more than we do, or holds an epoch we never
// saw.
func (p *Peer) commonPoint(snapZxid int64, lasts []Entry) int64 {
	c := snapZxid
	for _, fl := range lasts {
		if fl.Zxid <= c {
			continue
		}
		ll, ok := p.lastOfEpoch(Epoch(fl.Zxid))
		if !ok {
			break
		}
		if fl.Zxid <= ll {
			c = fl.Zxid
			continue
		}
		if ll > c {
			c = ll
		}
		break
	}
	return c
}

// syncLearner brings a learner up to date: by diff when its history is a
// prefix of ours, by truncation first when it holds entries we do not, by
// snapshot when our log no longer reaches back to where the two agree.
// last, snapZxid and lasts are what the learner said in ACKEPOCH.
func (p *Peer) syncLearner(l *learner, last, snapZxid int64, lasts []Entry) {
	m := Message{Type: MsgSync, To: l.id, Epoch: p.epoch}
	from := p.snap.Zxid
	common := p.commonPoint(snapZxid, lasts)
	switch {
	case common < p.snap.Zxid:
		s := p.snap
		m.Snapshot = &s
	default:
		if common != last {
			m.Trunc, m.TruncZxid = true, common
		}
		from = common
	}
	m.Entries = append([]Entry(nil), p.log[p.indexAfter(from):]...)
	p.send(m)
	l.sent = p.lastZxid()
	l.phase = 1
	if !p.established {
		// Our own promise to this epoch, before anyone acts on NEWLEADER.
		if p.hs.CurrentEpoch != p.epoch {
			p.hs.CurrentEpoch = p.epoch
			p.hsDirty = true
		}
	}
	p.send(Message{Type: MsgNewLeader, To: l.id, Epoch: p.epoch, Zxid: l.sent})
}

func (p *Peer) establish() {
	p.established = true
	p.counter = 0
	if p.hs.CurrentEpoch != p.epoch {
		p.hs.CurrentEpoch = p.epoch
		p.hsDirty = true
	}
	// Everything we synchronised a quorum to is now committed, once it is
	// durable here too (maybeCommit counts our own stable point).
	for _, l := range p.learners {
		if l.phase == 2 {
			p.send(Message{Type: MsgUpToDate, To: l.id, Epoch: p.epoch, Commit: p.commitCandidate()})
		}
	}
	p.maybeCommit()
}

// commitCandidate is the highest zxid a quorum (this leader by its stable
// point, learners by their acks) holds durably.
func (p *Peer) commitCandidate() int64 {
	acks := []int64{p.stable}
	for _, l := range p.learners {
		if l.phase == 2 && !l.observer {
			acks = append(acks, l.acked)
		}
	}
	need := len(p.voters)/2 + 1
	if len(acks) < need {
		return p.commit
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i] > acks[j] })
	c := acks[need-1]
	if c < p.commit {
		return p.commit
	}
	return c
}

func (p *Peer) maybeCommit() {
	if !p.established {
		return
	}
	c := p.commitCandidate()
	if c <= p.commit {
		return
	}
	p.commit = c
	for _, l := range p.learners {
		switch {
		case l.phase < 1:
		case l.observer:
			var es []Entry
			if l.sent < c {
				es = p.log[p.indexAfter(l.sent):p.indexAfter(c)]
			}
			if len(es) > 0 || l.phase == 2 {
				p.send(Message{Type: MsgInform, To: l.id, Epoch: p.epoch, Entries: append([]Entry(nil), es...), Commit: c})
				if len(es) > 0 {
					l.sent = es[len(es)-1].Zxid
				}
			}
		default:
			p.send(Message{Type: MsgCommit, To: l.id, Epoch: p.epoch, Commit: c})
		}
	}
}

// Propose appends a write as the established leader and sends it to the
// followers. It returns the zxid assigned.
func (p *Peer) Propose(data []byte) (int64, error) {
	if !p.Established() {
		return 0, ErrNotLeader
	}
	return p.propose(data), nil
}

func (p *Peer) propose(data []byte) int64 {
	p.counter++
	if p.counter == 0 {
		// The counter wrapped: ZooKeeper forces a new election; so do we.
		p.becomeLooking()
		return 0
	}
	e := Entry{Zxid: Zxid(p.epoch, p.counter), Data: data}
	p.log = append(p.log, e)
	for _, l := range p.learners {
		if l.phase >= 1 && !l.observer {
			p.sendProposal(l.id, e)
			l.sent = e.Zxid
		}
	}
	return e.Zxid
}

// sendProposal queues e for a follower, joining it to a proposal already
// queued for that follower when nothing else was queued for it since: one
// message (and one acknowledgement) per batch instead of per entry.
func (p *Peer) sendProposal(to int64, e Entry) {
	for i := len(p.msgs) - 1; i >= 0; i-- {
		m := &p.msgs[i]
		if m.To != to {
			continue
		}
		if m.Type == MsgProposal && m.Epoch == p.epoch {
			m.Entries = append(m.Entries, e)
			return
		}
		break
	}
	p.send(Message{Type: MsgProposal, To: to, Epoch: p.epoch, Entries: []Entry{e}})
}

// Forward sends a client write to the leader (from a learner) or proposes
// it (on the leader).
func (p *Peer) Forward(data []byte) error {
	switch {
	case p.Established():
		p.propose(data)
		return nil
	case (p.role == Following || p.role == Observing) && p.synced:
		p.send(Message{Type: MsgForward, To: p.leader, Epoch: p.epoch, Data: data})
		return nil
	}
	return ErrNoLeader
}

// ---- learner

func (p *Peer) stepLearner(m Message) {
	if m.From != p.leader {
		return
	}
	if m.Type == MsgDisconnected {
		p.becomeLooking()
		return
	}
	if m.Type == MsgNewEpoch {
		if p.epoch != 0 {
			return
		}
		if m.Epoch < p.hs.AcceptedEpoch {
			p.becomeLooking()
			return
		}
		p.epoch = m.Epoch
		if m.Epoch > p.hs.AcceptedEpoch {
			p.hs.AcceptedEpoch = m.Epoch
			p.hsDirty = true
		}
		p.send(Message{Type: MsgAckEpoch, To: p.leader, Epoch: p.epoch, Vote: Vote{Epoch: p.hs.CurrentEpoch},
			Zxid: p.lastZxid(), Commit: p.snap.Zxid, Entries: epochLasts(p.log)})
		return
	}
	if p.epoch == 0 || m.Epoch != p.epoch {
		return
	}
	p.ticks = 0
	switch m.Type {
	case MsgSync:
		if m.Snapshot != nil {
			s := *m.Snapshot
			p.snap = s
			p.log = nil
			p.installed = &s
			p.stable = s.Zxid
			p.commit, p.applied = s.Zxid, s.Zxid
		}
		if m.Trunc {
			p.truncate(m.TruncZxid)
		}
		p.appendEntries(m.Entries)
	case MsgNewLeader:
		p.synced = true
		if p.hs.CurrentEpoch != p.epoch {
			p.hs.CurrentEpoch = p.epoch
			p.hsDirty = true
		}
		p.send(Message{Type: MsgAckNewLeader, To: p.leader, Epoch: p.epoch, Zxid: m.Zxid})
	case MsgUpToDate:
		p.current = true
		p.advanceCommit(m.Commit)
	case MsgProposal:
		if !p.synced {
			return
		}
		p.appendEntries(m.Entries)
		p.send(Message{Type: MsgAck, To: p.leader, Epoch: p.epoch, Zxid: p.lastZxid()})
	case MsgCommit, MsgPing:
		if m.Type == MsgPing {
			p.send(Message{Type: MsgPingReply, To: p.leader, Epoch: p.epoch})
		}
		if p.current || m.Type == MsgCommit {
			p.advanceCommit(m.Commit)
		}
	case MsgInform:
		p.appendEntries(m.Entries)
		p.advanceCommit(m.Commit)
	}
}

func (p *Peer) truncate(z int64) {
	if z < p.commit {
		panic(fmt.Sprintf("zab: peer %d asked to truncate to %#x below its commit point %#x", p.cfg.ID, z, p.commit))
	}
	p.log = p.log[:p.indexAfter(z)]
	if p.stable > z {
		p.stable = z
	}
	p.trunc, p.truncZxid = true, z
}

func (p *Peer) appendEntries(es []Entry) {
	for _, e := range es {
		if e.Zxid <= p.lastZxid() {
			continue
		}
		p.log = append(p.log, e)
	}
}

func (p *Peer) advanceCommit(c int64) {
	if c > p.lastZxid() {
		c = p.lastZxid()
	}
	if c > p.commit {
		p.commit = c
	}
}

// ---- output

// HasReady reports whether Ready would return anything.
func (p *Peer) HasReady() bool {
	return len(p.msgs) > 0 || p.hsDirty || p.installed != nil || p.trunc ||
		p.lastZxid() > p.stable || p.commit > p.applied
}

// Ready returns what the driver must persist, send and apply now. Call
// Advance with it once done, before the next Step, Tick, Propose or
// Forward; its slices are not the driver's to keep after Advance.
func (p *Peer) Ready() Ready {
	var rd Ready
	if p.hsDirty {
		hs := p.hs
		rd.HardState = &hs
	}
	rd.Snapshot = p.installed
	rd.Truncate, rd.TruncateZxid = p.trunc, p.truncZxid
	if i := p.indexAfter(p.stable); i < len(p.log) {
		rd.Entries = append([]Entry(nil), p.log[i:]...)
	}
	rd.Messages = p.msgs
	if p.commit > p.applied {
		lo, hi := p.indexAfter(p.applied), p.indexAfter(p.commit)
		rd.Committed = append([]Entry(nil), p.log[lo:hi]...)
	}
	return rd
}

// Advance records that rd has been persisted, sent and applied.
func (p *Peer) Advance(rd Ready) {
	if n := len(rd.Messages); n == len(p.msgs) {
		// Keep the array for the next messages: Ready's slices are the
		// driver's only until this Advance.
		clear(p.msgs)
		p.msgs = p.msgs[:0]
	} else {
		p.msgs = p.msgs[n:]
	}
	if rd.HardState != nil && *rd.HardState == p.hs {
		p.hsDirty = false
	}
	if rd.Snapshot != nil && p.installed == rd.Snapshot {
		p.installed = nil
	}
	if rd.Truncate && p.truncZxid == rd.TruncateZxid {
		p.trunc = false
	}
	if n := len(rd.Entries); n > 0 && rd.Entries[n-1].Zxid > p.stable {
		p.stable = rd.Entries[n-1].Zxid
	}
	if n := len(rd.Committed); n > 0 && rd.Committed[n-1].Zxid > p.applied {
		p.applied = rd.Committed[n-1].Zxid
	}
	if p.role == Leading {
		// The leader's own acknowledgement counts only now, once durable.
		p.maybeCommit()
	}
}

// Compact tells the peer that the driver holds a snapshot at s.Zxid (which
// it has applied); log entries up to it are dropped and the snapshot serves
// learners too far behind for a diff.
func (p *Peer) Compact(s Snapshot) {
	if s.Zxid > p.applied {
		panic(fmt.Sprintf("zab: peer %d compacting to %#x beyond applied %#x", p.cfg.ID, s.Zxid, p.applied))
	}
	if s.Zxid <= p.snap.Zxid {
		return
	}
	p.log = append([]Entry(nil), p.log[p.indexAfter(s.Zxid):]...)
	p.snap = s
}

// LearnerInfo is a leader's view of one learner, for monitoring.
type LearnerInfo struct {
	ID       int64
	Observer bool
	Synced   bool  // acknowledged NEWLEADER: part of the broadcast
	Acked    int64 // highest zxid it acknowledged as durable (0 for observers)
}

// LearnerInfos lists a leader's learners by id (nil on other roles).
func (p *Peer) LearnerInfos() []LearnerInfo {
	out := make([]LearnerInfo, 0, len(p.learners))
	for _, l := range p.learners {
		out = append(out, LearnerInfo{ID: l.id, Observer: l.observer, Synced: l.phase == 2, Acked: l.acked})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
