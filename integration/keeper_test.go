//go:build integration

package integration

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
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

// kzooBuild is the kzoo binary built from this checkout for the whole test
// run, once: every home and every server start shares it.
var kzooBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the shared build when the run ends.
func TestMain(m *testing.M) {
	code := m.Run()
	if kzooBuild.dir != "" {
		os.RemoveAll(kzooBuild.dir)
	}
	os.Exit(code)
}

// repoRoot is the checkout these tests belong to.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// kzooBinary is the kzoo binary under test: $KZOO_BIN, or the one built from
// this checkout once per test run.
func kzooBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("KZOO_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		require.NoError(t, err)
		return abs
	}
	kzooBuild.once.Do(func() {
		if kzooBuild.dir, kzooBuild.err = os.MkdirTemp("", "kzoo-integration-"); kzooBuild.err != nil {
			return
		}
		kzooBuild.bin = filepath.Join(kzooBuild.dir, "kzoo")
		build := exec.Command("go", "build", "-o", kzooBuild.bin, "./cli/kzoo")
		build.Dir = repoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			kzooBuild.err = fmt.Errorf("go build ./cli/kzoo: %v: %s", err, out)
		}
	})
	require.NoError(t, kzooBuild.err)
	return kzooBuild.bin
}

// keeperHome is a dist-like kzoo home for one test: bin/kzoo (the binary
// under test) and every deploy script; it goes away with the test.
func keeperHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(home, "bin"), 0o755))
	require.NoError(t, os.Symlink(kzooBinary(t), filepath.Join(home, "bin", "kzoo")))
	scripts, err := filepath.Glob(filepath.Join(repoRoot(), "deploy", "bin", "*.sh"))
	require.NoError(t, err)
	for _, s := range scripts {
		data, err := os.ReadFile(s)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(home, "bin", filepath.Base(s)), data, 0o755))
	}
	return home
}

type keeperRun struct {
	stdout, stderr string
	code           int
}

