package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// logSink collects Logf lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logSink) joined() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func memOptions(t *testing.T) (*MemFS, Options, *logSink) {
	t.Helper()
	m := NewMemFS().(*MemFS)
	sink := &logSink{}
	return m, Options{FS: m, LogDir: "/data/log", SnapDir: "/data/snap", ForceSync: true, PreAllocSize: 4096, Logf: sink.logf}, sink
}

// recovered is what a Recover handed to its callbacks.
type recovered struct {
	snapZxid int64
	snap     []byte
	restores int
	recs     []Record
	last     int64
}

// openRecover opens a WAL on opts and recovers it, closing it at cleanup.
func openRecover(t *testing.T, opts Options) (*WAL, recovered) {
	t.Helper()
	w, err := Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	var got recovered
	got.last, err = w.Recover(func(z int64, r io.Reader) error {
		got.restores++
		got.snapZxid = z
		b, err := io.ReadAll(r)
		got.snap = b
		return err
	}, func(r Record) error {
		got.recs = append(got.recs, r)
		return nil
	})
	require.NoError(t, err)
	return w, got
}

func rec(z int64) Record {
	return Record{Zxid: z, Data: []byte(fmt.Sprintf("entry-%d-%s", z, strings.Repeat("x", int(z%7)*20)))}
}

func recs(from, to int64) []Record {
	var out []Record
	for z := from; z <= to; z++ {
		out = append(out, rec(z))
	}
	return out
}

func zxids(rs []Record) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.Zxid
	}
	return out
}

func requireRecords(t *testing.T, want, got []Record) {
	t.Helper()
	require.Equal(t, zxids(want), zxids(got))
	for i := range want {
		require.Equal(t, want[i].Data, got[i].Data, "data of zxid 0x%x", want[i].Zxid)
	}
}

func TestWALAppendSyncRecover(t *testing.T) {
	for _, tc := range []struct {
		name      string
		batch     int
		n         int64
		prealloc  int64
		forceSync bool
		roll      int64 // roll after every this many records; 0: never
	}{
		{name: "one per sync", batch: 1, n: 50, prealloc: 4096, forceSync: true},
		{name: "batches of 16", batch: 16, n: 300, prealloc: 4096, forceSync: true},
		{name: "batch larger than prealloc step", batch: 256, n: 600, prealloc: 512, forceSync: true},
		{name: "forceSync off then Close", batch: 8, n: 100, prealloc: 4096, forceSync: false},
		{name: "rolls", batch: 4, n: 120, prealloc: 1024, forceSync: true, roll: 25},
		{name: "default prealloc", batch: 32, n: 64, prealloc: 0, forceSync: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, opts, sink := memOptions(t)
			opts.PreAllocSize, opts.ForceSync = tc.prealloc, tc.forceSync
			w, got := openRecover(t, opts)
			require.Zero(t, got.last)
			require.Zero(t, got.restores)
			all := recs(1, tc.n)
			for i := 0; i < len(all); i += tc.batch {
				batch := all[i:min(len(all), i+tc.batch)]
				require.NoError(t, w.Append(batch...))
				require.Equal(t, batch[len(batch)-1].Zxid, w.LastZxid())
				require.NoError(t, w.Sync())
				if tc.roll > 0 && int64(i/tc.batch)%(tc.roll/int64(tc.batch)) == 0 {
					require.NoError(t, w.Roll())
				}
			}
			require.NoError(t, w.Close())
			_, got = openRecover(t, opts)
			require.Equal(t, tc.n, got.last)
			requireRecords(t, all, got.recs)
			require.NotContains(t, sink.joined(), "torn")
		})
	}
}

