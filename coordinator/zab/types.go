package zab

import "errors"

// Sentinel errors.
var (
	ErrNotLeader = errors.New("zab: not the established leader")
	ErrNoLeader  = errors.New("zab: no established leader to forward to")
)

// Role is what a peer is doing now.
type Role int

const (
	Looking Role = iota
	Following
	Leading
	Observing
)

func (r Role) String() string {
	switch r {
	case Looking:
		return "looking"
	case Following:
		return "follower"
	case Leading:
		return "leader"
	case Observing:
		return "observer"
	}
	return "unknown"
}

// Epoch of a zxid, and the zxid made of an epoch and a counter.
func Epoch(zxid int64) uint32          { return uint32(uint64(zxid) >> 32) }
func Zxid(epoch, counter uint32) int64 { return int64(uint64(epoch)<<32 | uint64(counter)) }

// Entry is one proposal: an opaque write the driver's state machine applies.
type Entry struct {
	Zxid int64
	Data []byte
}

// Snapshot is the driver's state machine serialised at Zxid: everything
// committed up to and including Zxid, nothing after.
type Snapshot struct {
	Zxid int64
	Data []byte
}

// HardState is what a peer must persist besides its log: the epoch it has
// promised to (accepted) and the epoch whose leader last synchronised it
// (current). Both only grow.
type HardState struct {
	AcceptedEpoch uint32
	CurrentEpoch  uint32
}

// Vote is an election proposal: Leader is the candidate, Zxid and Epoch its
// last zxid and current epoch. Votes are ordered by (Epoch, Zxid, Leader).
type Vote struct {
	Leader int64
	Zxid   int64
	Epoch  uint32
}

// Better reports whether v beats w.
func (v Vote) Better(w Vote) bool {
	if v.Epoch != w.Epoch {
		return v.Epoch > w.Epoch
	}
	if v.Zxid != w.Zxid {
		return v.Zxid > w.Zxid
	}
	return v.Leader > w.Leader
}

// MsgType names a protocol message.
type MsgType int

const (
	MsgVote         MsgType = iota // election notification: Round, Vote, State (sender's role), Epoch (sender's established epoch)
	MsgFollowerInfo                // learner → leader: Epoch = learner's accepted epoch, Observer
	MsgNewEpoch                    // leader → learner: Epoch = the new epoch
	MsgAckEpoch                    // learner → leader: Vote.Epoch = current epoch, Zxid = last zxid, Commit = its snapshot's zxid, Entries = the last zxid of each epoch in its log
	MsgSync                        // leader → learner: Snapshot and/or Trunc/TruncZxid, then Entries
	MsgNewLeader                   // leader → learner: Zxid = the last zxid the sync covered
	MsgAckNewLeader                // learner → leader: Zxid echoed
	MsgUpToDate                    // leader → learner: Commit
	MsgProposal                    // leader → follower: Entries (one)
	MsgAck                         // follower → leader: Zxid acknowledged (all before it too)
	MsgCommit                      // leader → follower: Commit
	MsgInform                      // leader → observer: Entries now committed, Commit
	MsgPing                        // leader → learner: Commit
	MsgPingReply                   // learner → leader
	MsgForward                     // learner → leader: Data, a client write to propose
	MsgDisconnected                // local only: the connection to From broke
	MsgTouch                       // learner → leader: Data = session ids with traffic; for the driver, the core ignores it
)

var msgNames = [...]string{"vote", "followerinfo", "newepoch", "ackepoch", "sync", "newleader",
	"acknewleader", "uptodate", "proposal", "ack", "commit", "inform", "ping", "pingreply", "forward", "disconnected", "touch"}

func (t MsgType) String() string {
	if int(t) < len(msgNames) {
		return msgNames[t]
	}
	return "unknown"
}

// Message is everything peers say to each other. Every message of the
// leader protocol carries the leadership's Epoch; a message from another
// epoch is ignored.
type Message struct {
	Type      MsgType
	From, To  int64
	Epoch     uint32
	Round     uint64
	Vote      Vote
	State     Role
	Observer  bool
	Zxid      int64
	Commit    int64
	Trunc     bool
	TruncZxid int64
	Snapshot  *Snapshot
	Entries   []Entry
	Data      []byte
}

// Ready is the output of a step: what to persist, send and apply, in the
// order of the package doc's rules.
type Ready struct {
	HardState    *HardState // persist when non-nil
	Snapshot     *Snapshot  // install (replace state and log) when non-nil
	Truncate     bool       // drop durable log entries with zxid > TruncateZxid
	TruncateZxid int64
	Entries      []Entry   // append durably
	Messages     []Message // send after the above are durable
	Committed    []Entry   // apply in order, after the above are durable
}

// Empty reports whether there is nothing to do.
func (rd *Ready) Empty() bool {
	return rd.HardState == nil && rd.Snapshot == nil && !rd.Truncate && len(rd.Entries) == 0 &&
		len(rd.Messages) == 0 && len(rd.Committed) == 0
}

// Config is a peer's view of the ensemble.
type Config struct {
	ID        int64
	Voters    []int64 // participants, this peer included when it is one
	Observers []int64
	// InitLimit is how many ticks discovery and synchronisation may take
	// before the peer gives up and looks for a leader again.
	InitLimit int
	// SyncLimit is how many ticks a follower waits to hear from its leader,
	// and a leader from a quorum of followers, before giving up.
	SyncLimit int
}
