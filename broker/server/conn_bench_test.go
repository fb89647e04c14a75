package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
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
// franz-go-like snappy batch of 1,600 100-byte records) through one
// connection's serve loop to a leader with real storage, one request
// in flight, and reads each response: the broker's per-request cost of the
// produce path from frame to response bytes.
func BenchmarkBrokerConnProduce(b *testing.B) {
	h := standaloneHandler(b)
	_, err := h.Handle(context.Background(), &api.Header{Key: 4, Version: 5, Listener: "PLAINTEXT"}, leaderAndISR(1, 0, 0, "t", 0, 0))
	require.NoError(b, err)
	srv, cli := net.Pipe()
	cs := &connServer{h: h, c: srv, listener: "PLAINTEXT", maxBytes: 100 << 20, logf: b.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cs.serve(ctx); close(done) }()
	b.Cleanup(func() { cancel(); cli.Close(); <-done })

	req := produce(9, "t", 0, snappyBatch(b, 1600))
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)
	resp := make([]byte, 0, 256)
	roundTrip := func() {
		if _, err := cli.Write(frame); err != nil {
			b.Fatal(err)
		}
		var sz [4]byte
		if _, err := io.ReadFull(cli, sz[:]); err != nil {
			b.Fatal(err)
		}
		resp = resp[:binary.BigEndian.Uint32(sz[:])]
		if _, err := io.ReadFull(cli, resp); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip()
	var pr kmsg.ProduceResponse
	pr.Version = 9
	require.NoError(b, pr.ReadFrom(resp[5:])) // correlation id, header tags
	require.Equal(b, int16(0), pr.Topics[0].Partitions[0].ErrorCode)

	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
	b.ReportMetric(float64(b.N)*1600/b.Elapsed().Seconds(), "records/s")
}
