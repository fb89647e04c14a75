//go:build integration

package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
)

// coordWrite is what one client knows about one znode it owns: the last
// acknowledged (version, data), and at most one write after it whose
// outcome is unknown (the connection dropped before its reply). A path
// with an unknown outcome is never written again.
type coordWrite struct {
	acked       bool
	version     int32
	data        string
	unknown     bool
	unknownVer  int32
	unknownData string
}

// coordLoad runs sessions writers that create and conditionally set their
// own znodes under /kill, recording every acknowledged write.
type coordLoad struct {
	mu    sync.Mutex
	paths map[string]*coordWrite
	conns []*zk.Conn // the writers' sessions
	acks  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

func coordStartLoad(t *testing.T, addr string, sessions int) *coordLoad {
	t.Helper()
	admin := coordConnect(t, addr, 10*time.Second)
	_, err := admin.Create("/kill", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	l := &coordLoad{paths: map[string]*coordWrite{}, stop: make(chan struct{})}
	for w := 0; w < sessions; w++ {
		parent := fmt.Sprintf("/kill/w%02d", w)
		_, err := admin.Create(parent, nil, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
		c := coordConnect(t, addr, 20*time.Second)
		_, err = c.Create(parent+"/ephemeral", []byte("alive"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
		l.conns = append(l.conns, c)
		l.wg.Add(1)
		go l.writer(c, parent)
	}
	t.Cleanup(l.halt)
	return l
}

func (l *coordLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *coordLoad) record(path string, f func(w *coordWrite)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.paths[path]
	if w == nil {
		w = &coordWrite{}
		l.paths[path] = w
	}
	f(w)
}

// writer alternates creates of new znodes with conditional sets of the
// newest live one it owns; errors are outcomes it does not know.
func (l *coordLoad) writer(c *zk.Conn, parent string) {
	defer l.wg.Done()
	var live []string // owned paths whose last write was acknowledged
	versions := map[string]int32{}
	for n := 0; ; n++ {
		select {
		case <-l.stop:
			return
		default:
		}
		if len(live) == 0 || n%3 == 0 {
			path := fmt.Sprintf("%s/n%06d", parent, n)
			data := fmt.Sprintf("%s v0", path)
			_, err := c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll))
			if err != nil {
				l.record(path, func(w *coordWrite) { w.unknown, w.unknownVer, w.unknownData = true, 0, data })
				l.pause(err)
				continue
			}
			l.record(path, func(w *coordWrite) { w.acked, w.version, w.data = true, 0, data })
			l.acks.Add(1)
			live = append(live, path)
			versions[path] = 0
			continue
		}
		path := live[n%len(live)]
		next := versions[path] + 1
		data := fmt.Sprintf("%s v%d", path, next)
		st, err := c.Set(path, []byte(data), versions[path])
		if err != nil {
			l.record(path, func(w *coordWrite) { w.unknown, w.unknownVer, w.unknownData = true, next, data })
			for i, p := range live {
				if p == path {
					live = append(live[:i], live[i+1:]...)
					break
				}
			}
			l.pause(err)
			continue
		}
		if st.Version != next {
			panic(fmt.Sprintf("set %s acknowledged version %d, want %d", path, st.Version, next))
		}
		l.record(path, func(w *coordWrite) { w.acked, w.version, w.data = true, next, data })
		l.acks.Add(1)
		versions[path] = next
	}
}

// pause waits a little after a failed write while the server is down, so
// a writer does not spin through thousands of failures.
func (l *coordLoad) pause(err error) {
	if errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrConnectionClosed) {
		select {
		case <-l.stop:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// verify reads every recorded znode through a fresh session and checks that
// each acknowledged write is there with its version and data (or the one
// unknown write after it). except names paths the test damaged on purpose.
func (l *coordLoad) verify(t *testing.T, addr string, except map[string]bool) (acked int) {
	t.Helper()
	c := coordConnect(t, addr, 10*time.Second)
	defer c.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	paths := make([]string, 0, len(l.paths))
	for p := range l.paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var lost []string
	for _, p := range paths {
		w := l.paths[p]
		if w.acked {
			acked++
		}
		if except[p] {
			continue
		}
		data, st, err := c.Get(p)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			if w.acked {
				lost = append(lost, fmt.Sprintf("%s: acknowledged version %d %q is gone", p, w.version, w.data))
			}
		case err != nil:
			t.Fatalf("get %s: %v", p, err)
		case w.acked && st.Version == w.version && string(data) == w.data:
		case w.unknown && st.Version == w.unknownVer && string(data) == w.unknownData:
		default:
			lost = append(lost, fmt.Sprintf("%s: read version %d %q, acknowledged version %d %q (unknown write %v %d %q)",
				p, st.Version, data, w.version, w.data, w.unknown, w.unknownVer, w.unknownData))
		}
	}
	require.Empty(t, lost, "acknowledged writes lost after recovery")
	return acked
}

// coordNewestLog returns the newest transaction log file in dataDir.
func coordNewestLog(t *testing.T, dataDir string) string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dataDir, "version-2", "log.*"))
	require.NoError(t, err)
	require.NotEmpty(t, logs, "no log files in %s", dataDir)
	sort.Slice(logs, func(i, j int) bool {
		a, _ := strconv.ParseUint(strings.TrimPrefix(filepath.Ext(logs[i]), "."), 16, 64)
		b, _ := strconv.ParseUint(strings.TrimPrefix(filepath.Ext(logs[j]), "."), 16, 64)
		return a < b
	})
	return logs[len(logs)-1]
}

// coordLogRecords walks the frames of a kzoo log file (16-byte header, then
// length|crc|zxid|data records, zeros of preallocation after the last) and
// returns the start offset of each record and the end of the last one.
func coordLogRecords(t *testing.T, file string) (starts []int64, end int64) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(b), 16, "%s: short header", file)
	require.Equal(t, "KZTL", string(b[:4]), "%s: magic", file)
	off := int64(16)
	for off+16 <= int64(len(b)) {
		n := int64(binary.BigEndian.Uint32(b[off:]))
		if n == 0 || off+8+n > int64(len(b)) {
			break
		}
		starts = append(starts, off)
		off += 8 + n
	}
	return starts, off
}

