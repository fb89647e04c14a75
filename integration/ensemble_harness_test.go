//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
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

	"kzoo/integration/faultproxy"
)

// ensembleTargetEnv chooses what the ensemble tests run: "kzoo" (default,
// `kzoo keeper start-foreground`) or "zookeeper" (Apache ZooKeeper 3.8 via
// zkServer.sh start-foreground; ZKSERVER overrides its path).
const ensembleTargetEnv = "KZOO_ENSEMBLE_TARGET"

const (
	targetKzoo      = "kzoo"
	targetZooKeeper = "zookeeper"
)

// ensembleTickMs is the tickTime of test ensembles: short, so elections and
// session timeouts fit in a bounded test.
const ensembleTickMs = 500

func ensembleTarget(t *testing.T) string {
	t.Helper()
	switch v := os.Getenv(ensembleTargetEnv); v {
	case "", targetKzoo:
		return targetKzoo
	case targetZooKeeper:
		return targetZooKeeper
	default:
		t.Fatalf("%s=%q: want %q or %q", ensembleTargetEnv, v, targetKzoo, targetZooKeeper)
		return ""
	}
}

// ensembleNode is one server of a test ensemble; id is its myid.
type ensembleNode struct {
	id                                   int
	dir, dataDir, cfgPath, logPath       string
	clientPort, quorumPort, electionPort int

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited and been reaped
}

func (n *ensembleNode) clientAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.clientPort) }

// ensemble is a 3-process ensemble whose peers reach each other only
// through fault proxies: proxies[i][j] carries i's connections to j
// (index 0 = quorum port, 1 = election port). Clients connect directly.
type ensemble struct {
	t       *testing.T
	target  string
	nodes   []*ensembleNode
	proxies [][][2]*faultproxy.Proxy
}

// newEnsemble writes the configs of a 3-server ensemble and starts every
// server; it does not wait for a leader (see waitServing).
func newEnsemble(t *testing.T) *ensemble {
	t.Helper()
	const size = 3
	e := &ensemble{t: t, target: ensembleTarget(t)}
	if e.target == targetZooKeeper {
		if _, err := os.Stat(zkServerScript()); err != nil {
			t.Skipf("Apache ZooKeeper not found at %s: %v", zkServerScript(), err)
		}
	}
	root := t.TempDir()
	// The servers' ports stay held until the proxies have their own, so no
	// proxy can be given a port a server is about to bind.
	var held []net.Listener
	hold := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		held = append(held, l)
		return l.Addr().(*net.TCPAddr).Port
	}
	for i := 0; i < size; i++ {
		n := &ensembleNode{
			id:           i + 1,
			dir:          filepath.Join(root, fmt.Sprintf("s%d", i+1)),
			clientPort:   hold(),
			quorumPort:   hold(),
			electionPort: hold(),
		}
		n.dataDir = filepath.Join(n.dir, "data")
		n.cfgPath = filepath.Join(n.dir, "zoo.cfg")
		n.logPath = filepath.Join(n.dir, "server.log")
		require.NoError(t, os.MkdirAll(n.dataDir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(n.dataDir, "myid"), []byte(fmt.Sprintf("%d\n", n.id)), 0o644))
		e.nodes = append(e.nodes, n)
	}
	e.proxies = make([][][2]*faultproxy.Proxy, size)
	for i := range e.nodes {
		e.proxies[i] = make([][2]*faultproxy.Proxy, size)
		for j, to := range e.nodes {
			if i == j {
				continue
			}
			for k, port := range []int{to.quorumPort, to.electionPort} {
				p, err := faultproxy.New("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", port))
				require.NoError(t, err)
				t.Cleanup(func() { _ = p.Close() })
				e.proxies[i][j][k] = p
			}
		}
	}
	for _, l := range held {
		require.NoError(t, l.Close())
	}
	for i, n := range e.nodes {
		var b strings.Builder
		fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n",
			ensembleTickMs, n.dataDir, n.clientPort)
		b.WriteString("4lw.commands.whitelist=*\nadmin.enableServer=false\nmaxClientCnxns=0\n")
		for j, m := range e.nodes {
			q, el := m.quorumPort, m.electionPort
			if i != j {
				q, el = proxyPort(e.proxies[i][j][0]), proxyPort(e.proxies[i][j][1])
			}
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", m.id, q, el, m.clientPort)
		}
		require.NoError(t, os.WriteFile(n.cfgPath, []byte(b.String()), 0o644))
	}
	t.Cleanup(func() {
		for _, n := range e.nodes {
			e.kill(n.id)
		}
		if t.Failed() {
			for _, n := range e.nodes {
				t.Logf("server %d log (%s), last lines:\n%s", n.id, n.logPath, tailFile(n.logPath, 30))
			}
		}
	})
	for _, n := range e.nodes {
		e.start(n.id)
	}
	return e
}

func proxyPort(p *faultproxy.Proxy) int {
	_, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	return n
}

func zkServerScript() string {
	if s := os.Getenv("ZKSERVER"); s != "" {
		return s
	}
	return "/usr/share/zookeeper/bin/zkServer.sh"
}

func (e *ensemble) node(id int) *ensembleNode { return e.nodes[id-1] }

// clientAddrs lists every server's client address.
func (e *ensemble) clientAddrs() []string {
	out := make([]string, len(e.nodes))
	for i, n := range e.nodes {
		out[i] = n.clientAddr()
	}
	return out
}

