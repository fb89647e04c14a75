package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testRec is a record to put in a test batch.
type testRec struct {
	key, value []byte
	ts         int64
	headers    []kmsg.Header
}

// mkBatch encodes a producer-style v2 batch with franz-go's kmsg types and
// kgo's compressor, as a franz-go client would send it.
func mkBatch(t testing.TB, codec kgo.CompressionCodec, recs []testRec) []byte {
	t.Helper()
	var raw []byte
	first, maxTs := recs[0].ts, recs[0].ts
	for i, r := range recs {
		maxTs = max(maxTs, r.ts)
		rec := kmsg.Record{TimestampDelta64: r.ts - first, OffsetDelta: int32(i), Key: r.key, Value: r.value, Headers: r.headers}
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		raw = rec.AppendTo(raw)
	}
	comp, err := kgo.DefaultCompressor(codec)
	require.NoError(t, err)
	var attrs int16
	payload := raw
	if comp != nil {
		var used kgo.CompressionCodecType
		payload, used = comp.Compress(new(bytes.Buffer), raw)
		payload = append([]byte(nil), payload...)
		attrs = int16(used)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs,
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: first, MaxTimestamp: maxTs,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(recs)), Records: payload,
	}
	b.Length = int32(batchHeaderSize - logOverhead + len(payload))
	enc := b.AppendTo(nil)
	binary.BigEndian.PutUint32(enc[offCRC:], crc32.Checksum(enc[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
	return enc
}

// simpleBatch makes n records "k<i>"/"v<i>" of valueSize bytes at ts.
func simpleBatch(t testing.TB, codec kgo.CompressionCodec, n, valueSize int, ts int64) []byte {
	t.Helper()
	recs := make([]testRec, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)
		copy(v, fmt.Sprintf("v%d", i))
		recs[i] = testRec{key: []byte(fmt.Sprintf("k%d", i)), value: v, ts: ts + int64(i)}
	}
	return mkBatch(t, codec, recs)
}

// appendPairs appends n uncompressed batches of two 20-byte records, the
// i-th at timestamp ts+i, with leader epoch 0.
func appendPairs(t testing.TB, l *Log, n int, ts int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 20, ts+int64(i)), 0, 0)
		require.NoError(t, err)
	}
}

// decodeBatches parses batches the way a franz-go consumer does and returns
// every record with its absolute offset and timestamp.
type gotRec struct {
	offset, ts int64
	key, value string
}

func decodeBatches(t testing.TB, b []byte) []gotRec {
	t.Helper()
	var out []gotRec
	dec := kgo.DefaultDecompressor()
	for len(b) > 0 {
		var rb kmsg.RecordBatch
		require.NoError(t, rb.ReadFrom(b))
		size := int(rb.Length) + logOverhead
		require.Equal(t, uint32(rb.CRC), crc32.Checksum(b[offAttributes:size], crc32.MakeTable(crc32.Castagnoli)), "CRC of batch at %d", rb.FirstOffset)
		raw, err := dec.Decompress(rb.Records, kgo.CompressionCodecType(rb.Attributes&7))
		require.NoError(t, err)
		for i := 0; i < int(rb.NumRecords); i++ {
			var r kmsg.Record
			n, err := readRecord(raw, &r)
			require.NoError(t, err)
			raw = raw[n:]
			ts := rb.FirstTimestamp + r.TimestampDelta64
			if rb.Attributes&attrLogAppendTime != 0 {
				ts = rb.MaxTimestamp
			}
			out = append(out, gotRec{rb.FirstOffset + int64(r.OffsetDelta), ts, string(r.Key), string(r.Value)})
		}
		b = b[size:]
	}
	return out
}

func readRecord(raw []byte, r *kmsg.Record) (int, error) {
	l, n := binary.Varint(raw)
	if n <= 0 || int(l)+n > len(raw) {
		return 0, fmt.Errorf("bad record length")
	}
	return n + int(l), r.ReadFrom(raw[:n+int(l)])
}

// logSink collects logf lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func testDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "orders-0")
}

func openLog(t testing.TB, dir string, cfg Config, now int64) (*Log, *logSink) {
	t.Helper()
	sink := &logSink{}
	l, err := Open(dir, cfg, now, sink.logf)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l, sink
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"none", kgo.NoCompression()},
	{"gzip", kgo.GzipCompression()},
	{"snappy", kgo.SnappyCompression()},
	{"lz4", kgo.Lz4Compression()},
	{"zstd", kgo.ZstdCompression()},
}
