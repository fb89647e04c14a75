package wal

import (
	"errors"
	"fmt"
	"io/fs"
)

// MinRetainSnaps is the fewest snapshots Purge keeps, as ZooKeeper's
// autopurge.snapRetainCount.
const MinRetainSnaps = 3

// ReadFrom calls fn, in zxid order, with every logged record whose zxid is
// above zxid: the diff a follower at zxid needs. It includes records
// appended but not yet synced. It fails with ErrCompacted when the logs no
// longer hold every such record (the caller then sends a snapshot). fn runs
// with the log locked and must not call the WAL; an error from fn stops the
// read and is returned wrapped.
func (w *WAL) ReadFrom(zxid int64, fn func(Record) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if w.f != nil {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if zxid >= w.lastZxid {
		return nil
	}
	logs, err := w.listLogs()
	if err != nil {
		return err
	}
	if len(logs) == 0 {
		return fmt.Errorf("%w: no log file in %s, want records after 0x%x", ErrCompacted, w.logDir, zxid)
	}
	first := firstLogFor(logs, zxid)
	if l := logs[first]; l.start > zxid {
		prev, err := w.readPrev(l.name)
		if err != nil {
			return err
		}
		if prev < 0 || prev > zxid {
			return fmt.Errorf("%w: oldest log %s continues from 0x%x, want records after 0x%x", ErrCompacted, l.name, prev, zxid)
		}
	}
	prevRec := int64(0)
	for _, l := range logs[first:] {
		res, err := w.scanLog(l.name, prevRec, func(r Record, _ int64) error {
			if r.Zxid <= zxid {
				return nil
			}
			if err := fn(r); err != nil {
				return fmt.Errorf("wal: ReadFrom 0x%x at zxid 0x%x from %s: %w", zxid, r.Zxid, l.name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if res.torn {
			return fmt.Errorf("%w: log %s at offset %d: %s", ErrCorrupt, l.name, res.end, res.why)
		}
		prevRec = max(prevRec, res.last)
	}
	if prevRec < w.lastZxid {
		return fmt.Errorf("%w: logs in %s end at 0x%x, last zxid is 0x%x", ErrCompacted, w.logDir, prevRec, w.lastZxid)
	}
	return nil
}

// TruncateAfter drops every record with a zxid above zxid, and every
// snapshot above it (it holds those records' effects), as a follower does
// when the leader tells it to truncate. The cut files are fsynced before it
// returns; the next Append starts a new log file. LastZxid becomes the
// newest zxid still held (a record or a snapshot) at or below zxid.
func (w *WAL) TruncateAfter(zxid int64) error {
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if zxid >= w.lastZxid {
		return nil
	}
	if w.f != nil {
		// The frames still buffered are above zxid or will be cut below;
		// hand them to the file so the cut sees one consistent file.
		if err := w.flush(); err != nil {
			return err
		}
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("wal: close log %s: %w", w.fname, err)
		}
		w.f = nil
	}
	logs, err := w.listLogs()
	if err != nil {
		return err
	}
	newLast := int64(0)
	logsDirty := false
	for i := len(logs) - 1; i >= 0; i-- {
		l := logs[i]
		if l.start > zxid {
			if i == 0 {
				if prev, err := w.readPrev(l.name); err == nil && prev >= 0 && prev <= zxid {
					newLast = prev
				}
			}
			if err := w.fs.Remove(l.name); err != nil {
				return fmt.Errorf("wal: remove log %s: %w", l.name, err)
			}
			logsDirty = true
			continue
		}
		cut, kept := int64(logHeaderSize), int64(0)
		res, err := w.scanLog(l.name, 0, func(r Record, end int64) error {
			if r.Zxid <= zxid {
				cut, kept = end, r.Zxid
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cut < res.size {
			if err := w.truncateFile(l.name, cut); err != nil {
				return err
			}
		}
		newLast = kept
		break
	}
	if logsDirty {
		if err := w.fs.SyncDir(w.logDir); err != nil {
			return fmt.Errorf("wal: fsync %s: %w", w.logDir, err)
		}
	}
	snaps, err := w.listSnaps()
	if err != nil {
		return err
	}
	snapsDirty := false
	for _, s := range snaps {
		if s.start > zxid {
			if err := w.fs.Remove(s.name); err != nil {
				return fmt.Errorf("wal: remove snapshot %s: %w", s.name, err)
			}
			snapsDirty = true
		} else {
			newLast = max(newLast, s.start)
		}
	}
	if snapsDirty {
		if err := w.fs.SyncDir(w.snapDir); err != nil {
			return fmt.Errorf("wal: fsync %s: %w", w.snapDir, err)
		}
	}
	w.lastZxid, w.syncedZxid = newLast, newLast
	return nil
}

// Purge deletes all but the newest retainSnaps snapshots (at least
// MinRetainSnaps) and every log file that only holds records at or below
// the oldest snapshot kept, so Recover can still start from any snapshot
// kept. With no more snapshots than that it deletes nothing.
func (w *WAL) Purge(retainSnaps int) error {
	retainSnaps = max(retainSnaps, MinRetainSnaps)
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	snaps, err := w.listSnaps()
	if err != nil || len(snaps) <= retainSnaps {
		return err
	}
	oldestKept := snaps[len(snaps)-retainSnaps].start
	logs, err := w.listLogs()
	if err != nil {
		return err
	}
	// Logs first: a crash between the two steps must leave every kept
	// snapshot with the logs it needs, and an extra old snapshot is harmless.
	first := firstLogFor(logs, oldestKept)
	if first < len(logs) && logs[first].start > oldestKept {
		first = 0
	}
	// The newest log starting at or below the snapshot may still end at or
	// below it: the next file's header says so.
	for first+1 < len(logs) {
		prev, err := w.readPrev(logs[first+1].name)
		if err != nil {
			return err
		}
		if prev < 0 || prev > oldestKept {
			break
		}
		first++
	}
	for _, l := range logs[:first] {
		if l.name == w.fname && w.f != nil {
			panic(fmt.Sprintf("wal: purge would remove the open log %s", l.name))
		}
		if err := removeIfPresent(w.fs, l.name); err != nil {
			return fmt.Errorf("wal: purge log %s: %w", l.name, err)
		}
	}
	if first > 0 {
		if err := w.fs.SyncDir(w.logDir); err != nil {
			return fmt.Errorf("wal: fsync %s: %w", w.logDir, err)
		}
	}
	for _, s := range snaps[:len(snaps)-retainSnaps] {
		if err := removeIfPresent(w.fs, s.name); err != nil {
			return fmt.Errorf("wal: purge snapshot %s: %w", s.name, err)
		}
	}
	if err := w.fs.SyncDir(w.snapDir); err != nil {
		return fmt.Errorf("wal: fsync %s: %w", w.snapDir, err)
	}
	return nil
}

func removeIfPresent(fsys FS, name string) error {
	if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
