package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// benchServers is kfake (started here) or the kzoo cluster named by
// KZOO_BOOTSTRAP (skipped when unset).
func benchServers(b *testing.B, target string) []string {
	b.Helper()
	if target == "kzoo" {
		bs := os.Getenv("KZOO_BOOTSTRAP")
		if bs == "" {
			b.Skip("set KZOO_BOOTSTRAP=host:port,… to measure a kzoo cluster (bench/kafka/run.sh starts one)")
		}
		return strings.Split(bs, ",")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()
}

func benchSpec(b *testing.B, target string) spec {
	rf := int16(-1)
	if target == "kzoo" {
		rf = 3
	}
	s := spec{
		servers: benchServers(b, target), topic: fmt.Sprintf("kafka-bench-go-%d", time.Now().UnixNano()),
		records: b.N, recordSize: 100, partitions: 6, replication: rf, acks: "1",
	}
	if err := createTopic(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { deleteTopic(context.Background(), s) })
	return s
}

// BenchmarkKafkaProduce: one op is one 100-byte record, acks=1, 6 partitions.
func BenchmarkKafkaProduce(b *testing.B) {
	for _, target := range []string{"kfake", "kzoo"} {
		b.Run(target, func(b *testing.B) {
			s := benchSpec(b, target)
			b.SetBytes(int64(s.recordSize))
			b.ResetTimer()
			r, err := measureProduce(context.Background(), s)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ms(r.p50), "p50-ms")
			b.ReportMetric(ms(r.p99), "p99-ms")
		})
	}
}

// BenchmarkKafkaConsume: one op is one 100-byte record read from the start.
func BenchmarkKafkaConsume(b *testing.B) {
	for _, target := range []string{"kfake", "kzoo"} {
		b.Run(target, func(b *testing.B) {
			s := benchSpec(b, target)
			if _, err := measureProduce(context.Background(), s); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(s.recordSize))
			b.ResetTimer()
			if _, _, err := measureConsume(context.Background(), s); err != nil {
				b.Fatal(err)
			}
		})
	}
}
