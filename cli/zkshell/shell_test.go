package zkshell

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"kzoo/cli/internal/clitest"
	"kzoo/coordinator/client"
	"kzoo/coordinator/client/ztest"
	"kzoo/coordinator/jute"
)

var (
	promptRe  = regexp.MustCompile(`\[zk: [^\]]*\] `)
	dateRe    = regexp.MustCompile(`(?m)^(ctime|mtime) = .*$`)
	ownerRe   = regexp.MustCompile(`(?m)^ephemeralOwner = 0x[0-9a-f]{6,}$`)
	jlineLine = regexp.MustCompile(`(?m)^JLine support is disabled\n`)
)

// normalize makes a transcript comparable with one recorded from Apache's
// zkCli.sh on another server: prompts, dates, session ids and the address
// are replaced as the recording script replaced them.
func normalize(s, addr string) string {
	s = promptRe.ReplaceAllString(s, "")
	s = dateRe.ReplaceAllString(s, "$1 = DATE")
	s = ownerRe.ReplaceAllString(s, "ephemeralOwner = SESSION")
	s = jlineLine.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, addr, "ADDR")
}

func run(t *testing.T, in string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- Run(args, strings.NewReader(in), &out, &errOut) }()
	select {
	case code = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("zk-shell %q did not finish within 60s", args)
	}
	return out.String(), errOut.String(), code
}

func zkClient(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.Connect(client.Options{Servers: []string{addr}, SessionTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.WaitConnected(ctx))
	return c
}

// TestShellSessionMatchesZkCli replays each testdata/NAME.in through the
// interactive shell (stdin piped) and compares stdout and stderr line by
// line with what Apache ZooKeeper 3.8.0's zkCli.sh printed for the same
// input on a fresh server (NAME.out, NAME.err). "@PORT@" in the input
// stands for the server's port.
func TestShellSessionMatchesZkCli(t *testing.T) {
	for _, name := range []string{"session", "chroot"} {
		t.Run(name, func(t *testing.T) {
			srv := ztest.Start(t)
			in, err := os.ReadFile("testdata/" + name + ".in")
			require.NoError(t, err)
			wantOut, err := os.ReadFile("testdata/" + name + ".out")
			require.NoError(t, err)
			wantErr, err := os.ReadFile("testdata/" + name + ".err")
			require.NoError(t, err)
			_, port, err := net.SplitHostPort(srv.Addr)
			require.NoError(t, err)
			out, errOut, code := run(t, strings.ReplaceAll(string(in), "@PORT@", port), "-server", srv.Addr)
			require.Equal(t, 0, code)
			require.Equal(t, strings.Split(string(wantOut), "\n"), strings.Split(normalize(out, srv.Addr), "\n"))
			require.Equal(t, strings.Split(string(wantErr), "\n"), strings.Split(normalize(errOut, srv.Addr), "\n"))
		})
	}
}

func TestShellOneShot(t *testing.T) {
	srv := ztest.Start(t)
	c := zkClient(t, srv.Addr)
	ctx := context.Background()
	_, _, err := c.Create(ctx, "/one", []byte("v"), nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	_, _, err = c.Create(ctx, "/one/kid", nil, nil, jute.ModePersistent, 0)
	require.NoError(t, err)

	usage := func(s string) bool { return strings.HasPrefix(s, mainUsage+"\n\taddWatch ") }
	for _, tc := range []struct {
		args    []string
		out     string
		errLast string // last line of stderr
		code    int
	}{
		{args: []string{"ls", "/"}, out: "[one, zookeeper]\n"},
		{args: []string{"ls", "-R", "/one"}, out: "/one\n/one/kid\n"},
		{args: []string{"get", "/one"}, out: "v\n"},
		{args: []string{"get", "/one/kid"}, out: "null\n"},
		{args: []string{"get", "/nope"}, errLast: "Node does not exist: /nope", code: 1},
		{args: []string{"create", "/one"}, errLast: "Node already exists: /one", code: 1},
		{args: []string{"create", "/two", "d"}, errLast: "Created /two"},
		{args: []string{"delete", "/one"}, errLast: "Node not empty: /one", code: 1},
		{args: []string{"set", "-v", "7", "/one", "x"}, errLast: "version No is not valid : /one", code: 1},
		{args: []string{"getAcl", "/one"}, out: "'world,'anyone\n: cdrwa\n"},
		{args: []string{"getAllChildrenNumber", "/one"}, out: "1\n"},
		{args: []string{"sync", "/"}, out: "Sync is OK\n"},
		{args: []string{"whoami"}, out: "Auth scheme: User\nip: 127.0.0.1\n"},
		{args: []string{"removewatches", "/one"}, errLast: "KeeperErrorCode = No such watcher for /one", code: 1},
		{args: []string{"ls"}, errLast: "ls [-s] [-w] [-R] path", code: 1},
		{args: []string{"ls", "one"}, errLast: "Path must start with / character", code: 1},
		{args: []string{"ls", "-x", "/"}, errLast: "Unrecognized option: -x", code: 1},
		{args: []string{"foo"}, errLast: "Command not found: Command not found foo", code: 127},
		{args: []string{"help"}, errLast: "Command not found: Command not found help", code: 127},
		{args: []string{"deleteall", "/one"}},
		{args: []string{"stat", "/one"}, errLast: "Node does not exist: /one", code: 1},
	} {
		out, errOut, code := run(t, "", append([]string{"-server", srv.Addr}, tc.args...)...)
		name := strings.Join(tc.args, " ")
		require.Equal(t, tc.code, code, "%s: exit code (stderr %q)", name, errOut)
		require.Equal(t, tc.out, out, "%s: stdout", name)
		lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
		require.Equal(t, "Connecting to "+srv.Addr, lines[0], name)
		if tc.errLast != "" {
			require.Equal(t, tc.errLast, lines[len(lines)-1], "%s: stderr %q", name, errOut)
		}
		if tc.code == 127 {
			require.True(t, usage(strings.Join(lines[len(lines)-len(commands)-2:], "\n")), "%s: usage in %q", name, errOut)
		}
	}
	_, ok, err := c.Exists(ctx, "/one", false)
	require.NoError(t, err)
	require.False(t, ok, "deleteall removed the subtree")
}

func TestShellOneShotStatFormat(t *testing.T) {
	srv := ztest.Start(t)
	c := zkClient(t, srv.Addr)
	_, st, err := c.Create(context.Background(), "/s", []byte("hello"), nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	out, _, code := run(t, "", "-server", srv.Addr, "stat", "/s")
	require.Equal(t, 0, code)
	want := []string{
		"cZxid = " + hex(st.Czxid), "ctime = " + javaDate(st.Ctime), "mZxid = " + hex(st.Mzxid),
		"mtime = " + javaDate(st.Mtime), "pZxid = " + hex(st.Pzxid), "cversion = 0", "dataVersion = 0",
		"aclVersion = 0", "ephemeralOwner = 0x0", "dataLength = 5", "numChildren = 0", "",
	}
	require.Equal(t, want, strings.Split(out, "\n"))
	require.Regexp(t, `^ctime = (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}$`, strings.Split(out, "\n")[1])
}

func TestShellUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	start := time.Now()
	out, errOut, code := run(t, "", "-server", addr, "ls", "/")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	require.Len(t, lines, 2, errOut)
	require.Equal(t, "Connecting to "+addr, lines[0])
	require.Contains(t, lines[1], "KeeperErrorCode = ConnectionLoss for /")
	require.Contains(t, lines[1], addr)
	require.Less(t, time.Since(start), 10*time.Second)
}

func TestShellBadOptions(t *testing.T) {
	for _, args := range [][]string{{"-server"}, {"-timeout", "soon", "ls", "/"}, {"-nope"}} {
		out, errOut, code := run(t, "", args...)
		require.Equal(t, 1, code, "%q", args)
		require.Empty(t, out)
		require.Contains(t, errOut, mainUsage, "%q", args)
		require.True(t, strings.HasPrefix(errOut, "Error: "), "%q: %q", args, errOut)
	}
	_, errOut, code := run(t, "", "--help")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(errOut, mainUsage))
	_, errOut, code = run(t, "", "-server", "h:1/bad/", "ls", "/")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `"h:1/bad/"`)
}

