// Package server is the coordinator's server loop in standalone mode: it
// accepts ZooKeeper 3.8 client connections on the client port, negotiates
// and expires sessions, runs every write through
//
//	assign zxid -> append to the log -> fsync (one per batch) -> Apply -> reply + notify
//
// and serves reads from the tree under a read lock. It owns the watch
// manager, the session tracker, the four-letter words, the Prometheus
// endpoint, snapshots and purging.
//
// Ordering rules, which every change here must keep:
//
//   - A write is acknowledged only after the fsync that covers its log entry
//     (or after the log append when forceSync=no).
//   - Entries are applied in zxid order by one goroutine (the applier).
//   - A session's replies leave in the order its requests arrived: a read
//     waits behind that connection's pending writes and syncs.
//   - A watch notification is queued on its connection, under the tree's
//     write lock, before any reply that can reflect the change it reports.
//   - sync is answered after every write proposed before it was applied.
//
// Lock order (take only in this order): Server.treeMu, conn.mu,
// watches.mu. Server.connMu and tracker.mu are leaves.
//
// It must never decide what an entry means (coordinator/tree does), never
// touch files except through coordinator/wal, never run a goroutine per
// request, and never acknowledge a write that is not durable.
package server
