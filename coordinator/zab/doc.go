// Package zab is the coordinator ensemble's agreement core: leader election,
// discovery, synchronisation and atomic broadcast in the manner of
// ZooKeeper's ZAB, written as a pure state machine.
//
// It owns only protocol state: epochs, the in-memory tail of the log since
// the last snapshot, votes, acknowledgements and the commit point. It never
// touches a socket, a file, a clock or an unseeded random source: input comes
// through Step (a message from a peer, or a broken connection) and Tick (one
// tickTime elapsed), output is collected with Ready and confirmed with
// Advance. One loop per server (coordinator/server) drives it and does the I/O.
//
// Ordering rules the driver must keep, for every Ready:
//
//  1. Install Ready.Snapshot (if any), apply Ready.Truncate, then append
//     Ready.Entries and persist Ready.HardState — all durably (fsync) —
//     BEFORE sending any of Ready.Messages. A follower's ACK is in Messages,
//     so a follower acknowledges only what it has persisted; the leader counts
//     its own acknowledgement only at Advance, after its own fsync. One
//     exception is allowed: an established leader may send each follower's
//     leading run of MsgProposal before its own fsync (as ZooKeeper's leader
//     logs and sends in parallel), since nothing commits on its copy until
//     Advance; the simulator crashes leaders in that window.
//  2. Apply Ready.Committed in order, after persisting; committed entries are
//     always a prefix of what is durable.
//  3. Deliver messages between two peers in order (TCP gives this). When a
//     connection breaks, tell both sides with a MsgDisconnected step; the
//     messages lost with it are never delivered later.
//
// Zxids are epoch<<32 | counter. Election orders candidates by (current
// epoch, last zxid, id), as ZooKeeper's FastLeaderElection does; a leader
// that learns during discovery that a follower of its quorum is ahead of it
// gives up, so a leader always holds every committed entry.
package zab
