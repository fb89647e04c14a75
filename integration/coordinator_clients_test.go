//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Apache ZooKeeper's own clients against kzoo: the Java zkCli.sh (Debian
// package zookeeper), the C cli_mt (zookeeper-bin) and Python kazoo
// (python3-kazoo). Each script runs against a fresh kzoo and its output,
// with times and session ids masked, must equal the output recorded from
// Apache ZooKeeper 3.8.0 (integration/zkcompat/*.golden) and, when java and
// the zookeeper package are installed, the output of a live Apache
// ZooKeeper started on a fresh dataDir. zxids are compared too: both
// servers must spend them the same way.

const (
	coordZkCli = "/usr/share/zookeeper/bin/zkCli.sh"
	coordCliMt = "/usr/lib/zookeeper/bin/cli_mt"
	coordPy    = "/usr/bin/python3"
)

// coordCompatDir is integration/zkcompat.
func coordCompatDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(), "integration", "zkcompat")
}

// coordFreshKzoo starts kzoo on a fresh dataDir and returns its address.
func coordFreshKzoo(t *testing.T, env ...string) string {
	t.Helper()
	cfg, _, port := keeperConfig(t, "")
	return coordStart(t, cfg, port, env...).addr
}

// coordCompare checks kzoo's output against the golden file and, when
// Apache ZooKeeper can be started here, against a live run of it (started
// with env, as kzoo was).
func coordCompare(t *testing.T, golden string, kzoo string, run func(addr string) string, env ...string) {
	t.Helper()
	path := filepath.Join(coordCompatDir(t), golden)
	if os.Getenv("KZOO_ZKCOMPAT_RECORD") != "" {
		// Recording is from Apache ZooKeeper only.
		z := apacheZKStart(t, env...)
		require.NoError(t, os.WriteFile(path, []byte(run(z.addr)), 0o644))
		t.Logf("recorded %s from Apache ZooKeeper", path)
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, strings.Split(string(want), "\n"), strings.Split(kzoo, "\n"),
		"kzoo's output differs from Apache ZooKeeper 3.8's recorded in %s", path)
	if os.Getenv("KZOO_ZKCOMPAT_LIVE") == "0" {
		return
	}
	if _, err := os.Stat("/usr/share/zookeeper/bin/zkServer.sh"); err != nil {
		t.Logf("no live comparison: Apache ZooKeeper is not installed (Debian package zookeeper)")
		return
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Logf("no live comparison: java is not installed")
		return
	}
	z := apacheZKStart(t, env...)
	live := run(z.addr)
	require.Equal(t, strings.Split(live, "\n"), strings.Split(kzoo, "\n"),
		"kzoo's output differs from a live Apache ZooKeeper's")
}

var (
	coordTimeLine    = regexp.MustCompile(`(?m)^(\t?[cm]time ?= ?).*$`)
	coordConnecting  = regexp.MustCompile(`Connecting to 127\.0\.0\.1:\d+`)
	coordEphOwner    = regexp.MustCompile(`(ephemeralOwner ?= ?)((0x)?[1-9a-f][0-9a-f]*)`)
	coordNewSession  = regexp.MustCompile(`Got a new session id: 0x[0-9a-f]+`)
	coordTimeMs      = regexp.MustCompile(`time = \d+ msec`)
	coordSLF4J       = regexp.MustCompile(`(?m)^SLF4J: .*\n`)
	coordSessionEv   = regexp.MustCompile(`(?m)^(WATCHER::|WatchedEvent state:\w+ type:None path:null|)\n`)
	coordChildOfList = regexp.MustCompile(`^\t[^=\t ]+$`)
)

// coordMask hides what differs between runs and servers by design: times,
// session ids, the port, zkCli's connection-state lines and blank lines,
// and the order of children, which Apache ZooKeeper returns in hash order.
func coordMask(out string) string {
	out = coordSLF4J.ReplaceAllString(out, "")
	// zkCli's event thread prints connection state changes while its main
	// thread prints answers: their order depends on timing.
	out = coordSessionEv.ReplaceAllString(out, "")
	out = coordConnecting.ReplaceAllString(out, "Connecting to SERVER")
	out = coordTimeLine.ReplaceAllString(out, "${1}TIME")
	out = coordEphOwner.ReplaceAllStringFunc(out, func(m string) string {
		sub := coordEphOwner.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], "0xff") {
			return m // a TTL node's owner encodes its TTL, not a session
		}
		return sub[1] + "SESSION"
	})
	out = coordNewSession.ReplaceAllString(out, "Got a new session id: SESSION")
	out = coordTimeMs.ReplaceAllString(out, "time = N msec")
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && coordChildOfList.MatchString(lines[j]) {
			j++
		}
		if j > i {
			sort.Strings(lines[i:j])
			i = j
		} else {
			i++
		}
	}
	return strings.Join(lines, "\n")
}

