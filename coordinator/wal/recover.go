package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// scanResult describes one log file after a scan.
type scanResult struct {
	prev    int64 // prevZxid from the header; -1 if the header is bad
	records int   // valid records read
	last    int64 // zxid of the last valid record, 0 if none
	end     int64 // offset just after the last valid record (0 if the header is bad)
	size    int64 // bytes in the file
	torn    bool  // the file must be cut at end
	why     string
}

// scanLog reads every valid record of the log file name in order, calling fn
// with each and the offset just after it. A record whose zxid is not above
// after (the last zxid of earlier files) or its predecessor counts as a
// corrupt tail, as does a first record whose zxid is not the one in the
// file's name. Errors from fn are returned as they are.
func (w *WAL) scanLog(name string, after int64, fn func(r Record, end int64) error) (res scanResult, err error) {
	f, err := w.fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return res, fmt.Errorf("wal: open log %s: %w", name, err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return res, fmt.Errorf("wal: size of log %s: %w", name, err)
	}
	res.size, res.prev = size, -1
	var h [logHeaderSize]byte
	n, err := f.ReadAt(h[:min(int64(len(h)), size)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("wal: read header of log %s: %w", name, err)
	}
	prev, herr := parseLogHeader(h[:n])
	if herr != nil {
		res.torn, res.why = true, herr.Error()
		return res, nil
	}
	res.prev, res.end = prev, logHeaderSize
	start, _ := parseName(filepath.Base(name), logPrefix)
	s := newLogScanner(f, size)
	last := after
	for {
		rec, ok, t, err := s.next()
		if err != nil {
			return res, fmt.Errorf("wal: read log %s at offset %d: %w", name, s.off, err)
		}
		if !ok {
			res.torn, res.why = t == tailTorn, s.why
			return res, nil
		}
		if rec.Zxid <= last {
			res.torn, res.why = true, fmt.Sprintf("zxid 0x%x not above 0x%x", rec.Zxid, last)
			return res, nil
		}
		if res.records == 0 && rec.Zxid != start {
			res.torn, res.why = true, fmt.Sprintf("first zxid 0x%x does not match the file name", rec.Zxid)
			return res, nil
		}
		last = rec.Zxid
		res.records++
		res.last, res.end = rec.Zxid, s.off
		if fn != nil {
			if err := fn(rec, s.off); err != nil {
				return res, err
			}
		}
	}
}

// Recover loads the newest snapshot that reads back whole and then replays,
// in zxid order, every logged record with a zxid above the snapshot's. It
// must be called once, before Append, Sync, Roll, ReadFrom or TruncateAfter.
//
// restore gets the snapshot's zxid and body; it is not called when no
// snapshot exists. A snapshot that fails its CRC, whose later records the
// logs no longer hold, or whose restore returns an error is skipped (the
// reason goes to Logf) in favour of the next older one, so restore may be
// called again after it failed and must then start from an empty state.
//
// A torn or corrupt tail (a partial frame, a CRC mismatch, zeros where a
// frame should be, a zxid out of order) ends replay: the file is cut there
// and fsynced, and Logf reports the file, the offset, the records kept and
// the bytes dropped. Such a tail anywhere but in the newest log file that
// holds records is not a crash's doing and fails with ErrCorrupt. An error
// from replay stops recovery and is returned wrapped.
//
// It returns the last zxid recovered: the newest replayed record's, or the
// snapshot's if no record follows it.
func (w *WAL) Recover(restore func(snapZxid int64, r io.Reader) error, replay func(Record) error) (lastZxid int64, err error) {
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return 0, ErrClosed
	case w.recovered:
		return 0, errors.New("wal: Recover called twice")
	}
	if err := w.removeTemps(); err != nil {
		return 0, err
	}
	snaps, err := w.listSnaps()
	if err != nil {
		return 0, err
	}
	logs, err := w.listLogs()
	if err != nil {
		return 0, err
	}
	prevs := make([]int64, len(logs))
	for i, l := range logs {
		if prevs[i], err = w.readPrev(l.name); err != nil {
			return 0, err
		}
	}
	if err := w.refuseForeign(logs, snaps); err != nil {
		return 0, err
	}

	snapZxid, first, found := int64(0), 0, false
	for i := len(snaps) - 1; i >= 0 && !found; i-- {
		s := snaps[i]
		first = firstLogFor(logs, s.start)
		// A log whose header is unreadable holds no record; the replay
		// below removes it or fails on the records after it.
		if first < len(logs) && logs[first].start > s.start && prevs[first] > s.start {
			w.opts.Logf("wal: skipping snapshot %s: log %s does not continue from it", s.name, logs[first].name)
			continue
		}
		if err := w.restoreSnapshot(s, restore); err != nil {
			w.opts.Logf("wal: skipping snapshot %s: %v", s.name, err)
			continue
		}
		snapZxid, found = s.start, true
	}
	if !found {
		first = 0
		if len(snaps) > 0 {
			w.opts.Logf("wal: no usable snapshot in %s; replaying the log from the beginning", w.snapDir)
		}
		if len(logs) > 0 && prevs[0] > 0 {
			return 0, fmt.Errorf("%w: no usable snapshot in %s and log %s does not start at the beginning (its header says prevZxid 0x%x)",
				ErrCompacted, w.snapDir, logs[0].name, prevs[0])
		}
	}

	prevRec, dirty := int64(0), false
	for j := first; j < len(logs); j++ {
		l := logs[j]
		res, err := w.scanLog(l.name, prevRec, func(r Record, _ int64) error {
			if r.Zxid <= snapZxid {
				return nil
			}
			if err := replay(r); err != nil {
				return fmt.Errorf("wal: replay zxid 0x%x from %s: %w", r.Zxid, l.name, err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		prevRec = max(prevRec, res.last)
		if !res.torn && res.records > 0 {
			continue
		}
		// Everything from here on is a crash's leftover only if no later
		// file holds a record.
		for _, later := range logs[j+1:] {
			lr, err := w.scanLog(later.name, prevRec, nil)
			if err != nil {
				return 0, err
			}
			if lr.records > 0 {
				if res.records == 0 && !res.torn {
					break // an empty file in the middle: removed below
				}
				return 0, fmt.Errorf("%w: log %s ends early at offset %d (%s) but the later log %s holds %d records",
					ErrCorrupt, l.name, res.end, res.why, later.name, lr.records)
			}
		}
		if res.records == 0 {
			w.opts.Logf("wal: removing log %s: no valid record (%d bytes, %s)", l.name, res.size, orClean(res.why))
			if err := w.fs.Remove(l.name); err != nil {
				return 0, fmt.Errorf("wal: remove log %s: %w", l.name, err)
			}
			dirty = true
			continue
		}
		if err := w.truncateFile(l.name, res.end); err != nil {
			return 0, err
		}
		w.opts.Logf("wal: log %s: torn tail at offset %d (%s): kept %d records, dropped %d bytes",
			l.name, res.end, res.why, res.records, res.size-res.end)
	}
	if dirty {
		if err := w.fs.SyncDir(w.logDir); err != nil {
			return 0, fmt.Errorf("wal: fsync %s: %w", w.logDir, err)
		}
	}
	last := max(snapZxid, prevRec)
	w.recovered = true
	w.lastZxid, w.syncedZxid = last, last
	return last, nil
}

func orClean(why string) string {
	if why == "" {
		return "header only"
	}
	return why
}

// firstLogFor returns the index of the first log file that can hold records
// above zxid: the newest one starting at or below it, else the oldest.
func firstLogFor(logs []logFile, zxid int64) int {
	first := 0
	for i, l := range logs {
		if l.start <= zxid {
			first = i
		}
	}
	return first
}

// readPrev returns the prevZxid of a log file's header, or -1 if the header
// is unreadable.
func (w *WAL) readPrev(name string) (int64, error) {
	f, err := w.fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("wal: open log %s: %w", name, err)
	}
	defer f.Close()
	var h [logHeaderSize]byte
	n, err := f.ReadAt(h[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("wal: read header of log %s: %w", name, err)
	}
	prev, err := parseLogHeader(h[:n])
	if err != nil {
		return -1, nil
	}
	return prev, nil
}

// restoreSnapshot checks snapshot s whole and hands its body to restore.
func (w *WAL) restoreSnapshot(s logFile, restore func(int64, io.Reader) error) error {
	f, err := w.fs.OpenFile(s.name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	zxid, body, err := readSnapshotFrame(f, size)
	if err != nil {
		return err
	}
	if zxid != s.start {
		return fmt.Errorf("%w: header says zxid 0x%x", ErrCorrupt, zxid)
	}
	if err := restore(zxid, bufio.NewReaderSize(body, 256<<10)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// truncateFile cuts name to size and fsyncs it.
func (w *WAL) truncateFile(name string, size int64) error {
	f, err := w.fs.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: open log %s: %w", name, err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("wal: truncate log %s to %d bytes: %w", name, size, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wal: fsync log %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wal: close log %s: %w", name, err)
	}
	return nil
}

// removeTemps deletes snapshot files a crash left half written. snapMu
// should be held.
func (w *WAL) removeTemps() error {
	names, err := w.fs.ReadDir(w.snapDir)
	if err != nil {
		return fmt.Errorf("wal: list %s: %w", w.snapDir, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, snapPrefix) && strings.HasSuffix(n, tmpSuffix) {
			p := filepath.Join(w.snapDir, n)
			w.opts.Logf("wal: removing unfinished snapshot %s", p)
			if err := w.fs.Remove(p); err != nil {
				return fmt.Errorf("wal: remove %s: %w", p, err)
			}
		}
	}
	return nil
}

// refuseForeign fails when a log or snapshot file does not start the way a
// kzoo file (or one a crash cut short) does: such a file was put there by
// something else, Apache ZooKeeper's own files for one, and recovery must
// neither skip nor remove it.
func (w *WAL) refuseForeign(logs, snaps []logFile) error {
	check := func(name string, magic []byte, what string) error {
		f, err := w.fs.OpenFile(name, os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("wal: open %s %s: %w", what, name, err)
		}
		defer f.Close()
		h := make([]byte, len(magic))
		n, err := f.ReadAt(h, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("wal: read %s %s: %w", what, name, err)
		}
		for i := 0; i < n; i++ {
			if h[i] != 0 && h[i] != magic[i] {
				return fmt.Errorf("%w: %s %s is not a kzoo %s (it starts %q, want %q); move it away",
					ErrCorrupt, what, name, what, h[:n], magic)
			}
		}
		return nil
	}
	logMagicVersion := appendLogHeader(nil, 0)[:8]
	for _, l := range logs {
		if err := check(l.name, logMagicVersion, "log"); err != nil {
			return err
		}
	}
	for _, s := range snaps {
		if err := check(s.name, []byte(snapMagic), "snapshot"); err != nil {
			return err
		}
	}
	return nil
}
