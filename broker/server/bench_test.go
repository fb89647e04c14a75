package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkBrokerThroughput produces b.N 100-byte records (acks=1) to 6
// partitions on 3 brokers and consumes them back, reporting records/s.
func BenchmarkBrokerThroughput(b *testing.B) { benchThroughput(b, 1, kgo.LeaderAck()) }

// BenchmarkBrokerThroughputReplicated is the same with replication factor
// 3 and acks=all.
func BenchmarkBrokerThroughputReplicated(b *testing.B) { benchThroughput(b, 3, kgo.AllISRAcks()) }

func benchThroughput(b *testing.B, rf int16, acks kgo.Acks) {
	c := startClusterB(b, 3)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 6, rf, nil, "bench")
	require.NoError(b, err)
	require.NoError(b, r.Err)
	n := max(b.N, 100_000)
	value := make([]byte, 100)
	p := c.client(kgo.DefaultProduceTopic("bench"), kgo.RequiredAcks(acks), kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	wg.Add(n)
	for i := 0; i < n; i++ {
		p.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	prod := time.Since(start)
	require.NoError(b, firstErr)
	ends, err := adm.ListEndOffsets(ctx, "bench")
	require.NoError(b, err)
	var total int64
	ends.Each(func(o kadmListedOffset) { total += o.Offset })
	require.Equal(b, int64(n), total)
	var onDisk int64
	for _, s := range c.brokers {
		for _, pi := range s.h.HostedPartitions() {
			if pi.Leader {
				onDisk += pi.EndOffset
			}
		}
	}
	require.Equal(b, int64(n), onDisk)

	cons := c.client(kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(50<<20), kgo.FetchMaxPartitionBytes(10<<20))
	start = time.Now()
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		require.NoError(b, ctx.Err())
		got += fs.NumRecords()
	}
	consT := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/prod.Seconds(), "produce-rec/s")
	b.ReportMetric(float64(n)/consT.Seconds(), "consume-rec/s")
}
