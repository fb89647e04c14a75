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
	final := filepath.Join(w.snapDir, snapName(zxid))
	tmp := final + tmpSuffix
	f, err := w.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal: create snapshot %s: %w", tmp, err)
	}
	fail := func(what string, err error) error {
		f.Close()
		w.fs.Remove(tmp)
		return fmt.Errorf("wal: %s snapshot %s: %w", what, tmp, err)
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
		return fmt.Errorf("wal: close snapshot %s: %w", tmp, err)
	}
	if err := w.fs.Rename(tmp, final); err != nil {
		w.fs.Remove(tmp)
		return fmt.Errorf("wal: rename snapshot %s to %s: %w", tmp, final, err)
	}
	if err := w.fs.SyncDir(w.snapDir); err != nil {
		return fmt.Errorf("wal: fsync %s after writing %s: %w", w.snapDir, final, err)
	}
	return nil
}
