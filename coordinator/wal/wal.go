package wal

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// DefaultPreAllocSize is ZooKeeper's default preAllocSize (65536 KB).
const DefaultPreAllocSize = 64 << 20

// flushAt bounds the bytes Append buffers before it writes them out without
// waiting for Sync.
const flushAt = 8 << 20

// Options configure a WAL.
type Options struct {
	FS FS
	// LogDir is dataLogDir if set, else dataDir; logs go in LogDir/version-2/.
	LogDir string
	// SnapDir is dataDir; snapshots go in SnapDir/version-2/.
	SnapDir string
	// ForceSync is zoo.cfg's forceSync: false makes Sync write the buffered
	// records out without fsync.
	ForceSync bool
	// PreAllocSize is zoo.cfg's preAllocSize in bytes: log files grow in
	// steps of this many zeros. Zero means DefaultPreAllocSize.
	PreAllocSize int64
	// Logf reports what recovery did (torn tails cut, snapshots skipped).
	Logf func(format string, args ...any)
}

// WAL is the coordinator's transaction log and snapshot store. See the
// package documentation for its ordering rules and lock order.
type WAL struct {
	opts    Options
	fs      FS
	logDir  string // LogDir/version-2
	snapDir string // SnapDir/version-2

	snapMu sync.Mutex // snapshot files; taken before mu

	mu         sync.Mutex
	recovered  bool
	closed     bool
	failed     error // a write or fsync failed: the log's state is unknown
	lastZxid   int64 // last appended
	syncedZxid int64 // last covered by a completed Sync

	// The current log file; nil until the next Append creates one.
	f       File
	fname   string
	pos     int64  // bytes handed to the file
	alloc   int64  // file size after preallocation
	zeroed  int64  // the file holds written zeros (not a hole) up to here
	buf     []byte // frames not yet handed to the file
	dirSync bool   // the file's directory entry is not yet fsynced
}

// Open prepares the directories of a WAL. Call Recover before anything that
// reads or writes the log.
func Open(opts Options) (*WAL, error) {
	if opts.FS == nil {
		opts.FS = OSFS
	}
	if opts.LogDir == "" {
		opts.LogDir = opts.SnapDir
	}
	if opts.SnapDir == "" {
		return nil, errors.New("wal: Options.SnapDir (dataDir) is empty")
	}
	if opts.PreAllocSize <= 0 {
		opts.PreAllocSize = DefaultPreAllocSize
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	w := &WAL{
		opts:    opts,
		fs:      opts.FS,
		logDir:  filepath.Join(opts.LogDir, versionDir),
		snapDir: filepath.Join(opts.SnapDir, versionDir),
		buf:     make([]byte, 0, 64<<10),
	}
	for _, d := range []string{w.logDir, w.snapDir} {
		if err := w.fs.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("wal: create %s: %w", d, err)
		}
	}
	return w, nil
}

// usable reports why the log cannot be used now. Lock should be held.
func (w *WAL) usable() error {
	switch {
	case w.closed:
		return ErrClosed
	case w.failed != nil:
		return w.failed
	case !w.recovered:
		return ErrNotRecovered
	}
	return nil
}

// Append buffers recs, in order, at the end of the current log file,
// creating log.<hex zxid of recs[0]> if the log was just rolled. Nothing is
// durable until Sync. Zxids must be strictly increasing and above LastZxid;
// on such an error no record of recs is appended.
func (w *WAL) Append(recs ...Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	last := w.lastZxid
	for _, r := range recs {
		if r.Zxid <= last {
			return fmt.Errorf("%w: zxid 0x%x after 0x%x", ErrZxidOrder, r.Zxid, last)
		}
		if len(r.Data) > maxFrameLength-minFrameLength {
			return fmt.Errorf("%w: zxid 0x%x has %d bytes", ErrTooLarge, r.Zxid, len(r.Data))
		}
		last = r.Zxid
	}
	if len(recs) == 0 {
		return nil
	}
	if w.f == nil {
		if err := w.create(recs[0].Zxid); err != nil {
			return err
		}
	}
	for _, r := range recs {
		w.buf = appendFrame(w.buf, r)
	}
	w.lastZxid = last
	if len(w.buf) >= flushAt {
		return w.flush()
	}
	return nil
}

// create starts log.<hex zxid>. Lock should be held.
func (w *WAL) create(zxid int64) error {
	name := filepath.Join(w.logDir, logName(zxid))
	f, err := w.fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("wal: create log %s: %w", name, err)
	}
	w.f, w.fname, w.pos, w.alloc, w.zeroed, w.dirSync = f, name, 0, 0, 0, true
	w.buf = appendLogHeader(w.buf[:0], w.lastZxid)
	return nil
}

// flush hands the buffered frames to the file in one write, growing the
// file by whole PreAllocSize steps first when they would not fit. Lock
// should be held.
func (w *WAL) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	end := w.pos + int64(len(w.buf))
	if end > w.alloc {
		step := w.opts.PreAllocSize
		alloc := (end + step - 1) / step * step
		if err := w.f.Truncate(alloc); err != nil {
			return w.fail("preallocate", err)
		}
		w.alloc = alloc
	}
	if _, err := w.f.Write(w.buf); err != nil {
		return w.fail("write", err)
	}
	w.pos = end
	w.buf = w.buf[:0]
	if err := w.zeroAhead(); err != nil {
		return err
	}
	if cap(w.buf) > 4*flushAt {
		w.buf = make([]byte, 0, 64<<10)
	}
	return nil
}

