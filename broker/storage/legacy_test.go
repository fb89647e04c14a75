package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// mkLegacy encodes one legacy message with kmsg's MessageV0/V1 types.
func mkLegacy(magic int8, offset int64, attrs int8, ts int64, key, value []byte) []byte {
	var b []byte
	if magic == 0 {
		m := kmsg.MessageV0{Offset: offset, Magic: 0, Attributes: attrs, Key: key, Value: value}
		b = m.AppendTo(nil)
	} else {
		m := kmsg.MessageV1{Offset: offset, Magic: 1, Attributes: attrs, Timestamp: ts, Key: key, Value: value}
		b = m.AppendTo(nil)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
	return b
}

type legacyCodec struct {
	name  string
	codec int8
	enc   func(t *testing.T, magic int8, b []byte) []byte
}

var legacyCodecs = []legacyCodec{
	{"gzip", codecGzip, func(t *testing.T, _ int8, b []byte) []byte {
		var buf bytes.Buffer
		w := kgzip.NewWriter(&buf)
		_, err := w.Write(b)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		return buf.Bytes()
	}},
	{"snappy-xerial", codecSnappy, func(_ *testing.T, _ int8, b []byte) []byte { return xerial.Encode(nil, b) }},
	{"snappy-raw", codecSnappy, func(_ *testing.T, _ int8, b []byte) []byte { return snappy.Encode(nil, b) }},
	{"lz4", codecLz4, func(t *testing.T, magic int8, b []byte) []byte {
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		_, err := w.Write(b)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		out := buf.Bytes()
		if magic == 0 {
			breakLegacyLz4Header(out) // as Kafka's magic 0 writers did (KAFKA-3160)
		}
		return out
	}},
}

func TestStorageXXH32MatchesLz4Frames(t *testing.T) {
	for _, opt := range []lz4.Option{lz4.BlockSizeOption(lz4.Block64Kb), lz4.SizeOption(5), lz4.ChecksumOption(false)} {
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		require.NoError(t, w.Apply(opt))
		_, err := w.Write([]byte("hello"))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		frame := buf.Bytes()
		n := lz4DescriptorLen(frame)
		require.NotZero(t, n)
		require.Equal(t, frame[n-1], byte(xxh32(frame[4:n-1])>>8))
	}
	// published XXH32 (seed 0) test vectors, short and long paths
	for _, v := range []struct {
		sum  uint32
		data string
	}{
		{0x02cc5d05, ""}, {0x550d7456, "a"}, {0x32d153ff, "abc"}, {0x9738f19b, "abcde"},
		{0xd03c13fd, "abcdefghi"}, {0x9d2d8b62, "abcdefghijklmnop"}, {0x42ae804d, "abcdefghijklmnopqrstuvwxyz0123456789"},
	} {
		require.Equal(t, v.sum, xxh32([]byte(v.data)), v.data)
	}
}

func TestStorageConvertLegacy(t *testing.T) {
	for _, magic := range []int8{0, 1} {
		t.Run(fmt.Sprintf("magic%d-uncompressed", magic), func(t *testing.T) {
			var set []byte
			for i := 0; i < 4; i++ {
				var key []byte
				if i != 2 {
					key = []byte(fmt.Sprintf("k%d", i))
				}
				set = append(set, mkLegacy(magic, int64(i), 0, int64(500+i), key, []byte(fmt.Sprintf("v%d", i)))...)
			}
			checkConverted(t, magic, set, codecNone, 4)
		})
		for _, c := range legacyCodecs {
			t.Run(fmt.Sprintf("magic%d-%s", magic, c.name), func(t *testing.T) {
				var inner []byte
				for i := 0; i < 4; i++ {
					var key []byte
					if i != 2 {
						key = []byte(fmt.Sprintf("k%d", i))
					}
					inner = append(inner, mkLegacy(magic, int64(i), 0, int64(500+i), key, []byte(fmt.Sprintf("v%d", i)))...)
				}
				set := mkLegacy(magic, 3, c.codec, 503, nil, c.enc(t, magic, inner))
				checkConverted(t, magic, set, c.codec, 4)
			})
		}
	}
	t.Run("bad crc", func(t *testing.T) {
		m := mkLegacy(1, 0, 0, 1, nil, []byte("x"))
		m[len(m)-1] ^= 1
		_, err := ConvertToV2(m)
		require.ErrorIs(t, err, kerr.CorruptMessage)
	})
	t.Run("bad inner crc", func(t *testing.T) {
		inner := mkLegacy(1, 0, 0, 1, nil, []byte("x"))
		inner[len(inner)-1] ^= 1
		_, err := ConvertToV2(mkLegacy(1, 0, codecGzip, 1, nil, legacyCodecs[0].enc(t, 1, inner)))
		require.ErrorIs(t, err, kerr.CorruptMessage)
	})
	t.Run("truncated", func(t *testing.T) {
		m := mkLegacy(0, 0, 0, 0, nil, []byte("xyz"))
		_, err := ConvertToV2(m[:len(m)-1])
		require.ErrorIs(t, err, kerr.CorruptMessage)
	})
	t.Run("max.message.bytes applies per legacy message", func(t *testing.T) {
		var set []byte
		for i := 0; i < 50; i++ {
			set = append(set, mkLegacy(1, int64(i), 0, 1, nil, bytes.Repeat([]byte("x"), 30))...)
		}
		l, _ := openLog(t, testDir(t), Config{MaxMessageBytes: 100}, 0)
		res, err := l.AppendLeader(set, 0, 0)
		require.NoError(t, err, "50 small messages are fine even though their v2 batch is larger")
		require.Equal(t, 50, res.Records)
		_, err = l.AppendLeader(mkLegacy(1, 0, 0, 1, nil, bytes.Repeat([]byte("x"), 100)), 0, 0)
		require.ErrorIs(t, err, kerr.MessageTooLarge)
	})
	t.Run("log append time wrapper", func(t *testing.T) {
		inner := mkLegacy(1, 0, 0, 1, nil, []byte("x"))
		b, err := ConvertToV2(mkLegacy(1, 0, codecGzip|attrLogAppendTime, 999, nil, legacyCodecs[0].enc(t, 1, inner)))
		require.NoError(t, err)
		require.Equal(t, int64(999), decodeBatches(t, b)[0].ts)
	})
}

func checkConverted(t *testing.T, magic int8, set []byte, codec int8, n int) {
	t.Helper()
	b, err := ConvertToV2(set)
	require.NoError(t, err)
	require.NoError(t, checkCRC(b))
	require.Equal(t, codec, parseHeader(b).codec())
	recs := decodeBatches(t, b)
	require.Len(t, recs, n)
	for i, r := range recs {
		require.Equal(t, int64(i), r.offset)
		require.Equal(t, fmt.Sprintf("v%d", i), r.value)
		if i == 2 {
			require.Equal(t, "", r.key)
		} else {
			require.Equal(t, fmt.Sprintf("k%d", i), r.key)
		}
		if magic == 0 {
			require.Equal(t, int64(-1), r.ts)
		} else {
			require.Equal(t, int64(500+i), r.ts)
		}
	}
	// and through the log, as Produce v0-2 does it
	l, _ := openLog(t, testDir(t), Config{}, 0)
	_, err = l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 3, 5, 1), 0, 0)
	require.NoError(t, err)
	res, err := l.AppendLeader(set, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), res.BaseOffset)
	require.Equal(t, int64(3+n-1), res.LastOffset)
}