// TestCoordinatorKazoo runs integration/zkcompat/kazoo_compat.py (CRUD,
// errors, watches and the DataWatch/ChildrenWatch recipes, transactions,
// ephemerals and session close, digest/auth/ip ACLs, Lock, Election,
// Counter) with Python kazoo.
func TestCoordinatorKazoo(t *testing.T) {
	if _, err := os.Stat(coordPy); err != nil {
		t.Skip("no " + coordPy)
	}
	if out, err := exec.Command(coordPy, "-c", "import kazoo").CombinedOutput(); err != nil {
		t.Skipf("kazoo is not installed (Debian package python3-kazoo): %s", out)
	}
	script := filepath.Join(coordCompatDir(t), "kazoo_compat.py")
	run := func(addr string) string {
		start := time.Now()
		stdout, stderr, code := coordRun(t, 60*time.Second, "", nil, coordPy, script, addr)
		require.Equal(t, 0, code, "kazoo_compat.py against %s failed:\n%s\n%s", addr, stdout, stderr)
		t.Logf("kazoo_compat.py against %s: %v", addr, time.Since(start).Round(time.Millisecond))
		return coordMask(stdout)
	}
	coordCompare(t, "kazoo_compat.golden", run(coordFreshKzoo(t)), run)
}

// TestCoordinatorZkCli feeds integration/zkcompat/zkcli_commands.txt to
// Apache ZooKeeper's Java zkCli.sh on stdin (create -e/-s/-c, ls -s/-R,
// get -s, set -s/-v, stat, delete -v, deleteall, getAcl, addauth, setAcl
// -v, whoami, sync, getEphemerals, getAllChildrenNumber, create -t with
// extendedTypesEnabled on both servers, errors), then
// runs a few commands one-shot, checking output and exit codes.
func TestCoordinatorZkCli(t *testing.T) {
	if _, err := os.Stat(coordZkCli); err != nil {
		t.Skip("zkCli.sh is not installed (Debian package zookeeper)")
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("java is not installed")
	}
	commands, err := os.ReadFile(filepath.Join(coordCompatDir(t), "zkcli_commands.txt"))
	require.NoError(t, err)
	oneShot := [][]string{
		{"create", "/one", "shot"},
		{"get", "-s", "/one"},
		{"ls", "/"},
		{"create", "/one", "again"},
		{"stat", "/missing"},
		{"delete", "/one"},
		{"get", "/one"},
	}
	run := func(addr string) string {
		start := time.Now()
		var b strings.Builder
		stdout, code := coordRunMerged(t, 60*time.Second, string(commands), coordZkCli, "-server", addr)
		require.Equal(t, 0, code, "zkCli.sh: %s", stdout)
		b.WriteString(stdout)
		for _, args := range oneShot {
			out, code := coordRunMerged(t, 60*time.Second, "", coordZkCli, append([]string{"-server", addr}, args...)...)
			b.WriteString("== " + strings.Join(args, " ") + " (exit " + strconv.Itoa(code) + ")\n")
			b.WriteString(out)
		}
		t.Logf("zkCli.sh against %s: %v", addr, time.Since(start).Round(time.Millisecond))
		return coordMask(b.String())
	}
	ttl := "SERVER_JVMFLAGS=-Dzookeeper.extendedTypesEnabled=true"
	coordCompare(t, "zkcli.golden", run(coordFreshKzoo(t, ttl)), run, ttl)
}

