package crashfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fuzzNames are the paths a fuzzed history works on; "d" is a directory
// unless a rename made it a file.
var fuzzNames = []string{"a", "b", "c", "d/x", "d"}

var fuzzFlags = []int{
	os.O_RDONLY,
	os.O_RDWR,
	os.O_RDWR | os.O_CREATE,
	os.O_RDWR | os.O_CREATE | os.O_TRUNC,
	os.O_WRONLY | os.O_CREATE | os.O_APPEND,
	os.O_RDWR | os.O_CREATE | os.O_EXCL,
	os.O_WRONLY | os.O_TRUNC,
	os.O_RDWR | os.O_APPEND,
}

// errClass is what a caller may tell apart in an error.
func errClass(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, fs.ErrNotExist):
		return "not exist"
	case errors.Is(err, fs.ErrExist):
		return "exist"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return "error"
}

// fuzzRun replays one history on the model and on the OS side by side.
type fuzzRun struct {
	t     *testing.T
	m     *FS
	root  string // the OS side's directory
	model [4]*File
	real  [4]*os.File
	in    []byte
}

func (r *fuzzRun) next() int {
	if len(r.in) == 0 {
		return 0
	}
	b := r.in[0]
	r.in = r.in[1:]
	return int(b)
}

func (r *fuzzRun) name() string { return fuzzNames[r.next()%len(fuzzNames)] }

func (r *fuzzRun) same(op string, modelErr, realErr error) bool {
	r.t.Helper()
	if errClass(modelErr) != errClass(realErr) {
		r.t.Fatalf("%s: model says %v, the OS %v", op, modelErr, realErr)
	}
	return modelErr == nil
}

func (r *fuzzRun) sameBytes(op string, model, real []byte) {
	r.t.Helper()
	if !bytes.Equal(model, real) {
		r.t.Fatalf("%s: model has %q, the OS %q", op, model, real)
	}
}

