package wal

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// validLog returns the bytes of a log file holding recs, preallocated.
func validLog(prev int64, recs []Record, prealloc int) []byte {
	b := appendLogHeader(nil, prev)
	for _, r := range recs {
		b = appendFrame(b, r)
	}
	if len(b) < prealloc {
		b = append(b, make([]byte, prealloc-len(b))...)
	}
	return b
}

func putFile(t testing.TB, m *MemFS, name string, data []byte) {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// fuzzRecover recovers the WAL on m and checks replay order.
func fuzzRecover(t *testing.T, opts Options) (*WAL, []Record, error) {
	w, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []Record
	last, err := w.Recover(func(int64, io.Reader) error { return nil }, func(r Record) error {
		if len(got) > 0 && r.Zxid <= got[len(got)-1].Zxid {
			t.Fatalf("replayed zxid 0x%x after 0x%x", r.Zxid, got[len(got)-1].Zxid)
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	if len(got) > 0 && last != got[len(got)-1].Zxid {
		t.Fatalf("Recover returned 0x%x, last replayed 0x%x", last, got[len(got)-1].Zxid)
	}
	return w, got, nil
}

// FuzzWALRecover treats arbitrary bytes as a log file (and, split at cut, as
// two): recovery never panics, replays each record once and in order, leaves
// a log that recovers to the same records, and takes appends after it.
func FuzzWALRecover(f *testing.F) {
	f.Add(validLog(0, recs(1, 3), 512), uint16(0))
	f.Add(validLog(0, recs(1, 3), 0)[:60], uint16(0))
	f.Add(append(validLog(0, recs(1, 2), 0), validLog(2, recs(3, 5), 256)...), uint16(len(validLog(0, recs(1, 2), 0))))
	torn := validLog(0, recs(1, 4), 300)
	torn[100] ^= 1
	f.Add(torn, uint16(0))
	f.Add([]byte("KZTL\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10"), uint16(0))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		m := newMemFS()
		opts := Options{FS: m, SnapDir: "/d", ForceSync: true, PreAllocSize: 128}
		if err := m.MkdirAll("/d/version-2", 0o755); err != nil {
			t.Fatal(err)
		}
		if c := int(cut); c > 0 && c < len(data) {
			putFile(t, m, "/d/version-2/log.1", data[:c])
			putFile(t, m, "/d/version-2/log.1000", data[c:])
		} else {
			putFile(t, m, "/d/version-2/log.1", data)
		}
		if err := m.SyncDir("/d/version-2"); err != nil {
			t.Fatal(err)
		}
		w, first, err := fuzzRecover(t, opts)
		if err != nil {
			return // refusing a log is fine; panicking or misordering is not
		}
		w.Close()
		m.Crash()
		w, again, err := fuzzRecover(t, opts)
		if err != nil {
			t.Fatalf("second recovery failed after the first succeeded: %v", err)
		}
		if !sameRecords(first, again) {
			t.Fatalf("second recovery replayed %v, first %v", zxids(again), zxids(first))
		}
		next := Record{Zxid: w.LastZxid() + 1, Data: []byte("next")}
		if next.Zxid <= 0 {
			w.Close()
			return
		}
		if err := w.Append(next); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		m.Crash()
		_, third, err := fuzzRecover(t, opts)
		if err != nil {
			t.Fatalf("recovery after an append failed: %v", err)
		}
		if !sameRecords(append(first, next), third) {
			t.Fatalf("after an append replayed %v, want %v then 0x%x", zxids(third), zxids(first), next.Zxid)
		}
	})
}

func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Zxid != b[i].Zxid || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func snapshotBytes(zxid int64, body []byte) []byte {
	var buf bytes.Buffer
	fr := newSnapshotFrame(&buf, zxid)
	fr.Write(body)
	fr.finish()
	return buf.Bytes()
}

// FuzzReadSnapshotFrame: a frame is accepted only if writing its zxid and
// body again gives back exactly the same bytes.
func FuzzReadSnapshotFrame(f *testing.F) {
	f.Add(snapshotBytes(0x1a, []byte("state")))
	f.Add(snapshotBytes(0, nil))
	f.Add(snapshotBytes(1<<40, bytes.Repeat([]byte{0}, 100)))
	f.Add([]byte("KZSN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		zxid, body, err := readSnapshotFrame(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if again := snapshotBytes(zxid, b); !bytes.Equal(again, data) {
			t.Fatalf("accepted a frame that does not re-encode to itself: zxid 0x%x body %d bytes", zxid, len(b))
		}
	})
}
