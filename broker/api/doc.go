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
// Lock order: Handler.mu (partitions map) before partition.mu; the metadata
// cache's lock is never held while taking either.
package api
