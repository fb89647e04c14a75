// Package api owns the broker's request handling: one file per Kafka API
// key (NN_name.go, each opening with the versions it serves and how it
// behaves), the metadata cache filled by UpdateMetadata, and the replica
// manager (the partitions this broker leads or follows, from LeaderAndIsr and
// StopReplica). It turns typed kerr errors into wire codes only in the
// responses it builds.
//
// It never reads from or writes to a socket, never parses frames and never
// decides leadership: the listener lives in broker/server, the decisions in
// broker/controller, the znode layout in broker/zkstate and partition files
// in broker/storage (reached through the Log interface).
//
// Lock order: replicaManager.mu (the partitions map) is never held while a
// partition.mu is taken; partition.mu may be held while taking fetchers.mu
// or the replica manager's signal lock, never the other way round; the
// metadata cache's lock is a leaf. No lock is held across network I/O.
package api