func TestWALFileNamesAndPreallocation(t *testing.T) {
	m, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	require.NoError(t, w.Append(Record{Zxid: 0x1a, Data: []byte("a")}))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Roll())
	require.NoError(t, w.Append(Record{Zxid: 0x100000001, Data: []byte("b")}))
	require.NoError(t, w.Sync())
	require.NoError(t, w.WriteSnapshot(0xff, func(io.Writer) error { return nil }))
	logs, err := m.ReadDir("/data/log/version-2")
	require.NoError(t, err)
	require.Equal(t, []string{"log.100000001", "log.1a"}, logs)
	snaps, err := m.ReadDir("/data/snap/version-2")
	require.NoError(t, err)
	require.Equal(t, []string{"snapshot.ff"}, snaps)
	for _, l := range logs {
		fi, err := m.Stat("/data/log/version-2/" + l)
		require.NoError(t, err)
		require.Equal(t, int64(4096), fi.Size(), "%s grows in whole PreAllocSize steps", l)
	}
}

func TestWALAppendErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []Record
		append []Record
		want   error
	}{
		{name: "zero zxid", append: []Record{{Zxid: 0}}, want: ErrZxidOrder},
		{name: "negative zxid", append: []Record{{Zxid: -5}}, want: ErrZxidOrder},
		{name: "repeat", before: recs(1, 3), append: []Record{rec(3)}, want: ErrZxidOrder},
		{name: "backwards", before: recs(1, 3), append: []Record{rec(2)}, want: ErrZxidOrder},
		{name: "unordered batch", append: []Record{rec(5), rec(4)}, want: ErrZxidOrder},
		{name: "empty batch", before: recs(1, 2), append: nil},
		{name: "gap is fine", before: recs(1, 2), append: []Record{rec(1 << 32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, opts, _ := memOptions(t)
			w, _ := openRecover(t, opts)
			require.NoError(t, w.Append(tc.before...))
			last := w.LastZxid()
			err := w.Append(tc.append...)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.Equal(t, last, w.LastZxid(), "a refused batch appends nothing")
			} else {
				require.NoError(t, err)
			}
			require.NoError(t, w.Sync())
			want := append(append([]Record(nil), tc.before...), tc.append...)
			if tc.want != nil {
				want = tc.before
			}
			require.NoError(t, w.Close())
			_, got := openRecover(t, opts)
			requireRecords(t, want, got.recs)
		})
	}
}

func TestWALCallsBeforeRecoverAndAfterClose(t *testing.T) {
	_, opts, _ := memOptions(t)
	w, err := Open(opts)
	require.NoError(t, err)
	require.ErrorIs(t, w.Append(rec(1)), ErrNotRecovered)
	require.ErrorIs(t, w.Sync(), ErrNotRecovered)
	require.ErrorIs(t, w.Roll(), ErrNotRecovered)
	require.ErrorIs(t, w.TruncateAfter(0), ErrNotRecovered)
	require.ErrorIs(t, w.ReadFrom(0, func(Record) error { return nil }), ErrNotRecovered)
	_, err = w.Recover(func(int64, io.Reader) error { return nil }, func(Record) error { return nil })
	require.NoError(t, err)
	_, err = w.Recover(func(int64, io.Reader) error { return nil }, func(Record) error { return nil })
	require.Error(t, err)
	require.NoError(t, w.Close())
	require.ErrorIs(t, w.Append(rec(1)), ErrClosed)
	require.ErrorIs(t, w.Close(), ErrClosed)
	require.ErrorIs(t, w.WriteSnapshot(1, func(io.Writer) error { return nil }), ErrClosed)
	require.ErrorIs(t, w.Purge(3), ErrClosed)
	_, err = Open(Options{FS: NewMemFS()})
	require.Error(t, err)
}

