package zkbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

func TestZKBenchPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		lat      []time.Duration
		p        int
		want     time.Duration
		describe string
	}{
		{lat: nil, p: 50, want: 0, describe: "empty"},
		{lat: ms(7), p: 99, want: 7 * time.Millisecond, describe: "one sample"},
		{lat: ms(5, 1, 4, 2, 3), p: 50, want: 3 * time.Millisecond, describe: "odd median, unsorted"},
		{lat: ms(4, 1, 3, 2), p: 50, want: 2 * time.Millisecond, describe: "even count takes the lower rank"},
		{lat: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond, describe: "p99 of ten"},
		{lat: func() []time.Duration {
			var v []int
			for i := 1; i <= 200; i++ {
				v = append(v, i)
			}
			return ms(v...)
		}(), p: 99, want: 198 * time.Millisecond, describe: "p99 of 200"},
	} {
		t.Run(tc.describe, func(t *testing.T) {
			require.Equal(t, tc.want, percentile(tc.lat, tc.p))
		})
	}
}

func TestZKBenchValidate(t *testing.T) {
	good := func() Config {
		return Config{Servers: []string{"127.0.0.1:1"}, Sessions: 1, Inflight: 1, ValueSize: 0, Ops: 1, Root: "/b", Phases: []string{"create"}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		error string
	}{
		{name: "good", edit: func(*Config) {}},
		{name: "no servers", edit: func(c *Config) { c.Servers = nil }, error: "--servers"},
		{name: "no sessions", edit: func(c *Config) { c.Sessions = 0 }, error: "--sessions 0"},
		{name: "no inflight", edit: func(c *Config) { c.Inflight = 0 }, error: "--inflight 0"},
		{name: "negative value", edit: func(c *Config) { c.ValueSize = -1 }, error: "--value-size -1"},
		{name: "no ops", edit: func(c *Config) { c.Ops = 0 }, error: "--ops 0"},
		{name: "relative root", edit: func(c *Config) { c.Root = "b" }, error: `--root "b"`},
		{name: "trailing slash", edit: func(c *Config) { c.Root = "/b/" }, error: `--root "/b/"`},
		{name: "unknown phase", edit: func(c *Config) { c.Phases = []string{"create", "scan"} }, error: `unknown phase "scan"`},
		{name: "no phases", edit: func(c *Config) { c.Phases = nil }, error: "--phases"},
		{name: "unknown client", edit: func(c *Config) { c.Client = "curl" }, error: `unknown --client "curl"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			err := c.validate()
			if tc.error == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.error)
		})
	}
	require.Equal(t, []string{"a:1", "b:2"}, splitList(" a:1, ,b:2,"))
}

// startZooKeeper runs Apache ZooKeeper standalone from the Debian package on
// a free loopback port and returns its address.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	const script = "/usr/share/zookeeper/bin/zkServer.sh"
	if _, err := os.Stat(script); err != nil {
		t.Skipf("Apache ZooKeeper is not installed (%s): %v", script, err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		"tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nforceSync=yes\n",
		filepath.Join(dir, "data"), port)), 0o644))
	var out bytes.Buffer
	cmd := exec.Command(script, "start-foreground", cfg)
	cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+dir, "JVMFLAGS=-Xmx256m")
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the script execs java: this is the server's own PID
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool {
		c, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(log.New(io.Discard, "", 0)), zk.WithLogInfo(false))
		if err != nil {
			return false
		}
		defer c.Close()
		_, _, err = c.Exists("/")
		return err == nil
	}, 60*time.Second, 200*time.Millisecond, "ZooKeeper on %s did not come up:\n%s", addr, &out)
	return addr
}

func TestZKBenchAgainstZooKeeper(t *testing.T) {
	addr := startZooKeeper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	c, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(log.New(io.Discard, "", 0)), zk.WithLogInfo(false))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	for _, client := range Clients {
		t.Run(client, func(t *testing.T) {
			var out bytes.Buffer
			results, err := Run(ctx, Config{
				Servers: []string{addr}, Sessions: 4, Inflight: 3, ValueSize: 64, Ops: 300,
				Root: "/bench", Phases: Phases, Client: client,
			}, &out)
			require.NoError(t, err)
			require.Contains(t, out.String(), "client="+client+" ")
			require.Len(t, results, len(Phases))
			for i, r := range results {
				require.Equal(t, Phases[i], r.Phase)
				require.Equal(t, 300, r.Ops)
				require.Zero(t, r.Errors, "%s: %v", r.Phase, r.FirstErr)
				require.Positive(t, r.OpsPerSec())
				require.Positive(t, r.P50)
				require.LessOrEqual(t, r.P50, r.P99)
				require.Contains(t, out.String(), "phase="+r.Phase+" ops=300 errors=0")
			}
			kids, _, err := c.Children("/bench")
			require.NoError(t, err)
			require.Empty(t, kids, "the run's subtree is removed")

			// Without a delete phase the cleanup removes what create made.
			_, err = Run(ctx, Config{
				Servers: []string{addr}, Sessions: 2, Inflight: 2, ValueSize: 8, Ops: 40,
				Root: "/bench", Phases: []string{"create", "get"}, Client: client,
			}, io.Discard)
			require.NoError(t, err)
			kids, _, err = c.Children("/bench")
			require.NoError(t, err)
			require.Empty(t, kids, "the run's subtree is removed")
		})
	}

	// --keep through the command line leaves every created znode, with its value.
	var cmdOut bytes.Buffer
	app := &cli.App{Writer: &cmdOut, Commands: []*cli.Command{Command()}}
	require.NoError(t, app.RunContext(ctx, []string{"kzoo", "zk-bench", "--servers", addr, "--sessions", "2",
		"--inflight", "2", "--ops", "50", "--value-size", "10", "--phases", "create,get", "--root", "/bench", "--keep"}))
	require.Contains(t, cmdOut.String(), "phase=get ops=50 errors=0")
	kids, _, err := c.Children("/bench")
	require.NoError(t, err)
	require.Len(t, kids, 1)
	keys, _, err := c.Children("/bench/" + kids[0])
	require.NoError(t, err)
	require.Len(t, keys, 50)
	v, _, err := c.Get("/bench/" + kids[0] + "/" + keys[0])
	require.NoError(t, err)
	require.Len(t, v, 10)

	// set on keys that do not exist fails, and the command says so.
	err = app.RunContext(ctx, []string{"kzoo", "zk-bench", "--servers", addr, "--sessions", "1", "--ops", "5",
		"--phases", "set", "--root", "/bench"})
	require.Error(t, err)
	require.True(t, isNoNode(err), err.Error())
	require.True(t, strings.Contains(err.Error(), "NoNode"), err.Error())
}
