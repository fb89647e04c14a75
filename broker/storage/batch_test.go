package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// requireSameVarint checks varint against binary.Varint on b: both accept
// or both reject, and an accepted varint has the same value and length.
func requireSameVarint(t testing.TB, b []byte) {
	t.Helper()
	wantV, wantN := binary.Varint(b)
	gotV, gotN := varint(b)
	require.Equal(t, wantN > 0, gotN > 0, "accepts % x", b)
	if wantN > 0 {
		require.Equal(t, wantV, gotV, "value of % x", b)
		require.Equal(t, wantN, gotN, "length of % x", b)
	}
}

func TestStorageVarintMatchesBinary(t *testing.T) {
	var cases [][]byte
	for _, v := range []int64{0, -1, 1, -64, 63, 64, -65, 100, 8191, -8192, 8192, 1 << 20, -1 << 27,
		math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64} {
		enc := binary.AppendVarint(nil, v)
		cases = append(cases, enc, append(enc, 0x7f, 0x80)) // alone and followed by more bytes
		for i := 1; i < len(enc); i++ {
			cases = append(cases, enc[:i]) // truncated
		}
		got, n := varint(enc)
		require.Equal(t, v, got)
		require.Equal(t, len(enc), n)
	}
	cases = append(cases,
		nil, []byte{},
		[]byte{0x80, 0x00},       // non-minimal zero, accepted as binary.Varint accepts it
		[]byte{0xff, 0x80, 0x00}, // non-minimal, three bytes
		bytes.Repeat([]byte{0xff}, 9),
		append(bytes.Repeat([]byte{0xff}, 9), 0x01),       // largest 10-byte varint
		append(bytes.Repeat([]byte{0xff}, 9), 0x02),       // overflows 64 bits
		append(bytes.Repeat([]byte{0x80}, 10), 0x00),      // 11 bytes
		append(bytes.Repeat([]byte{0x80}, 12), 0x00, 0x7), // 13 bytes
		bytes.Repeat([]byte{0x80}, 40),                    // never ends
	)
	for _, c := range cases {
		requireSameVarint(t, c)
	}
}

func FuzzStorageVarint(f *testing.F) {
	f.Add([]byte{0x01})
	f.Add([]byte{0xd8, 0x01, 0x00})
	f.Add(append(bytes.Repeat([]byte{0xff}, 9), 0x01))
	f.Add(append(bytes.Repeat([]byte{0xff}, 9), 0x02))
	f.Add(bytes.Repeat([]byte{0x80}, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		requireSameVarint(t, b)
	})
}

// refRecords is the record decoder as it was written before the walker was
// tuned (plain binary.Varint per field), kept to compare the walker with.
func refRecords(data []byte, count int32, withHeaders bool) ([]record, error) {
	varint := func(b *[]byte) (int64, bool) {
		v, n := binary.Varint(*b)
		if n <= 0 {
			return 0, false
		}
		*b = (*b)[n:]
		return v, true
	}
	varint32 := func(b *[]byte) (int32, bool) {
		v, ok := varint(b)
		return int32(v), ok && v >= math.MinInt32 && v <= math.MaxInt32
	}
	bytesField := func(b *[]byte) ([]byte, bool) {
		n, ok := varint32(b)
		if !ok {
			return nil, false
		}
		if n < 0 {
			return nil, true
		}
		if int(n) > len(*b) {
			return nil, false
		}
		v := append([]byte{}, (*b)[:n]...)
		*b = (*b)[n:]
		return v, true
	}
	var out []record
	for i := int32(0); i < count; i++ {
		length, ok := varint32(&data)
		if !ok || length < 0 || int(length) > len(data) {
			return out, fmt.Errorf("record %d length", i)
		}
		b := data[:length]
		data = data[length:]
		if len(b) < 1 {
			return out, fmt.Errorf("record %d empty", i)
		}
		rec := record{attrs: int8(b[0])}
		b = b[1:]
		var okTs, okOff, okKey, okVal, okNh bool
		rec.tsDelta, okTs = varint(&b)
		rec.offsetDelta, okOff = varint32(&b)
		rec.key, okKey = bytesField(&b)
		rec.value, okVal = bytesField(&b)
		nh, okNh := varint32(&b)
		if !okTs || !okOff || !okKey || !okVal || !okNh || nh < 0 || int(nh) > len(b) {
			return out, fmt.Errorf("record %d fields", i)
		}
		for h := int32(0); h < nh; h++ {
			hk, ok1 := bytesField(&b)
			hv, ok2 := bytesField(&b)
			if !ok1 || !ok2 {
				return out, fmt.Errorf("record %d header %d", i, h)
			}
			if withHeaders {
				rec.headers = append(rec.headers, [2][]byte{hk, hv})
			}
		}
		if len(b) != 0 {
			return out, fmt.Errorf("record %d trailing bytes", i)
		}
		out = append(out, rec)
	}
	if len(data) != 0 {
		return out, fmt.Errorf("bytes after records")
	}
	return out, nil
}

