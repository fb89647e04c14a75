// Package crashfs is an in-memory filesystem that models what a power loss
// keeps. It owns that model once, for the crash tests and simulations of
// every package that writes durable files (the coordinator's WAL, the
// broker's partition logs):
//
//   - The namespace is kept twice: live (what processes see) and durable
//     (what a crash leaves). A created, renamed or removed file reaches the
//     durable namespace only when its directory is synced (FS.SyncDir).
//     Directories themselves are durable at once, made by MkdirAll or gone
//     by RemoveAll.
//   - A file keeps its data (what reads see) and its synced bytes (what
//     survives a crash): File.Sync copies one to the other. A crash may also
//     keep a torn prefix of what was written since the last Sync
//     (FS.CrashTorn), as a disk does that wrote part of a request.
//   - A crash starts a new generation: handles opened before it fail with
//     ErrCrashed.
//   - The power can be cut at the n-th change from now (FS.CutPowerAt): that
//     change does not happen, the filesystem crashes, and every operation
//     fails with ErrPowerOut until FS.Revive. FS.Clone copies the whole
//     state, so one history can be cut at every step in turn.
//
// Packages turn *FS into their own filesystem interfaces with thin
// adapters; the model itself is written only here. It keeps no clock
// (modification times are the zero time), so a seeded simulation over it
// stays deterministic.
//
// It must never be used outside tests and simulations: it keeps every byte
// in memory and forgets on purpose.
package crashfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

var (
	// ErrCrashed is returned by a handle opened before a crash.
	ErrCrashed = errors.New("crashfs: file handle from before a crash")
	// ErrPowerOut is returned by every operation between a power cut
	// (CutPowerAt) and Revive.
	ErrPowerOut = errors.New("crashfs: the power is out")
	// ErrIsDir is returned for a file operation on a directory.
	ErrIsDir = errors.New("crashfs: is a directory")
	// ErrNotDir is returned where a directory is needed and a file stands.
	ErrNotDir = errors.New("crashfs: not a directory")
	// ErrNotEmpty is returned by Remove of a directory that has entries.
	// Like ENOTEMPTY, it is also an fs.ErrExist.
	ErrNotEmpty = fmt.Errorf("crashfs: directory not empty: %w", fs.ErrExist)
)

// FS is the in-memory filesystem. It is safe for concurrent use: one mutex
// guards the whole state, handles included.
//
// A change is any call that may alter the filesystem: OpenFile with
// O_CREATE or O_TRUNC, Write, WriteAt, Truncate, Sync, Remove, RemoveAll,
// Rename, MkdirAll and SyncDir. It is counted when attempted, whether or not
// it then succeeds.
type FS struct {
	mu       sync.Mutex
	gen      int  // bumped by every crash; handles of older generations fail
	opsLeft  int  // > 0: the power goes out at the opsLeft-th change from now
	powerOut bool // every operation fails until Revive
	live     map[string]*node
	durable  map[string]*node
	dirs     map[string]bool // durable at once; "/" and "." always
}

type node struct {
	data   []byte // what reads see
	synced []byte // what survives a crash
	dirty  int64  // lowest offset written since the last Sync; -1 if none
}

// New returns an empty filesystem holding the directories "/" and ".".
func New() *FS {
	return &FS{
		live:    map[string]*node{},
		durable: map[string]*node{},
		dirs:    map[string]bool{"/": true, ".": true},
	}
}

// Crash simulates a power loss and the power coming back: every byte not
// yet synced is dropped and every directory change not yet synced is
// undone. Handles opened before it fail with ErrCrashed. A power cut armed
// by CutPowerAt stays armed.
func (m *FS) Crash() { m.CrashTorn("", 0) }

// CrashTorn is Crash, except that the file called name keeps the first keep
// bytes of what was written to it from the lowest offset written since its
// last Sync, as a disk does that wrote part of a request before the power
// went. The rest of that file's unsynced bytes, and all unsynced bytes of
// every other file, are dropped. A file whose name is not durable keeps
// nothing.
func (m *FS) CrashTorn(name string, keep int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crash(filepath.Clean(name), keep)
}

