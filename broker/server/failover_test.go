package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The seed's fault-tolerance walk-through: the leader dies, another ISR
// member leads, producing and consuming go on, nothing acknowledged is lost.
func TestBrokerLeaderFailoverNoAckedLoss(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 2, 3, map[string]*string{"min.insync.replicas": ptr("2")}, "test6")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.DefaultProduceTopic("test6"), kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("m%d", i))})
		}
		require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())
	}
	produce(0, 500)

	addr := c.addrs()[0]
	m, err := rawMetadata(addr, "test6")
	require.NoError(t, err)
	leader := m.Topics[0].Partitions[0].Leader
	c.mu.Lock()
	victim := c.brokers[leader]
	c.brokers[leader] = nil
	c.mu.Unlock()
	victim.crash()

	live := ""
	for _, a := range c.addrs() {
		live = a
	}
	require.Eventually(t, func() bool {
		m, err := rawMetadata(live, "test6")
		if err != nil {
			return false
		}
		for _, pt := range m.Topics[0].Partitions {
			if pt.Leader == leader || pt.Leader < 0 || len(pt.ISR) != 2 {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "a surviving ISR member leads every partition")

	produce(500, 500)
	got := consumeAll(t, c, "test6", 1000)
	require.Len(t, got, 1000)
}