// iterRecords collects what the walker decodes, copied out of its buffer.
func iterRecords(data []byte, count int32, withHeaders bool) ([]record, error) {
	var out []record
	err := walkRecords(data, count, withHeaders, func(r *record) error {
		c := *r
		c.headers = append([][2][]byte(nil), r.headers...)
		out = append(out, c)
		return nil
	})
	return out, err
}

// requireSameRecords checks the walker against refRecords on data.
func requireSameRecords(t testing.TB, data []byte, count int32) {
	t.Helper()
	for _, withHeaders := range []bool{false, true} {
		want, wantErr := refRecords(data, count, withHeaders)
		got, gotErr := iterRecords(data, count, withHeaders)
		require.Equal(t, wantErr == nil, gotErr == nil, "reference: %v, walker: %v", wantErr, gotErr)
		if gotErr != nil {
			require.ErrorIs(t, gotErr, kerr.CorruptMessage)
		}
		require.Equal(t, len(want), len(got), "records decoded before any error")
		for i := range want {
			w, g := want[i], got[i]
			require.Equal(t, w.attrs, g.attrs)
			require.Equal(t, w.tsDelta, g.tsDelta)
			require.Equal(t, w.offsetDelta, g.offsetDelta)
			require.Equal(t, w.key == nil, g.key == nil, "record %d key null", i)
			require.Equal(t, w.value == nil, g.value == nil, "record %d value null", i)
			require.True(t, bytes.Equal(w.key, g.key) && bytes.Equal(w.value, g.value), "record %d key/value", i)
			require.Equal(t, len(w.headers), len(g.headers))
			for h := range w.headers {
				require.Equal(t, w.headers[h][0] == nil, g.headers[h][0] == nil)
				require.Equal(t, w.headers[h][1] == nil, g.headers[h][1] == nil)
				require.True(t, bytes.Equal(w.headers[h][0], g.headers[h][0]) && bytes.Equal(w.headers[h][1], g.headers[h][1]))
			}
		}
	}
}

// rawRecord encodes one record from raw field values, so a test can put
// any length, count or delta in any field.
type rawRecord struct {
	length               int64 // -1: computed
	attrs                byte
	tsDelta, offsetDelta int64
	keyLen, valueLen     int64 // -1 and below: null; else that many bytes follow unless short
	key, value           []byte
	headerCount          int64
	headers              []byte // raw header bytes
	trailing             []byte // bytes after the fields, inside the record
	truncate             int    // bytes cut from the end of the record body
}

func (r rawRecord) encode() []byte {
	var body []byte
	body = append(body, r.attrs)
	body = binary.AppendVarint(body, r.tsDelta)
	body = binary.AppendVarint(body, r.offsetDelta)
	body = binary.AppendVarint(body, r.keyLen)
	body = append(body, r.key...)
	body = binary.AppendVarint(body, r.valueLen)
	body = append(body, r.value...)
	body = binary.AppendVarint(body, r.headerCount)
	body = append(body, r.headers...)
	body = append(body, r.trailing...)
	body = body[:len(body)-r.truncate]
	length := r.length
	if length == -1 {
		length = int64(len(body))
	}
	return append(binary.AppendVarint(nil, length), body...)
}