// TestWALCrashEveryByteOfLastRecord cuts the power while the last record is
// being written, at every byte of it: recovery keeps exactly the records
// whose bytes all reached the disk, which always includes every synced one.
func TestWALCrashEveryByteOfLastRecord(t *testing.T) {
	for _, tc := range []struct {
		name     string
		synced   int64 // records synced before the torn one
		prealloc int64
	}{
		{name: "torn header of a new file", synced: 0, prealloc: 4096},
		{name: "after synced records, inside preallocation", synced: 5, prealloc: 4096},
		{name: "torn record grows the file", synced: 3, prealloc: 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last := rec(tc.synced + 1)
			total := int(frameSize(len(last.Data)))
			if tc.synced == 0 {
				total += logHeaderSize
			}
			for keep := 0; keep <= total; keep++ {
				m, opts, sink := memOptions(t)
				opts.PreAllocSize = tc.prealloc
				w, _ := openRecover(t, opts)
				if tc.synced > 0 {
					require.NoError(t, w.Append(recs(1, tc.synced)...))
					require.NoError(t, w.Sync())
				}
				require.NoError(t, w.Append(last))
				w.mu.Lock()
				require.NoError(t, w.flush()) // written, not fsynced
				name := w.fname
				w.mu.Unlock()
				if tc.synced == 0 {
					// The new file's directory entry must survive to show a torn header.
					require.NoError(t, m.SyncDir(filepath.Dir(name)))
				}
				m.CrashTorn(name, keep)

				w2, got := openRecover(t, opts)
				want := recs(1, tc.synced)
				if keep == total {
					want = recs(1, tc.synced+1)
				}
				requireRecords(t, want, got.recs)
				require.Equal(t, int64(len(want)), got.last)
				// The first three bytes of a frame are zeros of its length, as
				// indistinguishable from preallocation as they are meant to be.
				if keep >= 4 && keep < total && tc.synced > 0 {
					require.Contains(t, sink.joined(), "torn tail", "keep=%d", keep)
					require.Contains(t, sink.joined(), fmt.Sprintf("kept %d records", tc.synced))
				}
				// The cut log takes new records and recovers them after it.
				next := rec(tc.synced + 2)
				require.NoError(t, w2.Append(next))
				require.NoError(t, w2.Sync())
				m.Crash()
				_, got = openRecover(t, opts)
				requireRecords(t, append(want, next), got.recs)
			}
		})
	}
}

func TestWALCrashKeepsExactlySynced(t *testing.T) {
	for _, tc := range []struct {
		name      string
		forceSync bool
		roll      bool
		wantLast  int64
	}{
		{name: "unsynced appends are lost", forceSync: true, wantLast: 20},
		{name: "unsynced appends in a rolled file are lost", forceSync: true, roll: true, wantLast: 20},
		{name: "forceSync off loses what Sync only wrote", forceSync: false, wantLast: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opts, _ := memOptions(t)
			opts.ForceSync = tc.forceSync
			w, _ := openRecover(t, opts)
			require.NoError(t, w.Append(recs(1, 10)...))
			require.NoError(t, w.Roll()) // Roll fsyncs even with forceSync off
			require.NoError(t, w.Append(recs(11, 20)...))
			require.NoError(t, w.Sync())
			require.Equal(t, int64(20), w.SyncedZxid())
			if tc.roll {
				require.NoError(t, w.Roll())
			}
			require.NoError(t, w.Append(recs(21, 30)...))
			m.Crash()
			_, got := openRecover(t, opts)
			requireRecords(t, recs(1, tc.wantLast), got.recs)
			require.Equal(t, tc.wantLast, got.last)
		})
	}
}

func snapBody(z int64) []byte { return []byte(fmt.Sprintf("state-at-%d", z)) }

func writeSnap(t *testing.T, w *WAL, z int64) {
	t.Helper()
	require.NoError(t, w.WriteSnapshot(z, func(wr io.Writer) error {
		_, err := wr.Write(snapBody(z))
		return err
	}))
}

// build writes records 1..n, a snapshot and a roll after every `every`.
func build(t *testing.T, w *WAL, n, every int64) {
	t.Helper()
	for z := int64(1); z <= n; z++ {
		require.NoError(t, w.Append(rec(z)))
		require.NoError(t, w.Sync())
		if z%every == 0 {
			writeSnap(t, w, z)
			require.NoError(t, w.Roll())
		}
	}
}

func corrupt(t *testing.T, m *MemFS, name string, at int64) {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	if at < 0 {
		size, err := f.Seek(0, io.SeekEnd)
		require.NoError(t, err)
		at += size
	}
	var b [1]byte
	_, err = f.ReadAt(b[:], at)
	require.NoError(t, err)
	b[0] ^= 0x40
	_, err = f.Seek(at, io.SeekStart)
	require.NoError(t, err)
	_, err = f.Write(b[:])
	require.NoError(t, err)
	require.NoError(t, f.Sync())
}

