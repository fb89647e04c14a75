package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kgo's default producer is idempotent: it asks InitProducerId for an id
// and every record carries it; nothing is duplicated.
func TestBrokerIdempotentDefaultProducer(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.admin().CreateTopic(ctx, 3, 3, nil, "idem")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.DefaultProduceTopic("idem"))
	var recs []*kgo.Record
	for i := range 1000 {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprint(i))})
	}
	require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())
	pids := map[int64]bool{}
	for _, rec := range recs {
		pids[rec.ProducerID] = true
	}
	require.Len(t, pids, 1)
	for id := range pids {
		require.GreaterOrEqual(t, id, int64(0))
	}
	cons := c.client(kgo.ConsumeTopics("idem"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]int{}
	n := 0
	for n < 1000 && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			n++
			require.True(t, pids[r.ProducerID])
		})
	}
	require.Len(t, seen, 1000)
	require.Equal(t, 1000, n)

	// A second producer gets another id.
	p2 := c.client(kgo.DefaultProduceTopic("idem"))
	rec := &kgo.Record{Value: []byte("second")}
	require.NoError(t, p2.ProduceSync(ctx, rec).FirstErr())
	require.False(t, pids[rec.ProducerID])
}