func TestShellInteractivePromptConnectClose(t *testing.T) {
	srv := ztest.Start(t)
	in := "ls /\nclose\nls /\nconnect " + srv.Addr + "/zookeeper\nls /\n\nhistory\nquit\nls /\n"
	out, errOut, code := run(t, in, "-server", srv.Addr)
	require.Equal(t, 0, code, errOut)
	a := srv.Addr
	want := "Connecting to " + a + "\n" +
		"Welcome to ZooKeeper!\n" +
		"[zk: " + a + "(CONNECTING) 0] \n" +
		"WATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n" +
		"[zookeeper]\n" +
		"[zk: " + a + "(CONNECTED) 1] \n" +
		"WATCHER::\n\nWatchedEvent state:Closed type:None path:null\n" +
		"[zk: " + a + "(CLOSED) 2] Not connected\n" +
		"[zk: " + a + "(CLOSED) 3] " +
		"[zk: " + a + "/zookeeper(CONNECTING) 4] \n" +
		"WATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n"
	require.True(t, strings.HasPrefix(out, want), "got:\n%s", out)
	rest := out[len(want):]
	// "ls /" under the /zookeeper chroot lists its children.
	require.Regexp(t, `^\[[a-z, ]*\]\n`, rest)
	// A blank line is not a command: the prompt comes again, same number.
	require.Contains(t, rest, "[zk: "+a+"/zookeeper(CONNECTED) 5] [zk: "+a+"/zookeeper(CONNECTED) 5] 0 - ls /\n")
	require.Contains(t, rest, "0 - ls /\n1 - close\n2 - ls /\n3 - connect "+a+"/zookeeper\n4 - ls /\n5 - history\n")
	require.True(t, strings.HasSuffix(rest, "[zk: "+a+"/zookeeper(CONNECTED) 6] "), "quit stops reading: %q", rest)
}