func TestStorageRecordWalkerEdgeCases(t *testing.T) {
	val := func(n int) []byte { return bytes.Repeat([]byte{'v'}, n) }
	hdr := func(k, v string) []byte {
		b := binary.AppendVarint(nil, int64(len(k)))
		b = append(b, k...)
		b = binary.AppendVarint(b, int64(len(v)))
		return append(b, v...)
	}
	ok := func(off int64) rawRecord {
		return rawRecord{length: -1, offsetDelta: off, keyLen: -1, valueLen: 3, value: val(3)}
	}
	tests := []struct {
		name  string
		recs  []rawRecord
		extra []byte // after the records
		count int32
		valid bool
	}{
		{"one-byte fields", []rawRecord{ok(0), ok(1)}, nil, 2, true},
		{"two-byte offset deltas and lengths", []rawRecord{
			{length: -1, offsetDelta: 64, keyLen: 70, key: val(70), valueLen: 100, value: val(100)},
			{length: -1, offsetDelta: 8191, tsDelta: -8192, keyLen: -1, valueLen: 1000, value: val(1000)},
		}, nil, 2, true},
		{"three- to ten-byte varints", []rawRecord{
			{length: -1, offsetDelta: 1 << 20, tsDelta: math.MaxInt64, keyLen: 20000, key: val(20000), valueLen: -1},
			{length: -1, offsetDelta: math.MaxInt32, tsDelta: math.MinInt64, keyLen: -1, valueLen: 9000, value: val(9000)},
		}, nil, 2, true},
		{"headers", []rawRecord{{length: -1, keyLen: 1, key: []byte("k"), valueLen: 0,
			headerCount: 2, headers: append(hdr("a", "1"), hdr("bb", "")...)}}, nil, 1, true},
		{"null header value", []rawRecord{{length: -1, keyLen: -1, valueLen: -1,
			headerCount: 1, headers: append(binary.AppendVarint(nil, 1), 'h', 1)}}, nil, 1, true},
		{"other negative key length is null", []rawRecord{{length: -1, keyLen: -5, valueLen: 1, value: val(1)}}, nil, 1, true},
		{"negative value length is null", []rawRecord{{length: -1, keyLen: -1, valueLen: -200}}, nil, 1, true},
		{"negative record length", []rawRecord{{length: -2, keyLen: -1, valueLen: 1, value: val(1)}}, nil, 1, false},
		{"record length past the data", []rawRecord{{length: 500, keyLen: -1, valueLen: 1, value: val(1)}}, nil, 1, false},
		{"record length out of int32 range", []rawRecord{{length: math.MaxInt32 + 1, keyLen: -1, valueLen: 1, value: val(1)}}, nil, 1, false},
		{"empty record", []rawRecord{{length: 0}}, nil, 1, false},
		{"key past the record", []rawRecord{{length: -1, keyLen: 80, key: val(10), valueLen: -1}}, nil, 1, false},
		{"key length out of int32 range", []rawRecord{{length: -1, keyLen: math.MinInt32 - 1, valueLen: -1}}, nil, 1, false},
		{"value past the record", []rawRecord{{length: -1, keyLen: -1, valueLen: 3, value: val(2)}}, nil, 1, false},
		{"offset delta out of int32 range", []rawRecord{{length: -1, offsetDelta: math.MaxInt32 + 1, keyLen: -1, valueLen: -1}}, nil, 1, false},
		{"negative header count", []rawRecord{{length: -1, keyLen: -1, valueLen: -1, headerCount: -1}}, nil, 1, false},
		{"header count past the record", []rawRecord{{length: -1, keyLen: -1, valueLen: -1, headerCount: 3, headers: hdr("a", "b")}}, nil, 1, false},
		{"header value past the record", []rawRecord{{length: -1, keyLen: -1, valueLen: -1, headerCount: 1,
			headers: []byte{2, 'a', 10, 'x'}}}, nil, 1, false},
		{"missing header count", []rawRecord{{length: -1, keyLen: -1, valueLen: 2, value: val(2), truncate: 1}}, nil, 1, false},
		{"truncated multi-byte varint", []rawRecord{{length: -1, keyLen: -1, valueLen: 100, value: val(100),
			truncate: 1 + 100 + 1}}, nil, 1, false},
		{"bytes past the fields", []rawRecord{{length: -1, keyLen: -1, valueLen: -1, trailing: []byte{0}}}, nil, 1, false},
		{"fewer records than the count", []rawRecord{ok(0)}, nil, 2, false},
		{"bytes after the records", []rawRecord{ok(0)}, []byte{0x02}, 1, false},
		{"truncated record length", []rawRecord{ok(0)}, []byte{0x80}, 2, false},
		{"record length of eleven bytes", nil, append(bytes.Repeat([]byte{0x80}, 10), 0x00), 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			for _, r := range tc.recs {
				data = append(data, r.encode()...)
			}
			data = append(data, tc.extra...)
			_, err := iterRecords(data, tc.count, true)
			if tc.valid {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, kerr.CorruptMessage)
			}
			requireSameRecords(t, data, tc.count)
		})
	}
}