// crash makes the durable state the live one. Lock should be held.
func (m *FS) crash(torn string, keep int) {
	m.gen++
	m.live = make(map[string]*node, len(m.durable))
	for p, n := range m.durable {
		if p == torn && keep > 0 && n.dirty >= 0 {
			n.synced = tornImage(n.synced, n.data, n.dirty, keep)
		}
		n.data = append([]byte(nil), n.synced...)
		n.dirty = -1
		m.live[p] = n
	}
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

// CutPowerAt arms a power cut at the n-th change from now (n = 1: the
// next one): that change does not happen and fails with ErrPowerOut, the
// filesystem crashes as by Crash, and every later operation fails with
// ErrPowerOut until Revive. n <= 0 disarms it.
func (m *FS) CutPowerAt(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opsLeft = max(n, 0)
}

// PowerOut reports whether a power cut armed by CutPowerAt has happened and
// the filesystem has not been revived since.
func (m *FS) PowerOut() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.powerOut
}

// Revive brings the power back after a cut and disarms any pending one.
// Handles from before the cut still fail with ErrCrashed.
func (m *FS) Revive() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.powerOut, m.opsLeft = false, 0
}

// Clone returns an independent copy of m: its live and durable files (a
// file in both namespaces stays one file in the copy), directories and
// power state. Handles opened on m stay bound to m.
func (m *FS) Clone() *FS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := New()
	c.opsLeft, c.powerOut = m.opsLeft, m.powerOut
	copies := map[*node]*node{}
	cp := func(n *node) *node {
		if copies[n] == nil {
			copies[n] = &node{data: append([]byte(nil), n.data...), synced: append([]byte(nil), n.synced...), dirty: n.dirty}
		}
		return copies[n]
	}
	for p, n := range m.live {
		c.live[p] = cp(n)
	}
	for p, n := range m.durable {
		c.durable[p] = cp(n)
	}
	for d := range m.dirs {
		c.dirs[d] = true
	}
	return c
}

// alive fails while the power is out. Lock should be held.
func (m *FS) alive(op, path string) error {
	if m.powerOut {
		return &fs.PathError{Op: op, Path: path, Err: ErrPowerOut}
	}
	return nil
}

// change counts one change and reports whether it may happen; the one that
// reaches an armed power cut crashes the filesystem instead. Lock should be
// held.
func (m *FS) change(op, path string) error {
	if err := m.alive(op, path); err != nil {
		return err
	}
	if m.opsLeft > 0 {
		m.opsLeft--
		if m.opsLeft == 0 {
			m.crash("", 0)
			m.powerOut = true
			return &fs.PathError{Op: op, Path: path, Err: ErrPowerOut}
		}
	}
	return nil
}

// OpenFile opens the file name as os.OpenFile does: O_CREATE, O_EXCL,
// O_TRUNC and O_APPEND are honoured, and the access mode decides which of
// the handle's reads and writes are allowed. perm is ignored.
func (m *FS) OpenFile(name string, flag int, _ fs.FileMode) (*File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if err := m.alive("open", name); err != nil {
		return nil, err
	}
	if flag&(os.O_CREATE|os.O_TRUNC) != 0 {
		if err := m.change("open", name); err != nil {
			return nil, err
		}
	}
	if !m.dirs[filepath.Dir(name)] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: m.absent(name)}
	}
	if m.dirs[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrIsDir}
	}
	n := m.live[name]
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: m.absent(name)}
	case n != nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case n == nil:
		n = &node{dirty: -1}
		m.live[name] = n
	}
	if flag&os.O_TRUNC != 0 {
		n.data = n.data[:0]
		n.dirty = 0
	}
	return &File{fs: m, node: n, name: name, flag: flag, gen: m.gen}, nil
}

// ReadDir returns the live entries of dir, files and directories, sorted
// by name.
func (m *FS) ReadDir(dir string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if err := m.alive("readdir", dir); err != nil {
		return nil, err
	}
	if !m.dirs[dir] {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: m.notDir(dir)}
	}
	return m.entries(dir), nil
}