// start launches server id in the foreground (its PID is the server's own),
// output appended to its log.
func (e *ensemble) start(id int) {
	t := e.t
	t.Helper()
	n := e.node(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done != nil {
		select {
		case <-n.done:
		default:
			t.Fatalf("server %d is already running as pid %d", id, n.cmd.Process.Pid)
		}
	}
	var cmd *exec.Cmd
	switch e.target {
	case targetKzoo:
		cmd = exec.Command(kzooBinary(t), "keeper", "start-foreground", n.cfgPath)
	case targetZooKeeper:
		cmd = exec.Command(zkServerScript(), "start-foreground", n.cfgPath)
		cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+n.dir,
			"JVMFLAGS=-Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto")
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer logf.Close()
	fmt.Fprintf(logf, "==== start %s at %s\n", e.target, time.Now().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	n.cmd, n.done = cmd, done
}

// kill sends SIGKILL to server id, if it runs, and waits until it is reaped.
func (e *ensemble) kill(id int) {
	n := e.node(id)
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		e.t.Errorf("server %d (pid %d) not reaped 10s after SIGKILL", id, cmd.Process.Pid)
	}
}

// running reports whether server id's process is alive.
func (e *ensemble) running(id int) bool {
	n := e.node(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// partition cuts server id off from the others (both directions, quorum
// and election links); clients still reach it.
func (e *ensemble) partition(id int) { e.eachLink(id, (*faultproxy.Proxy).Partition) }

// heal undoes partition(id).
func (e *ensemble) heal(id int) { e.eachLink(id, (*faultproxy.Proxy).Heal) }

func (e *ensemble) eachLink(id int, f func(*faultproxy.Proxy)) {
	i := id - 1
	for j := range e.nodes {
		if j == i {
			continue
		}
		for k := 0; k < 2; k++ {
			f(e.proxies[i][j][k])
			f(e.proxies[j][i][k])
		}
	}
}

// healAll heals every link.
func (e *ensemble) healAll() {
	for _, n := range e.nodes {
		e.heal(n.id)
	}
}

// fourLetter sends a four-letter word to addr and returns the answer.
func fourLetter(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		return "", fmt.Errorf("%s to %s: %w", word, addr, err)
	}
	return string(b), nil
}

// mode is the `Mode:` line of server id's srvr answer ("leader",
// "follower", …), or "" when it does not answer or is not serving.
func (e *ensemble) mode(id int) string {
	out, err := fourLetter(e.node(id).clientAddr(), "srvr")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// modes reports every server's mode.
func (e *ensemble) modes() map[int]string {
	out := make(map[int]string, len(e.nodes))
	for _, n := range e.nodes {
		out[n.id] = e.mode(n.id)
	}
	return out
}

// leader returns the one server reporting `Mode: leader` among those in ids
// (all when empty) provided every one of them is leader or follower, else 0.
func (e *ensemble) leader(ids ...int) int {
	if len(ids) == 0 {
		for _, n := range e.nodes {
			ids = append(ids, n.id)
		}
	}
	leader := 0
	for _, id := range ids {
		switch e.mode(id) {
		case "leader":
			if leader != 0 {
				return 0
			}
			leader = id
		case "follower":
		default:
			return 0
		}
	}
	return leader
}

// waitServing waits until the servers in ids (all when empty) all serve
// with exactly one leader among them, and returns the leader. It skips the
// test when kzoo refuses to run an ensemble at all.
func (e *ensemble) waitServing(timeout time.Duration, ids ...int) int {
	t := e.t
	t.Helper()
	var leader int
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if leader = e.leader(ids...); leader != 0 {
			return leader
		}
		e.skipIfRefused()
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline poll
	}
	t.Fatalf("no single leader among servers %v within %s; modes %v", ids, timeout, e.modes())
	return 0
}

// skipIfRefused skips the test when a kzoo server exited because this
// build does not run ensembles yet.
func (e *ensemble) skipIfRefused() {
	if e.target != targetKzoo {
		return
	}
	for _, n := range e.nodes {
		if e.running(n.id) {
			continue
		}
		log, _ := os.ReadFile(n.logPath)
		if bytes.Contains(log, []byte("not supported by this build")) || bytes.Contains(log, []byte("ensemble mode is not supported")) {
			e.t.Skipf("this kzoo build refuses ensemble configs (%s); run with %s=%s to test against Apache ZooKeeper",
				strings.TrimSpace(tailFile(n.logPath, 2)), ensembleTargetEnv, targetZooKeeper)
		}
	}
}

// tailFile returns the last n lines of path.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ensembleConnect opens a session to servers and waits for it.
func ensembleConnect(t *testing.T, servers []string, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect(servers, timeout, zk.WithLogger(log.New(io.Discard, "", 0)), zk.WithLogInfo(false))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c
			}
		case <-deadline:
			t.Fatalf("no session with %v within 30s", servers)
		}
	}
}

// ensembleIndeterminate reports whether err leaves the outcome of a write
// unknown: the request may or may not have been applied.
func ensembleIndeterminate(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, zk.ErrNoNode),
		errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrBadVersion),
		errors.Is(err, zk.ErrNotEmpty),
		errors.Is(err, zk.ErrNoChildrenForEphemerals),
		errors.Is(err, zk.ErrBadArguments),
		errors.Is(err, zk.ErrNoAuth):
		return false
	}
	return true
}

// childrenOn returns the children of path as server addr sees them after a
// sync, through a session to that server alone.
func childrenOn(t *testing.T, addr, path string) []string {
	t.Helper()
	c := ensembleConnect(t, []string{addr}, 10*time.Second)
	defer c.Close()
	_, err := c.Sync(path)
	require.NoError(t, err, "sync %s on %s", path, addr)
	kids, _, err := c.Children(path)
	require.NoError(t, err, "children of %s on %s", path, addr)
	return kids
}