// FuzzStorageRecordWalker compares the walker with the reference decoder
// on arbitrary records sections: both accept or both reject, and decode
// the same records up to where they stop.
func FuzzStorageRecordWalker(f *testing.F) {
	for _, n := range []int{1, 3, 70} {
		b := simpleBatch(f, kgo.NoCompression(), n, 10, 100)
		f.Add(b[batchHeaderSize:], int32(n))
	}
	b := franzBatch(f, kgo.NoCompression(), 100)
	f.Add(b[batchHeaderSize:], int32(100))
	f.Add(rawRecord{length: -1, keyLen: -1, valueLen: -1, headerCount: 1, headers: []byte{2, 'a', 0}}.encode(), int32(1))
	f.Fuzz(func(t *testing.T, data []byte, count int32) {
		requireSameRecords(t, data, count%200)
	})
}

// FuzzStorageCheckProduced holds the produce path's record check to
// walkProduced (recIter): on any records section, count, first timestamp
// and compaction, both accept with the same largest timestamp and its
// offset delta, or both refuse.
func FuzzStorageCheckProduced(f *testing.F) {
	for _, n := range []int{1, 3, 70} {
		b := simpleBatch(f, kgo.NoCompression(), n, 10, 100)
		f.Add(b[batchHeaderSize:], int32(n), int64(1_700_000_000_000), false)
		f.Add(b[batchHeaderSize:], int32(n), int64(-5), true)
	}
	b := franzBatch(f, kgo.NoCompression(), 100)
	f.Add(b[batchHeaderSize:], int32(100), int64(0), false)
	f.Add(b[batchHeaderSize:], int32(99), int64(0), false)
	f.Add(b[batchHeaderSize:len(b)-1], int32(100), int64(0), false)
	f.Add(rawRecord{length: -1, keyLen: -1, valueLen: -1, headerCount: 1, headers: []byte{2, 'a', 0}}.encode(), int32(1), int64(0), false)
	f.Add(rawRecord{length: -1, keyLen: -1, valueLen: -1, headerCount: 1, headers: []byte{2, 'a', 0}}.encode(), int32(1), int64(0), true)
	for _, r := range []rawRecord{
		{length: -1, tsDelta: -100_000, keyLen: math.MinInt32, valueLen: 0},
		{length: -1, tsDelta: 1 << 40, keyLen: math.MinInt32 - 1, valueLen: -7},
		{length: -1, keyLen: 0, valueLen: 1 << 20, value: []byte("short")},
		{length: 1 << 62, keyLen: -1, valueLen: -1},
	} {
		f.Add(r.encode(), int32(1), int64(math.MaxInt64-3), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, count int32, first int64, compacted bool) {
		count %= 200
		ts, at, ok := checkProduced(data, count, first, compacted)
		wantTs, wantAt, err := walkProduced(data, count, first, compacted)
		if err != nil {
			require.False(t, ok, "checkProduced accepted what walkProduced refuses: %v", err)
			return
		}
		require.True(t, ok, "checkProduced refused what walkProduced accepts")
		require.Equal(t, wantTs, ts)
		require.Equal(t, wantAt, at)
	})
}