func (r *fuzzRun) step() {
	t := r.t
	slot := r.next() % len(r.model)
	f, g := r.model[slot], r.real[slot]
	op := r.next() % 16
	if f == nil && op <= 8 {
		op = 0 // nothing open in the slot: open it
	}
	buf := func() []byte { return bytes.Repeat([]byte{byte('A' + r.next()%26)}, 1+r.next()%16) }
	switch op {
	case 0:
		name, flag := r.name(), fuzzFlags[r.next()%len(fuzzFlags)]
		if name == "d" {
			name = "a" // opening a directory is not modelled
		}
		if f != nil {
			r.same("close", f.Close(), g.Close())
		}
		f, ferr := r.m.OpenFile("/"+name, flag, 0o644)
		g, gerr := os.OpenFile(filepath.Join(r.root, name), flag, 0o644)
		if !r.same("open "+name, ferr, gerr) {
			r.model[slot], r.real[slot] = nil, nil
			return
		}
		r.model[slot], r.real[slot] = f, g
	case 1:
		p := buf()
		_, ferr := f.Write(p)
		_, gerr := g.Write(p)
		r.same("write", ferr, gerr)
	case 2:
		p, off := buf(), int64(r.next()%32)
		_, ferr := f.WriteAt(p, off)
		_, gerr := g.WriteAt(p, off)
		r.same("writeat", ferr, gerr)
	case 3:
		p := make([]byte, r.next()%16)
		q := make([]byte, len(p))
		n, ferr := f.Read(p)
		k, gerr := g.Read(q)
		if r.same("read", ferr, gerr) || errors.Is(ferr, io.EOF) {
			r.sameBytes("read", p[:n], q[:k])
		}
	case 4:
		p, off := make([]byte, r.next()%16), int64(r.next()%32)
		q := make([]byte, len(p))
		n, ferr := f.ReadAt(p, off)
		k, gerr := g.ReadAt(q, off)
		if r.same("readat", ferr, gerr) || errors.Is(ferr, io.EOF) {
			r.sameBytes("readat", p[:n], q[:k])
		}
	case 5:
		off, whence := int64(int8(r.next()))/4, r.next()%3
		n, ferr := f.Seek(off, whence)
		k, gerr := g.Seek(off, whence)
		if r.same("seek", ferr, gerr) && n != k {
			t.Fatalf("seek %d/%d: model at %d, the OS at %d", off, whence, n, k)
		}
	case 6:
		size := int64(r.next() % 40)
		r.same("truncate", f.Truncate(size), g.Truncate(size))
	case 7:
		r.same("sync", f.Sync(), g.Sync())
	case 8:
		fi, ferr := f.Stat()
		gi, gerr := g.Stat()
		if r.same("fstat", ferr, gerr) && fi.Size() != gi.Size() {
			t.Fatalf("fstat: model size %d, the OS %d", fi.Size(), gi.Size())
		}
	case 9:
		from, to := r.name(), r.name()
		if from == "d" {
			from = "a" // renaming a directory is not modelled
		}
		r.same("rename "+from+" "+to, r.m.Rename("/"+from, "/"+to), os.Rename(filepath.Join(r.root, from), filepath.Join(r.root, to)))
	case 10:
		name := r.name()
		r.same("remove "+name, r.m.Remove("/"+name), os.Remove(filepath.Join(r.root, name)))
	case 11:
		r.same("mkdirall", r.m.MkdirAll("/d", 0o755), os.MkdirAll(filepath.Join(r.root, "d"), 0o755))
	case 12:
		name := r.name()
		r.same("removeall "+name, r.m.RemoveAll("/"+name), os.RemoveAll(filepath.Join(r.root, name)))
	case 13:
		dir := []string{"", "d"}[r.next()%2]
		if st, err := os.Stat(filepath.Join(r.root, dir)); err != nil || !st.IsDir() {
			return // SyncDir of a file is no directory sync
		}
		r.same("syncdir "+dir, r.m.SyncDir("/"+dir), syncDir(filepath.Join(r.root, dir)))
	default:
		r.compare()
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// compare checks the whole live tree: names, kinds, sizes and bytes.
func (r *fuzzRun) compare() {
	r.t.Helper()
	for _, dir := range []string{"", "d"} {
		ents, ferr := r.m.ReadDir("/" + dir)
		gents, gerr := os.ReadDir(filepath.Join(r.root, dir))
		if !r.same("readdir "+dir, ferr, gerr) {
			continue
		}
		if len(ents) != len(gents) {
			r.t.Fatalf("readdir %q: model has %d entries, the OS %d", dir, len(ents), len(gents))
		}
		for i := range ents {
			if ents[i].Name() != gents[i].Name() || ents[i].IsDir() != gents[i].IsDir() {
				r.t.Fatalf("readdir %q: model has %s (dir %v), the OS %s (dir %v)", dir, ents[i].Name(), ents[i].IsDir(), gents[i].Name(), gents[i].IsDir())
			}
		}
	}
	for _, name := range fuzzNames {
		fi, ferr := r.m.Stat("/" + name)
		gi, gerr := os.Stat(filepath.Join(r.root, name))
		if !r.same("stat "+name, ferr, gerr) {
			continue
		}
		if fi.IsDir() != gi.IsDir() {
			r.t.Fatalf("stat %s: model says dir %v, the OS %v", name, fi.IsDir(), gi.IsDir())
		}
		if fi.IsDir() {
			continue
		}
		b, ferr := r.m.ReadFile("/" + name)
		c, gerr := os.ReadFile(filepath.Join(r.root, name))
		r.same("readfile "+name, ferr, gerr)
		r.sameBytes("readfile "+name, b, c)
	}
}

// syncAll makes everything live durable on the model: every file synced,
// every directory synced.
func (r *fuzzRun) syncAll() {
	r.t.Helper()
	for _, dir := range []string{"/", "/d"} {
		names, err := r.m.ReadDirNames(dir)
		if err != nil {
			continue
		}
		for _, n := range names {
			f, err := r.m.OpenFile(filepath.Join(dir, n), os.O_RDONLY, 0)
			if errors.Is(err, ErrIsDir) {
				continue
			}
			if err != nil {
				r.t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				r.t.Fatal(err)
			}
			f.Close()
		}
		if err := r.m.SyncDir(dir); err != nil {
			r.t.Fatal(err)
		}
	}
}

// FuzzCrashFSMatchesOS replays one history of opens, reads, writes, seeks,
// truncates, syncs, renames, removes and directory changes on the model
// and on the real filesystem: every call must fail or succeed alike (told
// apart as not-exist, exist, EOF or other), read the same bytes and leave
// the same tree. Then, with everything synced, a crash must keep that tree
// whole.
func FuzzCrashFSMatchesOS(f *testing.F) {
	f.Add([]byte{0, 0, 3, 3, 0, 1, 1, 2, 0, 1, 3, 5, 0, 7, 15, 0, 0, 0})
	f.Add([]byte("\x00\x00\x01\x04\x00\x01\x07\x03\x00\x02\x10\x05\x00\x09\x00\x04\x00\x0f"))
	f.Add([]byte{1, 0, 3, 5, 1, 11, 1, 0, 3, 2, 1, 1, 9, 9, 1, 9, 0, 3, 1, 10, 4, 2, 13, 1, 0, 14, 3, 6, 30, 3, 15})
	f.Add([]byte{0, 0, 3, 3, 0, 9, 0, 4, 0, 13, 0, 0, 2, 3, 1, 8, 0, 5, 200, 2, 0, 1, 5, 7, 0, 3, 12, 0, 4, 3, 1, 0, 15})
	f.Add([]byte{0, 0, 0, 4, 0, 2, 2, 0, 6, 2, 5, 0, 3, 20, 0, 10, 3, 0, 12, 4, 0, 6, 7, 0, 15})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 300 {
			in = in[:300]
		}
		r := &fuzzRun{t: t, m: New(), root: t.TempDir(), in: in}
		if err := r.m.MkdirAll("/d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(r.root, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		for len(r.in) > 0 {
			r.step()
		}
		for i := range r.model {
			if r.model[i] != nil {
				r.model[i].Close()
				r.real[i].Close()
			}
		}
		r.compare()
		r.syncAll()
		r.m.Crash()
		r.compare()
	})
}