func TestWALSnapshotFallback(t *testing.T) {
	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, m *MemFS)
		wantSnap int64
		wantLog  string
	}{
		{name: "newest good", damage: func(*testing.T, *MemFS) {}, wantSnap: 20},
		{name: "flipped body byte", damage: func(t *testing.T, m *MemFS) {
			corrupt(t, m, "/data/snap/version-2/snapshot.14", 20)
		}, wantSnap: 10, wantLog: "crc"},
		{name: "truncated", damage: func(t *testing.T, m *MemFS) {
			f, err := m.OpenFile("/data/snap/version-2/snapshot.14", os.O_RDWR, 0)
			require.NoError(t, err)
			require.NoError(t, f.Truncate(40))
			require.NoError(t, f.Close())
		}, wantSnap: 10, wantLog: "end magic"},
		{name: "two bad", damage: func(t *testing.T, m *MemFS) {
			corrupt(t, m, "/data/snap/version-2/snapshot.14", -1)
			corrupt(t, m, "/data/snap/version-2/snapshot.a", 10)
		}, wantSnap: 0, wantLog: "no usable snapshot"},
		{name: "leftover tmp is removed", damage: func(t *testing.T, m *MemFS) {
			f, err := m.OpenFile("/data/snap/version-2/snapshot.1e.tmp", os.O_RDWR|os.O_CREATE, 0o644)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, wantSnap: 20, wantLog: "unfinished snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opts, sink := memOptions(t)
			w, _ := openRecover(t, opts)
			build(t, w, 25, 10)
			require.NoError(t, w.Close())
			tc.damage(t, m)
			_, got := openRecover(t, opts)
			require.Equal(t, tc.wantSnap, got.snapZxid)
			if tc.wantSnap > 0 {
				require.Equal(t, snapBody(tc.wantSnap), got.snap)
			}
			requireRecords(t, recs(tc.wantSnap+1, 25), got.recs)
			require.Equal(t, int64(25), got.last)
			require.Contains(t, sink.joined(), tc.wantLog)
			names, err := m.ReadDir("/data/snap/version-2")
			require.NoError(t, err)
			for _, n := range names {
				require.NotContains(t, n, tmpSuffix)
			}
		})
	}
}

func TestWALRestoreErrorFallsBack(t *testing.T) {
	_, opts, sink := memOptions(t)
	w, _ := openRecover(t, opts)
	build(t, w, 25, 10)
	require.NoError(t, w.Close())
	w, err := Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	var tried []int64
	var replayed []Record
	last, err := w.Recover(func(z int64, r io.Reader) error {
		tried = append(tried, z)
		if z == 20 {
			return errors.New("cannot decode")
		}
		return nil
	}, func(r Record) error { replayed = append(replayed, r); return nil })
	require.NoError(t, err)
	require.Equal(t, []int64{20, 10}, tried)
	requireRecords(t, recs(11, 25), replayed)
	require.Equal(t, int64(25), last)
	require.Contains(t, sink.joined(), "cannot decode")
}

