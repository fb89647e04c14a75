package crashfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// create makes name holding data, with the file synced when syncFile and
// its directory synced when syncDir.
func create(t *testing.T, m *FS, name, data string, syncFile, syncDir bool) {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	require.NoError(t, err)
	_, err = f.Write([]byte(data))
	require.NoError(t, err)
	if syncFile {
		require.NoError(t, f.Sync())
	}
	require.NoError(t, f.Close())
	if syncDir {
		require.NoError(t, m.SyncDir(parent(name)))
	}
}

func parent(name string) string {
	for i := len(name) - 1; i > 0; i-- {
		if name[i] == '/' {
			return name[:i]
		}
	}
	return "/"
}

// content is the file's bytes, or "<missing>".
func content(t *testing.T, m *FS, name string) string {
	t.Helper()
	b, err := m.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	require.NoError(t, err)
	return string(b)
}

func names(t *testing.T, m *FS, dir string) []string {
	t.Helper()
	n, err := m.ReadDirNames(dir)
	require.NoError(t, err)
	return n
}

func TestCrashFSSyncBoundary(t *testing.T) {
	m := New()
	require.NoError(t, m.MkdirAll("/d", 0o755))
	create(t, m, "/d/f", "synced", true, true)

	f, err := m.OpenFile("/d/f", os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("+tail"), 6)
	require.NoError(t, err)
	require.Equal(t, "synced+tail", content(t, m, "/d/f"), "reads see unsynced bytes")
	m.Crash()
	require.Equal(t, "synced", content(t, m, "/d/f"), "bytes after the last Sync are lost")

	// a shrink is a change like any other: lost unless synced
	f, err = m.OpenFile("/d/f", os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(2))
	m.Crash()
	require.Equal(t, "synced", content(t, m, "/d/f"))

	// O_TRUNC without a Sync leaves the old bytes on disk
	create(t, m, "/d/f", "new", false, true)
	require.Equal(t, "new", content(t, m, "/d/f"))
	m.Crash()
	require.Equal(t, "synced", content(t, m, "/d/f"))

	// synced: growth by Truncate is zeros, and it survives
	f, err = m.OpenFile("/d/f", os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(8))
	require.NoError(t, f.Sync())
	m.Crash()
	require.Equal(t, "synced\x00\x00", content(t, m, "/d/f"))
}

func TestCrashFSDirectoryDurability(t *testing.T) {
	m := New()
	require.NoError(t, m.MkdirAll("/a/b", 0o755))
	create(t, m, "/a/b/kept", "k", true, true)
	create(t, m, "/a/b/unlisted", "u", true, false)  // synced data, unsynced entry
	create(t, m, "/a/b/empty", "lost", false, false) // neither
	m.Crash()
	require.Equal(t, []string{"kept"}, names(t, m, "/a/b"))
	require.Equal(t, []string{"b"}, names(t, m, "/a"), "MkdirAll is durable at once")

	create(t, m, "/a/b/listed", "data", false, true)
	m.Crash()
	require.Equal(t, "", content(t, m, "/a/b/listed"), "the entry survives, its unsynced bytes do not")

	// a rename or remove is undone until the directory is synced
	require.NoError(t, m.Rename("/a/b/kept", "/a/b/moved"))
	require.NoError(t, m.Remove("/a/b/listed"))
	require.Equal(t, []string{"moved"}, names(t, m, "/a/b"))
	m.Crash()
	require.Equal(t, []string{"kept", "listed"}, names(t, m, "/a/b"))
	require.NoError(t, m.Rename("/a/b/kept", "/a/b/moved"))
	require.NoError(t, m.Remove("/a/b/listed"))
	require.NoError(t, m.SyncDir("/a/b"))
	m.Crash()
	require.Equal(t, []string{"moved"}, names(t, m, "/a/b"))
	require.Equal(t, "k", content(t, m, "/a/b/moved"))

	// a rename across directories needs both synced
	require.NoError(t, m.MkdirAll("/c", 0o755))
	require.NoError(t, m.Rename("/a/b/moved", "/c/moved"))
	require.NoError(t, m.SyncDir("/c"))
	require.NoError(t, m.SyncDir("/a/b"))
	m.Crash()
	require.Empty(t, names(t, m, "/a/b"))
	require.Equal(t, "k", content(t, m, "/c/moved"))

	// a synced rename over an existing file replaces it for good
	create(t, m, "/c/tmp", "fresh", true, false)
	require.NoError(t, m.Rename("/c/tmp", "/c/moved"))
	require.NoError(t, m.SyncDir("/c"))
	m.Crash()
	require.Equal(t, []string{"moved"}, names(t, m, "/c"))
	require.Equal(t, "fresh", content(t, m, "/c/moved"))

	// RemoveAll is durable at once, files and directories below included
	create(t, m, "/a/b/x", "x", true, true)
	require.NoError(t, m.RemoveAll("/a"))
	m.Crash()
	_, err := m.Stat("/a/b/x")
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = m.Stat("/a")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Equal(t, []string{"c"}, names(t, m, "/"))
}

