// Package storage owns one Kafka partition's files on disk, laid out as
// Kafka 3.x lays them out so an operator who knows Kafka finds what they
// expect in a partition directory "topic-partition":
//
//	00000000000000000000.log        record batches, named by base offset
//	00000000000000000000.index      sparse offset index (relative offset u32, position u32)
//	00000000000000000000.timeindex  time index (timestamp i64, relative offset u32)
//	leader-epoch-checkpoint         Kafka's text format
//	partition.metadata              "version: 0" / "topic_id: <base64url>"
//	log-start-offset                the log start offset after DeleteRecords or retention
//	kzoo-producer-state.json        idempotent/transactional producer state, saved at roll and close
//	.kzoo-clean                     written last by Close; its absence makes Open recover
//
// It validates and stores v2 record batches as received (compressed batches
// stay compressed), converts legacy message sets (magic 0/1) to v2 on append
// and back for old fetchers, serves reads as whole stored batches, recovers
// a torn or corrupt tail after a crash, enforces retention by time and size,
// compacts (cleanup.policy=compact), and keeps the producer state Kafka keeps
// in its log layer (idempotent de-duplication, sequence and epoch checks,
// open and aborted transactions).
//
// It must never decide replication or high-watermark policy (the broker
// passes the bound to Read and computes the last stable offset from
// FirstUnstableOffset), never re-encode a stored batch on the read path,
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
