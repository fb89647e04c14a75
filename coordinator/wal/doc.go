// Package wal owns the coordinator's files in dataDir and dataLogDir: the
// transaction logs version-2/log.<hex zxid> and the snapshots
// version-2/snapshot.<hex zxid>. It makes opaque entries durable in zxid
// order, finds them again after a crash (newest snapshot that reads back
// whole, then the logged entries after it; a torn tail is truncated and
// reported), serves them to followers and purges what recovery no longer
// needs.
//
// It must never interpret an entry's bytes or a snapshot's body, never decide
// when to snapshot or sync (group commit is the caller's: many Appends, one
// Sync), and never touch the filesystem except through the FS it is given.
//
// # On-disk format
//
// A log file starts with a 16-byte header:
//
//	magic "KZTL" | version uint32 (1) | prevZxid int64
//
// prevZxid is the last zxid logged before the file's first record, so the
// chain of headers tells whether the logs on disk hold every record after a
// given zxid. Records follow, each framed as
//
//	length uint32 | crc uint32 | zxid int64 | data [length-8]byte
//
// where length counts the zxid and the data (so it is at least 8) and crc is
// the CRC32C of the length field, the zxid and the data. All integers are
// big-endian. Files grow in PreAllocSize steps of zeros (a hole, with the
// next MiB past the records written as real zeros so that fsyncs carry no
// block allocation), so a zero length at a record boundary followed only by zeros is the clean end of the log; any
// other short, zero-filled or mismatching frame is a torn or corrupt tail.
//
// A snapshot is a 16-byte header, the caller's body and a 16-byte trailer:
//
//	magic "KZSN" | version uint32 (1) | zxid int64 | body | bodyLen uint64 | crc uint32 | magic "KZSE"
//
// crc is the CRC32C of header and body. Snapshots are written to a .tmp file,
// fsynced, renamed into place and the directory fsynced.
//
// A log or snapshot file whose first bytes are neither kzoo's magic nor
// zeros (Apache ZooKeeper's own files, say) stops recovery with ErrCorrupt;
// it is never cut or removed.
//
// # Ordering rules
//
//   - A record is durable only after Sync returns (or Roll or Close); the
//     caller acknowledges a write only after the Sync that covers it.
//   - Records are appended in strictly increasing zxid order; Append refuses
//     anything else.
//   - Roll fsyncs the file it closes, even with ForceSync off, so a torn or
//     corrupt frame can only be the tail of the newest log file.
//   - A log file's directory entry is fsynced before the first Sync that
//     covers records in it returns.
//
// # Locking
//
// A WAL is safe for concurrent use. Two mutexes: snapMu (snapshot files)
// then mu (log state); always taken in that order. WriteSnapshot holds only
// snapMu, so appends and syncs continue while a snapshot is written.
package wal
