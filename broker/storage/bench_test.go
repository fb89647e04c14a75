package storage

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkStorageAppend appends batches of 100 records of 100 bytes, as a
// producer would send them, reporting MB/s of batch bytes (no fsync per
// append: Kafka's default flush policy).
func BenchmarkStorageAppend(b *testing.B) {
	type variant struct {
		name  string
		codec kgo.CompressionCodec
		cfg   Config
	}
	var variants []variant
	for _, c := range codecs {
		variants = append(variants, variant{c.name, c.codec, Config{}})
	}
	variants = append(variants, variant{"none-fsync-every-batch", kgo.NoCompression(), Config{FlushMessages: 1}})
	for _, v := range variants {
		c := v
		b.Run(c.name, func(b *testing.B) {
			cfg := c.cfg
			cfg.SegmentBytes, cfg.RetentionBytes = 64<<20, 256<<20
			benchAppend(b, cfg, simpleBatch(b, c.codec, 100, 100, 1), 100)
		})
	}
}

// BenchmarkStorageRead reads a 20 MB log front to back in 1 MiB fetches.
func BenchmarkStorageRead(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "bench-0"), Config{SegmentBytes: 8 << 20}, 0, nil)
	require.NoError(b, err)
	b.Cleanup(func() { l.Close() })
	batch := simpleBatch(b, kgo.NoCompression(), 100, 100, 1)
	for l.Size() < 20<<20 {
		_, err := l.AppendLeader(batch, 1, 0)
		require.NoError(b, err)
	}
	leo := l.EndOffset()
	b.SetBytes(l.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for off := int64(0); off < leo; {
			got, err := l.Read(off, 1<<20, leo, true)
			if err != nil || len(got) == 0 {
				b.Fatal(err, off)
			}
			// last batch's next offset
			var last batchHeader
			for rest := got; len(rest) > 0; rest = rest[last.size():] {
				last = parseHeader(rest)
			}
			off = last.lastOffset() + 1
		}
	}
}

// franzBatch makes a batch like the one franz-go sends a partition under
// load with linger 0: n keyless records of the same 100 random letters, no
// headers, timestamps a few milliseconds apart in total.
func franzBatch(b testing.TB, codec kgo.CompressionCodec, n int) []byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = byte('A' + rng.IntN(26))
	}
	recs := make([]testRec, n)
	for i := range recs {
		recs[i] = testRec{value: payload, ts: 1_700_000_000_000 + int64(i/400)}
	}
	return mkBatch(b, codec, recs)
}

// BenchmarkStorageValidate runs the producer-batch validation (inflate,
// walk every record) on a franz-go-like batch of 1,600 100-byte records.
func BenchmarkStorageValidate(b *testing.B) {
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			batch := franzBatch(b, c.codec, 1600)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			sc := new(scratch)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := validateClientBatch(batch, false, false, sc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*1600/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkStorageAppendFranz appends franz-go-like snappy batches of 1,600
// 100-byte records through AppendLeader (validation, offsets, write).
func BenchmarkStorageAppendFranz(b *testing.B) {
	benchAppend(b, Config{SegmentBytes: 64 << 20, RetentionBytes: 256 << 20}, franzBatch(b, kgo.SnappyCompression(), 1600), 1600)
}

// benchAppend appends batch (of records records) through AppendLeader b.N
// times into a fresh log with cfg, keeping the log's size bounded by
// retention, and reports records/s.
func benchAppend(b *testing.B, cfg Config, batch []byte, records int) {
	b.Helper()
	l, err := Open(filepath.Join(b.TempDir(), "bench-0"), cfg, 0, nil)
	require.NoError(b, err)
	b.Cleanup(func() { l.Close() })
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// AppendLeader rewrites only the base offset and epoch here, so the buffer is reusable
		if _, err := l.AppendLeader(batch, 1, 0); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if _, err := l.EnforceRetention(0); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*float64(records)/b.Elapsed().Seconds(), "records/s")
}