// keeperScript runs a script of the home with a bounded time.
func keeperScript(t *testing.T, home string, env []string, script string, args ...string) keeperRun {
	t.Helper()
	cmd := exec.Command(filepath.Join(home, "bin", script), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v did not finish in 90s; stdout %q stderr %q", script, args, out.String(), errb.String())
	}
	return keeperRun{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// keeperAlive reports whether pid runs (a zombie left unreaped by a
// container's init does not count).
func keeperAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// keeperConfig writes a standalone zoo.cfg on a free port.
func keeperConfig(t *testing.T, extra string) (cfg, dataDir string, port int) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	port = testnet.FreePort(t)
	cfg = filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n%s", dataDir, port, extra)
	require.NoError(t, os.WriteFile(cfg, []byte(text), 0o644))
	return cfg, dataDir, port
}

// keeperStopOnCleanup kills whatever the pid file names when a test ends
// early, so no server outlives the test.
func keeperStopOnCleanup(t *testing.T, pidFile string) {
	t.Cleanup(func() {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

func TestKeeperZkServerStartStatusStop(t *testing.T) {
	home := keeperHome(t)
	cfg, dataDir, port := keeperConfig(t, "")
	logDir := t.TempDir()
	env := []string{"ZOO_LOG_DIR=" + logDir}
	pidFile := filepath.Join(dataDir, "zookeeper_server.pid")
	keeperStopOnCleanup(t, pidFile)

	r := keeperScript(t, home, env, "zkServer.sh", "start", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	require.Contains(t, r.stderr, "Using config: "+cfg)
	require.Equal(t, "Starting zookeeper ... STARTED\n", r.stdout)
	pidText, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(pidText))
	require.NoError(t, err)
	require.True(t, keeperAlive(pid), "the pid file names a live process")

	// The port accepts connections as soon as start returns, and a real
	// client can write and read.
	conn, _, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", port)}, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	_, err = conn.Create("/keeper", []byte("hi"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	data, _, err := conn.Get("/keeper")
	require.NoError(t, err)
	require.Equal(t, []byte("hi"), data)
	conn.Close()

	r = keeperScript(t, home, env, "zkServer.sh", "start", cfg)
	require.Equal(t, 1, r.code, "a second start fails")
	require.Equal(t, fmt.Sprintf("Starting zookeeper ... zookeeper already running as process %d.\n", pid), r.stdout)

	r = keeperScript(t, home, env, "zkServer.sh", "status", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	require.Contains(t, r.stdout, fmt.Sprintf("Client port found: %d. Client address: 127.0.0.1.", port))
	require.Contains(t, r.stdout, "Mode: standalone\n")

	r = keeperScript(t, home, env, "zkServer.sh", "stop", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	require.Equal(t, "Stopping zookeeper ... STOPPED\n", r.stdout)
	require.NoFileExists(t, pidFile)
	require.False(t, keeperAlive(pid), "the server process is gone")

	r = keeperScript(t, home, env, "zkServer.sh", "status", cfg)
	require.Equal(t, 1, r.code)
	require.Equal(t, fmt.Sprintf("Client port found: %d. Client address: 127.0.0.1. Client SSL: false.\n"+
		"Error contacting service. It is probably not running.\n", port), r.stdout)

	// The daemon's output went to ZooKeeper's file name in ZOO_LOG_DIR.
	outs, err := filepath.Glob(filepath.Join(logDir, "zookeeper-*-server-*.out"))
	require.NoError(t, err)
	require.Len(t, outs, 1)

	// Data survives a restart.
	r = keeperScript(t, home, env, "zkServer.sh", "restart", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	require.Contains(t, r.stdout, "Starting zookeeper ... STARTED")
	conn, _, err = zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", port)}, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	data, _, err = conn.Get("/keeper")
	require.NoError(t, err)
	require.Equal(t, []byte("hi"), data)
	conn.Close()
	r = keeperScript(t, home, env, "zkServer.sh", "stop", cfg)
	require.Equal(t, 0, r.code)
}

func TestKeeperBadConfigLine(t *testing.T) {
	home := keeperHome(t)
	cfg, dataDir, _ := keeperConfig(t, "maxClientCnxns=lots\n")
	r := keeperScript(t, home, []string{"ZOO_LOG_DIR=" + t.TempDir()}, "zkServer.sh", "start", cfg)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, cfg+`:5: maxClientCnxns: "lots" is not a number`)
	require.NotContains(t, r.stderr, "goroutine", "no stack trace")
	require.NoDirExists(t, dataDir, "nothing touched disk")

	r = keeperScript(t, home, nil, "zkServer.sh", "start", filepath.Join(t.TempDir(), "missing.cfg"))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "missing.cfg")
}

func TestKeeperStartFailsWhenPortTaken(t *testing.T) {
	home := keeperHome(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("dataDir=%s\nclientPort=%d\n", dir, port)), 0o644))
	r := keeperScript(t, home, []string{"ZOO_LOG_DIR=" + t.TempDir()}, "zkServer.sh", "start", cfg)
	require.Equal(t, 1, r.code)
	require.Equal(t, "Starting zookeeper ... FAILED TO START\n", r.stdout)
	require.Contains(t, r.stderr, fmt.Sprintf("127.0.0.1:%d", port))
}

func TestKeeperStartForegroundIsTheServer(t *testing.T) {
	home := keeperHome(t)
	cfg, dataDir, port := keeperConfig(t, "")
	cmd := exec.Command(filepath.Join(home, "bin", "zkServer.sh"), "start-foreground", cfg)
	cmd.Env = append(os.Environ(), "SERVER_JVMFLAGS=-Xmx1g -Dzookeeper.extendedTypesEnabled=true -Dfoo.bar=1")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	pidFile := filepath.Join(dataDir, "zookeeper_server.pid")
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(pidFile)
		return err == nil && string(data) == strconv.Itoa(cmd.Process.Pid)
	}, 30*time.Second, 50*time.Millisecond, "the script execs the server: its pid is the server's")

	// extendedTypesEnabled from SERVER_JVMFLAGS: TTL nodes are accepted.
	conn, _, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", port)}, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	_, err = conn.CreateTTL("/ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Hour)
	require.NoError(t, err)
	conn.Close()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
		require.NoError(t, waitErr, "clean exit after SIGTERM; stderr %q", errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("start-foreground did not exit after SIGTERM")
	}
	require.NoFileExists(t, pidFile)
}

func TestKeeperKafkaScripts(t *testing.T) {
	home := keeperHome(t)
	cfg, dataDir, port := keeperConfig(t, "maxClientCnxns=0\nadmin.enableServer=false\n")
	logDir := t.TempDir()
	env := []string{"LOG_DIR=" + logDir}
	keeperStopOnCleanup(t, filepath.Join(dataDir, "zookeeper_server.pid"))

	r := keeperScript(t, home, env, "zookeeper-server-start.sh")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "USAGE: zookeeper-server-start.sh [-daemon] zookeeper.properties")

	r = keeperScript(t, home, env, "zookeeper-server-start.sh", "-daemon", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	require.FileExists(t, filepath.Join(logDir, "zookeeper.out"))
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	require.NoError(t, err)
	c.Close()

	r = keeperScript(t, home, env, "zookeeper-server-stop.sh", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	require.NoFileExists(t, filepath.Join(dataDir, "zookeeper_server.pid"))
	_, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	require.Error(t, err)

	r = keeperScript(t, home, env, "zookeeper-server-stop.sh", cfg)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "No zookeeper server to stop")

	// Without a config, as Kafka's script is used, it stops every
	// coordinator of this installation.
	r = keeperScript(t, home, env, "zookeeper-server-start.sh", "-daemon", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	r = keeperScript(t, home, env, "zookeeper-server-stop.sh")
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	_, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	require.Error(t, err)
	r = keeperScript(t, home, env, "zookeeper-server-stop.sh")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "No zookeeper server to stop")
}

