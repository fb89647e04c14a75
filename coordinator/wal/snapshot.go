package wal

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteSnapshot writes version-2/snapshot.<hex zxid> in SnapDir: write
// fills the body, which must be the state after applying exactly the records
// up to zxid. The file is written under a .tmp name, framed with a CRC
// trailer, fsynced, renamed into place and its directory fsynced, so a crash
// leaves either the whole snapshot or none. Appends and Syncs may run while
// it writes.
func (w *WAL) WriteSnapshot(zxid int64, write func(io.Writer) error) error {
	if zxid < 0 {
		return fmt.Errorf("wal: snapshot zxid %d is negative", zxid)
	}
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	tmp, final, err := w.writeSnapTemp(zxid, write)
	if err != nil {
		return err
	}
	return w.publishSnap(tmp, final)
}

// InstallSnapshot is for a follower handed the leader's snapshot at zxid.
// It writes the snapshot as WriteSnapshot does, and drops every log file
// and every snapshot above zxid: their records are either inside the new
// snapshot or from a history the leader discarded. The next Append starts
// a new log continuing from zxid, and LastZxid becomes zxid. Appends wait
// while it runs.
//
// The logs go before the new snapshot is renamed into place, so a crash in
// between leaves an older snapshot without logs: a consistent, older state
// that the leader brings up to date again.
func (w *WAL) InstallSnapshot(zxid int64, write func(io.Writer) error) error {
	if zxid < 0 {
		return fmt.Errorf("wal: snapshot zxid %d is negative", zxid)
	}
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	tmp, final, err := w.writeSnapTemp(zxid, write)
	if err != nil {
		return err
	}
	if w.f != nil {
		w.buf = w.buf[:0]
		err := w.f.Close()
		w.f = nil
		if err != nil {
			return fmt.Errorf("wal: close log %s: %w", w.fname, err)
		}
	}
	logs, err := w.listLogs()
	if err != nil {
		return err
	}
	for _, l := range logs {
		if err := removeIfPresent(w.fs, l.name); err != nil {
			return fmt.Errorf("wal: remove log %s: %w", l.name, err)
		}
	}
	if err := w.fs.SyncDir(w.logDir); err != nil {
		return fmt.Errorf("wal: fsync %s: %w", w.logDir, err)
	}
	snaps, err := w.listSnaps()
	if err != nil {
		return err
	}
	for _, s := range snaps {
		if s.start > zxid {
			if err := removeIfPresent(w.fs, s.name); err != nil {
				return fmt.Errorf("wal: remove snapshot %s: %w", s.name, err)
			}
		}
	}
	if err := w.publishSnap(tmp, final); err != nil {
		return err
	}
	w.lastZxid, w.syncedZxid = zxid, zxid
	return nil
}

// writeSnapTemp writes and fsyncs snapshot.<hex zxid>.tmp and returns its
// name and the final one. snapMu should be held.
func (w *WAL) writeSnapTemp(zxid int64, write func(io.Writer) error) (tmp, final string, err error) {
	final = filepath.Join(w.snapDir, snapName(zxid))
	tmp = final + tmpSuffix
	f, err := w.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", "", fmt.Errorf("wal: create snapshot %s: %w", tmp, err)
	}
	fail := func(what string, err error) (string, string, error) {
		f.Close()
		w.fs.Remove(tmp)
		return "", "", fmt.Errorf("wal: %s snapshot %s: %w", what, tmp, err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	frame := newSnapshotFrame(bw, zxid)
	if err := write(frame); err != nil {
		return fail("write body of", err)
	}
	if err := frame.finish(); err != nil {
		return fail("write", err)
	}
	if err := bw.Flush(); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		w.fs.Remove(tmp)
		return "", "", fmt.Errorf("wal: close snapshot %s: %w", tmp, err)
	}
	return tmp, final, nil
}

// publishSnap renames a finished snapshot into place and fsyncs its
// directory. snapMu should be held.
func (w *WAL) publishSnap(tmp, final string) error {
	if err := w.fs.Rename(tmp, final); err != nil {
		w.fs.Remove(tmp)
		return fmt.Errorf("wal: rename snapshot %s to %s: %w", tmp, final, err)
	}
	if err := w.fs.SyncDir(w.snapDir); err != nil {
		return fmt.Errorf("wal: fsync %s after writing %s: %w", w.snapDir, final, err)
	}
	return nil
}