func TestCrashFSTornTail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, f *File)
		keep  int
		want  string
	}{
		{name: "append kept in part", keep: 3, want: "0123456789abc", write: func(t *testing.T, f *File) {
			_, err := f.WriteAt([]byte("abcdef"), 10)
			require.NoError(t, err)
		}},
		{name: "keep past the end keeps what was written", keep: 100, want: "0123456789abcdef", write: func(t *testing.T, f *File) {
			_, err := f.WriteAt([]byte("abcdef"), 10)
			require.NoError(t, err)
		}},
		{name: "torn from the lowest offset written", keep: 4, want: "01XY4Z6789", write: func(t *testing.T, f *File) {
			_, err := f.WriteAt([]byte("Z"), 5)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("XY"), 2)
			require.NoError(t, err)
		}},
		{name: "nothing written since the sync", keep: 5, want: "0123456789", write: func(*testing.T, *File) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			create(t, m, "/log", "0123456789", true, true)
			create(t, m, "/other", "o", true, true)
			f, err := m.OpenFile("/log", os.O_RDWR, 0)
			require.NoError(t, err)
			tc.write(t, f)
			g, err := m.OpenFile("/other", os.O_RDWR|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = g.Write([]byte("unsynced"))
			require.NoError(t, err)
			m.CrashTorn("/log", tc.keep)
			require.Equal(t, tc.want, content(t, m, "/log"))
			require.Equal(t, "o", content(t, m, "/other"), "only the named file is torn")
			m.Crash()
			require.Equal(t, tc.want, content(t, m, "/log"), "a torn tail is what the disk holds from then on")
		})
	}
}

func TestCrashFSPowerCutCountsChanges(t *testing.T) {
	// each change, run on a fresh filesystem holding /d/f (synced) and /d/g
	changes := map[string]func(m *FS, f *File) error{
		"create":    func(m *FS, _ *File) error { _, err := m.OpenFile("/d/new", os.O_RDWR|os.O_CREATE, 0o644); return err },
		"truncopen": func(m *FS, _ *File) error { _, err := m.OpenFile("/d/f", os.O_RDWR|os.O_TRUNC, 0); return err },
		"write":     func(_ *FS, f *File) error { _, err := f.Write([]byte("w")); return err },
		"writeat":   func(_ *FS, f *File) error { _, err := f.WriteAt([]byte("w"), 1); return err },
		"truncate":  func(_ *FS, f *File) error { return f.Truncate(1) },
		"sync":      func(_ *FS, f *File) error { return f.Sync() },
		"remove":    func(m *FS, _ *File) error { return m.Remove("/d/g") },
		"removeall": func(m *FS, _ *File) error { return m.RemoveAll("/e") },
		"rename":    func(m *FS, _ *File) error { return m.Rename("/d/g", "/d/h") },
		"mkdirall":  func(m *FS, _ *File) error { return m.MkdirAll("/e/f", 0o755) },
		"syncdir":   func(m *FS, _ *File) error { return m.SyncDir("/d") },
	}
	reads := map[string]func(m *FS, f *File) error{
		"open":     func(m *FS, _ *File) error { _, err := m.OpenFile("/d/f", os.O_RDWR, 0); return err },
		"read":     func(_ *FS, f *File) error { _, err := f.Read(make([]byte, 1)); return err },
		"readat":   func(_ *FS, f *File) error { _, err := f.ReadAt(make([]byte, 1), 0); return err },
		"seek":     func(_ *FS, f *File) error { _, err := f.Seek(1, io.SeekStart); return err },
		"fstat":    func(_ *FS, f *File) error { _, err := f.Stat(); return err },
		"stat":     func(m *FS, _ *File) error { _, err := m.Stat("/d/f"); return err },
		"readdir":  func(m *FS, _ *File) error { _, err := m.ReadDir("/d"); return err },
		"readfile": func(m *FS, _ *File) error { _, err := m.ReadFile("/d/f"); return err },
	}
	setup := func(t *testing.T) (*FS, *File) {
		m := New()
		require.NoError(t, m.MkdirAll("/d", 0o755))
		create(t, m, "/d/f", "synced", true, true)
		create(t, m, "/d/g", "g", true, true)
		f, err := m.OpenFile("/d/f", os.O_RDWR, 0)
		require.NoError(t, err)
		_, err = f.WriteAt([]byte("+unsynced"), 6)
		require.NoError(t, err)
		return m, f
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			m, f := setup(t)
			for read, op := range reads {
				m.CutPowerAt(1)
				require.NoError(t, op(m, f), "%s is no change", read)
				require.False(t, m.PowerOut())
			}
			m.CutPowerAt(2)
			require.NoError(t, change(m, f), "the first change happens")
			m.Revive()
			require.False(t, m.PowerOut())

			m, f = setup(t)
			m.CutPowerAt(1)
			err := change(m, f)
			require.ErrorIs(t, err, ErrPowerOut, "the change the cut falls on fails")
			require.True(t, m.PowerOut())
			for read, op := range reads {
				require.ErrorIs(t, op(m, f), ErrPowerOut, "%s while the power is out", read)
			}
			require.ErrorIs(t, change(m, f), ErrPowerOut)
			m.Revive()
			require.False(t, m.PowerOut())
			require.Equal(t, "synced", content(t, m, "/d/f"), "the cut crashed the filesystem")
			require.Equal(t, []string{"f", "g"}, names(t, m, "/d"), "the change did not happen")
			_, err = f.ReadAt(make([]byte, 1), 0)
			require.ErrorIs(t, err, ErrCrashed, "a handle from before the cut stays dead after Revive")
		})
	}
}

