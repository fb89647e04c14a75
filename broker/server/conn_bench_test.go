package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
)

// snappyBatch is a batch as franz-go sends it under load with linger 0:
// n keyless records of the same 100 bytes, snappy-compressed.
func snappyBatch(b testing.TB, n int) []byte {
	value := bytes.Repeat([]byte("QWERTYUIOPASDFGHJKLZXCVBNM"), 4)[:100]
	var recs []byte
	for i := range n {
		r := kmsg.Record{TimestampDelta64: int64(i / 400), OffsetDelta: int32(i), Value: value}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	comp, err := kgo.DefaultCompressor(kgo.SnappyCompression())
	require.NoError(b, err)
	payload, codec := comp.Compress(new(bytes.Buffer), recs)
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(codec), LastOffsetDelta: int32(n - 1),
		FirstTimestamp: time.Now().UnixMilli(), ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(n), Records: payload,
	}
	rb.MaxTimestamp = rb.FirstTimestamp + int64((n-1)/400)
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// BenchmarkBrokerConnProduce sends Produce v9 requests (acks=1, one
// franz-go-like snappy batch of 1,600 100-byte records) over loopback TCP
// through one connection's serve loop to a leader with real storage, with
// one or four requests in flight as a pipelining producer keeps them: the
// broker's per-request cost of the produce path from frame to response.
func BenchmarkBrokerConnProduce(b *testing.B) {
	for _, inflight := range []int{1, 4} {
		b.Run(fmt.Sprintf("inflight-%d", inflight), func(b *testing.B) { benchConnProduce(b, inflight) })
	}
}

func benchConnProduce(b *testing.B, inflight int) {
	h := standaloneHandler(b)
	_, err := h.Handle(context.Background(), &api.Header{Key: 4, Version: 5, Listener: "PLAINTEXT"}, leaderAndISR(1, 0, 0, "t", 0, 0))
	require.NoError(b, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv, err := ln.Accept()
		if err != nil {
			return
		}
		cs := &connServer{h: h, c: srv, listener: "PLAINTEXT", maxBytes: 100 << 20, logf: b.Logf}
		cs.serve(ctx)
	}()
	cli, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	b.Cleanup(func() { cancel(); cli.Close(); ln.Close(); <-done })

	req := produce(9, "t", 0, snappyBatch(b, 1600))
	var frames []byte
	for i := range inflight {
		// AppendRequest writes the size at dst[0], so each frame is made alone
		frames = append(frames, kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, int32(i))...)
	}
	r := bufio.NewReaderSize(cli, 64<<10)
	resp := make([]byte, 0, 256)
	roundTrip := func() {
		if _, err := cli.Write(frames); err != nil {
			b.Fatal(err)
		}
		for range inflight {
			var sz [4]byte
			if _, err := io.ReadFull(r, sz[:]); err != nil {
				b.Fatal(err)
			}
			resp = resp[:binary.BigEndian.Uint32(sz[:])]
			if _, err := io.ReadFull(r, resp); err != nil {
				b.Fatal(err)
			}
		}
	}
	roundTrip()
	var pr kmsg.ProduceResponse
	pr.Version = 9
	require.NoError(b, pr.ReadFrom(resp[5:])) // correlation id, header tags
	require.Equal(b, int16(0), pr.Topics[0].Partitions[0].ErrorCode)

	b.SetBytes(int64(len(frames)))
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*inflight)*1600/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*inflight), "ns/request")
	// CPU of the whole process (client side included) per request: what a
	// CPU-bound machine pays, where wall time also counts waiting
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N*inflight), "cpu-ns/request")
}

// processCPU returns the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
