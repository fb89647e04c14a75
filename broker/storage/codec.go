package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Compression codecs as numbered in the low three attribute bits of every
// message format.
const (
	codecNone   int8 = 0
	codecGzip   int8 = 1
	codecSnappy int8 = 2
	codecLz4    int8 = 3
	codecZstd   int8 = 4
)

// maxDecompressed bounds what a single batch may inflate to, so a small
// hostile batch cannot exhaust memory. A variable so tests can lower it.
var maxDecompressed = 256 << 20

var errDecompressedTooLarge = errors.New("storage: decompressed batch exceeds limit")

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var (
	zstdDecOnce sync.Once
	zstdDec     *zstd.Decoder
	zstdEncOnce sync.Once
	zstdEnc     *zstd.Encoder
)

func zstdDecoder() *zstd.Decoder {
	zstdDecOnce.Do(func() {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uint64(maxDecompressed)))
		if err != nil {
			panic(fmt.Sprintf("storage: zstd decoder: %v", err))
		}
		zstdDec = d
	})
	return zstdDec
}

func zstdEncoder() *zstd.Encoder {
	zstdEncOnce.Do(func() {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(fmt.Sprintf("storage: zstd encoder: %v", err))
		}
		zstdEnc = e
	})
	return zstdEnc
}

// decompress inflates src written with codec into a new buffer (src itself
// for codecNone). legacyLz4 selects the magic 0 framing whose header
// checksum Kafka computed over the magic bytes too (KAFKA-3160). Errors wrap
// kerr.CorruptMessage, or kerr.UnsupportedCompressionType for an unknown
// codec.
func decompress(codec int8, src []byte, legacyLz4 bool) ([]byte, error) {
	return inflate(nil, codec, src, legacyLz4)
}

// inflate is decompress writing into dst[:0] instead of a new buffer: the
// result aliases dst when it fits in dst's capacity and is a grown copy
// otherwise. For codecNone it returns src itself and leaves dst alone.
func inflate(dst []byte, codec int8, src []byte, legacyLz4 bool) ([]byte, error) {
	dst = dst[:0]
	var out []byte
	var err error
	switch codec {
	case codecNone:
		return src, nil
	case codecGzip:
		out, err = inflateGzip(dst, src)
	case codecSnappy:
		out, err = decodeSnappy(dst, src)
	case codecLz4:
		if legacyLz4 {
			src = fixLegacyLz4Header(src)
		}
		out, err = inflateLz4(dst, src)
	case codecZstd:
		out, err = zstdDecoder().DecodeAll(src, dst)
		if err == nil && len(out) > maxDecompressed {
			err = errDecompressedTooLarge
		}
	default:
		return nil, fmt.Errorf("%w: compression codec %d", kerr.UnsupportedCompressionType, codec)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decompressing codec %d: %v", kerr.CorruptMessage, codec, err)
	}
	return out, nil
}

// scratch is what one append reuses from the last: the inflate buffer and
// the batch list. An append takes one from scratchPool, so steady producing
// validates without allocating.
type scratch struct {
	b     []byte
	metas []batchMeta
}

// scratchKeepMax is the largest buffer returned to the pool; a rare huge
// batch's buffer is left to the garbage collector instead of staying pinned.
const scratchKeepMax = 16 << 20

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// keep remembers out as the buffer to reuse when it is a grown inflate
// result (not src passed through for codecNone).
func (s *scratch) keep(out []byte, codec int8) {
	if codec != codecNone && cap(out) > cap(s.b) {
		s.b = out[:0]
	}
}

func (s *scratch) release() {
	if cap(s.b) > scratchKeepMax {
		s.b = nil
	}
	clear(s.metas[:cap(s.metas)]) // drop recompressed batches
	s.metas = s.metas[:0]
	scratchPool.Put(s)
}

// gzipState and lz4State are pooled readers with their source, reset per
// batch instead of allocated.
type gzipState struct {
	src bytes.Reader
	zr  gzip.Reader
}

type lz4State struct {
	src bytes.Reader
	zr  *lz4.Reader
}

var (
	gzipPool = sync.Pool{New: func() any { return new(gzipState) }}
	lz4Pool  = sync.Pool{New: func() any { return &lz4State{zr: lz4.NewReader(nil)} }}
)

func inflateGzip(dst, src []byte) ([]byte, error) {
	st := gzipPool.Get().(*gzipState)
	defer gzipPool.Put(st)
	st.src.Reset(src)
	defer st.src.Reset(nil) // the pool must not keep src alive
	if err := st.zr.Reset(&st.src); err != nil {
		return nil, err
	}
	return readBounded(dst, &st.zr)
}

func inflateLz4(dst, src []byte) ([]byte, error) {
	st := lz4Pool.Get().(*lz4State)
	defer lz4Pool.Put(st)
	st.src.Reset(src)
	st.zr.Reset(&st.src)
	out, err := readBounded(dst, st.zr)
	st.zr.Reset(nil)
	st.src.Reset(nil) // the pool must not keep src alive
	return out, err
}

