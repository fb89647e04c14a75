package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/client"
	"kzoo/coordinator/client/ztest"
	"kzoo/coordinator/jute"
)

// BenchmarkClientGetParallel measures pipelined getData round trips on one
// session from many goroutines.
func BenchmarkClientGetParallel(b *testing.B) {
	srv := ztest.Start(b)
	c, err := clientConnect(b, srv.Addr)
	require.NoError(b, err)
	ctx := context.Background()
	_, _, err = c.Create(ctx, "/bench", make([]byte, 100), nil, jute.ModePersistent, 0)
	require.NoError(b, err)
	b.SetParallelism(16) // 32 requests in flight on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := c.Get(ctx, "/bench", false); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClientSetSerial measures one write at a time (each waits for
// the server's fsync).
func BenchmarkClientSetSerial(b *testing.B) {
	srv := ztest.Start(b)
	c, err := clientConnect(b, srv.Addr)
	require.NoError(b, err)
	ctx := context.Background()
	_, _, err = c.Create(ctx, "/bench", nil, nil, jute.ModePersistent, 0)
	require.NoError(b, err)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Set(ctx, "/bench", []byte("v"), -1); err != nil {
			b.Fatal(err)
		}
	}
}

func clientConnect(b *testing.B, addr string) (*client.Client, error) {
	c, err := client.Connect(client.Options{Servers: []string{addr}, SessionTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	b.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c, c.WaitConnected(ctx)
}