// TestStorageInflateIntoScratch inflates batches of every codec, one after
// another, into one reused buffer: each comes out as the client's decoder
// reads it, and a snappy batch that fits inflates without allocating.
func TestStorageInflateIntoScratch(t *testing.T) {
	sc := new(scratch)
	dec := kgo.DefaultDecompressor()
	for round := 0; round < 2; round++ {
		for i, c := range codecs {
			b := franzBatch(t, c.codec, 50*(i+1)+round)
			h := parseHeader(b)
			want, err := dec.Decompress(b[batchHeaderSize:], kgo.CompressionCodecType(h.codec()))
			require.NoError(t, err)
			_, raw, err := validateClientBatch(b, false, false, sc)
			require.NoError(t, err, c.name)
			require.Equal(t, want, raw, c.name)
		}
	}
	b := franzBatch(t, kgo.SnappyCompression(), 1600)
	_, _, err := validateClientBatch(b, false, false, sc)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(20, func() {
		if _, _, err := validateClientBatch(b, false, false, sc); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// TestStorageInflateBounded: no codec inflates a batch past
// maxDecompressed, whatever the decoder's buffer already holds.
func TestStorageInflateBounded(t *testing.T) {
	old := maxDecompressed
	maxDecompressed = 64 << 10
	t.Cleanup(func() { maxDecompressed = old })
	at := bytes.Repeat([]byte{'x'}, maxDecompressed)
	over := append(at, 'x')
	encs := []struct {
		name  string
		codec int8
		enc   func([]byte) []byte
	}{
		{"snappy-raw", codecSnappy, func(b []byte) []byte { return snappy.Encode(nil, b) }},
		{"snappy-xerial", codecSnappy, func(b []byte) []byte { return xerial.Encode(nil, b) }},
	}
	for _, c := range []int8{codecGzip, codecLz4, codecZstd} {
		encs = append(encs, struct {
			name  string
			codec int8
			enc   func([]byte) []byte
		}{fmt.Sprintf("codec-%d", c), c, func(b []byte) []byte {
			out, err := compress(c, b, false)
			require.NoError(t, err)
			return out
		}})
	}
	for _, e := range encs {
		t.Run(e.name, func(t *testing.T) {
			for _, dst := range [][]byte{nil, make([]byte, 10, 100), make([]byte, 0, 2*maxDecompressed)} {
				got, err := inflate(dst, e.codec, e.enc(at), false)
				require.NoError(t, err)
				require.Equal(t, at, got)
				_, err = inflate(dst, e.codec, e.enc(over), false)
				require.ErrorIs(t, err, kerr.CorruptMessage)
			}
		})
	}
}

// TestStorageRecompressEachBatchOfARequest: a request of several
// compressed batches recompressed to compression.type keeps every batch's
// own records, though all are inflated into one reused buffer.
func TestStorageRecompressEachBatchOfARequest(t *testing.T) {
	l, _ := openLog(t, testDir(t), Config{Compression: "lz4"}, 0)
	var req []byte
	var want []string
	for i, c := range []kgo.CompressionCodec{kgo.SnappyCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.NoCompression()} {
		recs := make([]testRec, 3+i*40)
		for j := range recs {
			v := fmt.Sprintf("batch %d record %d %s", i, j, bytes.Repeat([]byte{byte('a' + i)}, j))
			recs[j] = testRec{key: []byte("k"), value: []byte(v), ts: 100}
			want = append(want, v)
		}
		req = append(req, mkBatch(t, c, recs)...)
	}
	res, err := l.AppendLeader(req, 0, 0)
	require.NoError(t, err)
	got, err := l.Read(0, 1<<20, res.LastOffset+1, true)
	require.NoError(t, err)
	var values []string
	for i, r := range decodeBatches(t, got) {
		require.Equal(t, int64(i), r.offset)
		values = append(values, r.value)
	}
	require.Equal(t, want, values)
	for rest := got; len(rest) > 0; rest = rest[parseHeader(rest).size():] {
		require.Equal(t, codecLz4, parseHeader(rest).codec())
	}
}
