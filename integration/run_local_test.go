//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runLocalBase finds a base port b such that b+offsets are all free on
// 127.0.0.1 right now.
func runLocalBase(t *testing.T, offsets ...int) int {
	t.Helper()
	for try := 0; try < 200; try++ {
		base := 20000 + rand.IntN(40000)
		ok := true
		for _, off := range offsets {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+off))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range found")
	return 0
}

// TestRunLocalStartsAndStopsEverything runs deploy/run-local.sh (what
// `make run` runs) against a freshly built home: it must say what it
// started, print the connection strings, serve on them, and stop every
// process it started on SIGTERM.
func TestRunLocalStartsAndStopsEverything(t *testing.T) {
	home := keeperHome(t)
	root := repoRoot()
	run := filepath.Join(t.TempDir(), "run")

	zkBase := runLocalBase(t, 1, 2, 3)
	quorumBase := runLocalBase(t, 1, 2, 3)
	electionBase := runLocalBase(t, 1, 2, 3)
	kafkaBase := runLocalBase(t, 0, 1, 2)
	cmd := exec.Command(filepath.Join(root, "deploy", "run-local.sh"), home, run)
	cmd.Env = append(os.Environ(),
		"ZK_BASE="+strconv.Itoa(zkBase), "QUORUM_BASE="+strconv.Itoa(quorumBase),
		"ELECTION_BASE="+strconv.Itoa(electionBase), "KAFKA_BASE="+strconv.Itoa(kafkaBase))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
		}
	})

	var seen []string
	deadline := time.After(120 * time.Second)
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "run-local.sh ended early:\n%s", strings.Join(seen, "\n"))
			seen = append(seen, l)
			ready = strings.Contains(l, "Press Ctrl-C")
		case <-deadline:
			t.Fatalf("run-local.sh not ready in 120s:\n%s", strings.Join(seen, "\n"))
		}
	}
	text := strings.Join(seen, "\n")
	zkConnect := fmt.Sprintf("zookeeper.connect=127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", zkBase+1, zkBase+2, zkBase+3)
	require.Contains(t, text, "kzoo local cluster: 3 coordinator(s), 3 broker(s)")
	require.Contains(t, text, zkConnect)
	require.Contains(t, text, fmt.Sprintf("--bootstrap-server 127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", kafkaBase, kafkaBase+1, kafkaBase+2))

	// Every advertised port serves; the coordinators form one ensemble.
	for _, p := range []int{zkBase + 1, zkBase + 2, zkBase + 3, kafkaBase, kafkaBase + 1, kafkaBase + 2} {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 5*time.Second)
		require.NoError(t, err, "port %d", p)
		c.Close()
	}
	require.Eventually(t, func() bool {
		leaders := 0
		for n := 1; n <= 3; n++ {
			mode, err := exec.Command(filepath.Join(home, "bin", "kzoo"), "keeper", "status",
				filepath.Join(run, fmt.Sprintf("zoo%d.cfg", n))).Output()
			if err != nil {
				return false
			}
			if strings.Contains(string(mode), "Mode: leader") {
				leaders++
			}
		}
		return leaders == 1
	}, 60*time.Second, 250*time.Millisecond, "one leader among the three coordinators")

	// Collect the children's pids before stopping, then check none survives.
	pids := runLocalChildren(t, cmd.Process.Pid)
	require.Len(t, pids, 6, "3 coordinators and 3 brokers")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
	case <-time.After(120 * time.Second):
		t.Fatal("run-local.sh did not stop within 120s of SIGTERM")
	}
	_ = waitErr
	for _, pid := range pids {
		require.False(t, keeperAlive(pid), "process %d outlived run-local.sh", pid)
	}
	for _, p := range []int{zkBase + 1, kafkaBase} {
		_, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
		require.Error(t, err, "port %d still open", p)
	}
}

// runLocalChildren lists the direct children of pid from /proc.
func runLocalChildren(t *testing.T, pid int) []int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	require.NoError(t, err)
	var out []int
	for _, f := range strings.Fields(string(data)) {
		n, err := strconv.Atoi(f)
		require.NoError(t, err)
		// The monitor loop's sleep is a child too; only kzoo processes count.
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n))
		if strings.Contains(string(cmdline), "kzoo") {
			out = append(out, n)
		}
	}
	return out
}