// zeroChunk is how many bytes of zeros zeroAhead writes at a time.
const zeroChunk = 1 << 20

// zeros is read-only; as an array it lives in bss, so no process pays for it
// at start-up.
var zeros [zeroChunk]byte

// zeroAhead keeps at least half a chunk of written zeros past the end of
// the records. Growing the file with Truncate (as ZooKeeper does, with one
// byte at the end) leaves a hole, and every write into a hole allocates
// blocks that the next fdatasync must make durable along with the data: on
// ext4 a third more time per fsync, the step every write waits for. Writing
// over zeros already on disk, fdatasync has only the data to flush; the
// fsync that follows a chunk of zeros carries it once. The zeros read as
// the preallocated tail recovery already expects. Lock should be held.
func (w *WAL) zeroAhead() error {
	if w.zeroed-w.pos >= zeroChunk/2 {
		return nil
	}
	from := max(w.zeroed, w.pos)
	to := min(from+zeroChunk, w.alloc)
	if to <= from {
		return nil
	}
	if _, err := w.f.Seek(from, io.SeekStart); err != nil {
		return w.fail("seek", err)
	}
	if _, err := w.f.Write(zeros[:to-from]); err != nil {
		return w.fail("zero-fill", err)
	}
	if _, err := w.f.Seek(w.pos, io.SeekStart); err != nil {
		return w.fail("seek", err)
	}
	w.zeroed = to
	return nil
}

// fail poisons the WAL: after a failed write or fsync the kernel may have
// dropped dirty pages, so nothing written since the last good Sync can be
// trusted. Lock should be held.
func (w *WAL) fail(op string, err error) error {
	w.failed = fmt.Errorf("wal: %s log %s at offset %d: %w (log unusable until restart)", op, w.fname, w.pos, err)
	return w.failed
}

// Sync writes the buffered records out and fsyncs the current log (with
// ForceSync off it only writes them out). When it returns nil every record
// appended before the call is durable.
func (w *WAL) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.sync(w.opts.ForceSync)
}

// sync flushes and, if force, fsyncs the current file and its directory
// entry. Lock should be held.
func (w *WAL) sync(force bool) error {
	if w.f == nil {
		w.syncedZxid = w.lastZxid
		return nil
	}
	if err := w.flush(); err != nil {
		return err
	}
	if !force {
		w.syncedZxid = w.lastZxid
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return w.fail("fsync", err)
	}
	if w.dirSync {
		if err := w.fs.SyncDir(w.logDir); err != nil {
			return w.fail("fsync directory of", err)
		}
		w.dirSync = false
	}
	w.syncedZxid = w.lastZxid
	return nil
}

// Roll makes the next Append start a new log file. The current file is
// written out and fsynced (even with ForceSync off) and closed. Call it
// after a snapshot, so Purge can later drop the older files.
func (w *WAL) Roll() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.closeLog()
}

// closeLog syncs and closes the current log file. Lock should be held.
func (w *WAL) closeLog() error {
	if w.f == nil {
		return nil
	}
	if err := w.sync(true); err != nil {
		return err
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("wal: close log %s: %w", w.fname, err)
	}
	return nil
}

// LastZxid is the zxid of the last record appended (or recovered, or the
// snapshot's when no record follows it).
func (w *WAL) LastZxid() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastZxid
}

// SyncedZxid is the zxid of the last record a completed Sync covers.
func (w *WAL) SyncedZxid() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.syncedZxid
}

// Close writes out, fsyncs (unless ForceSync is off) and closes the current
// log. The WAL cannot be used afterwards.
func (w *WAL) Close() error {
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	if w.f == nil {
		return w.failed
	}
	var err error
	if w.failed == nil {
		err = w.sync(w.opts.ForceSync)
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("wal: close log %s: %w", w.fname, cerr)
	}
	w.f = nil
	if err == nil {
		err = w.failed
	}
	return err
}

// logFile is a log file found on disk.
type logFile struct {
	name  string // full path
	start int64  // zxid in the name: its first record
}

// listLogs returns the log files in zxid order. Lock should be held.
func (w *WAL) listLogs() ([]logFile, error) {
	names, err := w.fs.ReadDir(w.logDir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", w.logDir, err)
	}
	var logs []logFile
	for _, n := range names {
		if z, ok := parseName(n, logPrefix); ok {
			logs = append(logs, logFile{name: filepath.Join(w.logDir, n), start: z})
		}
	}
	sortBy(logs, func(l logFile) int64 { return l.start })
	return logs, nil
}

// listSnaps returns the snapshot files, oldest first. snapMu should be held.
func (w *WAL) listSnaps() ([]logFile, error) {
	names, err := w.fs.ReadDir(w.snapDir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", w.snapDir, err)
	}
	var snaps []logFile
	for _, n := range names {
		if z, ok := parseName(n, snapPrefix); ok {
			snaps = append(snaps, logFile{name: filepath.Join(w.snapDir, n), start: z})
		}
	}
	sortBy(snaps, func(l logFile) int64 { return l.start })
	return snaps, nil
}

func sortBy(fs []logFile, key func(logFile) int64) {
	slices.SortFunc(fs, func(a, b logFile) int { return cmp.Compare(key(a), key(b)) })
}

// fileSize returns the size of name.
func (w *WAL) fileSize(name string) (int64, error) {
	fi, err := w.fs.Stat(name)
	if err != nil {
		return 0, err
	}
	if fi.IsDir() {
		return 0, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	return fi.Size(), nil
}
