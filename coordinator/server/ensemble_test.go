package server

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/config"
	"kzoo/internal/testnet"
)

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ps := make([]int, n)
	for i := range ps {
		ps[i] = testnet.FreePort(t)
	}
	return ps
}

// ensembleConfigs writes zoo.cfg + myid for n servers on loopback.
func ensembleConfigs(t testing.TB, n int) []*config.Config {
	t.Helper()
	ports := freePorts(t, 3*n)
	var lines []string
	for i := 0; i < n; i++ {
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d", i+1, ports[3*i], ports[3*i+1], ports[3*i+2]))
	}
	var cfgs []*config.Config
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644))
		text := fmt.Sprintf("tickTime=100\ninitLimit=10\nsyncLimit=5\ndataDir=%s\npreAllocSize=64\n4lw.commands.whitelist=*\n%s\n", dir, strings.Join(lines, "\n"))
		path := filepath.Join(dir, "zoo.cfg")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		cfg, err := config.Load(path, nil)
		require.NoError(t, err)
		cfgs = append(cfgs, cfg)
	}
	return cfgs
}

func startQuiet(t *testing.T, cfg *config.Config) *Server {
	t.Helper()
	s, err := New(Options{Config: cfg, Logger: slog.New(newZKHandler(testLogWriter{t}, cfg.MyID))})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { s.Close() })
	return s
}

func leaderOf(ss []*Server) int {
	for i, s := range ss {
		if s != nil && s.ens != nil && s.ens.leading() {
			return i
		}
	}
	return -1
}

func TestEnsembleReplicatesAndSurvivesLeaderLoss(t *testing.T) {
	cfgs := ensembleConfigs(t, 3)
	ss := make([]*Server, 3)
	for i, c := range cfgs {
		ss[i] = startQuiet(t, c)
	}
	require.Eventually(t, func() bool {
		n := 0
		for _, s := range ss {
			if s.ens.isServing.Load() {
				n++
			}
		}
		return n == 3 && leaderOf(ss) >= 0
	}, 10*time.Second, 10*time.Millisecond, "three servers elect one leader")
	leaders := 0
	for _, s := range ss {
		if s.mode() == "leader" {
			leaders++
		}
	}
	require.Equal(t, 1, leaders)
	l0 := leaderOf(ss)
	require.Eventually(t, func() bool {
		return strings.Contains(fourLetter(t, ss[l0], "mntr"), "zk_synced_followers\t2\n")
	}, 5*time.Second, 10*time.Millisecond)
	mntr := fourLetter(t, ss[l0], "mntr")
	require.Contains(t, mntr, "zk_server_state\tleader\n")
	require.Contains(t, mntr, "zk_peer_state\tleading - broadcast\n")
	require.Contains(t, mntr, "zk_learners\t2\n")
	require.Contains(t, mntr, "zk_pending_syncs\t0\n")
	require.Contains(t, mntr, "zk_cnt_election_time\t1\n")
	require.Regexp(t, `Mode: (leader|follower)\n`, fourLetter(t, ss[(l0+1)%3], "srvr"))
	require.NotContains(t, fourLetter(t, ss[(l0+1)%3], "mntr"), "zk_learners")

	var addrs []string
	for _, s := range ss {
		addrs = append(addrs, s.Addr().String())
	}
	// A client of each server; writes through any of them reach all.
	conns := make([]*zk.Conn, 3)
	for i, s := range ss {
		conns[i], _ = dialZK(t, s, 2*time.Second)
	}
	for i, c := range conns {
		_, err := c.Create(fmt.Sprintf("/n%d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	for _, c := range conns {
		_, err := c.Sync("/")
		require.NoError(t, err)
		kids, _, err := c.Children("/")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"zookeeper", "n0", "n1", "n2"}, kids)
	}
	// An ephemeral of a session on a follower, seen by everyone.
	f := (leaderOf(ss) + 1) % 3
	_, err := conns[f].Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	// Lose the leader: the other two elect and keep serving writes.
	l := leaderOf(ss)
	require.NoError(t, ss[l].Close())
	ss[l] = nil
	c, _, err := zk.Connect(addrs, 2*time.Second, zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	defer c.Close()
	require.Eventually(t, func() bool {
		_, err := c.Create("/after", []byte("x"), 0, zk.WorldACL(zk.PermAll))
		return err == nil || err == zk.ErrNodeExists
	}, 10*time.Second, 20*time.Millisecond, "writes resume after the leader is gone")
	for i := range ss {
		if ss[i] == nil {
			continue
		}
		cc, _ := dialZK(t, ss[i], 2*time.Second)
		_, err := cc.Sync("/")
		require.NoError(t, err)
		for _, p := range []string{"/n0", "/n1", "/n2", "/after"} {
			ok, _, err := cc.Exists(p)
			require.NoError(t, err)
			require.True(t, ok, "server %d has %s", i+1, p)
		}
	}

	// The old leader rejoins as a follower and catches up.
	ss[l] = startQuiet(t, cfgs[l])
	require.Eventually(t, func() bool { return ss[l].ens.isServing.Load() }, 10*time.Second, 10*time.Millisecond)
	require.NotEqual(t, "leader", ss[l].mode())
	cc, _ := dialZK(t, ss[l], 2*time.Second)
	_, err = cc.Sync("/")
	require.NoError(t, err)
	ok, _, err := cc.Exists("/after")
	require.NoError(t, err)
	require.True(t, ok)
}

func TestEnsembleRefusesWritesWithoutQuorum(t *testing.T) {
	cfgs := ensembleConfigs(t, 3)
	ss := make([]*Server, 3)
	for i, c := range cfgs {
		ss[i] = startQuiet(t, c)
	}
	require.Eventually(t, func() bool { return leaderOf(ss) >= 0 }, 10*time.Second, 10*time.Millisecond)
	l := leaderOf(ss)
	survivor := (l + 1) % 3
	for i := range ss {
		if i != survivor {
			require.NoError(t, ss[i].Close())
		}
	}
	require.Eventually(t, func() bool { return !ss[survivor].ens.isServing.Load() }, 10*time.Second, 10*time.Millisecond,
		"a lone server stops serving")
	c, _, err := zk.Connect([]string{ss[survivor].Addr().String()}, time.Second, zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Create("/split", nil, 0, zk.WorldACL(zk.PermAll))
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err, "a write without a quorum must not succeed")
	case <-time.After(3 * time.Second):
		// Still waiting for a quorum: refused by never being acknowledged.
	}
}
