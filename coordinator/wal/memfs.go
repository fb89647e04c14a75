package wal

import (
	"io/fs"

	"kzoo/internal/crashfs"
)

// MemFS is the FS of crash tests: crashfs's in-memory model of what a power
// loss keeps (a file's bytes survive only up to its last Sync, a created,
// renamed or removed directory entry only after SyncDir of its directory;
// Crash and CrashTorn cut the power), seen through the WAL's FS interface.
// It must never be given to a WAL outside tests and simulations.
type MemFS struct{ *crashfs.FS }

// NewMemFS returns an empty in-memory filesystem.
func NewMemFS() FS { return newMemFS() }

func newMemFS() *MemFS { return &MemFS{crashfs.New()} }

func (m *MemFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := m.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *crashfs.File must not become a non-nil File
	}
	return f, nil
}

func (m *MemFS) ReadDir(dir string) ([]string, error) { return m.FS.ReadDirNames(dir) }
