package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrCrashed is returned by a MemFS file handle opened before a Crash.
var ErrCrashed = errors.New("wal: memfs file handle from before a crash")

// MemFS is an in-memory FS that models what a power loss keeps: a file's
// bytes survive only up to its last Sync, and a created, renamed or removed
// directory entry only after SyncDir of its directory. Directories made by
// MkdirAll are durable at once.
type MemFS struct {
	mu      sync.Mutex
	gen     int                 // bumped by every crash; older handles fail
	live    map[string]*memNode // the namespace as processes see it
	durable map[string]*memNode // the namespace as of the last SyncDirs
	dirs    map[string]bool
}

type memNode struct {
	data   []byte // what reads see
	synced []byte // what survives a crash
	dirty  int64  // lowest offset written since the last Sync; -1 if none
	mtime  time.Time
}

// NewMemFS returns an empty in-memory filesystem.
func NewMemFS() FS { return newMemFS() }

func newMemFS() *MemFS {
	return &MemFS{
		live:    map[string]*memNode{},
		durable: map[string]*memNode{},
		dirs:    map[string]bool{"/": true, ".": true},
	}
}

// Crash simulates a power loss: every byte not yet Synced is dropped (a torn
// tail included) and every directory change not yet SyncDir'ed is undone.
// Handles opened before the crash fail with ErrCrashed afterwards.
func (m *MemFS) Crash() { m.CrashTorn("", 0) }

// CrashTorn is Crash, except that the file called name keeps the first keep
// bytes of what was written to it since its last Sync, as a disk does that
// wrote part of a request before the power went. Later unsynced bytes of
// that file, and all unsynced bytes of every other file, are dropped.
func (m *MemFS) CrashTorn(name string, keep int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	m.gen++
	live := make(map[string]*memNode, len(m.durable))
	for p, n := range m.durable {
		if p == name && keep > 0 && n.dirty >= 0 {
			n.synced = tornImage(n.synced, n.data, n.dirty, keep)
		}
		n.data = append([]byte(nil), n.synced...)
		n.dirty = -1
		live[p] = n
	}
	m.live = live
}

// tornImage is what a disk holds when, of the bytes written from offset
// from on since the last sync, the first keep reached it: the synced image
// with data[from:from+keep] laid over it.
func tornImage(synced, data []byte, from int64, keep int) []byte {
	end := min(int64(len(data)), from+int64(keep))
	out := append([]byte(nil), synced...)
	if int64(len(out)) < end {
		out = append(out, make([]byte, end-int64(len(out)))...)
	}
	if from < end {
		copy(out[from:end], data[from:end])
	}
	return out
}

func (m *MemFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if !m.dirs[filepath.Dir(name)] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if m.dirs[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	n := m.live[name]
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case n != nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case n == nil:
		n = &memNode{mtime: time.Now(), dirty: -1}
		m.live[name] = n
	}
	if flag&os.O_TRUNC != 0 {
		n.data = n.data[:0]
		n.dirty = 0
	}
	return &memFile{fs: m, gen: m.gen, node: n, name: name, flag: flag}, nil
}

func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if !m.dirs[dir] {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for p := range m.live {
		if filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			names = append(names, filepath.Base(d))
		}
	}
	sort.Strings(names)
	return names, nil
}

func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if m.live[name] == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.live, name)
	return nil
}

func (m *MemFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	n := m.live[oldpath]
	if n == nil {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: fs.ErrNotExist}
	}
	if !m.dirs[filepath.Dir(newpath)] {
		return &fs.PathError{Op: "rename", Path: newpath, Err: fs.ErrNotExist}
	}
	delete(m.live, oldpath)
	m.live[newpath] = n
	return nil
}

func (m *MemFS) MkdirAll(path string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := filepath.Clean(path); !m.dirs[p]; p = filepath.Dir(p) {
		if m.live[p] != nil {
			return &fs.PathError{Op: "mkdir", Path: p, Err: errors.New("not a directory")}
		}
		m.dirs[p] = true
	}
	return nil
}

func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if m.dirs[name] {
		return memInfo{name: filepath.Base(name), dir: true}, nil
	}
	n := m.live[name]
	if n == nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return memInfo{name: filepath.Base(name), size: int64(len(n.data)), mtime: n.mtime}, nil
}

func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if !m.dirs[dir] {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: fs.ErrNotExist}
	}
	for p := range m.durable {
		if filepath.Dir(p) == dir {
			delete(m.durable, p)
		}
	}
	for p, n := range m.live {
		if filepath.Dir(p) == dir {
			m.durable[p] = n
		}
	}
	return nil
}

// Files lists every live file with its size, for test failure messages.
func (m *MemFS) Files() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	names := make([]string, 0, len(m.live))
	for p := range m.live {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		fmt.Fprintf(&b, "%s %d (synced %d)\n", p, len(m.live[p].data), len(m.live[p].synced))
	}
	return b.String()
}

type memInfo struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return i.mtime }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

type memFile struct {
	fs     *MemFS
	gen    int
	node   *memNode
	name   string
	flag   int
	off    int64
	closed bool
}

// check reports why the handle cannot be used. Lock should be held.
func (f *memFile) check() error {
	if f.closed {
		return &fs.PathError{Op: "use", Path: f.name, Err: fs.ErrClosed}
	}
	if f.gen != f.fs.gen {
		return &fs.PathError{Op: "use", Path: f.name, Err: ErrCrashed}
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if f.off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[f.off:])
	f.off += int64(n)
	return n, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: fs.ErrPermission}
	}
	if f.flag&os.O_APPEND != 0 {
		f.off = int64(len(f.node.data))
	}
	end := f.off + int64(len(p))
	if end > int64(len(f.node.data)) {
		f.node.data = append(f.node.data, make([]byte, end-int64(len(f.node.data)))...)
	}
	copy(f.node.data[f.off:], p)
	if f.node.dirty < 0 || f.off < f.node.dirty {
		f.node.dirty = f.off
	}
	f.off = end
	f.node.mtime = time.Now()
	return len(p), nil
}

func (f *memFile) Seek(offset int64, whence int) (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += int64(len(f.node.data))
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	f.off = offset
	return offset, nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	f.node.synced = append(f.node.synced[:0], f.node.data...)
	f.node.dirty = -1
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	if size <= int64(len(f.node.data)) {
		f.node.data = f.node.data[:size]
	} else {
		f.node.data = append(f.node.data, make([]byte, size-int64(len(f.node.data)))...)
	}
	return nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}
