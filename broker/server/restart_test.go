package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"kzoo/broker/config"
)

func consumeAll(t *testing.T, c *testCluster, topic string, n int) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(500*time.Millisecond))
	got := map[string]bool{}
	for len(got) < n && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	return got
}

func TestBrokerRestartKeepsLog(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 6, 1, nil, "durable")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.DefaultProduceTopic("durable"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	var recs []*kgo.Record
	for i := range 600 {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("r%d", i))})
	}
	require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())

	// meta.properties is written like Kafka's.
	meta, err := os.ReadFile(filepath.Join(c.dirs[1], "meta.properties"))
	require.NoError(t, err)
	require.Contains(t, string(meta), "broker.id=1\n")
	require.Contains(t, string(meta), "cluster.id="+c.brokers[1].ClusterID()+"\n")

	c.stop(1)
	c.start(1)
	c.waitBrokers(3)
	got := consumeAll(t, c, "durable", 600)
	require.Len(t, got, 600)
	for i := range 600 {
		require.True(t, got[fmt.Sprintf("r%d", i)], "r%d", i)
	}
}

func TestBrokerISRRejoinsAfterRestart(t *testing.T) {
	c := startCluster(t, 3, "replica.lag.time.max.ms=3000")
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 3, 3, nil, "isr")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.DefaultProduceTopic("isr"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	produceN := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("i%d", i))})
		}
		require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())
	}
	produceN(0, 300)

	c.stop(2)
	// acks=all keeps working with the ISR shrunk to the live replicas.
	produceN(300, 300)
	c.start(2)
	c.waitBrokers(3)

	// Broker 2 catches up and every leader takes it back into the ISR.
	addr := c.addrs()[0]
	require.Eventually(t, func() bool {
		m, err := rawMetadata(addr, "isr")
		if err != nil || len(m.Topics) != 1 {
			return false
		}
		for _, pt := range m.Topics[0].Partitions {
			if len(pt.ISR) != 3 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond)
	got := consumeAll(t, c, "isr", 600)
	require.Len(t, got, 600)
	var n int64
	for _, pi := range c.brokers[2].h.HostedPartitions() {
		n += pi.EndOffset
	}
	require.Equal(t, int64(600), n, "the restarted broker holds every record")
}

func TestBrokerStartRefusesForeignOrLockedLogDir(t *testing.T) {
	c := startCluster(t, 1)
	// A second broker on the same log dir is refused.
	cfg := c.config(0)
	s2 := New(cfg, Options{})
	err := s2.Start(context.Background())
	require.ErrorIs(t, err, ErrLogDirLocked)
	require.Contains(t, err.Error(), c.dirs[0])

	// A log dir that belongs to another broker id is refused before any
	// ZooKeeper or disk write.
	c.stop(0)
	meta := filepath.Join(c.dirs[0], "meta.properties")
	b, err := os.ReadFile(meta)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(meta, []byte(strings.Replace(string(b), "broker.id=0", "broker.id=5", 1)), 0o644))
	s3 := New(c.config(0), Options{})
	err = s3.Start(context.Background())
	require.ErrorIs(t, err, ErrInconsistentClusterID)
	require.Contains(t, err.Error(), "broker.id=5")
}

// Without broker.id, the id comes from /brokers/seqid (above
// reserved.broker.max.id) and is kept in meta.properties across restarts.
func TestBrokerGeneratedID(t *testing.T) {
	c := newCluster(t, 1, "reserved.broker.max.id=500")
	cfgText := func() *config.Config {
		cfg, err := config.Parse("server.properties", []byte(fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s\nzookeeper.connect=%s\nreserved.broker.max.id=500\n", c.dirs[0], c.zk)), nil)
		require.NoError(t, err)
		return cfg
	}
	s := New(cfgText(), Options{})
	require.NoError(t, s.Start(context.Background()))
	id := s.cfg.BrokerID
	require.Greater(t, id, int32(500))
	require.NoError(t, s.Stop())
	s2 := New(cfgText(), Options{})
	require.NoError(t, s2.Start(context.Background()))
	t.Cleanup(func() { s2.Stop() })
	require.Equal(t, id, s2.cfg.BrokerID)
}
