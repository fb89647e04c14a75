package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Layout of a v2 record batch (magic 2). The CRC-32C at offCRC covers
// offAttributes to the end, so the base offset, length and partition leader
// epoch may be rewritten without touching it; the attributes and max
// timestamp may not.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57
	batchHeaderSize    = 61

	logOverhead = 12 // base offset + length, the part not counted in length

	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// batchHeader is the decoded fixed part of a v2 batch.
type batchHeader struct {
	baseOffset      int64
	length          int32
	leaderEpoch     int32
	magic           int8
	crc             uint32
	attrs           int16
	lastOffsetDelta int32
	firstTimestamp  int64
	maxTimestamp    int64
	producerID      int64
	producerEpoch   int16
	baseSequence    int32
	count           int32
}

func parseHeader(b []byte) batchHeader {
	_ = b[batchHeaderSize-1]
	return batchHeader{
		baseOffset:      int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		length:          int32(binary.BigEndian.Uint32(b[offLength:])),
		leaderEpoch:     int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		magic:           int8(b[offMagic]),
		crc:             binary.BigEndian.Uint32(b[offCRC:]),
		attrs:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		lastOffsetDelta: int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		firstTimestamp:  int64(binary.BigEndian.Uint64(b[offFirstTimestamp:])),
		maxTimestamp:    int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		producerID:      int64(binary.BigEndian.Uint64(b[offProducerID:])),
		producerEpoch:   int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		baseSequence:    int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		count:           int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
}

func (h batchHeader) lastOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) }
func (h batchHeader) size() int         { return logOverhead + int(h.length) }
func (h batchHeader) codec() int8       { return int8(h.attrs & attrCodecMask) }
func (h batchHeader) control() bool     { return h.attrs&attrControl != 0 }

// frameBatch checks that b starts with one whole v2 batch and returns its
// size. It checks framing only, not the CRC.
func frameBatch(b []byte) (int, error) {
	if len(b) < logOverhead {
		return 0, fmt.Errorf("%w: %d trailing bytes are not a whole batch header", kerr.CorruptMessage, len(b))
	}
	length := int64(int32(binary.BigEndian.Uint32(b[offLength:])))
	if length < batchHeaderSize-logOverhead {
		return 0, fmt.Errorf("%w: batch length %d below the v2 minimum", kerr.CorruptMessage, length)
	}
	if len(b) < batchHeaderSize {
		return 0, fmt.Errorf("%w: %d trailing bytes are not a whole batch header", kerr.CorruptMessage, len(b))
	}
	if m := int8(b[offMagic]); m != 2 {
		return 0, fmt.Errorf("%w: batch magic %d where 2 was expected", kerr.CorruptMessage, m)
	}
	size := logOverhead + length
	if size > int64(len(b)) {
		return 0, fmt.Errorf("%w: batch of %d bytes truncated to %d", kerr.CorruptMessage, size, len(b))
	}
	return int(size), nil
}

func batchCRC(b []byte) uint32 { return crc32.Checksum(b[offAttributes:], crc32c) }

// checkCRC verifies the CRC-32C of one whole framed batch.
func checkCRC(b []byte) error {
	if got, want := batchCRC(b), binary.BigEndian.Uint32(b[offCRC:]); got != want {
		return fmt.Errorf("%w: batch at offset %d has CRC %08x, computed %08x", kerr.CorruptMessage,
			int64(binary.BigEndian.Uint64(b)), want, got)
	}
	return nil
}

func putCRC(b []byte) { binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b)) }

// record is one decoded v2 record; key and value are nil when null.
type record struct {
	attrs       int8
	tsDelta     int64
	offsetDelta int32
	key, value  []byte
	headers     [][2][]byte
}

type recReader struct {
	b   []byte
	err error
}

func (r *recReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: malformed varint in record", kerr.CorruptMessage)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) varint32() int32 {
	v := r.varint()
	if r.err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
		r.err = fmt.Errorf("%w: varint %d out of int32 range", kerr.CorruptMessage, v)
	}
	return int32(v)
}