func TestStorageDownConvert(t *testing.T) {
	for _, c := range codecs[:4] {
		for _, magic := range []int8{0, 1} {
			t.Run(fmt.Sprintf("%s-magic%d", c.name, magic), func(t *testing.T) {
				l, _ := openLog(t, testDir(t), Config{}, 0)
				for i := 0; i < 3; i++ {
					_, err := l.AppendLeader(mkBatch(t, c.codec, []testRec{
						{key: []byte("a"), value: []byte(fmt.Sprintf("x%d", i)), ts: 100},
						{value: []byte(fmt.Sprintf("y%d", i)), ts: 105, headers: []kmsg.Header{{Key: "h", Value: []byte("dropped")}}},
					}), 0, 0)
					require.NoError(t, err)
				}
				stored, err := l.Read(0, 1<<20, 6, false)
				require.NoError(t, err)
				// a partial trailing batch, as a size-limited fetch may carry, is ignored
				out, err := DownConvert(append(stored, stored[:30]...), magic)
				require.NoError(t, err)
				msgs, codec, err := parseLegacy(out, false)
				require.NoError(t, err)
				if c.codec == kgo.NoCompression() {
					require.Equal(t, codecNone, codec)
				} else {
					require.Equal(t, parseHeader(stored).codec(), codec)
				}
				require.Len(t, msgs, 6)
				for i, m := range msgs {
					require.Equal(t, int64(i), m.offset)
					require.Equal(t, magic, m.magic)
					if i%2 == 0 {
						require.Equal(t, "a", string(m.key))
						require.Equal(t, fmt.Sprintf("x%d", i/2), string(m.value))
					} else {
						require.Nil(t, m.key)
						require.Equal(t, fmt.Sprintf("y%d", i/2), string(m.value))
					}
					if magic == 1 {
						require.Equal(t, int64(100+5*(i%2)), m.timestamp)
					}
				}
				// and back again: the round trip keeps keys and values
				v2, err := ConvertToV2(out)
				require.NoError(t, err)
				require.Len(t, decodeBatches(t, v2), 6)
			})
		}
	}
	t.Run("zstd is unsupported", func(t *testing.T) {
		b := simpleBatch(t, kgo.ZstdCompression(), 2, 5, 1)
		_, err := DownConvert(b, 1)
		require.ErrorIs(t, err, kerr.UnsupportedCompressionType)
	})
	t.Run("control batches are left out", func(t *testing.T) {
		b := simpleBatch(t, kgo.NoCompression(), 1, 5, 1)
		b[offAttributes+1] |= attrControl
		putCRC(b)
		out, err := DownConvert(append(b, simpleBatch(t, kgo.NoCompression(), 2, 5, 1)...), 1)
		require.NoError(t, err)
		msgs, _, err := parseLegacy(out, false)
		require.NoError(t, err)
		require.Len(t, msgs, 2)
	})
	t.Run("magic 1 gzip wrapper reads with kmsg", func(t *testing.T) {
		b := simpleBatch(t, kgo.GzipCompression(), 3, 5, 10)
		binary.BigEndian.PutUint64(b, 40)
		out, err := DownConvert(b, 1)
		require.NoError(t, err)
		var w kmsg.MessageV1
		require.NoError(t, w.ReadFrom(out))
		require.Equal(t, int64(42), w.Offset, "wrapper carries the last inner offset")
		require.Equal(t, int8(codecGzip), w.Attributes&7)
		zr, err := kgzip.NewReader(bytes.NewReader(w.Value))
		require.NoError(t, err)
		var inner bytes.Buffer
		_, err = inner.ReadFrom(zr)
		require.NoError(t, err)
		var m kmsg.MessageV1
		require.NoError(t, m.ReadFrom(inner.Bytes()))
		require.Equal(t, int64(0), m.Offset, "inner offsets are relative in magic 1")
	})
}