// TestShellWatchWhileIdle checks that a watch fired by another session
// is printed while the shell waits for input.
func TestShellWatchWhileIdle(t *testing.T) {
	srv := ztest.Start(t)
	c := zkClient(t, srv.Addr)
	ctx := context.Background()
	_, _, err := c.Create(ctx, "/idle", []byte("a"), nil, jute.ModePersistent, 0)
	require.NoError(t, err)

	pr, pw := io.Pipe()
	var out, errOut clitest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- Run([]string{"-server", srv.Addr}, pr, &out, &errOut) }()
	t.Cleanup(func() { pw.Close() })
	_, err = io.WriteString(pw, "get -w /idle\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "(CONNECTED) 1] ") },
		10*time.Second, 20*time.Millisecond, "prompt after get: %q", out.String())
	_, err = c.Set(ctx, "/idle", []byte("b"), -1)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.HasSuffix(out.String(), "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/idle\n")
	}, 10*time.Second, 20*time.Millisecond, "event printed while idle: %q", out.String())
	_, err = io.WriteString(pw, "printwatches off\nget -w /idle\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "(CONNECTED) 3] ") },
		10*time.Second, 20*time.Millisecond)
	_, err = c.Set(ctx, "/idle", []byte("c"), -1)
	require.NoError(t, err)
	_, err = io.WriteString(pw, "get /idle\n")
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(20 * time.Second):
		t.Fatal("shell did not exit at EOF")
	}
	require.Equal(t, 1, strings.Count(out.String(), "type:NodeDataChanged"), "printwatches off hides events: %q", out.String())
	require.True(t, strings.HasSuffix(out.String(), "c\n[zk: "+srv.Addr+"(CONNECTED) 4] "), "%q", out.String())
}

func TestShellEphemeralsGoneAfterExit(t *testing.T) {
	srv := ztest.Start(t)
	c := zkClient(t, srv.Addr)
	_, errOut, code := run(t, "", "-server", srv.Addr, "create", "-e", "/gone", "x")
	require.Equal(t, 0, code)
	require.Contains(t, errOut, "Created /gone\n")
	_, ok, err := c.Exists(context.Background(), "/gone", false)
	require.NoError(t, err)
	require.False(t, ok, "the shell closes its session on exit")
}

func TestShellCommandExitCodes(t *testing.T) {
	srv := ztest.Start(t)
	var codes []int
	old := cli.OsExiter
	cli.OsExiter = func(code int) { codes = append(codes, code) }
	t.Cleanup(func() { cli.OsExiter = old })
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "kzoo", Commands: []*cli.Command{Command()}, Writer: &out, ErrWriter: &errOut,
		Reader: strings.NewReader("")}
	require.NoError(t, app.Run([]string{"kzoo", "zk-shell", "-server", srv.Addr, "ls", "/"}))
	require.Equal(t, "[zookeeper]\n", out.String())
	require.Empty(t, codes)
	err := app.Run([]string{"kzoo", "zk-shell", "-server", srv.Addr, "get", "/nope"})
	require.Error(t, err)
	require.Equal(t, []int{1}, codes)
	err = app.Run([]string{"kzoo", "zk-shell", "-server", srv.Addr, "nosuch"})
	require.Error(t, err)
	require.Equal(t, []int{1, 127}, codes)
	errOut.Reset()
	require.NoError(t, app.Run([]string{"kzoo", "zk-shell", "--help"}))
	require.True(t, strings.HasPrefix(errOut.String(), mainUsage+"\n"), errOut.String())
	require.Equal(t, []int{1, 127}, codes)
}

func TestShellExitCodeAndOptions(t *testing.T) {
	srv := ztest.Start(t)
	c := zkClient(t, srv.Addr)
	_, _, err := c.Create(context.Background(), "/app", nil, nil, jute.ModePersistent, 0)
	require.NoError(t, err)
	_, _, err = c.Create(context.Background(), "/app/in", []byte("chrooted"), nil, jute.ModePersistent, 0)
	require.NoError(t, err)

	// Interactive mode exits with the last command's code, as zkCli.
	_, _, code := run(t, "get /nope\n", "-server", srv.Addr)
	require.Equal(t, 1, code)
	_, _, code = run(t, "get /nope\nls /\n", "-server", srv.Addr)
	require.Equal(t, 0, code)
	_, _, code = run(t, "nosuch\n", "-server", srv.Addr)
	require.Equal(t, 127, code)

	out, _, code := run(t, "", "-server", srv.Addr+"/app", "-timeout", "5000", "-r", "-waitforconnection", "get", "/in")
	require.Equal(t, 0, code)
	require.Equal(t, "chrooted\n", out)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	require.NoError(t, l.Close())
	_, errOut, code := run(t, "", "-server", dead, "-timeout", "1000", "-waitforconnection", "ls", "/")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Unable to connect to "+dead+" within 1000 ms")
}