// TestCoordinatorCliMt runs Apache ZooKeeper's C client shell cli_mt in
// batch mode (-c), one session per command.
func TestCoordinatorCliMt(t *testing.T) {
	if _, err := os.Stat(coordCliMt); err != nil {
		t.Skip("cli_mt is not installed (Debian package zookeeper-bin)")
	}
	// cli_mt's batch mode never exits after some answers (exists, myid, a
	// failed get of a missing node), with Apache ZooKeeper too: only
	// commands that end are used.
	commands := []string{
		"create /cm", "create /cm/a", "ls /cm", "ls2 /cm", "get /cm/a", "set /cm/a hello",
		"get /cm/a", "create +e /cm/e", "create +s /cm/s-", "create +s /cm/s-", "create +c /cm/c",
		"create2 /cm/two", "create /cm/a", "ls /cm", "sync /cm", "delete /cm/two", "delete /cm/nope",
		"set /cm/nope x", "ls /cm", "get /",
	}
	run := func(addr string) string {
		start := time.Now()
		var b strings.Builder
		for _, c := range commands {
			out, code := coordRunMerged(t, 20*time.Second, "", coordCliMt, "-h", addr, "-c", c)
			b.WriteString("== " + c + " (exit " + strconv.Itoa(code) + ")\n")
			b.WriteString(cliMtMainFirst(out))
		}
		t.Logf("cli_mt against %s: %v", addr, time.Since(start).Round(time.Millisecond))
		return coordMask(b.String())
	}
	coordCompare(t, "cli_mt.golden", run(coordFreshKzoo(t)), run)
}

// cliMtMainFirst puts the line cli_mt's main thread prints for a create
// ("Creating [/p] node") right after its "Batch mode:" line. The main
// thread prints it once it has handed the request to the client, while
// the completion thread prints the session's CONNECTED event and id when
// the handshake ends; which comes first is up to the two threads (the
// main thread almost always wins, but not on a busy machine), with any
// server.
func cliMtMainFirst(out string) string {
	lines := strings.Split(out, "\n")
	batch, creating := -1, -1
	for i, l := range lines {
		switch {
		case batch < 0 && strings.HasPrefix(l, "Batch mode: "):
			batch = i
		case creating < 0 && strings.HasPrefix(l, "Creating ["):
			creating = i
		}
	}
	if batch < 0 || creating <= batch+1 {
		return out
	}
	line := lines[creating]
	copy(lines[batch+2:creating+1], lines[batch+1:creating])
	lines[batch+1] = line
	return strings.Join(lines, "\n")
}

func TestCliMtMainFirst(t *testing.T) {
	late := "Batch mode: create2 /a\nWatcher SESSION_EVENT state = CONNECTED_STATE\nGot a new session id: 0x1\nCreating [/a] node (mode: 0)\n[/a]: rc = 0\n"
	early := "Batch mode: create2 /a\nCreating [/a] node (mode: 0)\nWatcher SESSION_EVENT state = CONNECTED_STATE\nGot a new session id: 0x1\n[/a]: rc = 0\n"
	require.Equal(t, early, cliMtMainFirst(late))
	require.Equal(t, early, cliMtMainFirst(early))
	ls := "Batch mode: ls /\nWatcher SESSION_EVENT state = CONNECTED_STATE\n/: rc = 0\n"
	require.Equal(t, ls, cliMtMainFirst(ls))
}

// coordRunMerged runs a program with stdout and stderr in one stream (in
// the order the program wrote them), bounded in time.
func coordRunMerged(t *testing.T, limit time.Duration, stdin string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out coordLog
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v did not finish in %v; output %q", name, args, limit, out.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestCoordinatorKazooKill9 keeps a kazoo session (an ephemeral, a Lock)
// across kill -9 and a restart of kzoo on the same dataDir: kazoo
// reconnects to the same session and finds its ephemeral and its lock.
func TestCoordinatorKazooKill9(t *testing.T) {
	if out, err := exec.Command(coordPy, "-c", "import kazoo").CombinedOutput(); err != nil {
		t.Skipf("kazoo is not installed (Debian package python3-kazoo): %s", out)
	}
	cfg, _, port := keeperConfig(t, "")
	p := coordStart(t, cfg, port)
	cmd := exec.Command(coordPy, filepath.Join(coordCompatDir(t), "kazoo_restart.py"), p.addr)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var out coordLog
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "READY") }, 30*time.Second, 20*time.Millisecond,
		"kazoo_restart.py: %s", &out)
	p.kill9()
	p = coordStart(t, cfg, port)
	_, err = stdin.Write([]byte("go\n"))
	require.NoError(t, err)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("kazoo_restart.py did not finish: %s", &out)
	}
	require.Equal(t, 0, cmd.ProcessState.ExitCode(), "kazoo_restart.py: %s", &out)
	require.Contains(t, out.String(), "OK")
	t.Logf("kazoo across kill -9: %s", strings.TrimSpace(out.String()))
}