// TestKeeperServerJVMFlags: -D options in SERVER_JVMFLAGS reach the server
// started by zkServer.sh start (super digest, four-letter-word whitelist),
// and other JVM options are ignored.
func TestKeeperServerJVMFlags(t *testing.T) {
	home := keeperHome(t)
	cfg, dataDir, port := keeperConfig(t, "")
	keeperStopOnCleanup(t, filepath.Join(dataDir, "zookeeper_server.pid"))
	sum := sha1.Sum([]byte("super:s3cret"))
	superDigest := "super:" + base64.StdEncoding.EncodeToString(sum[:])
	env := []string{
		"ZOO_LOG_DIR=" + t.TempDir(),
		"SERVER_JVMFLAGS=-Xmx256m -XX:+UseG1GC -Dzookeeper.DigestAuthenticationProvider.superDigest=" + superDigest +
			" -Dzookeeper.4lw.commands.whitelist=ruok,srvr -Dsome.other=1",
	}
	r := keeperScript(t, home, env, "zkServer.sh", "start", cfg)
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	t.Cleanup(func() { keeperScript(t, home, env, "zkServer.sh", "stop", cfg) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	_, err = c.Write([]byte("ruok"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 16)
	n, _ := c.Read(buf)
	c.Close()
	require.Equal(t, "imok", string(buf[:n]))

	alice, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer alice.Close()
	require.NoError(t, alice.AddAuth("digest", []byte("alice:pw")))
	_, err = alice.Create("/private", []byte("secret"), 0, zk.DigestACL(zk.PermAll, "alice", "pw"))
	require.NoError(t, err)

	other, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer other.Close()
	_, _, err = other.Get("/private")
	require.ErrorIs(t, err, zk.ErrNoAuth)
	require.NoError(t, other.AddAuth("digest", []byte("super:s3cret")))
	data, _, err := other.Get("/private")
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), data)
}

// TestKeeperEnsembleScripts: three coordinators started one by one with
// zkServer.sh start from zoo.cfg files with server.N lines and myid files;
// status names one leader and two followers, and a write through one
// member is read through another.
func TestKeeperEnsembleScripts(t *testing.T) {
	home := keeperHome(t)
	env := []string{"ZOO_LOG_DIR=" + t.TempDir()}
	root := t.TempDir()
	var ports [3][3]int // client, quorum, election
	for i := range ports {
		for j := range ports[i] {
			ports[i][j] = testnet.FreePort(t)
		}
	}
	var servers strings.Builder
	for i := range ports {
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i+1, ports[i][1], ports[i][2])
	}
	cfgs := make([]string, 3)
	for i := range cfgs {
		data := filepath.Join(root, fmt.Sprintf("zk%d", i+1))
		require.NoError(t, os.MkdirAll(data, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(i+1)), 0o644))
		keeperStopOnCleanup(t, filepath.Join(data, "zookeeper_server.pid"))
		cfgs[i] = filepath.Join(root, fmt.Sprintf("zoo%d.cfg", i+1))
		text := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n%s",
			data, ports[i][0], servers.String())
		require.NoError(t, os.WriteFile(cfgs[i], []byte(text), 0o644))
	}
	for _, cfg := range cfgs {
		r := keeperScript(t, home, env, "zkServer.sh", "start", cfg)
		require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
		require.Equal(t, "Starting zookeeper ... STARTED\n", r.stdout)
	}
	t.Cleanup(func() {
		for _, cfg := range cfgs {
			keeperScript(t, home, env, "zkServer.sh", "stop", cfg)
		}
	})

	modes := func() []string {
		var ms []string
		for _, cfg := range cfgs {
			r := keeperScript(t, home, env, "zkServer.sh", "status", cfg)
			if r.code != 0 {
				return nil
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			ms = append(ms, lines[len(lines)-1])
		}
		sort.Strings(ms)
		return ms
	}
	require.Eventually(t, func() bool {
		return fmt.Sprint(modes()) == "[Mode: follower Mode: follower Mode: leader]"
	}, 60*time.Second, 250*time.Millisecond, "one leader and two followers")

	a, _, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", ports[0][0])}, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer a.Close()
	_, err = a.Create("/ensemble", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	b, _, err := zk.Connect([]string{fmt.Sprintf("127.0.0.1:%d", ports[2][0])}, 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer b.Close()
	_, err = b.Sync("/ensemble")
	require.NoError(t, err)
	data, _, err := b.Get("/ensemble")
	require.NoError(t, err)
	require.Equal(t, []byte("x"), data)

	for _, cfg := range cfgs {
		r := keeperScript(t, home, env, "zkServer.sh", "stop", cfg)
		require.Equal(t, 0, r.code)
		require.Equal(t, "Stopping zookeeper ... STOPPED\n", r.stdout)
	}
}
