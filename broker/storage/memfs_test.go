package storage

import (
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// memFS is an in-memory FS that models what a power loss keeps: a file's
// bytes survive only up to its last Sync, and a created, renamed or removed
// directory entry only after SyncDir of its directory. Directories exist
// once made. Handles opened before a crash fail afterwards.
type memFS struct {
	mu      sync.Mutex
	gen     int
	opsLeft int  // > 0: the power goes out when this many more changes were made
	dead    bool // the power is out: every operation fails until revive
	live    map[string]*memNode
	durable map[string]*memNode
	dirs    map[string]bool
}

type memNode struct {
	data, synced []byte
}

var errMemCrashed = errors.New("memfs: handle from before a crash")

func newMemFS() *memFS {
	return &memFS{live: map[string]*memNode{}, durable: map[string]*memNode{}, dirs: map[string]bool{}}
}

// crash drops everything not made durable.
func (m *memFS) crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashLocked()
}

// change counts one mutating operation and reports whether it may happen.
// Lock should be held.
func (m *memFS) change() error {
	if m.dead {
		return errMemCrashed
	}
	if m.opsLeft > 0 {
		m.opsLeft--
		if m.opsLeft == 0 {
			m.crashLocked()
			m.dead = true
			return errMemCrashed
		}
	}
	return nil
}

// revive brings the power back after a crash injected by opsLeft.
func (m *memFS) revive() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dead, m.opsLeft = false, 0
}

// clone copies the durable and live state, for replaying one history many ways.
func (m *memFS) clone() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemFS()
	nodes := map[*memNode]*memNode{}
	cp := func(n *memNode) *memNode {
		if nodes[n] == nil {
			nodes[n] = &memNode{data: append([]byte(nil), n.data...), synced: append([]byte(nil), n.synced...)}
		}
		return nodes[n]
	}
	for k, n := range m.live {
		c.live[k] = cp(n)
	}
	for k, n := range m.durable {
		c.durable[k] = cp(n)
	}
	for k := range m.dirs {
		c.dirs[k] = true
	}
	return c
}

func (m *memFS) crashLocked() {
	m.gen++
	m.live = make(map[string]*memNode, len(m.durable))
	for name, n := range m.durable {
		n.data = append([]byte(nil), n.synced...)
		m.live[name] = n
	}
}

func (m *memFS) OpenFile(name string, flag int, _ iofs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, errMemCrashed
	}
	if !m.dirs[filepath.Dir(name)] {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	if flag&(os.O_CREATE|os.O_TRUNC) != 0 {
		if err := m.change(); err != nil {
			return nil, err
		}
	}
	n := m.live[name]
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	case n == nil:
		n = &memNode{}
		m.live[name] = n
	case flag&os.O_TRUNC != 0:
		n.data = n.data[:0]
	}
	return &memFile{fs: m, n: n, name: name, gen: m.gen}, nil
}

func (m *memFS) ReadDir(dir string) ([]iofs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: os.ErrNotExist}
	}
	var out []iofs.DirEntry
	for name, n := range m.live {
		if filepath.Dir(name) == dir {
			out = append(out, memEntry{memInfo{filepath.Base(name), int64(len(n.data)), false}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (m *memFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.live[name]
	if n == nil {
		return nil, &os.PathError{Op: "read", Path: name, Err: os.ErrNotExist}
	}
	return append([]byte(nil), n.data...), nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.change(); err != nil {
		return err
	}
	if m.live[name] == nil {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrNotExist}
	}
	delete(m.live, name)
	return nil
}

func (m *memFS) RemoveAll(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tbl := range []map[string]*memNode{m.live, m.durable} {
		for name := range tbl {
			if strings.HasPrefix(name, path+"/") {
				delete(tbl, name)
			}
		}
	}
	delete(m.dirs, path)
	return nil
}

func (m *memFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.change(); err != nil {
		return err
	}
	n := m.live[oldpath]
	if n == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: os.ErrNotExist}
	}
	delete(m.live, oldpath)
	m.live[newpath] = n
	return nil
}

func (m *memFS) MkdirAll(path string, _ iofs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := path; p != "/" && p != "."; p = filepath.Dir(p) {
		m.dirs[p] = true
	}
	return nil
}

func (m *memFS) Stat(name string) (iofs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.live[name]; n != nil {
		return memInfo{filepath.Base(name), int64(len(n.data)), false}, nil
	}
	if m.dirs[name] {
		return memInfo{filepath.Base(name), 0, true}, nil
	}
	return nil, &os.PathError{Op: "stat", Path: name, Err: os.ErrNotExist}
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.change(); err != nil {
		return err
	}
	for name := range m.durable {
		if filepath.Dir(name) == dir && m.live[name] == nil {
			delete(m.durable, name)
		}
	}
	for name, n := range m.live {
		if filepath.Dir(name) == dir {
			m.durable[name] = n
		}
	}
	return nil
}

type memFile struct {
	fs   *memFS
	n    *memNode
	name string
	gen  int
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.gen != f.fs.gen {
		return 0, errMemCrashed
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.gen != f.fs.gen {
		return 0, errMemCrashed
	}
	if err := f.fs.change(); err != nil {
		return 0, err
	}
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		f.n.data = append(f.n.data, make([]byte, end-int64(len(f.n.data)))...)
	}
	copy(f.n.data[off:], p)
	return len(p), nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.gen != f.fs.gen {
		return errMemCrashed
	}
	if err := f.fs.change(); err != nil {
		return err
	}
	if size <= int64(len(f.n.data)) {
		f.n.data = f.n.data[:size]
	} else {
		f.n.data = append(f.n.data, make([]byte, size-int64(len(f.n.data)))...)
	}
	return nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.gen != f.fs.gen {
		return errMemCrashed
	}
	if err := f.fs.change(); err != nil {
		return err
	}
	f.n.synced = append(f.n.synced[:0:0], f.n.data...)
	return nil
}

func (f *memFile) Close() error { return nil }

func (f *memFile) Stat() (iofs.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return memInfo{filepath.Base(f.name), int64(len(f.n.data)), false}, nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() iofs.FileMode {
	if i.dir {
		return iofs.ModeDir | 0o755
	}
	return 0o644
}

type memEntry struct{ info memInfo }

func (e memEntry) Name() string                 { return e.info.name }
func (e memEntry) IsDir() bool                  { return e.info.dir }
func (e memEntry) Type() iofs.FileMode          { return e.info.Mode().Type() }
func (e memEntry) Info() (iofs.FileInfo, error) { return e.info, nil }