// coordTearTail simulates a write cut by the crash: a partial frame after
// the last record (a length, a crc and some of the data, no more).
func coordTearTail(t *testing.T, file string) {
	t.Helper()
	_, end := coordLogRecords(t, file)
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	frame := binary.BigEndian.AppendUint32(nil, 120)
	frame = binary.BigEndian.AppendUint32(frame, 0xdeadbeef)
	frame = append(frame, "0123456789abcdef"...)
	_, err = f.WriteAt(frame, end)
	require.NoError(t, err)
}

// coordCutLastRecord truncates the newest log a few bytes into its last
// record and returns that record's bytes (which the test then exempts).
func coordCutLastRecord(t *testing.T, file string) []byte {
	t.Helper()
	starts, end := coordLogRecords(t, file)
	require.NotEmpty(t, starts, "%s has no records", file)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	last := b[starts[len(starts)-1]:end]
	require.NoError(t, os.Truncate(file, end-5))
	return last
}

// TestCoordinatorKill9Durability: 16 sessions write while the server is
// killed with SIGKILL five times and restarted on the same dataDir; every
// acknowledged write is read back with its version and data. After one
// kill a torn frame is appended to the newest log, after the last kill the
// newest log is cut five bytes into its last record: the server starts,
// reports the truncation and loses nothing else.
func TestCoordinatorKill9Durability(t *testing.T) {
	coordKillRun(t, "snapCount=400\npreAllocSize=64\n", 5)
}

// TestCoordinatorKill9ForceSyncNo: with forceSync=no a process crash (not
// an OS crash) still loses nothing acknowledged: the OS has the bytes.
func TestCoordinatorKill9ForceSyncNo(t *testing.T) {
	coordKillRun(t, "forceSync=no\nsnapCount=400\n", 3)
}

