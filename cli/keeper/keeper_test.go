package keeper

import (
	"bytes"
	"fmt"
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

	"kzoo/cli/internal/clitest"
	"kzoo/coordinator/config"
	"kzoo/internal/proc"
	"kzoo/internal/testnet"
)

// runApp runs `kzoo args...` with the keeper commands and returns stdout,
// stderr and the exit code (0 when nothing exited).
func runApp(t *testing.T, envs map[string]string, args ...string) (string, string, int) {
	t.Helper()
	for k, v := range envs {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code := 0
	oldExit, oldErr := ucli.OsExiter, ucli.ErrWriter
	ucli.OsExiter = func(c int) { code = c }
	ucli.ErrWriter = &errb
	t.Cleanup(func() { ucli.OsExiter, ucli.ErrWriter = oldExit, oldErr })
	app := &ucli.App{Name: "kzoo", Commands: Commands(), Writer: &out, ErrWriter: &errb}
	err := app.Run(append([]string{"kzoo"}, args...))
	if err != nil && code == 0 {
		errb.WriteString(err.Error())
		code = 1
	}
	return out.String(), errb.String(), code
}

func testEnv(t *testing.T, vars map[string]string) env {
	t.Helper()
	var out, errb bytes.Buffer
	return env{
		getenv: func(k string) string { return vars[k] },
		exe:    func() (string, error) { return "/opt/kzoo/bin/kzoo", nil },
		stdout: &out,
		stderr: &errb,
	}
}

func TestKeeperCfgPath(t *testing.T) {
	cases := []struct {
		name   string
		vars   map[string]string
		flag   string
		arg    string
		expect string
	}{
		{"default", nil, "", "", "/opt/kzoo/conf/zoo.cfg"},
		{"bare name in conf dir", nil, "", "zoo2.cfg", "/opt/kzoo/conf/zoo2.cfg"},
		{"relative path as given", nil, "", "conf/zoo.cfg", "conf/zoo.cfg"},
		{"dot path as given", nil, "", "./zoo.cfg", "./zoo.cfg"},
		{"absolute", nil, "", "/etc/zk/zoo.cfg", "/etc/zk/zoo.cfg"},
		{"ZOOCFGDIR", map[string]string{"ZOOCFGDIR": "/etc/zk"}, "", "", "/etc/zk/zoo.cfg"},
		{"ZOOCFG name", map[string]string{"ZOOCFG": "other.cfg"}, "", "", "/opt/kzoo/conf/other.cfg"},
		{"--config wins", map[string]string{"ZOOCFGDIR": "/etc/zk"}, "/srv/conf", "", "/srv/conf/zoo.cfg"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnv(t, tc.vars)
			var got string
			cmd := &ucli.Command{
				Name:  "keeper",
				Flags: []ucli.Flag{&ucli.StringFlag{Name: "config"}},
				Action: func(c *ucli.Context) error {
					var err error
					got, err = cfgPath(c, e, tc.arg)
					return err
				},
			}
			args := []string{"kzoo", "keeper"}
			if tc.flag != "" {
				args = append(args, "--config", tc.flag)
			}
			require.NoError(t, (&ucli.App{Commands: []*ucli.Command{cmd}}).Run(args))
			require.Equal(t, tc.expect, got)
		})
	}
}

func TestKeeperSysProps(t *testing.T) {
	e := testEnv(t, map[string]string{
		"SERVER_JVMFLAGS": "-Xmx512m -Dzookeeper.extendedTypesEnabled=true -Djute.maxbuffer=100",
		"JVMFLAGS":        "-Djute.maxbuffer=200 -Dreadonlymode.enabled=true",
	})
	require.Equal(t, map[string]string{
		"zookeeper.extendedTypesEnabled": "true",
		"jute.maxbuffer":                 "200",
		"readonlymode.enabled":           "true",
	}, sysProps(e))
}

