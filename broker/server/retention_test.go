package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A dynamic config change reaches every broker through /config/changes,
// and the retention check then drops old segments.
func TestBrokerRetentionAfterConfigChange(t *testing.T) {
	c := startCluster(t, 2, "log.retention.check.interval.ms=100")
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 1, 2, map[string]*string{"segment.bytes": ptr("2048")}, "ret")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.DefaultProduceTopic("ret"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0), kgo.MaxProduceRequestsInflightPerBroker(1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := range 200 {
		require.NoError(t, p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%0100d", i))}).FirstErr())
	}
	starts, err := adm.ListStartOffsets(ctx, "ret")
	require.NoError(t, err)
	so, _ := starts.Lookup("ret", 0)
	require.Equal(t, int64(0), so.Offset)

	_, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.bytes", Value: ptr("4096")}}, "ret")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, s := range c.brokers {
			for _, pi := range s.h.HostedPartitions() {
				if pi.Topic == "ret" && pi.StartOffset == 0 {
					return false
				}
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "both replicas apply retention.bytes")
}

func TestBrokerSeveralLogDirs(t *testing.T) {
	tc := newCluster(t, 1)
	tc.dirs[0] = tc.dirs[0] + "-a," + tc.dirs[0] + "-b"
	tc.start(0)
	tc.waitBrokers(1)
	adm := tc.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 6, 1, nil, "spread")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	dirs := map[string]int{}
	require.Eventually(t, func() bool {
		dirs = map[string]int{}
		for _, pi := range tc.brokers[0].h.HostedPartitions() {
			dirs[pi.Dir]++
		}
		return len(tc.brokers[0].h.HostedPartitions()) == 6
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, dirs, 2)
	for d, n := range dirs {
		require.Equal(t, 3, n, d)
	}
}