// entries lists the live entries of dir, sorted. Lock should be held.
func (m *FS) entries(dir string) []fs.DirEntry {
	var out []fs.DirEntry
	for p, n := range m.live {
		if filepath.Dir(p) == dir {
			out = append(out, fs.FileInfoToDirEntry(info{name: filepath.Base(p), size: int64(len(n.data))}))
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			out = append(out, fs.FileInfoToDirEntry(info{name: filepath.Base(d), dir: true}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// ReadDirNames is ReadDir returning only the names.
func (m *FS) ReadDirNames(dir string) ([]string, error) {
	ents, err := m.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// ReadFile returns a copy of what reads of the file name see.
func (m *FS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if err := m.alive("read", name); err != nil {
		return nil, err
	}
	n := m.live[name]
	switch {
	case m.dirs[name]:
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrIsDir}
	case n == nil:
		return nil, &fs.PathError{Op: "read", Path: name, Err: m.absent(name)}
	}
	return append([]byte(nil), n.data...), nil
}

// Stat describes the file or directory name.
func (m *FS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if err := m.alive("stat", name); err != nil {
		return nil, err
	}
	if m.dirs[name] {
		return info{name: filepath.Base(name), dir: true}, nil
	}
	n := m.live[name]
	if n == nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: m.absent(name)}
	}
	return info{name: filepath.Base(name), size: int64(len(n.data))}, nil
}

// Remove removes the file name from the live namespace (durable once its
// directory is synced), or the directory name if it has no live entries
// (durable at once, with any file a crash would have brought back in it).
func (m *FS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if err := m.change("remove", name); err != nil {
		return err
	}
	switch {
	case m.live[name] != nil:
		delete(m.live, name)
		return nil
	case !m.dirs[name]:
		return &fs.PathError{Op: "remove", Path: name, Err: m.absent(name)}
	case len(m.entries(name)) > 0:
		return &fs.PathError{Op: "remove", Path: name, Err: ErrNotEmpty}
	case isRoot(name):
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrPermission}
	}
	for p := range m.durable {
		if filepath.Dir(p) == name {
			delete(m.durable, p)
		}
	}
	delete(m.dirs, name)
	return nil
}

// absent is why name is not in the live namespace: ErrNotDir where a file
// stands in the way of its directory, as on a real filesystem,
// fs.ErrNotExist otherwise. Lock should be held.
func (m *FS) absent(name string) error {
	for p := filepath.Dir(name); !m.dirs[p]; p = filepath.Dir(p) {
		if m.live[p] != nil {
			return ErrNotDir
		}
	}
	return fs.ErrNotExist
}

// notDir is why dir, which is not a directory, cannot be used as one. Lock
// should be held.
func (m *FS) notDir(dir string) error {
	if m.live[dir] != nil {
		return ErrNotDir
	}
	return m.absent(dir)
}

func isRoot(p string) bool { return p == "/" || p == "." }

// RemoveAll removes path and everything below it, live and durable at once
// (like MkdirAll, it is not undone by a crash). A path that does not exist
// is no error, unless a file stands in the way of its directory.
func (m *FS) RemoveAll(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	path = filepath.Clean(path)
	if err := m.change("removeall", path); err != nil {
		return err
	}
	if m.live[path] == nil && !m.dirs[path] {
		if err := m.absent(path); err != fs.ErrNotExist {
			return &fs.PathError{Op: "removeall", Path: path, Err: err}
		}
	}
	for _, ns := range []map[string]*node{m.live, m.durable} {
		for p := range ns {
			if within(p, path) {
				delete(ns, p)
			}
		}
	}
	for d := range m.dirs {
		if within(d, path) && !isRoot(d) {
			delete(m.dirs, d)
		}
	}
	return nil
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	for {
		if p == dir {
			return true
		}
		up := filepath.Dir(p)
		if up == p {
			return false
		}
		p = up
	}
}

// Rename moves the file oldpath to newpath, replacing any file there, in
// the live namespace; each directory involved must be synced for the move
// to survive a crash. Directories cannot be renamed, nor replaced (as
// os.Rename, it answers fs.ErrExist for a directory at newpath).
func (m *FS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	if err := m.change("rename", oldpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.Unwrap(err)}
	}
	var err error
	n := m.live[oldpath]
	switch {
	case m.dirs[oldpath]:
		err = errors.ErrUnsupported
	case n == nil:
		err = m.absent(oldpath)
	case !m.dirs[filepath.Dir(newpath)]:
		err = m.notDir(filepath.Dir(newpath))
	case m.dirs[newpath]:
		err = fs.ErrExist // as os.Rename answers for any directory there
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	delete(m.live, oldpath)
	m.live[newpath] = n
	return nil
}

// MkdirAll makes path and its missing parents, durable at once.
func (m *FS) MkdirAll(path string, _ fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	path = filepath.Clean(path)
	if err := m.change("mkdir", path); err != nil {
		return err
	}
	var missing []string
	for p := path; !m.dirs[p]; p = filepath.Dir(p) {
		if m.live[p] != nil {
			return &fs.PathError{Op: "mkdir", Path: p, Err: ErrNotDir}
		}
		missing = append(missing, p)
	}
	for _, p := range missing {
		m.dirs[p] = true
	}
	return nil
}

// SyncDir makes the live entries of dir its durable ones: files created or
// renamed into it since survive a crash, files removed or renamed out of it
// stay gone.
func (m *FS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if err := m.change("syncdir", dir); err != nil {
		return err
	}
	if !m.dirs[dir] {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: m.notDir(dir)}
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

// File is an open file of an FS. Its methods behave as *os.File's do, and
// fail with ErrCrashed once the FS has crashed since it was opened.
type File struct {
	fs     *FS
	node   *node
	name   string
	flag   int
	gen    int
	off    int64 // where Read and Write go on
	closed bool
}

// Name returns the name the file was opened by, cleaned.
func (f *File) Name() string { return f.name }

// usable reports why the handle cannot be used. Lock should be held.
func (f *File) usable(op string) error {
	var err error
	switch {
	case f.closed:
		err = fs.ErrClosed
	case f.fs.powerOut:
		err = ErrPowerOut
	case f.gen != f.fs.gen:
		err = ErrCrashed
	}
	if err != nil {
		return &fs.PathError{Op: op, Path: f.name, Err: err}
	}
	return nil
}

// access checks the handle's open mode. Lock should be held.
func (f *File) access(op string, write bool) error {
	mode := f.flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if write && mode == os.O_RDONLY || !write && mode == os.O_WRONLY {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrPermission}
	}
	return nil
}

// readable checks that the handle can read into p; an empty p reads
// nothing and, as with *os.File, needs no read access. Lock should be held.
func (f *File) readable(op string, p []byte) (empty bool, err error) {
	if err := f.usable(op); err != nil {
		return false, err
	}
	if len(p) == 0 {
		return true, nil
	}
	return false, f.access(op, false)
}

// writable checks that the handle can write and counts the change. Lock
// should be held.
func (f *File) writable(op string) error {
	if err := f.usable(op); err != nil {
		return err
	}
	if err := f.access(op, true); err != nil {
		return err
	}
	return f.fs.change(op, f.name)
}

func (f *File) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if empty, err := f.readable("read", p); empty || err != nil {
		return 0, err
	}
	if f.off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[f.off:])
	f.off += int64(n)
	return n, nil
}

