package brokercmd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	ucli "github.com/urfave/cli/v2"

	"kzoo/broker/zkstate/zktest"
	"kzoo/cli/internal/clitest"
)

func TestBrokerCmdParseStart(t *testing.T) {
	a, err := parseStart([]string{"-daemon", "config/server.properties", "--override", "broker.id=2", "--override=log.dirs=/x"})
	require.NoError(t, err)
	require.True(t, a.daemon)
	require.Equal(t, "config/server.properties", a.path)
	require.Equal(t, []string{"broker.id=2", "log.dirs=/x"}, a.overrides)

	for _, bad := range [][]string{{}, {"a", "b"}, {"a", "--override"}, {"a", "--override", "nokv"}, {"--bogus", "a"}} {
		_, err := parseStart(bad)
		require.Error(t, err, bad)
	}
}

func TestBrokerCmdBadConfigExits1(t *testing.T) {
	p := filepath.Join(t.TempDir(), "server.properties")
	require.NoError(t, os.WriteFile(p, []byte("broker.id=0\nzookeeper.connect=z:1\nnum.partitions=x\n"), 0o644))
	logs := t.TempDir()
	t.Setenv("LOG_DIR", logs)
	var out bytes.Buffer
	err := start([]string{p}, &out, &out)
	var ec ucli.ExitCoder
	require.ErrorAs(t, err, &ec)
	require.Equal(t, 1, ec.ExitCode())
	require.Contains(t, err.Error(), p+":3: num.partitions: \"x\" is not an integer")
	ents, _ := os.ReadDir(logs)
	require.Empty(t, ents, "nothing may be written before the config is valid")
}

func TestBrokerCmdStopWithoutBrokers(t *testing.T) {
	t.Setenv("LOG_DIR", t.TempDir())
	var out bytes.Buffer
	err := stop(&out)
	var ec ucli.ExitCoder
	require.ErrorAs(t, err, &ec)
	require.Contains(t, err.Error(), "No kafka server to stop")
}

func TestBrokerCmdForegroundStartStop(t *testing.T) {
	zkConnect := zktest.Connect(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "server.properties")
	text := "broker.id=3\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=" + filepath.Join(dir, "data") + "\nzookeeper.connect=" + zkConnect + "\nzookeeper.session.timeout.ms=6000\nsome.unknown=1\n"
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	logs := filepath.Join(dir, "logs")
	t.Setenv("LOG_DIR", logs)
	out := &clitest.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- start([]string{p, "--override", "num.partitions=2"}, out, out) }()
	pid := filepath.Join(logs, "kzoo-broker-3.pid")
	require.Eventually(t, func() bool {
		_, err := os.Stat(pid)
		return err == nil && strings.Contains(out.String(), "started")
	}, 30*time.Second, 20*time.Millisecond, "output: %s", out)
	require.Contains(t, out.String(), "unknown configuration key some.unknown")
	require.FileExists(t, filepath.Join(dir, "data", "meta.properties"))
	// kafka-server-stop.sh: SIGTERM to the process named by the pid file.
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker did not stop on SIGTERM")
	}
	require.Contains(t, out.String(), "shut down completed")
	require.NoFileExists(t, pid)
}

func TestMain(m *testing.M) { os.Exit(zktest.Main(m)) }

func TestBrokerCmdStopSignalsPidFiles(t *testing.T) {
	logs := t.TempDir()
	t.Setenv("LOG_DIR", logs)
	// A stand-in whose command line reads "... broker start ...", as a
	// broker's does; a stale pid file next to it is ignored and removed.
	cmd := exec.Command("/bin/sh", "-c", "sleep 30", "broker", "start")
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.NoError(t, os.WriteFile(filepath.Join(logs, "kzoo-broker-1.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
	other := exec.Command("/bin/sh", "-c", "exit 0")
	require.NoError(t, other.Run())
	stale := filepath.Join(logs, "kzoo-broker-2.pid")
	require.NoError(t, os.WriteFile(stale, []byte(strconv.Itoa(other.Process.Pid)+"\n"), 0o644))

	var out bytes.Buffer
	require.NoError(t, stop(&out))
	require.Contains(t, out.String(), "sent SIGTERM to broker pid "+strconv.Itoa(cmd.Process.Pid))
	select {
	case err := <-waited:
		require.Error(t, err, "terminated by a signal")
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM not delivered")
	}
	require.NoFileExists(t, stale)
}