func TestKeeperPidFile(t *testing.T) {
	pf := filepath.Join(t.TempDir(), pidFileName)
	_, ok := readPid(pf)
	require.False(t, ok)
	require.NoError(t, writePid(pf, 1234))
	pid, ok := readPid(pf)
	require.True(t, ok)
	require.Equal(t, 1234, pid)

	// This test process is alive but is not a keeper: never a target.
	require.NoError(t, writePid(pf, os.Getpid()))
	require.True(t, proc.Alive(os.Getpid()))
	_, ok = livePid(pf)
	require.False(t, ok)

	// A pid whose process has exited is stale: stop removes the file.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	require.NoError(t, writePid(pf, cmd.Process.Pid))
	found, err := stopPid(pf)
	require.True(t, found)
	require.NoError(t, err)
	require.NoFileExists(t, pf)

	found, err = stopPid(pf)
	require.False(t, found)
	require.NoError(t, err)

	removePidIf(pf, 1) // no file: nothing to do
	require.NoError(t, writePid(pf, 99))
	removePidIf(pf, 98)
	require.FileExists(t, pf)
	removePidIf(pf, 99)
	require.NoFileExists(t, pf)
}

func TestKeeperUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"keeper"}, "missing command"},
		{[]string{"keeper", "bogus"}, `unknown command "bogus"`},
		{[]string{"keeper", "start", "a.cfg", "b.cfg"}, "too many arguments: a.cfg b.cfg"},
		{[]string{"keeper", "zookeeper-server-start"}, "USAGE: zookeeper-server-start.sh [-daemon] zookeeper.properties"},
		{[]string{"keeper", "zookeeper-server-stop", "a", "b"}, "USAGE: zookeeper-server-stop.sh"},
		{[]string{"keeper", "status", "--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			out, errOut, code := runApp(t, nil, tc.args...)
			require.Equal(t, 1, code, "stdout %q stderr %q", out, errOut)
			require.Contains(t, out+errOut, tc.want)
			require.Contains(t, out+errOut, "USAGE", "usage is shown")
		})
	}
}

func TestKeeperBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte("dataDir="+dir+"\nclientPort=abc\n"), 0o644))
	for _, cmd := range []string{"start", "status", "stop", "start-foreground"} {
		_, errOut, code := runApp(t, nil, "keeper", cmd, cfg)
		require.Equal(t, 1, code, cmd)
		require.Contains(t, errOut, cfg+`:2: clientPort: "abc" is not a number`, cmd)
	}
	require.NoFileExists(t, filepath.Join(dir, pidFileName))
}

func TestKeeperStatusNotRunning(t *testing.T) {
	dir := t.TempDir()
	port := testnet.FreePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("dataDir=%s\nclientPort=%d\n", dir, port)), 0o644))
	out, errOut, code := runApp(t, nil, "keeper", "status", cfg)
	require.Equal(t, 1, code)
	require.Empty(t, strings.TrimSpace(strings.ReplaceAll(errOut, "Using config: "+cfg, "")))
	require.Contains(t, errOut, "Using config: "+cfg)
	require.Contains(t, out, fmt.Sprintf("Client port found: %d. Client address: localhost.", port))
	require.Contains(t, out, "Error contacting service. It is probably not running.")

	out, _, code = runApp(t, nil, "keeper", "stop", cfg)
	require.Equal(t, 0, code)
	require.Equal(t, "Stopping zookeeper ... no zookeeper to stop (could not find file "+filepath.Join(dir, pidFileName)+")\n", out)
}

func TestKeeperEnsembleMember(t *testing.T) {
	dir := t.TempDir()
	text := fmt.Sprintf("dataDir=%s\nclientPort=%d\nserver.1=127.0.0.1:1:2\nserver.2=127.0.0.1:3:4\nserver.3=127.0.0.1:5:6\n", dir, testnet.FreePort(t))
	c, err := config.Parse("zoo.cfg", []byte(text), nil)
	require.NoError(t, err)
	// Parse reads no myid: without one this server is none of the lines.
	_, err = newCoordinator(c)
	require.ErrorContains(t, err, "myid 0 has no server.0 line")
	c.MyID = 2
	srv, err := newCoordinator(c)
	require.NoError(t, err)
	require.NotNil(t, srv)
}

