//go:build integration

package integration

import (
	"context"
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
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"kzoo/internal/testnet"
)

// brokerCluster is one coordinator and the brokers registered in it, all
// real processes of one home.
type brokerCluster struct {
	t       *testing.T
	home    string
	zk      *coordProc
	zkAddr  string
	brokers map[int]*brokerProc
	// daemon starts brokers with `kafka-server-start.sh -daemon`, their
	// pid files and server.log under logDir.
	daemon bool
	logDir string
}

// brokerProc is one run of `kafka-server-start.sh server.properties`.
type brokerProc struct {
	id     int
	port   int
	pid    int
	props  string
	logDir string
	cmd    *exec.Cmd
	log    *coordLog
	exited chan struct{}
}

func (b *brokerProc) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// newBrokerCluster starts a standalone coordinator and n brokers with ids
// 0..n-1, each with extra appended to its server.properties.
func newBrokerCluster(t *testing.T, n int, extra string) *brokerCluster {
	t.Helper()
	cfg, _, port := keeperConfig(t, "")
	zk := coordStart(t, cfg, port)
	c := newBrokerClusterOn(t, n, extra, zk.addr, false)
	c.zk = zk
	return c
}

// newBrokerClusterOn starts n brokers registered in the coordinator(s) at
// zkConnect, as daemons when daemon is set.
func newBrokerClusterOn(t *testing.T, n int, extra, zkConnect string, daemon bool) *brokerCluster {
	t.Helper()
	c := &brokerCluster{t: t, home: keeperHome(t), brokers: map[int]*brokerProc{}, zkAddr: zkConnect, daemon: daemon, logDir: t.TempDir()}
	for id := 0; id < n; id++ {
		c.configure(id, extra)
	}
	for id := 0; id < n; id++ {
		c.start(id)
	}
	c.waitBrokers(n)
	return c
}

// configure writes broker id's server.properties on a free port.
func (c *brokerCluster) configure(id int, extra string) {
	t := c.t
	dir := t.TempDir()
	b := &brokerProc{id: id, port: testnet.FreePort(t), logDir: filepath.Join(dir, "logs"), props: filepath.Join(dir, "server.properties")}
	text := fmt.Sprintf(`broker.id=%d
listeners=PLAINTEXT://127.0.0.1:%d
advertised.listeners=PLAINTEXT://127.0.0.1:%d
log.dirs=%s
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
zookeeper.connect=%s
zookeeper.connection.timeout.ms=18000
zookeeper.session.timeout.ms=6000
group.initial.rebalance.delay.ms=0
%s
`, id, b.port, b.port, b.logDir, c.zkAddr, extra)
	require.NoError(t, os.WriteFile(b.props, []byte(text), 0o644))
	c.brokers[id] = b
}

// start runs broker id in the foreground and waits until it answers.
func (c *brokerCluster) start(id int) {
	t := c.t
	t.Helper()
	b := c.brokers[id]
	b.log, b.exited = &coordLog{}, make(chan struct{})
	exited := b.exited
	if c.daemon {
		out, errOut, code := coordRun(t, 30*time.Second, "", []string{"LOG_DIR=" + c.logDir},
			filepath.Join(c.home, "bin", "kafka-server-start.sh"), "-daemon", b.props)
		require.Equal(t, 0, code, "kafka-server-start.sh -daemon: %s %s", out, errOut)
		pidFile := filepath.Join(c.logDir, fmt.Sprintf("kzoo-broker-%d.pid", id))
		data, err := os.ReadFile(pidFile)
		require.NoError(t, err, "-daemon wrote no pid file")
		b.pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		require.NoError(t, err, "%s", pidFile)
		go func() {
			for keeperAlive(b.pid) {
				time.Sleep(20 * time.Millisecond)
			}
			close(exited)
		}()
	} else {
		b.cmd = exec.Command(filepath.Join(c.home, "bin", "kafka-server-start.sh"), b.props)
		b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
		require.NoError(t, b.cmd.Start())
		b.pid = b.cmd.Process.Pid
		go func() { _ = b.cmd.Wait(); close(exited) }()
	}
	pid := b.pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
		if c.daemon {
			data, _ := os.ReadFile(filepath.Join(c.logDir, "server.log"))
			b.log.Write(data)
		}
		if log := b.log.String(); strings.Contains(log, "WARNING: DATA RACE") {
			t.Errorf("broker %d reported a data race:\n%s", id, log)
		}
		if t.Failed() {
			t.Logf("broker %d log:\n%s", id, brokerTail(b.log.String(), 3000))
		}
	})
	require.Eventually(t, func() bool {
		select {
		case <-exited:
			t.Fatalf("broker %d exited: %s", id, b.log.String())
		default:
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()))
		if err != nil {
			return false
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return cl.Ping(ctx) == nil
	}, 30*time.Second, 100*time.Millisecond, "broker %d never answered on %s", id, b.addr())
}

// kill9 kills broker id with SIGKILL and waits for it to be gone.
func (c *brokerCluster) kill9(id int) {
	b := c.brokers[id]
	_ = syscall.Kill(b.pid, syscall.SIGKILL)
	<-b.exited
}

// waitBrokers waits until the metadata of every running broker lists n brokers.
func (c *brokerCluster) waitBrokers(n int) {
	t := c.t
	t.Helper()
	adm := c.admin()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		m, err := adm.BrokerMetadata(ctx)
		return err == nil && len(m.Brokers) == n && m.Controller >= 0
	}, 30*time.Second, 100*time.Millisecond, "never saw %d brokers", n)
}

// bootstrap is the comma-separated list of the brokers' addresses.
func (c *brokerCluster) bootstrap() string {
	var addrs []string
	for id := 0; id < len(c.brokers)+8; id++ {
		if b, ok := c.brokers[id]; ok {
			addrs = append(addrs, b.addr())
		}
	}
	return strings.Join(addrs, ",")
}

// client is a franz-go client of the cluster, closed with the test.
func (c *brokerCluster) client(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(c.bootstrap(), ",")...)}, opts...)...)
	require.NoError(c.t, err)
	c.t.Cleanup(cl.Close)
	return cl
}

func (c *brokerCluster) admin() *kadm.Client { return kadm.NewClient(c.client()) }

// createTopic creates a topic and waits until every partition has a leader.
func (c *brokerCluster) createTopic(topic string, partitions int32, rf int16, configs map[string]*string) {
	t := c.t
	t.Helper()
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, rf, configs, topic)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		td, err := adm.ListTopics(ctx, topic)
		if err != nil || td[topic].Err != nil || len(td[topic].Partitions) != int(partitions) {
			return false
		}
		for _, p := range td[topic].Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "topic %s never got leaders", topic)
}

// script runs a script of the home, bounded in time.
func (c *brokerCluster) script(limit time.Duration, stdin string, name string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	return coordRun(c.t, limit, stdin, nil, filepath.Join(c.home, "bin", name), args...)
}

func brokerTail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
