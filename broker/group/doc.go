// Package group owns Kafka's consumer group coordinator state: the group
// state machine (Empty, PreparingRebalance, CompletingRebalance, Stable,
// Dead), the committed-offset cache, and the records both are persisted as
// in __consumer_offsets (offset commit key v1 / value v3, group metadata
// key v2 / value v3), plus which offsets partition a group belongs to.
//
// It is a pure state machine: time comes in as milliseconds on every call,
// answers leave through callbacks, and records to persist leave as values.
// It must never touch the network, the filesystem, a clock or a goroutine;
// broker/api drives it and does the I/O (appending records to the offsets
// partition and waiting for them to be replicated before answering).
package group
