// Package ztest gives tests of the client and of the shell a real
// ZooKeeper-compatible server on a loopback port: the one named by
// $KZOO_TEST_ZK (host:port) when set, else kzoo's own coordinator in
// process (coordinator/server), else (KZOO_TEST_SERVER=apache) a standalone Apache ZooKeeper
// 3.8 from the system packages (/usr/share/zookeeper) in a temporary
// dataDir, stopped by PID when the test ends. It never touches a server
// it did not start beyond the address it is given, and skips the test with
// a message saying what is missing when there is no server to use.
package ztest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/internal/testnet"
)

// zkServerScript is Debian's ZooKeeper start script.
const zkServerScript = "/usr/share/zookeeper/bin/zkServer.sh"

// Server is a running server for one test.
type Server struct {
	Addr string // host:port
	// Apache reports whether it is Apache ZooKeeper (started here).
	Apache bool
	cmd    *exec.Cmd
}

// Start returns a server for t, or skips t when none is available.
func Start(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv("KZOO_TEST_ZK"); addr != "" {
		return &Server{Addr: addr}
	}
	if starter != nil {
		if addr, ok := starter(t); ok {
			return &Server{Addr: addr}
		}
	}
	if _, err := os.Stat(zkServerScript); err != nil {
		t.Skipf("no ZooKeeper-compatible server: set KZOO_TEST_ZK=host:port or install Apache ZooKeeper 3.8 (%s: %v)", zkServerScript, err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skipf("no ZooKeeper-compatible server: %s needs java: %v", zkServerScript, err)
	}
	return startApache(t)
}

// starter is set by a build-tagged file that starts kzoo's own server in
// process; it reports false when it cannot.
var starter func(t testing.TB) (string, bool)

func startApache(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	port := testnet.FreePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	body := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\nmaxSessionTimeout=60000\n", filepath.Join(dir, "data"), port)
	require.NoError(t, os.WriteFile(cfg, []byte(body), 0o644))
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	require.NoError(t, err)
	cmd := exec.Command(zkServerScript, "start-foreground", cfg)
	cmd.Env = append(os.Environ(),
		"ZOO_LOG_DIR="+dir,
		"ZOO_LOG4J_PROP=INFO,CONSOLE",
		"JMXDISABLE=true",
		"SERVER_JVMFLAGS=-Dzookeeper.extendedTypesEnabled=true",
		"ZOO_DATADIR_AUTOCREATE_DISABLE=",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start(), "start %s", zkServerScript)
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Apache: true, cmd: cmd}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		logf.Close()
	})
	require.Eventually(t, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ruok")); err != nil {
			return false
		}
		b := make([]byte, 4)
		n, _ := c.Read(b)
		return string(b[:n]) == "imok"
	}, 60*time.Second, 100*time.Millisecond, "Apache ZooKeeper on %s did not answer ruok; log in %s", s.Addr, dir)
	select {
	case <-exited:
		out, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Fatalf("Apache ZooKeeper on %s exited at start:\n%s", s.Addr, out)
	default:
	}
	return s
}
