package wal

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkWALAppendSync measures group commit on the real disk: one Append
// of a batch of ~150-byte records and one Sync (fdatasync) per iteration.
func BenchmarkWALAppendSync(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			dir := b.TempDir()
			w, err := Open(Options{SnapDir: dir, ForceSync: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { w.Close() })
			if _, err := w.Recover(func(int64, io.Reader) error { return nil }, func(Record) error { return nil }); err != nil {
				b.Fatal(err)
			}
			recs := make([]Record, batch)
			for i := range recs {
				recs[i].Data = bytes.Repeat([]byte{'v'}, 150)
			}
			zxid := int64(0)
			b.ReportAllocs()
			b.SetBytes(int64(batch) * frameSize(150))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range recs {
					zxid++
					recs[j].Zxid = zxid
				}
				if err := w.Append(recs...); err != nil {
					b.Fatal(err)
				}
				if err := w.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/secs, "fsyncs/s")
			b.ReportMetric(float64(b.N*batch)/secs, "records/s")
		})
	}
}
