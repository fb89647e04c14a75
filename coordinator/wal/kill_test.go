package wal

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWALKillNineHelper is the child of TestWALKillNineLosesNoSyncedRecord:
// it appends and syncs until killed, printing each synced zxid.
func TestWALKillNineHelper(t *testing.T) {
	dir := os.Getenv("KZOO_WAL_KILL_DIR")
	if dir == "" {
		t.Skip("only runs as the child of TestWALKillNineLosesNoSyncedRecord")
	}
	w, err := Open(Options{SnapDir: dir, ForceSync: true, PreAllocSize: 1 << 16})
	if err != nil {
		panic(err)
	}
	last, err := w.Recover(func(int64, io.Reader) error { return nil }, func(Record) error { return nil })
	if err != nil {
		panic(err)
	}
	out := bufio.NewWriter(os.Stdout)
	for z := last + 1; ; z += 3 {
		batch := []Record{rec(z), rec(z + 1), rec(z + 2)}
		if err := w.Append(batch...); err != nil {
			panic(err)
		}
		if err := w.Sync(); err != nil {
			panic(err)
		}
		fmt.Fprintln(out, z+2)
		out.Flush()
		if z%60 == 1 {
			if err := w.Roll(); err != nil {
				panic(err)
			}
		}
	}
}

// TestWALKillNineLosesNoSyncedRecord kills a writing process with SIGKILL,
// several times over the same directory, and checks that every zxid it
// reported as synced is recovered, in order, with nothing after a gap.
func TestWALKillNineLosesNoSyncedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	var acked int64
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWALKillNineHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KZOO_WAL_KILL_DIR="+dir)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		lines := make(chan int64, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if z, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
					lines <- z
				}
			}
		}()
		target := acked + 300
		deadline := time.After(30 * time.Second)
	read:
		for acked < target {
			select {
			case z, ok := <-lines:
				if !ok {
					break read
				}
				acked = z
			case <-deadline:
				t.Fatalf("round %d: child synced only up to %d in 30s", round, acked)
			}
		}
		require.NoError(t, cmd.Process.Kill()) // SIGKILL, mid-append
		_ = cmd.Wait()
		for z := range lines { // acknowledged before it died
			acked = z
		}

		sink := &logSink{}
		w, got := openRecover(t, Options{SnapDir: dir, ForceSync: true, PreAllocSize: 1 << 16, Logf: sink.logf})
		require.GreaterOrEqual(t, got.last, acked, "round %d: recovered up to %d, %d was acknowledged", round, got.last, acked)
		requireRecords(t, recs(1, got.last), got.recs)
		require.NoError(t, w.Close())
		acked = got.last
		names, err := os.ReadDir(filepath.Join(dir, versionDir))
		require.NoError(t, err)
		require.NotEmpty(t, names)
	}
}
