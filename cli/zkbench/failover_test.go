package zkbench

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/internal/testnet"
)

// srvrServer answers every connection with answer, as a server answers the
// four-letter word srvr, and returns its address.
func srvrServer(t *testing.T, answer string) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) {
		buf := make([]byte, 4)
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err == nil && string(buf) == "srvr" {
			_, _ = c.Write([]byte(answer))
		}
	})
}

func srvrText(mode string) string {
	return "Zookeeper version: 3.8.4-x, built on 2024-01-01 00:00 UTC\nLatency min/avg/max: 0/0.0/0\n" +
		"Received: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x100000000\nMode: " + mode + "\nNode count: 5\n"
}

func TestZKBenchFailoverLeaderFromSrvr(t *testing.T) {
	f1, l, f2 := srvrServer(t, srvrText("follower")), srvrServer(t, srvrText("leader")), srvrServer(t, srvrText("follower"))
	i, err := Leader([]string{f1, l, f2})
	require.NoError(t, err)
	require.Equal(t, 1, i)

	m, err := ServerMode(l)
	require.NoError(t, err)
	require.Equal(t, "leader", m)

	// Two leaders, no leader, a server not serving: no answer.
	_, err = Leader([]string{l, f1, srvrServer(t, srvrText("leader"))})
	require.ErrorIs(t, err, ErrNoLeader)
	_, err = Leader([]string{f1, f2})
	require.ErrorIs(t, err, ErrNoLeader)
	notServing := srvrServer(t, "This ZooKeeper instance is not currently serving requests\n")
	_, err = Leader([]string{l, notServing})
	require.ErrorContains(t, err, notServing)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = ServerMode(down)
	require.ErrorContains(t, err, down)

	ctx := context.Background()
	start := time.Now()
	_, err = waitLeader(ctx, []string{f1, f2}, 200*time.Millisecond)
	require.ErrorIs(t, err, ErrNoLeader)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

func TestZKBenchFailoverValidate(t *testing.T) {
	noop := func(context.Context, int) error { return nil }
	good := func() FailoverConfig {
		return FailoverConfig{Servers: []string{"a:1", "b:1", "c:1"}, Rounds: 1, Root: "/b", Kill: noop, Start: noop}
	}
	cfg := good()
	require.NoError(t, cfg.validate())
	require.Equal(t, 4, cfg.Writers)
	require.Equal(t, 2*time.Minute, cfg.SettleTimeout)
	for name, mut := range map[string]func(*FailoverConfig){
		"one server":  func(c *FailoverConfig) { c.Servers = c.Servers[:1] },
		"no rounds":   func(c *FailoverConfig) { c.Rounds = 0 },
		"no kill":     func(c *FailoverConfig) { c.Kill = nil },
		"no start":    func(c *FailoverConfig) { c.Start = nil },
		"bad root":    func(c *FailoverConfig) { c.Root = "b" },
		"root ends /": func(c *FailoverConfig) { c.Root = "/b/" },
	} {
		t.Run(name, func(t *testing.T) {
			c := good()
			mut(&c)
			require.Error(t, c.validate())
		})
	}
}

func TestZKBenchFailoverShellCommandNamesTheServer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	run := shellCommand(`echo "$ZKBENCH_SERVER_INDEX $ZKBENCH_SERVER_ID $ZKBENCH_SERVER" > `+out, []string{"h:1", "h:2", "h:3"})
	require.NoError(t, run(context.Background(), 1))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "1 2 h:2", strings.TrimSpace(string(b)))

	err = shellCommand("exit 3", []string{"h:1"})(context.Background(), 0)
	var ee interface{ ExitCode() int }
	require.True(t, errors.As(err, &ee))
	require.Equal(t, 3, ee.ExitCode())
	require.ErrorContains(t, err, "h:1")
}

func TestZKBenchFailoverResultLines(t *testing.T) {
	r := FailoverRound{Round: 2, Killed: "127.0.0.1:1", NewLeader: "127.0.0.1:2", Acked: 7, Failover: 1500 * time.Millisecond, WriterOnKilled: true}
	require.Equal(t, "failover round=2 killed=127.0.0.1:1 new_leader=127.0.0.1:2 writer_on_killed=true acked=7 failover_ms=1500.0", r.String())
	s := FailoverResult{Rounds: []FailoverRound{r, r, r}, Min: time.Second, Median: 2 * time.Second, Max: 3 * time.Second}
	require.Equal(t, "failover rounds=3 min_ms=1000.0 median_ms=2000.0 max_ms=3000.0", s.String())
}

func TestZKBenchSpreadPinsSessionsRoundRobin(t *testing.T) {
	cfg := Config{Servers: []string{"a:1", "b:1", "c:1"}}
	require.Equal(t, cfg.Servers, sessionServers(cfg, 4))
	cfg.Spread = true
	var got []string
	for i := 0; i < 5; i++ {
		s := sessionServers(cfg, i)
		require.Len(t, s, 1)
		got = append(got, s[0])
	}
	require.Equal(t, []string{"a:1", "b:1", "c:1", "a:1", "b:1"}, got)
}

func TestZKBenchBackoffHostProviderCyclesAndPauses(t *testing.T) {
	p := &backoffHostProvider{backoff: 50 * time.Millisecond}
	require.Error(t, p.Init(nil))
	require.NoError(t, p.Init([]string{"a:1", "b:1", "c:1"}))
	require.Equal(t, 3, p.Len())
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		s, retry := p.Next()
		require.False(t, retry)
		seen[s] = true
	}
	require.Len(t, seen, 3, "one pass visits every server")
	p.Connected() // connected to the third
	// A full pass of failures ends back at the connected server: a pause.
	start := time.Now()
	for i := 0; i < 3; i++ {
		_, retry := p.Next()
		require.False(t, retry)
	}
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}
