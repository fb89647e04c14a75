// Package zktest starts a ZooKeeper for the broker's tests: kzoo's own
// coordinator in-process by default, or, with KZOO_ZKTEST=apache, Apache
// ZooKeeper 3.8 from the system packages run standalone on a free loopback
// port, both with a temporary dataDir. It owns those servers and nothing
// else; it never touches a server it did not start, and a test that cannot
// get a server is skipped with a message saying why.
package zktest

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kzoo/coordinator/config"
	"kzoo/coordinator/server"
	"kzoo/internal/testnet"
)

// Script is the system ZooKeeper's launcher.
const Script = "/usr/share/zookeeper/bin/zkServer.sh"

// Server is one running standalone ZooKeeper.
type Server struct {
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	kz   *server.Server
	dir  string
}

// Backend names the server Connect and Addr start: "kzoo" (default) or
// "apache", from the KZOO_ZKTEST environment variable.
func Backend() string {
	if os.Getenv("KZOO_ZKTEST") == "apache" {
		return "apache"
	}
	return "kzoo"
}

func startShared() {
	if Backend() == "apache" {
		shared, sharedErr = Start(200)
	} else {
		shared, sharedErr = StartKzoo(200)
	}
}

// StartKzoo runs kzoo's coordinator in this process on 127.0.0.1:0.
func StartKzoo(tickMs int) (*Server, error) {
	dir, err := os.MkdirTemp("", "kzoo-zktest-")
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("tickTime=%d\ndataDir=%s\nclientPort=2181\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n", tickMs, dir)
	cfg, err := config.Parse(filepath.Join(dir, "zoo.cfg"), []byte(text), nil)
	if err != nil {
		return nil, err
	}
	cfg.ClientPort = 0
	kz, err := server.New(server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	if err := kz.Start(); err != nil {
		return nil, fmt.Errorf("starting kzoo coordinator: %v", err)
	}
	return &Server{Addr: kz.Addr().String(), kz: kz, dir: dir}, nil
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	chroots    atomic.Int64
)

// Main runs the package's tests and stops the shared server afterwards.
// Use it from TestMain: func TestMain(m *testing.M) { os.Exit(zktest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Connect returns a zookeeper.connect string with a chroot of its own on the
// package's shared server (started on first use), or skips t.
func Connect(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(startShared)
	if sharedErr != nil {
		t.Skipf("no ZooKeeper for this test: %v", sharedErr)
	}
	n := chroots.Add(1)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("%s/t%d_%s", shared.Addr, n, name)
}

// Addr is the shared server's address (starting it if needed), or skips t.
func Addr(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(startShared)
	if sharedErr != nil {
		t.Skipf("no ZooKeeper for this test: %v", sharedErr)
	}
	return shared.Addr
}

// Start launches a standalone ZooKeeper with the given tickTime (ms) and
// waits until it answers ruok.
func Start(tickMs int) (*Server, error) {
	if _, err := os.Stat(Script); err != nil {
		return nil, fmt.Errorf("%s not installed (apt-get install zookeeper)", Script)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("java not on PATH, needed by %s", Script)
	}
	dir, err := os.MkdirTemp("", "kzoo-zktest-")
	if err != nil {
		return nil, err
	}
	port, err := testnet.Port()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\nmaxClientCnxns=0\n", tickMs, filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(Script, "start-foreground", cfgPath)
	cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+dir, "ZOO_LOG4J_PROP=WARN,CONSOLE",
		"JVMFLAGS=-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1")
	logf, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", Script, err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, dir: dir}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(dir, "server.out"))
			return nil, fmt.Errorf("ZooKeeper on %s exited at start: %s", s.Addr, tail(string(out)))
		default:
		}
		if ruok(s.Addr) {
			return s, nil
		}
		select {
		case <-exited:
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.Stop()
	return nil, fmt.Errorf("ZooKeeper on %s did not answer ruok within 60s", s.Addr)
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "ruok"); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "imok")
}

// Stop kills the server (by its PID) and removes its directory.
func (s *Server) Stop() {
	if s.kz != nil {
		_ = s.kz.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	_ = os.RemoveAll(s.dir)
}