func TestWALReplayErrorStopsRecovery(t *testing.T) {
	_, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	build(t, w, 5, 100)
	require.NoError(t, w.Close())
	w, err := Open(opts)
	require.NoError(t, err)
	boom := errors.New("apply failed")
	_, err = w.Recover(func(int64, io.Reader) error { return nil }, func(r Record) error {
		if r.Zxid == 3 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "log.1")
	require.ErrorContains(t, err, "0x3")
}

func TestWALSnapshotWriteError(t *testing.T) {
	m, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	boom := errors.New("encode failed")
	err := w.WriteSnapshot(7, func(wr io.Writer) error {
		_, _ = wr.Write([]byte("partial"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	names, err := m.ReadDir("/data/snap/version-2")
	require.NoError(t, err)
	require.Empty(t, names, "a failed snapshot leaves no file")
}

func TestWALSnapshotCrashBeforeDirSync(t *testing.T) {
	m, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	build(t, w, 12, 10)
	// A snapshot whose rename never became durable is simply absent.
	f, err := m.OpenFile("/data/snap/version-2/snapshot.c.tmp", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.Write([]byte("half"))
	require.NoError(t, err)
	m.Crash()
	_, got := openRecover(t, opts)
	require.Equal(t, int64(10), got.snapZxid)
	requireRecords(t, recs(11, 12), got.recs)
}

func TestWALPurge(t *testing.T) {
	for _, tc := range []struct {
		name      string
		snaps     int64 // snapshots taken, every 10 records
		retain    int
		wantSnaps []string
		wantLogs  []string
	}{
		{name: "fewer than retained", snaps: 2, retain: 3,
			wantSnaps: []string{"snapshot.14", "snapshot.a"},
			wantLogs:  []string{"log.1", "log.15", "log.b"}},
		{name: "keep three", snaps: 5, retain: 3,
			wantSnaps: []string{"snapshot.1e", "snapshot.28", "snapshot.32"},
			wantLogs:  []string{"log.1f", "log.29", "log.33"}},
		{name: "retain below minimum keeps three", snaps: 5, retain: 1,
			wantSnaps: []string{"snapshot.1e", "snapshot.28", "snapshot.32"},
			wantLogs:  []string{"log.1f", "log.29", "log.33"}},
		{name: "keep four", snaps: 5, retain: 4,
			wantSnaps: []string{"snapshot.14", "snapshot.1e", "snapshot.28", "snapshot.32"},
			wantLogs:  []string{"log.15", "log.1f", "log.29", "log.33"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opts, _ := memOptions(t)
			w, _ := openRecover(t, opts)
			n := tc.snaps*10 + 5
			build(t, w, n, 10)
			require.NoError(t, w.Purge(tc.retain))
			snaps, err := m.ReadDir("/data/snap/version-2")
			require.NoError(t, err)
			require.ElementsMatch(t, tc.wantSnaps, snaps)
			logs, err := m.ReadDir("/data/log/version-2")
			require.NoError(t, err)
			require.ElementsMatch(t, tc.wantLogs, logs)
			// Appends still work after a purge.
			require.NoError(t, w.Append(rec(n+1)))
			require.NoError(t, w.Sync())
			require.NoError(t, w.Close())

			// Recovery from the oldest kept snapshot still finds every record:
			// spoil all the newer ones.
			var oldest int64 = -1
			for _, s := range snaps {
				z, ok := parseName(s, snapPrefix)
				require.True(t, ok)
				if oldest < 0 || z < oldest {
					oldest = z
				}
			}
			for _, s := range snaps {
				if z, _ := parseName(s, snapPrefix); z != oldest {
					corrupt(t, m, "/data/snap/version-2/"+s, 20)
				}
			}
			_, got := openRecover(t, opts)
			require.Equal(t, oldest, got.snapZxid)
			requireRecords(t, recs(oldest+1, n+1), got.recs)
		})
	}
}

func TestWALPurgedLogWithoutSnapshotFails(t *testing.T) {
	m, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	build(t, w, 55, 10)
	require.NoError(t, w.Purge(3))
	require.NoError(t, w.Close())
	names, err := m.ReadDir("/data/snap/version-2")
	require.NoError(t, err)
	for _, s := range names {
		corrupt(t, m, "/data/snap/version-2/"+s, 12)
	}
	w, err = Open(opts)
	require.NoError(t, err)
	_, err = w.Recover(func(int64, io.Reader) error { return nil }, func(Record) error { return nil })
	require.ErrorIs(t, err, ErrCompacted)
	require.ErrorContains(t, err, "log.1f")
}

func TestWALReadFrom(t *testing.T) {
	_, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	build(t, w, 55, 10)
	require.NoError(t, w.Append(recs(56, 60)...)) // appended, not synced
	for _, tc := range []struct {
		from int64
		want []Record
		err  error
	}{
		{from: 0, want: recs(1, 60)},
		{from: 9, want: recs(10, 60)},
		{from: 10, want: recs(11, 60)},
		{from: 33, want: recs(34, 60)},
		{from: 59, want: recs(60, 60)},
		{from: 60},
		{from: 99},
	} {
		t.Run(fmt.Sprint("from ", tc.from), func(t *testing.T) {
			var got []Record
			err := w.ReadFrom(tc.from, func(r Record) error { got = append(got, r); return nil })
			require.NoError(t, err)
			requireRecords(t, tc.want, got)
		})
	}
	require.NoError(t, w.Purge(3))
	var got []Record
	require.ErrorIs(t, w.ReadFrom(5, func(r Record) error { got = append(got, r); return nil }), ErrCompacted)
	require.Empty(t, got)
	require.ErrorIs(t, w.ReadFrom(29, func(r Record) error { got = append(got, r); return nil }), ErrCompacted)
	require.NoError(t, w.ReadFrom(30, func(r Record) error { got = append(got, r); return nil }))
	requireRecords(t, recs(31, 60), got)
	stop := errors.New("stop")
	n := 0
	err := w.ReadFrom(30, func(Record) error { n++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)
}

func TestWALTruncateAfter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		to       int64
		wantLast int64
		wantSnap int64
	}{
		{name: "inside the newest file", to: 23, wantLast: 23, wantSnap: 20},
		{name: "at a file boundary", to: 20, wantLast: 20, wantSnap: 20},
		{name: "into an older file drops the newer snapshot", to: 15, wantLast: 15, wantSnap: 10},
		{name: "everything", to: 0, wantLast: 0, wantSnap: 0},
		{name: "above the end is a no-op", to: 40, wantLast: 25, wantSnap: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opts, _ := memOptions(t)
			w, _ := openRecover(t, opts)
			build(t, w, 24, 10)
			require.NoError(t, w.Append(rec(25))) // not yet synced
			require.NoError(t, w.TruncateAfter(tc.to))
			require.Equal(t, tc.wantLast, w.LastZxid())
			// New history after the cut, with data the old one did not have.
			var fresh []Record
			for z := tc.wantLast + 1; z <= tc.wantLast+3; z++ {
				fresh = append(fresh, Record{Zxid: z, Data: []byte(fmt.Sprintf("new-%d", z))})
			}
			require.NoError(t, w.Append(fresh...))
			require.NoError(t, w.Sync())
			m.Crash()
			_, got := openRecover(t, opts)
			require.Equal(t, tc.wantSnap, got.snapZxid)
			want := append(recs(tc.wantSnap+1, tc.wantLast), fresh...)
			requireRecords(t, want, got.recs)
			require.Equal(t, tc.wantLast+3, got.last)
		})
	}
}

func TestWALCorruptMiddleFileFails(t *testing.T) {
	m, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	build(t, w, 25, 10)
	require.NoError(t, w.Close())
	for _, s := range []string{"snapshot.a", "snapshot.14"} {
		require.NoError(t, m.Remove("/data/snap/version-2/"+s))
	}
	corrupt(t, m, "/data/log/version-2/log.b", logHeaderSize+20)
	w, err := Open(opts)
	require.NoError(t, err)
	_, err = w.Recover(func(int64, io.Reader) error { return nil }, func(Record) error { return nil })
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "log.b")
	require.ErrorContains(t, err, "log.15")
}

func TestWALZerosAfterCleanEndAreNotReported(t *testing.T) {
	_, opts, sink := memOptions(t)
	opts.PreAllocSize = 1 << 16
	w, _ := openRecover(t, opts)
	require.NoError(t, w.Append(recs(1, 3)...))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
	_, got := openRecover(t, opts)
	requireRecords(t, recs(1, 3), got.recs)
	require.Empty(t, sink.joined())
}

func TestWALGarbageAfterZerosIsCut(t *testing.T) {
	m, opts, sink := memOptions(t)
	w, _ := openRecover(t, opts)
	require.NoError(t, w.Append(recs(1, 3)...))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
	corrupt(t, m, "/data/log/version-2/log.1", 3000)
	_, got := openRecover(t, opts)
	requireRecords(t, recs(1, 3), got.recs)
	require.Contains(t, sink.joined(), "zero length followed by non-zero bytes")
	require.Contains(t, sink.joined(), "kept 3 records")
	fi, err := m.Stat("/data/log/version-2/log.1")
	require.NoError(t, err)
	require.Equal(t, logHeaderSize+frameSize(len(rec(1).Data))+frameSize(len(rec(2).Data))+frameSize(len(rec(3).Data)), fi.Size())
}

func TestWALAppendDoesNotAllocate(t *testing.T) {
	_, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	require.NoError(t, w.Append(rec(1)))
	batch := []Record{{Data: bytes.Repeat([]byte("v"), 150)}}
	z := int64(1)
	allocs := testing.AllocsPerRun(200, func() {
		z++
		batch[0].Zxid = z
		if err := w.Append(batch...); err != nil {
			panic(err)
		}
	})
	require.Zero(t, allocs)
}

func TestWALOSFS(t *testing.T) {
	dir := t.TempDir()
	sink := &logSink{}
	opts := Options{LogDir: filepath.Join(dir, "log"), SnapDir: filepath.Join(dir, "data"), ForceSync: true, PreAllocSize: 1 << 16, Logf: sink.logf}
	w, _ := openRecover(t, opts)
	build(t, w, 35, 10)
	require.NoError(t, w.Close())
	fi, err := os.Stat(filepath.Join(dir, "log", "version-2", "log.1f"))
	require.NoError(t, err)
	require.Equal(t, int64(1<<16), fi.Size())
	_, err = os.Stat(filepath.Join(dir, "data", "version-2", "snapshot.1e"))
	require.NoError(t, err)
	// A torn tail on the real disk: chop the last record in half.
	f, err := os.OpenFile(filepath.Join(dir, "log", "version-2", "log.1f"), os.O_RDWR, 0)
	require.NoError(t, err)
	cut := logHeaderSize + frameSize(len(rec(31).Data)) + frameSize(len(rec(32).Data)) + 5
	require.NoError(t, f.Truncate(cut))
	require.NoError(t, f.Close())
	_, got := openRecover(t, opts)
	require.Equal(t, int64(30), got.snapZxid)
	requireRecords(t, recs(31, 32), got.recs)
	require.Contains(t, sink.joined(), "torn tail at offset")
}

func TestWALConcurrentSnapshotsAppendsAndReads(t *testing.T) {
	m, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	const n = 400
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		for z := int64(1); z <= n; z++ {
			if err := w.Append(rec(z)); err != nil {
				errs <- err
				return
			}
			if z%4 == 0 {
				if err := w.Sync(); err != nil {
					errs <- err
					return
				}
			}
			if z%50 == 0 {
				if err := w.Roll(); err != nil {
					errs <- err
					return
				}
			}
		}
		errs <- w.Sync()
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			z := w.SyncedZxid()
			if err := w.WriteSnapshot(z, func(wr io.Writer) error { _, err := wr.Write(snapBody(z)); return err }); err != nil {
				errs <- err
				return
			}
			if err := w.Purge(3); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			prev := int64(0)
			err := w.ReadFrom(0, func(r Record) error {
				if r.Zxid <= prev {
					return fmt.Errorf("ReadFrom gave 0x%x after 0x%x", r.Zxid, prev)
				}
				prev = r.Zxid
				return nil
			})
			if err != nil && !errors.Is(err, ErrCompacted) {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	m.Crash()
	_, got := openRecover(t, opts)
	require.Equal(t, int64(n), got.last)
	requireRecords(t, recs(got.snapZxid+1, n), got.recs)
	if got.snapZxid > 0 {
		require.Equal(t, snapBody(got.snapZxid), got.snap)
	}
}

func TestWALReadFromBehindSnapshotOnlyState(t *testing.T) {
	m, opts, _ := memOptions(t)
	w, _ := openRecover(t, opts)
	require.NoError(t, w.Append(recs(1, 5)...))
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
	// A snapshot ahead of the log (its records were lost with a torn tail).
	w, _ = openRecover(t, opts)
	writeSnap(t, w, 9)
	require.NoError(t, w.Close())
	require.NoError(t, m.Remove("/data/log/version-2/log.1"))
	w, got := openRecover(t, opts)
	require.Equal(t, int64(9), got.last)
	require.ErrorIs(t, w.ReadFrom(3, func(Record) error { return nil }), ErrCompacted)
	require.NoError(t, w.Append(rec(10)))
	require.NoError(t, w.Sync())
	var read []Record
	require.NoError(t, w.ReadFrom(9, func(r Record) error { read = append(read, r); return nil }))
	requireRecords(t, recs(10, 10), read)
}

func TestWALRefusesForeignFiles(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{name: "ZooKeeper log", file: "/data/log/version-2/log.100000001",
			data: append([]byte("ZKLG\x00\x00\x00\x02"), make([]byte, 100)...), want: "not a kzoo log"},
		{name: "ZooKeeper snapshot", file: "/data/snap/version-2/snapshot.100000005",
			data: []byte("ZKSN\x00\x00\x00\x02 tree"), want: "not a kzoo snapshot"},
		{name: "text in a log", file: "/data/log/version-2/log.1", data: []byte("hello"), want: "not a kzoo log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opts, _ := memOptions(t)
			w, _ := openRecover(t, opts)
			require.NoError(t, w.Close())
			putFile(t, m, tc.file, tc.data)
			w, err := Open(opts)
			require.NoError(t, err)
			_, err = w.Recover(func(int64, io.Reader) error { return nil }, func(Record) error { return nil })
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, tc.file)
			_, err = m.Stat(tc.file)
			require.NoError(t, err, "the foreign file is left alone")
		})
	}
}

func TestWALDataDirOnly(t *testing.T) {
	m, opts, _ := memOptions(t)
	opts.LogDir = ""
	w, _ := openRecover(t, opts)
	build(t, w, 45, 10)
	require.NoError(t, w.Purge(3))
	require.NoError(t, w.Close())
	names, err := m.ReadDir("/data/snap/version-2")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"log.15", "log.1f", "log.29", "snapshot.14", "snapshot.1e", "snapshot.28"}, names)
	_, got := openRecover(t, opts)
	require.Equal(t, int64(40), got.snapZxid)
	requireRecords(t, recs(41, 45), got.recs)
}

func TestWALInstallSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   int64
	}{
		{name: "behind the local log", at: 18},
		{name: "ahead of the local log", at: 40},
		{name: "at a local snapshot", at: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opts, _ := memOptions(t)
			w, _ := openRecover(t, opts)
			build(t, w, 24, 10)
			require.NoError(t, w.Append(rec(25))) // unsynced, from the discarded history
			leader := []byte(fmt.Sprintf("leader-state-%d", tc.at))
			require.NoError(t, w.InstallSnapshot(tc.at, func(wr io.Writer) error { _, err := wr.Write(leader); return err }))
			require.Equal(t, tc.at, w.LastZxid())
			var read []Record
			require.NoError(t, w.ReadFrom(tc.at, func(r Record) error { read = append(read, r); return nil }))
			require.Empty(t, read)
			next := []Record{{Zxid: tc.at + 1, Data: []byte("from leader 1")}, {Zxid: tc.at + 2, Data: []byte("from leader 2")}}
			require.NoError(t, w.Append(next...))
			require.NoError(t, w.Sync())
			m.Crash()
			_, got := openRecover(t, opts)
			require.Equal(t, tc.at, got.snapZxid)
			require.Equal(t, leader, got.snap)
			requireRecords(t, next, got.recs)
			require.Equal(t, tc.at+2, got.last)
			snaps, err := m.ReadDir("/data/snap/version-2")
			require.NoError(t, err)
			for _, s := range snaps {
				z, ok := parseName(s, snapPrefix)
				require.True(t, ok, s)
				require.LessOrEqual(t, z, tc.at, "no snapshot above the installed one survives")
			}
		})
	}
}
