// Package tree owns the coordinator's replicated state machine: the
// ZooKeeper 3.8 data tree (znodes, their stats and ACLs, ephemeral,
// container and TTL nodes) and the session table. Every server of an
// ensemble applies the same entries in zxid order through Apply and ends
// with the same tree.
//
// The package is pure. It never does I/O beyond the io.Reader/io.Writer a
// snapshot call is handed, never reads a clock (an entry carries its own
// time), never starts goroutines, takes no locks and uses no randomness.
// Apply depends only on the tree and the entry; map iteration never decides
// a result. The caller owns locking: Apply under a write lock, the read
// methods under a read lock. Read methods never mutate the tree.
//
// Validation happens at apply time, in the order ZooKeeper's
// PrepRequestProcessor checks (flags, TTL, session, path, ACL validity,
// parent, permission, existence, ephemeral parent), so a failed write is an
// entry like any other: it consumes its zxid and changes nothing.
//
// Stats follow ZooKeeper 3.8's DataTree exactly. The stored cversion
// counts child creates only and is the sequential suffix (the number of
// children ever created under the parent); the cversion clients see is
// 2*creates - numChildren, which counts deletes too (a fresh root shows -1).
// Containers and TTL nodes store EphemeralType's owner encodings
// (ContainerOwner, TTLOwner) but show ephemeralOwner 0, as DataNode.copyStat
// does. A failed multi is answered with header err 0 and the per-op codes
// in the body; a TTL mode while extended types are off is Unimplemented.
package tree