func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: fs.ErrInvalid}
	}
	if empty, err := f.readable("readat", p); empty || err != nil {
		return 0, err
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

func (f *File) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.writable("write"); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		f.off = int64(len(f.node.data))
	}
	f.write(p, f.off)
	f.off += int64(len(p))
	return len(p), nil
}

// WriteAt writes p at off; like *os.File's, it refuses a handle opened
// with O_APPEND.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.flag&os.O_APPEND != 0 || off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: fs.ErrInvalid}
	}
	if err := f.writable("writeat"); err != nil {
		return 0, err
	}
	f.write(p, off)
	return len(p), nil
}

// write lays p over the file's data at off, growing it with zeros up to
// off; an empty p changes nothing. Lock should be held.
func (f *File) write(p []byte, off int64) {
	n := f.node
	if len(p) == 0 {
		return
	}
	if end := off + int64(len(p)); end > int64(len(n.data)) {
		n.data = append(n.data, make([]byte, end-int64(len(n.data)))...)
	}
	copy(n.data[off:], p)
	if n.dirty < 0 || off < n.dirty {
		n.dirty = off
	}
}

func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("seek"); err != nil {
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

// Truncate sets the file's size, filling with zeros when it grows. Like
// any size change, it survives a crash only after a Sync.
func (f *File) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	if err := f.writable("truncate"); err != nil {
		return err
	}
	n := f.node
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
	} else {
		n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
	}
	return nil
}

// Sync makes the file's data and size what survives a crash (its name
// survives only once its directory is synced).
func (f *File) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("sync"); err != nil {
		return err
	}
	if err := f.fs.change("sync", f.name); err != nil {
		return err
	}
	f.node.synced = append(f.node.synced[:0], f.node.data...)
	f.node.dirty = -1
	return nil
}

// Close releases the handle; it works on a handle from before a crash too.
func (f *File) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}

// Stat describes the open file.
func (f *File) Stat() (fs.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("stat"); err != nil {
		return nil, err
	}
	return info{name: filepath.Base(f.name), size: int64(len(f.node.data))}, nil
}

// info is a file's or directory's fs.FileInfo.
type info struct {
	name string
	size int64
	dir  bool
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
