//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/internal/testnet"
)

// coordLog collects a server's stdout and stderr; safe for concurrent use.
type coordLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *coordLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *coordLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// coordProc is one run of `kzoo keeper start-foreground cfg`.
type coordProc struct {
	cmd    *exec.Cmd
	log    *coordLog
	exited chan struct{}
	addr   string
}

// coordStart starts the coordinator of cfg (listening on port) and waits
// until it says it serves clients. The process is killed when the test ends.
func coordStart(t *testing.T, cfg string, port int, env ...string) *coordProc {
	t.Helper()
	p := &coordProc{log: &coordLog{}, exited: make(chan struct{}), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	p.cmd = exec.Command(kzooBinary(t), "keeper", "start-foreground", cfg)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill9()
		p.checkRaces(t)
	})
	ready := func() bool {
		select {
		case <-p.exited:
			return true
		default:
		}
		return strings.Contains(p.log.String(), "serving clients on")
	}
	require.Eventually(t, ready, 30*time.Second, 20*time.Millisecond, "server did not start; log:\n%s", p.log)
	select {
	case <-p.exited:
		t.Fatalf("server exited at start (code %d); log:\n%s", p.cmd.ProcessState.ExitCode(), p.log)
	default:
	}
	return p
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *coordProc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// coordCheckRaces fails the test when a server built with -race (KZOO_BIN)
// reported a data race in its log.
func (p *coordProc) checkRaces(t *testing.T) {
	if log := p.log.String(); strings.Contains(log, "WARNING: DATA RACE") {
		t.Errorf("the server reported a data race:\n%s", log)
	}
}

// rssKB is the server's resident set size in KiB from /proc.
func (p *coordProc) rssKB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			n, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
	return 0
}

// coordConnect opens a go-zookeeper session and waits until it has one.
func coordConnect(t *testing.T, addr string, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, timeout, zk.WithLogInfo(false), zk.WithLogger(coordQuiet{}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.Eventually(t, func() bool { return c.State() == zk.StateHasSession }, 20*time.Second, 10*time.Millisecond,
		"no session with %s", addr)
	return c
}

// coordQuiet drops go-zookeeper's log lines (reconnect chatter during kills).
type coordQuiet struct{}

func (coordQuiet) Printf(string, ...interface{}) {}

// apacheZK is an Apache ZooKeeper 3.8 server started from Debian's
// zookeeper package, for comparing outputs.
type apacheZK struct {
	cmd    *exec.Cmd
	exited chan struct{}
	addr   string
	out    *coordLog
}

// apacheZKStart starts Apache ZooKeeper standalone on a fresh dataDir, or
// skips when the package or java is missing. env is added to the
// environment of zkServer.sh (SERVER_JVMFLAGS, say).
func apacheZKStart(t *testing.T, env ...string) *apacheZK {
	t.Helper()
	script := "/usr/share/zookeeper/bin/zkServer.sh"
	if _, err := os.Stat(script); err != nil {
		t.Skip("Apache ZooKeeper is not installed (Debian package zookeeper): " + err.Error())
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("java is not installed: " + err.Error())
	}
	dir := t.TempDir()
	port := testnet.FreePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		"tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
		filepath.Join(dir, "data"), port)), 0o644))
	z := &apacheZK{exited: make(chan struct{}), addr: fmt.Sprintf("127.0.0.1:%d", port), out: &coordLog{}}
	z.cmd = exec.Command(script, "start-foreground", cfg)
	z.cmd.Env = append(append(os.Environ(), "ZOO_LOG_DIR="+dir, "ZOOPIDFILE="+filepath.Join(dir, "zk.pid")), env...)
	z.cmd.Stdout, z.cmd.Stderr = z.out, z.out
	require.NoError(t, z.cmd.Start())
	go func() { _ = z.cmd.Wait(); close(z.exited) }()
	t.Cleanup(func() {
		_ = z.cmd.Process.Signal(syscall.SIGKILL)
		<-z.exited
	})
	require.Eventually(t, func() bool {
		select {
		case <-z.exited:
			return true
		default:
		}
		// srvr, not a session: a session would spend zxids and the
		// outputs compared with kzoo's carry zxids.
		c, err := net.DialTimeout("tcp", z.addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		if _, err := c.Write([]byte("srvr")); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, _ := io.ReadAll(c)
		return strings.Contains(string(out), "Mode: standalone")
	}, 60*time.Second, 200*time.Millisecond, "Apache ZooKeeper did not start: %s", z.out)
	select {
	case <-z.exited:
		t.Fatalf("Apache ZooKeeper exited: %s", z.out)
	default:
	}
	return z
}

// coordRun runs a client program with stdin, bounded in time.
func coordRun(t *testing.T, limit time.Duration, stdin string, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v did not finish in %v; stdout %q stderr %q", name, args, limit, out.String(), errb.String())
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}
