package storage

import (
	iofs "io/fs"

	"kzoo/internal/crashfs"
)

// memFS is crashfs's in-memory model of what a power loss keeps (a file's
// bytes survive only up to its last Sync, a created, renamed or removed
// directory entry only after SyncDir of its directory; Crash and CutPowerAt
// cut the power), seen through storage's FS interface.
type memFS struct{ *crashfs.FS }

func newMemFS() memFS { return memFS{crashfs.New()} }

// clone copies the whole filesystem, for cutting one history many ways.
func (m memFS) clone() memFS { return memFS{m.Clone()} }

func (m memFS) OpenFile(name string, flag int, perm iofs.FileMode) (File, error) {
	f, err := m.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *crashfs.File must not become a non-nil File
	}
	return f, nil
}
