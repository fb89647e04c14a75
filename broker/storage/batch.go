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

// varint decodes the zig-zag varint at the start of b and returns it with
// its length, or n <= 0 when b does not start with one. It accepts exactly
// what binary.Varint accepts, with the same value and length
// (FuzzStorageVarint compares the two; only the n of a rejected input may
// differ), but is small enough to be inlined into the record walker, which
// decodes five or more varints per record, most one or two bytes long.
func varint(b []byte) (v int64, n int) {
	var u uint64
	var s uint
	for i, c := range b {
		if c < 0x80 {
			if i >= binary.MaxVarintLen64-1 && (i > binary.MaxVarintLen64-1 || c > 1) {
				return 0, -(i + 1) // overflows 64 bits
			}
			u |= uint64(c) << (s & 63)
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
		u |= uint64(c&0x7f) << (s & 63) // past 63 only on the way to the overflow above
		s += 7
	}
	return 0, 0
}

// field splits a length-prefixed field off b, given its length l and the
// length n of that length's varint: nil for a negative length (null),
// non-nil otherwise. ok is false when the varint was malformed (n <= 0) or
// l is out of int32 range or overruns b.
func field(b []byte, l int64, n int) (f, rest []byte, ok bool) {
	if n <= 0 || l > int64(len(b)-n) || l < math.MinInt32 {
		return nil, b, false
	}
	b = b[n:]
	if l < 0 {
		return nil, b, true
	}
	return b[:l:l], b[l:], true
}

// uvarintAt decodes the varint at data[p:end] (end <= len(data)) in its
// zigzag form (2v for v >= 0, odd for negatives): its value and the
// position after it, or q < 0 when it is malformed or runs past end. One-
// and two-byte varints, nearly all of a producer's, take the short way.
func uvarintAt(data []byte, p, end int) (u uint64, q int) {
	if p < 0 || p >= end {
		return 0, -1
	}
	if c := uint64(data[p]); c < 0x80 {
		return c, p + 1
	} else if p+1 < end {
		if d := uint64(data[p+1]); d < 0x80 {
			return c&0x7f | d<<7, p + 2
		}
	}
	v, n := varint(data[p:end])
	if n <= 0 {
		return 0, -1
	}
	return uint64(v<<1) ^ uint64(v>>63), p + n // back to the zigzag form
}

// checkProduced is the produce path's record check: whether data (a
// batch's uncompressed records section) holds exactly count records that
// recIter accepts, with offset deltas 0, 1, … and, when compacted, keys;
// and if so the largest timestamp (first plus a record's delta) and the
// offset delta of the first record carrying it. It is the hottest loop of
// a produce, so it keeps no fields, tracks one position rather than
// re-slicing, and works on varints in their zigzag form: about 1.6 times
// as fast as recIter. It is at least as
// strict as recIter (FuzzStorageCheckProduced holds it to that), so a
// batch it refuses is walked again with recIter for the reason.
func checkProduced(data []byte, count int32, first int64, compacted bool) (maxTs int64, maxAt int32, ok bool) {
	maxTs, maxAt = -1, -1
	p, n := 0, len(data)
	var u uint64
	for i := int32(0); i < count; i++ {
		if u, p = uvarintAt(data, p, n); p < 0 || u&1 != 0 || u>>1 > uint64(n-p) {
			return -1, -1, false // the record's length
		}
		end := p + int(u>>1)
		p++ // attributes
		if u, p = uvarintAt(data, p, end); p < 0 {
			return -1, -1, false // timestamp delta
		}
		if ts := first + (int64(u>>1) ^ -int64(u&1)); ts > maxTs || maxAt < 0 {
			maxTs, maxAt = ts, i
		}
		if u, p = uvarintAt(data, p, end); p < 0 || u != uint64(i)<<1 {
			return -1, -1, false // offset delta: the record's index
		}
		// The key, the value, then (after the header count) each header's
		// key and value: a length, odd for null (which recIter takes down
		// to int32's minimum), and that many bytes.
		for f, fields := 0, 2; f < fields; f++ {
			if u, p = uvarintAt(data, p, end); p < 0 {
				return -1, -1, false
			}
			switch {
			case u&1 == 0 && u>>1 <= uint64(end-p):
				p += int(u >> 1)
			case u&1 == 0 || u > math.MaxUint32 || f == 0 && compacted:
				return -1, -1, false
			}
			if f == 1 {
				if u, p = uvarintAt(data, p, end); p < 0 || u&1 != 0 || u>>1 > uint64(end-p) {
					return -1, -1, false // header count
				}
				fields += 2 * int(u>>1)
			}
		}
		if p != end {
			return -1, -1, false
		}
	}
	return maxTs, maxAt, p == n
}

// recIter walks exactly count records of data (the uncompressed records
// section of a batch): each next decodes one into rec, which stays valid
// until the following next. Headers are decoded only when withHeaders is
// set (else skipped, but still checked). After next returns false, err is
// nil only if all count records parsed and nothing followed them. It is the
// one record decoder: validation, compaction, down-conversion and lookups
// all walk with it.
type recIter struct {
	data        []byte
	count, i    int32
	withHeaders bool
	rec         record
	err         error
}

func (it *recIter) next() bool {
	if it.err != nil {
		return false
	}
	if it.i >= it.count {
		if len(it.data) != 0 {
			it.err = fmt.Errorf("%w: %d bytes after the batch's %d records", kerr.CorruptMessage, len(it.data), it.count)
		}
		return false
	}
	b := it.data
	length, n := varint(b)
	if n <= 0 || length < 0 || length > int64(len(b)-n) {
		return it.fail("length", nil)
	}
	it.data = b[n+int(length):]
	b = b[n : n+int(length)]
	if len(b) < 1 {
		return it.fail("attributes", b)
	}
	rec := &it.rec
	rec.attrs = int8(b[0])
	b = b[1:]
	if rec.tsDelta, n = varint(b); n <= 0 {
		return it.fail("timestamp delta", b)
	}
	b = b[n:]
	od, n := varint(b)
	if n <= 0 || od != int64(int32(od)) {
		return it.fail("offset delta", b)
	}
	rec.offsetDelta = int32(od)
	b = b[n:]
	var ok bool
	l, n := varint(b)
	if rec.key, b, ok = field(b, l, n); !ok {
		return it.fail("key", b)
	}
	l, n = varint(b)
	if rec.value, b, ok = field(b, l, n); !ok {
		return it.fail("value", b)
	}
	nh, n := varint(b)
	if n <= 0 || nh < 0 || nh > int64(len(b)-n) {
		return it.fail("header count", b)
	}
	b = b[n:]
	rec.headers = rec.headers[:0]
	for h := int64(0); h < nh; h++ {
		var hk, hv []byte
		l, n = varint(b)
		if hk, b, ok = field(b, l, n); !ok {
			return it.fail("header key", b)
		}
		l, n = varint(b)
		if hv, b, ok = field(b, l, n); !ok {
			return it.fail("header value", b)
		}
		if it.withHeaders {
			rec.headers = append(rec.headers, [2][]byte{hk, hv})
		}
	}
	if len(b) != 0 {
		return it.fail("end", b)
	}
	it.i++
	return true
}

// fail records why record it.i does not parse; rest is what was left of
// the record where field should have been.
func (it *recIter) fail(field string, rest []byte) bool {
	switch field {
	case "length":
		it.err = fmt.Errorf("%w: record %d: malformed length or overruns the batch (%d bytes left)", kerr.CorruptMessage, it.i, len(it.data))
	case "end":
		it.err = fmt.Errorf("%w: record %d has %d bytes past its fields", kerr.CorruptMessage, it.i, len(rest))
	default:
		it.err = fmt.Errorf("%w: record %d: %s is missing, malformed or overruns the record (%d bytes left)", kerr.CorruptMessage, it.i, field, len(rest))
	}
	return false
}

// walkRecords walks data with a recIter, calling fn for each record and
// stopping at fn's first error.
func walkRecords(data []byte, count int32, withHeaders bool, fn func(*record) error) error {
	it := recIter{data: data, count: count, withHeaders: withHeaders}
	for it.next() {
		if err := fn(&it.rec); err != nil {
			return err
		}
	}
	return it.err
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
// Compressed batches are inflated for this into sc, and the records section
// is returned (valid until sc is used again) so a recompression need not
// inflate twice; b itself is not changed.
func validateClientBatch(b []byte, compacted, allowControl bool, sc *scratch) (batchInfo, []byte, error) {
	h := parseHeader(b)
	info := batchInfo{maxTimestamp: -1, offsetOfMaxTs: -1, compressedSize: len(b)}
	if h.lastOffsetDelta < 0 || h.count <= 0 || int64(h.lastOffsetDelta)+1 != int64(h.count) {
		return info, nil, fmt.Errorf("%w: batch has last offset delta %d but %d records", kerr.InvalidRecord, h.lastOffsetDelta, h.count)
	}
	if h.control() && !allowControl {
		return info, nil, fmt.Errorf("%w: clients may not write control batches", kerr.InvalidRecord)
	}
	if h.producerID >= 0 && h.baseSequence < 0 && !h.control() {
		return info, nil, fmt.Errorf("%w: producer id %d with base sequence %d", kerr.InvalidRecord, h.producerID, h.baseSequence)
	}
	raw, err := inflate(sc.b, h.codec(), b[batchHeaderSize:h.size()], false)
	if err != nil {
		return info, nil, err
	}
	sc.keep(raw, h.codec())
	ts, at, ok := checkProduced(raw, h.count, h.firstTimestamp, compacted)
	if !ok {
		// walk again for the reason
		if ts, at, err = walkProduced(raw, h.count, h.firstTimestamp, compacted); err != nil {
			return info, nil, err
		}
	}
	info.maxTimestamp, info.offsetOfMaxTs = ts, at
	return info, raw, nil
}

// walkProduced is checkProduced with recIter, saying why a batch fails.
func walkProduced(data []byte, count int32, first int64, compacted bool) (maxTs int64, maxAt int32, err error) {
	maxTs, maxAt = -1, -1
	it := recIter{data: data, count: count}
	for it.next() {
		r, i := &it.rec, it.i-1
		if r.offsetDelta != i {
			return -1, -1, fmt.Errorf("%w: record %d has offset delta %d", kerr.InvalidRecord, i, r.offsetDelta)
		}
		if compacted && r.key == nil {
			return -1, -1, fmt.Errorf("%w: compacted topic cannot accept a record without key", kerr.InvalidRecord)
		}
		if ts := first + r.tsDelta; ts > maxTs || maxAt < 0 {
			maxTs, maxAt = ts, i
		}
	}
	if it.err != nil {
		return -1, -1, it.err
	}
	return maxTs, maxAt, nil
}