func coordKillRun(t *testing.T, extra string, kills int) {
	start := time.Now()
	cfg, dataDir, port := keeperConfig(t, extra)
	p := coordStart(t, cfg, port)
	load := coordStartLoad(t, p.addr, 16)
	except := map[string]bool{}
	var tornReported, cutReported bool
	for k := 0; k < kills; k++ {
		base := load.acks.Load()
		require.Eventually(t, func() bool { return load.acks.Load() >= base+1000 }, 20*time.Second, 5*time.Millisecond,
			"kill %d: the load made no progress (%d acks)", k, load.acks.Load())
		p.kill9()
		damage := ""
		if !strings.Contains(extra, "forceSync=no") {
			switch k {
			case 1:
				coordTearTail(t, coordNewestLog(t, dataDir))
				damage = "torn"
			case kills - 1:
				load.halt() // no write in flight may land between the cut and the check
				file := coordNewestLog(t, dataDir)
				if starts, _ := coordLogRecords(t, file); len(starts) == 0 {
					// The kill came just after a log roll: give the newest
					// log a record to cut.
					p = coordStart(t, cfg, port)
					c := coordConnect(t, p.addr, 10*time.Second)
					_, err := c.Create("/kill/extra", []byte("extra"), 0, zk.WorldACL(zk.PermAll))
					require.NoError(t, err)
					p.kill9()
					file = coordNewestLog(t, dataDir)
				}
				rec := coordCutLastRecord(t, file)
				load.mu.Lock()
				for path := range load.paths {
					if strings.Contains(string(rec), path+" v") {
						except[path] = true
					}
				}
				load.mu.Unlock()
				damage = "cut"
			}
		}
		p = coordStart(t, cfg, port)
		switch damage {
		case "torn":
			log := p.log.String()
			require.True(t, strings.Contains(log, "torn tail") || strings.Contains(log, "no valid record"),
				"the truncation of the torn frame is reported; log:\n%s", log)
			tornReported = true
			t.Logf("recovery after the torn frame: %s", coordLines(p.log.String(), "torn tail"))
		case "cut":
			// A log whose only record was cut is removed instead, and that
			// is reported too.
			log := p.log.String()
			require.True(t, strings.Contains(log, "torn tail") || strings.Contains(log, "no valid record"),
				"the truncation of the cut record is reported; log:\n%s", log)
			cutReported = true
			t.Logf("recovery after the cut record: %s%s", coordLines(log, "torn tail"), coordLines(log, "no valid record"))
		}
	}
	load.halt()
	acked := load.verify(t, p.addr, except)

	// The writers' sessions outlived the kills (each restart took far less
	// than their 20 s timeout): they reconnect, and their ephemerals are
	// still there.
	for w, c := range load.conns {
		require.Eventually(t, func() bool { return c.State() == zk.StateHasSession }, 20*time.Second, 10*time.Millisecond,
			"session of writer %d after the last restart", w)
		data, st, err := c.Get(fmt.Sprintf("/kill/w%02d/ephemeral", w))
		require.NoError(t, err, "writer %d's ephemeral after %d kills", w, kills)
		require.Equal(t, "alive", string(data))
		require.Equal(t, c.SessionID(), st.EphemeralOwner)
	}
	unknown := 0
	for _, w := range load.paths {
		if w.unknown {
			unknown++
		}
	}
	t.Logf("%d kills, %d znodes with an acknowledged write, %d acknowledged writes, %d writes with an unknown outcome, %d exempted (cut record), %v",
		kills, acked, load.acks.Load(), unknown, len(except), time.Since(start).Round(time.Millisecond))
	if !strings.Contains(extra, "forceSync=no") {
		require.True(t, tornReported && cutReported)
		require.LessOrEqual(t, len(except), 1, "the cut record names at most one znode")
	}
}

// coordLines returns the lines of log that contain substr.
func coordLines(log, substr string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
