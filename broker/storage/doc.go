// Package storage owns one Kafka partition's files on disk: the log segments
// (NNNNNNNNNNNNNNNNNNNN.log named by base offset), their sparse offset
// (.index) and time (.timeindex) indexes, the leader-epoch-checkpoint, the
// log start offset and partition.metadata, laid out as Kafka 3.x lays them
// out so an operator who knows Kafka finds what they expect.
//
// It validates and stores v2 record batches as received (compressed batches
// stay compressed), converts legacy message sets (magic 0/1) to v2 on append
// and back for old fetchers, serves reads as whole stored batches, recovers a
// torn or corrupt tail after a crash, and enforces retention.
//
// It must never decide replication or high-watermark policy (the broker
// passes the bound to Read), never re-encode a stored batch on the read path,
// never serve bytes that did not pass CRC validation on append or recovery,
// and never touch files outside its partition directory.
//
// Errors that reach a client wrap franz-go kerr values (errors.Is(err,
// kerr.CorruptMessage) holds) so the broker puts their codes on the wire
// unchanged; other failures are I/O errors naming the file.
//
// Lock order: Log.wmu (one writer) before Log.mu (published state). Readers
// take only mu for reading; a writer writes file bytes past the published end
// under wmu alone and publishes them under mu.
package storage
