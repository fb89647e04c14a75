package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/config"
	"kzoo/broker/storage"
)

// batchLog is a Log holding fixed v2 batches at their base offsets; Read
// returns every batch that ends at or past the offset asked for.
type batchLog struct {
	fakeEnd
	batches [][]byte
}

func (l *batchLog) Read(offset int64, _ int, _ int64, _ bool) ([]byte, error) {
	var out []byte
	for _, b := range l.batches {
		last := int64(binary.BigEndian.Uint64(b)) + int64(binary.BigEndian.Uint32(b[23:]))
		if last >= offset {
			out = append(out, b...)
		}
	}
	return out, nil
}

// fetchLegacyMsg is one magic 0 message with its offset, as Fetch v0 carries it.
func fetchLegacyMsg(offset int64, codec byte, key, value []byte) []byte {
	m := []byte{0, 0, 0, 0, 0, codec} // crc, magic 0, attributes
	m = binary.BigEndian.AppendUint32(m, uint32(len(key)))
	m = append(m, key...)
	m = binary.BigEndian.AppendUint32(m, uint32(len(value)))
	m = append(m, value...)
	binary.BigEndian.PutUint32(m, crc32.ChecksumIEEE(m[4:]))
	out := binary.BigEndian.AppendUint64(nil, uint64(offset))
	out = binary.BigEndian.AppendUint32(out, uint32(len(m)))
	return append(out, m...)
}

// fetchV2Batch converts a legacy set to one v2 batch placed at base.
func fetchV2Batch(t *testing.T, set []byte, base int64) []byte {
	t.Helper()
	b, err := storage.ConvertToV2(set)
	require.NoError(t, err)
	binary.BigEndian.PutUint64(b, uint64(base)) // the base offset is outside the CRC
	return b
}

// fetchTopLevel lists the offset and codec of every top-level message of a
// legacy set.
func fetchTopLevel(t *testing.T, set []byte) (offsets []int64, codecs []byte) {
	t.Helper()
	for len(set) > 0 {
		require.GreaterOrEqual(t, len(set), 18, "partial message")
		size := int(binary.BigEndian.Uint32(set[8:]))
		offsets = append(offsets, int64(binary.BigEndian.Uint64(set)))
		codecs = append(codecs, set[17]&0x07)
		set = set[12+size:]
	}
	return offsets, codecs
}

// TestFetchOldVersionsSkipUncompressedBeforeOffset: a Fetch v0-3 from the
// middle of an uncompressed batch gets no message before the fetch offset
// (Kafka's down-conversion leaves them out), while a compressed batch comes
// back whole as one wrapper.
func TestFetchOldVersionsSkipUncompressedBeforeOffset(t *testing.T) {
	cfg, err := config.Parse("server.properties", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.dirs="+t.TempDir()+"\n"), nil)
	require.NoError(t, err)
	h := New(Options{Config: cfg, ClusterID: "c", DownConvert: storage.DownConvert})
	t.Cleanup(h.Close)

	var plain, inner []byte
	for i := range int64(6) {
		plain = append(plain, fetchLegacyMsg(i, 0, []byte{'k', byte('0' + i)}, []byte("plain"))...)
		inner = append(inner, fetchLegacyMsg(i, 0, []byte{'g', byte('0' + i)}, []byte("gzipped"))...)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, err = w.Write(inner)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	wrapped := fetchLegacyMsg(5, 1, nil, gz.Bytes())

	// Offsets 0-5 uncompressed, 6-11 gzip, 12-17 uncompressed.
	lg := &batchLog{fakeEnd: 18, batches: [][]byte{
		fetchV2Batch(t, plain, 0), fetchV2Batch(t, wrapped, 6), fetchV2Batch(t, plain, 12),
	}}
	h.rm.mu.Lock()
	h.rm.parts[tp{"t", 0}] = &partition{tp: tp{"t", 0}, log: lg, isLeader: true, hw: 18}
	h.rm.mu.Unlock()

	for _, version := range []int16{0, 1, 2, 3} {
		for _, c := range []struct {
			fetch   int64
			offsets []int64
			codecs  []byte
		}{
			{0, []int64{0, 1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 16, 17}, []byte{0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
			{3, []int64{3, 4, 5, 11, 12, 13, 14, 15, 16, 17}, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
			{5, []int64{5, 11, 12, 13, 14, 15, 16, 17}, []byte{0, 1, 0, 0, 0, 0, 0, 0}},
			{8, []int64{11, 12, 13, 14, 15, 16, 17}, []byte{1, 0, 0, 0, 0, 0, 0}},
			{16, []int64{16, 17}, []byte{0, 0}},
		} {
			req := kmsg.NewPtrFetchRequest()
			req.Version = version
			req.ReplicaID = -1
			req.MaxBytes = 1 << 20
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.FetchOffset = c.fetch
			rp.PartitionMaxBytes = 1 << 20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := h.handleFetch(context.Background(), &Header{Key: 1, Version: version}, req)
			require.NoError(t, err)
			p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
			require.Zero(t, p.ErrorCode, "v%d at %d", version, c.fetch)
			offsets, codecs := fetchTopLevel(t, p.RecordBatches)
			require.Equal(t, c.offsets, offsets, "v%d at %d: top-level offsets", version, c.fetch)
			require.Equal(t, c.codecs, codecs, "v%d at %d: codecs", version, c.fetch)
		}
	}
}

func FuzzFetchSkipLegacyBefore(f *testing.F) {
	f.Add(append(fetchLegacyMsg(0, 0, nil, []byte("a")), fetchLegacyMsg(1, 0, []byte("k"), nil)...), int64(1))
	f.Add(append(fetchLegacyMsg(3, 2, nil, []byte("xx")), fetchLegacyMsg(4, 0, nil, nil)...), int64(9))
	f.Add(fetchLegacyMsg(7, 0, nil, nil)[:15], int64(8))
	f.Fuzz(func(t *testing.T, set []byte, offset int64) {
		rest := skipLegacyBefore(set, offset)
		require.True(t, bytes.HasSuffix(set, rest))
		// What was dropped is whole uncompressed messages before offset.
		for dropped := set[:len(set)-len(rest)]; len(dropped) > 0; {
			require.GreaterOrEqual(t, len(dropped), 18)
			require.Less(t, int64(binary.BigEndian.Uint64(dropped)), offset)
			require.Zero(t, dropped[17]&0x07)
			dropped = dropped[12+int(binary.BigEndian.Uint32(dropped[8:])):]
		}
	})
}