func TestCrashFSPowerCutAtEveryStep(t *testing.T) {
	// a durable write: data, fsync, rename into place, directory fsync
	run := func(m *FS) error {
		f, err := m.OpenFile("/d/tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		for _, p := range []string{"new ", "value"} {
			if _, err := f.Write([]byte(p)); err != nil {
				return err
			}
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if err := m.Rename("/d/tmp", "/d/value"); err != nil {
			return err
		}
		return m.SyncDir("/d")
	}
	base := New()
	require.NoError(t, base.MkdirAll("/d", 0o755))
	create(t, base, "/d/value", "old value", true, true)
	for step := 1; ; step++ {
		m := base.Clone()
		m.CutPowerAt(step)
		err := run(m)
		if !m.PowerOut() {
			require.NoError(t, err)
			require.Equal(t, 7, step, "six changes, the seventh step finds none")
			require.Equal(t, "new value", content(t, m, "/d/value"))
			break
		}
		require.ErrorIs(t, err, ErrPowerOut, "step %d", step)
		m.Revive()
		require.Contains(t, []string{"old value", "new value"}, content(t, m, "/d/value"), "step %d", step)
		require.Equal(t, "old value", content(t, base, "/d/value"), "a clone's cut leaves the original alone")
	}
}

func TestCrashFSHandlesFailAfterCrash(t *testing.T) {
	m := New()
	create(t, m, "/f", "data", true, true)
	f, err := m.OpenFile("/f", os.O_RDWR, 0)
	require.NoError(t, err)
	closed, err := m.OpenFile("/f", os.O_RDONLY, 0)
	require.NoError(t, err)
	require.NoError(t, closed.Close())
	m.Crash()

	buf := make([]byte, 2)
	for op, err := range map[string]error{
		"read":     func() error { _, err := f.Read(buf); return err }(),
		"readat":   func() error { _, err := f.ReadAt(buf, 0); return err }(),
		"write":    func() error { _, err := f.Write(buf); return err }(),
		"writeat":  func() error { _, err := f.WriteAt(buf, 0); return err }(),
		"seek":     func() error { _, err := f.Seek(0, io.SeekEnd); return err }(),
		"truncate": f.Truncate(0),
		"sync":     f.Sync(),
		"stat":     func() error { _, err := f.Stat(); return err }(),
	} {
		require.ErrorIs(t, err, ErrCrashed, op)
		var pe *fs.PathError
		require.ErrorAs(t, err, &pe, op)
		require.Equal(t, "/f", pe.Path, "%s: the error names the file", op)
	}
	require.Equal(t, "/f", f.Name())
	require.NoError(t, f.Close(), "a stale handle can still be closed")
	require.ErrorIs(t, f.Close(), fs.ErrClosed)
	_, err = closed.Read(buf)
	require.ErrorIs(t, err, fs.ErrClosed, "a closed handle says so before it says crashed")
	require.Equal(t, "data", content(t, m, "/f"), "nothing a stale handle tried reached the file")

	g, err := m.OpenFile("/f", os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = g.ReadAt(buf, 0)
	require.NoError(t, err, "a handle opened after the crash works")
	require.Equal(t, "da", string(buf))
}

func TestCrashFSOpenModes(t *testing.T) {
	m := New()
	require.NoError(t, m.MkdirAll("/d", 0o755))
	_, err := m.OpenFile("/missing/f", os.O_RDWR|os.O_CREATE, 0o644)
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = m.OpenFile("/d", os.O_RDONLY, 0)
	require.ErrorIs(t, err, ErrIsDir)
	create(t, m, "/d/f", "abc", true, true)
	_, err = m.OpenFile("/d/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	require.ErrorIs(t, err, fs.ErrExist)

	ro, err := m.OpenFile("/d/f", os.O_RDONLY, 0)
	require.NoError(t, err)
	_, err = ro.Write([]byte("x"))
	require.ErrorIs(t, err, fs.ErrPermission)
	require.ErrorIs(t, ro.Truncate(0), fs.ErrPermission)
	wo, err := m.OpenFile("/d/f", os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = wo.Read(make([]byte, 1))
	require.ErrorIs(t, err, fs.ErrPermission)
	_, err = wo.WriteAt([]byte("x"), 0)
	require.ErrorIs(t, err, fs.ErrInvalid, "WriteAt refuses an O_APPEND handle")
	_, err = wo.Seek(0, io.SeekStart)
	require.NoError(t, err)
	_, err = wo.Write([]byte("de"))
	require.NoError(t, err)
	require.Equal(t, "abcde", content(t, m, "/d/f"), "O_APPEND writes at the end wherever the offset was")

	rw, err := m.OpenFile("/d/f", os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = rw.Seek(7, io.SeekStart)
	require.NoError(t, err)
	_, err = rw.Write([]byte("h"))
	require.NoError(t, err)
	require.Equal(t, "abcde\x00\x00h", content(t, m, "/d/f"), "a write past the end fills the gap with zeros")
	st, err := rw.Stat()
	require.NoError(t, err)
	require.Equal(t, int64(8), st.Size())
	require.Equal(t, "f", st.Name())

	require.NoError(t, m.MkdirAll("/d/sub", 0o755))
	ents, err := m.ReadDir("/d")
	require.NoError(t, err)
	require.Len(t, ents, 2)
	require.Equal(t, "f", ents[0].Name())
	require.False(t, ents[0].IsDir())
	require.Equal(t, "sub", ents[1].Name())
	require.True(t, ents[1].IsDir())
	require.ErrorIs(t, m.MkdirAll("/d/f/x", 0o755), ErrNotDir)
	require.ErrorIs(t, m.Remove("/d"), ErrNotEmpty)
	require.NoError(t, m.Remove("/d/sub"))
	require.Equal(t, []string{"f"}, names(t, m, "/d"))
}

func TestCrashFSCloneIsIndependent(t *testing.T) {
	m := New()
	create(t, m, "/f", "synced", true, true)
	f, err := m.OpenFile("/f", os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("!"), 6)
	require.NoError(t, err)
	create(t, m, "/g", "unlisted", true, false)

	c := m.Clone()
	require.Equal(t, "synced!", content(t, c, "/f"), "the clone holds the live state")
	_, err = f.WriteAt([]byte("?"), 7)
	require.NoError(t, err)
	require.Equal(t, "synced!", content(t, c, "/f"), "writes to the original do not reach the clone")

	// in the clone, /f is still one file in both namespaces: a sync
	// through a clone handle is what its crash keeps
	cf, err := c.OpenFile("/f", os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, cf.Sync())
	c.Crash()
	require.Equal(t, "synced!", content(t, c, "/f"))
	require.Equal(t, []string{"f"}, names(t, c, "/"))
	_, err = f.ReadAt(make([]byte, 1), 0)
	require.NoError(t, err, "the original's handles do not see the clone's crash")

	m.Crash()
	require.Equal(t, "synced", content(t, m, "/f"), "the clone's sync did not reach the original")
	_, err = cf.ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, ErrCrashed)
}