func TestKeeperForegroundServesAndStops(t *testing.T) {
	dir := t.TempDir()
	port := testnet.FreePort(t)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", dir, port)
	require.NoError(t, os.WriteFile(cfgPath, []byte(text), 0o644))
	cfg, err := config.Load(cfgPath, nil)
	require.NoError(t, err)

	e := testEnv(t, nil)
	stderr := &clitest.SyncBuffer{}
	e.stderr = stderr
	home := t.TempDir()
	e.exe = func() (string, error) { return filepath.Join(home, "bin", "kzoo"), nil }
	stop := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- serve(e, cfg, stop) }()

	// The serving line comes once both pid files are written.
	require.Eventually(t, func() bool {
		return strings.Contains(stderr.String(), "kzoo keeper: serving clients on")
	}, 10*time.Second, 20*time.Millisecond, "stderr: %s", stderr)
	pf := filepath.Join(dir, pidFileName)
	pid, ok := readPid(pf)
	require.True(t, ok)
	require.Equal(t, os.Getpid(), pid, "pid file with this process's pid")
	reg := filepath.Join(home, "logs", fmt.Sprintf("zookeeper-server-%d.pid", os.Getpid()))
	require.FileExists(t, reg, "registered for zookeeper-server-stop without a config")

	out, _, code := runApp(t, nil, "keeper", "status", cfgPath)
	require.Equal(t, 0, code)
	require.Contains(t, out, "Client port found: "+strconv.Itoa(port)+". Client address: 127.0.0.1.")
	require.Contains(t, out, "Mode: standalone")

	stop <- syscall.SIGTERM
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the stop signal")
	}
	require.NoFileExists(t, pf)
	require.NoFileExists(t, reg)
	_, _, code = runApp(t, nil, "keeper", "status", cfgPath)
	require.Equal(t, 1, code)
}

func TestKeeperPrintCmdAndVersion(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	out, errOut, code := runApp(t, map[string]string{"ZOO_LOG_DIR": dir, "USER": "alice"}, "keeper", "print-cmd", cfg)
	require.Equal(t, 0, code, errOut)
	exe, err := os.Executable()
	require.NoError(t, err)
	host, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%q keeper start-foreground %q > %q 2>&1 < /dev/null\n",
		exe, cfg, filepath.Join(dir, "zookeeper-alice-server-"+host+".out")), out)

	out, _, code = runApp(t, nil, "keeper", "version")
	require.Equal(t, 0, code)
	require.Contains(t, out, "ZooKeeper 3.8 compatible")
}

func TestKeeperKafkaStopWithoutServer(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zookeeper.properties")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("dataDir=%s\nclientPort=%d\n", dir, testnet.FreePort(t))), 0o644))
	_, errOut, code := runApp(t, nil, "keeper", "zookeeper-server-stop", cfg)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "No zookeeper server to stop")

	_, errOut, code = runApp(t, nil, "keeper", "zookeeper-server-stop", filepath.Join(dir, "missing.properties"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "missing.properties")
}

func TestKeeperConfigDirFlag(t *testing.T) {
	dir := t.TempDir()
	port := testnet.FreePort(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(fmt.Sprintf("dataDir=%s\nclientPort=%d\n", dir, port)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "two.cfg"), []byte(fmt.Sprintf("dataDir=%s\nclientPort=%d\n", dir, port+1)), 0o644))

	out, errOut, code := runApp(t, nil, "keeper", "--config", dir, "status")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Using config: "+filepath.Join(dir, "zoo.cfg"))
	require.Contains(t, out, fmt.Sprintf("Client port found: %d.", port))

	out, errOut, code = runApp(t, map[string]string{"ZOOCFGDIR": dir}, "keeper", "status", "two.cfg")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Using config: "+filepath.Join(dir, "two.cfg"))
	require.Contains(t, out, fmt.Sprintf("Client port found: %d.", port+1))
}

func TestKeeperLastLineFromOffset(t *testing.T) {
	p := filepath.Join(t.TempDir(), "zk.out")
	require.Equal(t, "", lastLine(p, 0))
	require.NoError(t, os.WriteFile(p, []byte("other server: bye\n"), 0o644))
	start := int64(len("other server: bye\n"))
	require.Equal(t, "", lastLine(p, start), "nothing of ours yet")
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("ours: starting\nours: bind: address in use\n\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, "ours: bind: address in use", lastLine(p, start))
	require.Equal(t, "", lastLine(p, 1<<20))
}
