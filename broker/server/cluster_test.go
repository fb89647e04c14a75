package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
	"kzoo/broker/config"
)

type testCluster struct {
	t       testing.TB
	zk      string
	dirs    []string
	extra   []string
	mu      sync.Mutex
	brokers []*Server
	ports   []int // each broker's port once it has listened: a restart keeps it, as a real broker's does
}

func startClusterB(b *testing.B, n int, extra ...string) *testCluster {
	c := startCluster2(b, n, extra...)
	c.waitBrokers(n)
	return c
}

// startCluster starts n brokers on one coordinator (chroot /kafka).
func startCluster(t *testing.T, n int, extra ...string) *testCluster {
	t.Helper()
	c := startCluster2(t, n, extra...)
	c.waitBrokers(n)
	return c
}

func startCluster2(t testing.TB, n int, extra ...string) *testCluster {
	t.Helper()
	c := newCluster(t, n, extra...)
	for i := range n {
		c.start(i)
	}
	return c
}

// newCluster prepares n brokers' configs without starting them.
func newCluster(t testing.TB, n int, extra ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, zk: startCoordinator(t) + "/kafka", extra: extra, brokers: make([]*Server, n), ports: make([]int, n)}
	for i := range n {
		c.dirs = append(c.dirs, filepath.Join(t.TempDir(), fmt.Sprintf("broker-%d", i)))
	}
	t.Cleanup(func() {
		for i := range c.brokers {
			c.stop(i)
		}
	})
	return c
}

func (c *testCluster) config(i int) *config.Config {
	c.mu.Lock()
	port := c.ports[i]
	c.mu.Unlock()
	text := fmt.Sprintf("broker.id=%d\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s\nzookeeper.connect=%s\nzookeeper.session.timeout.ms=6000\nlog.retention.check.interval.ms=1000\ncontrolled.shutdown.retry.backoff.ms=200\n%s\n",
		i, port, c.dirs[i], c.zk, strings.Join(c.extra, "\n"))
	cfg, err := config.Parse(fmt.Sprintf("server-%d.properties", i), []byte(text), nil)
	require.NoError(c.t, err)
	return cfg
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	t := c.t
	s := New(c.config(i), Options{Logf: func(f string, a ...any) {
		if os.Getenv("KZOO_TEST_LOG") != "" {
			t.Logf("%s broker %d: "+f, append([]any{time.Now().Format("15:04:05.000"), i}, a...)...)
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Start(ctx))
	c.mu.Lock()
	c.brokers[i] = s
	if a, ok := s.Addr("PLAINTEXT").(*net.TCPAddr); ok {
		c.ports[i] = a.Port
	}
	c.mu.Unlock()
}

func (c *testCluster) stop(i int) {
	c.mu.Lock()
	s := c.brokers[i]
	c.brokers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Stop()
	}
}

func (c *testCluster) addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.brokers {
		if s != nil {
			out = append(out, s.Addr("PLAINTEXT").String())
		}
	}
	return out
}

func (c *testCluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs()...)}, opts...)...)
	require.NoError(c.t, err)
	c.t.Cleanup(cl.Close)
	return cl
}

func (c *testCluster) admin() *kadm.Client {
	return kadm.NewClient(c.client())
}

// waitBrokers waits until every broker's metadata lists n brokers and a
// controller (raw requests: kgo caches metadata).
func (c *testCluster) waitBrokers(n int) {
	c.t.Helper()
	for _, addr := range c.addrs() {
		require.Eventually(c.t, func() bool {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 12
			resp, err := api.Request(nil, addr, "test", req, 2*time.Second)
			if err != nil {
				return false
			}
			m := resp.(*kmsg.MetadataResponse)
			return len(m.Brokers) == n && m.ControllerID >= 0
		}, 30*time.Second, 20*time.Millisecond, addr)
	}
}

var _ = net.JoinHostPort

type (
	kadmListedOffset = kadm.ListedOffset
	kadmAlterConfig  = kadm.AlterConfig
)

// rawMetadata asks one broker directly (kgo caches metadata).
func rawMetadata(addr string, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	for _, t := range topics {
		req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr(t)})
	}
	resp, err := api.Request(nil, addr, "test", req, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}