// readBounded appends everything r yields to dst, failing once that passes
// maxDecompressed bytes.
func readBounded(dst []byte, r io.Reader) ([]byte, error) {
	base := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, max(64<<10, len(dst)-base))
		}
		room := dst[len(dst):min(cap(dst), base+maxDecompressed+1)]
		n, err := r.Read(room)
		dst = dst[:len(dst)+n]
		if len(dst)-base > maxDecompressed {
			return nil, errDecompressedTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// decodeSnappy appends to dst the inflated form of src, accepting both raw
// snappy blocks (librdkafka's and franz-go's default) and the xerial
// framing Kafka's Java clients write.
func decodeSnappy(dst, src []byte) ([]byte, error) {
	if len(src) < 16 || !bytes.Equal(src[:8], xerialMagic) {
		return decodeSnappyBlock(dst, src, len(dst))
	}
	base := len(dst)
	for pos := 16; pos < len(src); {
		if len(src)-pos < 4 {
			return nil, errors.New("truncated xerial chunk length")
		}
		n := int(binary.BigEndian.Uint32(src[pos:]))
		pos += 4
		if n < 0 || n > len(src)-pos {
			return nil, errors.New("xerial chunk overruns input")
		}
		var err error
		dst, err = decodeSnappyBlock(dst, src[pos:pos+n], base)
		if err != nil {
			return nil, err
		}
		pos += n
	}
	return dst, nil
}

// decodeSnappyBlock decodes one block straight into dst past its length,
// failing when dst would then hold more than maxDecompressed bytes past
// base.
func decodeSnappyBlock(dst, src []byte, base int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n < 0 || len(dst)-base+n > maxDecompressed {
		return nil, errDecompressedTooLarge
	}
	dst = slices.Grow(dst, n)
	into := dst[len(dst) : len(dst)+n]
	block, err := snappy.Decode(into, src)
	if err != nil {
		return nil, err
	}
	if n > 0 && &block[0] != &into[0] {
		copy(into, block) // Decode documents that it uses a large enough dst; in case it did not
	}
	return dst[:len(dst)+n], nil
}

// compress deflates src with codec. Snappy is written in xerial framing,
// which every Kafka client reads; lz4 as a Kafka-style frame (64 KiB
// independent blocks, no content checksum), with the broken header checksum
// magic 0 readers expect when legacyLz4 is set.
func compress(codec int8, src []byte, legacyLz4 bool) ([]byte, error) {
	switch codec {
	case codecNone:
		return src, nil
	case codecGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case codecSnappy:
		out := append([]byte(nil), xerialMagic...)
		out = append(out, 0, 0, 0, 1, 0, 0, 0, 1)
		const chunk = 32 << 10
		for len(src) > 0 {
			n := min(chunk, len(src))
			enc := snappy.Encode(nil, src[:n])
			out = binary.BigEndian.AppendUint32(out, uint32(len(enc)))
			out = append(out, enc...)
			src = src[n:]
		}
		return out, nil
	case codecLz4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false), lz4.ConcurrencyOption(1)); err != nil {
			return nil, err
		}
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		out := buf.Bytes()
		if legacyLz4 {
			breakLegacyLz4Header(out)
		}
		return out, nil
	case codecZstd:
		return zstdEncoder().EncodeAll(src, nil), nil
	}
	return nil, fmt.Errorf("%w: compression codec %d", kerr.UnsupportedCompressionType, codec)
}

// lz4 frame descriptor: magic(4) FLG BD [content size 8] [dict id 4] HC.
func lz4DescriptorLen(frame []byte) int {
	if len(frame) < 7 {
		return 0
	}
	n := 7
	if frame[4]&0x08 != 0 {
		n += 8
	}
	if frame[4]&0x01 != 0 {
		n += 4
	}
	if len(frame) < n {
		return 0
	}
	return n
}

// fixLegacyLz4Header rewrites the header checksum Kafka's magic 0 writers
// computed over magic+descriptor into the standard one (over the descriptor
// alone), on a copy.
func fixLegacyLz4Header(frame []byte) []byte {
	n := lz4DescriptorLen(frame)
	if n == 0 || binary.LittleEndian.Uint32(frame) != 0x184D2204 {
		return frame
	}
	if frame[n-1] != byte(xxh32(frame[:n-1])>>8) {
		return frame // not the broken form; let the reader judge it
	}
	out := append([]byte(nil), frame...)
	out[n-1] = byte(xxh32(out[4:n-1]) >> 8)
	return out
}

func breakLegacyLz4Header(frame []byte) {
	if n := lz4DescriptorLen(frame); n != 0 {
		frame[n-1] = byte(xxh32(frame[:n-1]) >> 8)
	}
}

const (
	xxPrime1 uint32 = 2654435761
	xxPrime2 uint32 = 2246822519
	xxPrime3 uint32 = 3266489917
	xxPrime4 uint32 = 668265263
	xxPrime5 uint32 = 374761393
)

// xxh32 is XXH32 with seed 0, for the few bytes of an lz4 frame descriptor.
func xxh32(b []byte) uint32 {
	var h uint32
	n := len(b)
	if n >= 16 {
		p1, p2 := xxPrime1, xxPrime2
		v1 := p1 + p2
		v2 := p2
		v3 := uint32(0)
		v4 := -p1
		round := func(v, in uint32) uint32 { return bits.RotateLeft32(v+in*xxPrime2, 13) * xxPrime1 }
		for len(b) >= 16 {
			v1 = round(v1, binary.LittleEndian.Uint32(b))
			v2 = round(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = round(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = round(v4, binary.LittleEndian.Uint32(b[12:]))
			b = b[16:]
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = xxPrime5
	}
	h += uint32(n)
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b) * xxPrime3
		h = bits.RotateLeft32(h, 17) * xxPrime4
	}
	for _, c := range b {
		h += uint32(c) * xxPrime5
		h = bits.RotateLeft32(h, 11) * xxPrime1
	}
	h ^= h >> 15
	h *= xxPrime2
	h ^= h >> 13
	h *= xxPrime3
	h ^= h >> 16
	return h
}