func (r *recReader) bytes() []byte {
	n := r.varint32()
	if r.err != nil || n < 0 {
		return nil
	}
	if int(n) > len(r.b) {
		r.err = fmt.Errorf("%w: record field of %d bytes overruns record", kerr.CorruptMessage, n)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	if v == nil {
		v = []byte{}
	}
	return v
}

// walkRecords decodes exactly count records from data (the uncompressed
// records section of a batch), calling fn for each; headers are decoded
// only when withHeaders is set.
func walkRecords(data []byte, count int32, withHeaders bool, fn func(*record) error) error {
	var rec record
	for i := int32(0); i < count; i++ {
		r := recReader{b: data}
		length := r.varint32()
		if r.err != nil {
			return r.err
		}
		if length < 0 || int(length) > len(r.b) {
			return fmt.Errorf("%w: record %d length %d overruns batch (%d bytes left)", kerr.CorruptMessage, i, length, len(r.b))
		}
		data = r.b[length:]
		r.b = r.b[:length]
		if len(r.b) < 1 {
			return fmt.Errorf("%w: record %d is empty", kerr.CorruptMessage, i)
		}
		rec.attrs = int8(r.b[0])
		r.b = r.b[1:]
		rec.tsDelta = r.varint()
		rec.offsetDelta = r.varint32()
		rec.key = r.bytes()
		rec.value = r.bytes()
		nh := r.varint32()
		if r.err == nil && (nh < 0 || int(nh) > len(r.b)) {
			return fmt.Errorf("%w: record %d header count %d", kerr.CorruptMessage, i, nh)
		}
		rec.headers = rec.headers[:0]
		for h := int32(0); h < nh && r.err == nil; h++ {
			hk := r.bytes()
			hv := r.bytes()
			if withHeaders {
				rec.headers = append(rec.headers, [2][]byte{hk, hv})
			}
		}
		if r.err != nil {
			return fmt.Errorf("record %d: %w", i, r.err)
		}
		if len(r.b) != 0 {
			return fmt.Errorf("%w: record %d has %d bytes past its fields", kerr.CorruptMessage, i, len(r.b))
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d bytes after the batch's %d records", kerr.CorruptMessage, len(data), count)
	}
	return nil
}

// appendRecord encodes one v2 record.
func appendRecord(dst []byte, rec *record) []byte {
	var body []byte
	body = append(body, byte(rec.attrs))
	body = binary.AppendVarint(body, rec.tsDelta)
	body = binary.AppendVarint(body, int64(rec.offsetDelta))
	body = appendVarBytes(body, rec.key)
	body = appendVarBytes(body, rec.value)
	body = binary.AppendVarint(body, int64(len(rec.headers)))
	for _, h := range rec.headers {
		body = appendVarBytes(body, h[0])
		body = appendVarBytes(body, h[1])
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// encodeBatch builds a v2 batch from h (length, codec and CRC are computed)
// around the uncompressed records section raw.
func encodeBatch(h batchHeader, codec int8, raw []byte) ([]byte, error) {
	payload, err := compress(codec, raw, false)
	if err != nil {
		return nil, err
	}
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(payload))
	h.attrs = h.attrs&^attrCodecMask | int16(codec)
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(h.baseOffset))
	binary.BigEndian.PutUint32(b[offLength:], uint32(batchHeaderSize-logOverhead+len(payload)))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(h.leaderEpoch))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(h.attrs))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(h.lastOffsetDelta))
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(h.firstTimestamp))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(h.maxTimestamp))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(h.producerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(h.producerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(h.baseSequence))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(h.count))
	b = append(b, payload...)
	putCRC(b)
	return b, nil
}

// batchRecords returns the uncompressed records section of a framed batch.
func batchRecords(b []byte) ([]byte, error) {
	h := parseHeader(b)
	return decompress(h.codec(), b[batchHeaderSize:h.size()], false)
}

// batchInfo is what validation learns about a batch beyond its header.
type batchInfo struct {
	maxTimestamp   int64 // largest record timestamp (CreateTime)
	offsetOfMaxTs  int32 // offset delta of the first record carrying it
	compressedSize int
}

// validateClientBatch checks one framed, CRC-valid v2 batch from a producer
// the way Kafka's LogValidator does: offset range and count agree, no control
// batches, idempotent batches carry a sequence, every record parses, its
// offset delta is its index, and a compacted topic's records have keys.
// Compressed batches are inflated for this and only for this.
func validateClientBatch(b []byte, compacted, allowControl bool) (batchInfo, error) {
	h := parseHeader(b)
	info := batchInfo{maxTimestamp: -1, offsetOfMaxTs: -1, compressedSize: len(b)}
	if h.lastOffsetDelta < 0 || h.count <= 0 || int64(h.lastOffsetDelta)+1 != int64(h.count) {
		return info, fmt.Errorf("%w: batch has last offset delta %d but %d records", kerr.InvalidRecord, h.lastOffsetDelta, h.count)
	}
	if h.control() && !allowControl {
		return info, fmt.Errorf("%w: clients may not write control batches", kerr.InvalidRecord)
	}
	if h.producerID >= 0 && h.baseSequence < 0 && !h.control() {
		return info, fmt.Errorf("%w: producer id %d with base sequence %d", kerr.InvalidRecord, h.producerID, h.baseSequence)
	}
	raw, err := batchRecords(b)
	if err != nil {
		return info, err
	}
	var i int32
	err = walkRecords(raw, h.count, false, func(r *record) error {
		if r.offsetDelta != i {
			return fmt.Errorf("%w: record %d has offset delta %d", kerr.InvalidRecord, i, r.offsetDelta)
		}
		if compacted && r.key == nil {
			return fmt.Errorf("%w: compacted topic cannot accept a record without key", kerr.InvalidRecord)
		}
		if ts := h.firstTimestamp + r.tsDelta; ts > info.maxTimestamp || info.offsetOfMaxTs < 0 {
			info.maxTimestamp, info.offsetOfMaxTs = ts, i
		}
		i++
		return nil
	})
	return info, err
}
