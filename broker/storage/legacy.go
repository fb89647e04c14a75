package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Legacy message format (magic 0 and 1), as Produce v0-2 send it and Fetch
// v0-3 expect it:
//
//	offset int64, size int32, then size bytes of message:
//	crc uint32 (CRC-32 over magic..end), magic int8, attributes int8,
//	[timestamp int64, magic 1 only], key bytes (int32 length, -1 = null), value bytes.
//
// A compressed message ("wrapper") carries an inner message set as its value.
// Magic 1 wrappers hold relative inner offsets and their own offset is the
// last inner one; magic 0 wrappers hold absolute inner offsets.
const (
	legacyOverhead = 12 // offset + size
	legacyMinV0    = 4 + 1 + 1 + 4 + 4
	legacyMinV1    = legacyMinV0 + 8
)

// legacyMsg is one decoded legacy message.
type legacyMsg struct {
	offset     int64
	magic      int8
	attrs      int8
	timestamp  int64
	key, value []byte
}

// isLegacy reports whether a records field starts with a magic 0/1 message.
func isLegacy(b []byte) bool { return len(b) > offMagic && b[offMagic] < 2 }

func legacyBytes(b []byte, at int) ([]byte, int, error) {
	if len(b)-at < 4 {
		return nil, 0, fmt.Errorf("%w: legacy message field truncated", kerr.CorruptMessage)
	}
	n := int32(binary.BigEndian.Uint32(b[at:]))
	at += 4
	if n < 0 {
		return nil, at, nil
	}
	if int(n) > len(b)-at {
		return nil, 0, fmt.Errorf("%w: legacy message field of %d bytes overruns message", kerr.CorruptMessage, n)
	}
	return b[at : at+int(n) : at+int(n)], at + int(n), nil
}

// parseLegacy decodes a legacy message set, verifying every CRC. Compressed
// wrappers are inflated and their inner messages returned in their place
// with absolute offsets when absolute is set, otherwise as written. codec is
// the codec of the last compressed wrapper seen.
func parseLegacy(set []byte, nested bool) (msgs []legacyMsg, codec int8, err error) {
	for pos := 0; pos < len(set); {
		if len(set)-pos < legacyOverhead {
			return nil, 0, fmt.Errorf("%w: %d trailing bytes at position %d are not a legacy message", kerr.CorruptMessage, len(set)-pos, pos)
		}
		off := int64(binary.BigEndian.Uint64(set[pos:]))
		size := int(int32(binary.BigEndian.Uint32(set[pos+8:])))
		if size < legacyMinV0 || size > len(set)-pos-legacyOverhead {
			return nil, 0, fmt.Errorf("%w: legacy message at position %d has size %d", kerr.CorruptMessage, pos, size)
		}
		m := set[pos+legacyOverhead : pos+legacyOverhead+size]
		pos += legacyOverhead + size
		if got, want := crc32.ChecksumIEEE(m[4:]), binary.BigEndian.Uint32(m); got != want {
			return nil, 0, fmt.Errorf("%w: legacy message at offset %d has CRC %08x, computed %08x", kerr.CorruptMessage, off, want, got)
		}
		msg := legacyMsg{offset: off, magic: int8(m[4]), attrs: int8(m[5]), timestamp: -1}
		at := 6
		switch msg.magic {
		case 0:
		case 1:
			if size < legacyMinV1 {
				return nil, 0, fmt.Errorf("%w: magic 1 message at offset %d has size %d", kerr.CorruptMessage, off, size)
			}
			msg.timestamp = int64(binary.BigEndian.Uint64(m[at:]))
			at += 8
		default:
			return nil, 0, fmt.Errorf("%w: message at offset %d has magic %d in a legacy set", kerr.CorruptMessage, off, msg.magic)
		}
		if msg.key, at, err = legacyBytes(m, at); err != nil {
			return nil, 0, err
		}
		if msg.value, at, err = legacyBytes(m, at); err != nil {
			return nil, 0, err
		}
		if at != len(m) {
			return nil, 0, fmt.Errorf("%w: legacy message at offset %d has %d bytes past its value", kerr.CorruptMessage, off, len(m)-at)
		}
		c := msg.attrs & attrCodecMask
		if c == codecNone {
			msgs = append(msgs, msg)
			continue
		}
		if nested {
			return nil, 0, fmt.Errorf("%w: nested compressed message at offset %d", kerr.CorruptMessage, off)
		}
		if c == codecZstd {
			return nil, 0, fmt.Errorf("%w: zstd in a magic %d message", kerr.UnsupportedCompressionType, msg.magic)
		}
		codec = c
		raw, err := decompress(c, msg.value, msg.magic == 0)
		if err != nil {
			return nil, 0, err
		}
		inner, _, err := parseLegacy(raw, true)
		if err != nil {
			return nil, 0, err
		}
		for i := range inner {
			if msg.magic == 1 && msg.attrs&attrLogAppendTime != 0 {
				inner[i].timestamp = msg.timestamp
			}
			if msg.magic == 1 && len(inner) > 0 {
				// relative inner offsets: the wrapper carries the last one's absolute offset
				inner[i].offset = msg.offset - inner[len(inner)-1].offset + inner[i].offset
			}
		}
		msgs = append(msgs, inner...)
	}
	return msgs, codec, nil
}

// ConvertToV2 converts a legacy message set (magic 0 or 1, compressed
// wrappers included, every CRC verified) into one v2 batch holding the same
// keys, values and timestamps (magic 0 has none: -1), compressed with the
// codec of the set's compressed wrappers. Offsets are renumbered from 0: the
// log assigns real ones on append.
func ConvertToV2(set []byte) ([]byte, error) {
	msgs, codec, err := parseLegacy(set, false)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: empty legacy message set", kerr.CorruptMessage)
	}
	h := batchHeader{
		leaderEpoch:     -1,
		lastOffsetDelta: int32(len(msgs) - 1),
		firstTimestamp:  msgs[0].timestamp,
		maxTimestamp:    -1,
		producerID:      -1,
		producerEpoch:   -1,
		baseSequence:    -1,
		count:           int32(len(msgs)),
	}
	var raw []byte
	for i, m := range msgs {
		h.maxTimestamp = max(h.maxTimestamp, m.timestamp)
		raw = appendRecord(raw, &record{tsDelta: m.timestamp - h.firstTimestamp, offsetDelta: int32(i), key: m.key, value: m.value})
	}
	return encodeBatch(h, codec, raw)
}

func appendLegacyMsg(dst []byte, magic int8, offset int64, attrs int8, ts int64, key, value []byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // size, crc
	dst = append(dst, byte(magic), byte(attrs))
	if magic == 1 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(ts))
	}
	for _, b := range [][]byte{key, value} {
		if b == nil {
			dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)
			continue
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
		dst = append(dst, b...)
	}
	m := dst[start+legacyOverhead:]
	binary.BigEndian.PutUint32(dst[start+8:], uint32(len(m)))
	binary.BigEndian.PutUint32(m, crc32.ChecksumIEEE(m[4:]))
	return dst
}

// DownConvert rewrites stored v2 batches as a legacy message set of the
// given magic (0 or 1) for Fetch v0-3. Offsets are kept; record headers are
// dropped; control batches are left out; a compressed batch becomes one
// compressed wrapper of the same codec (zstd cannot be expressed:
// kerr.UnsupportedCompressionType). A trailing partial batch is ignored, as
// old consumers ignore a partial message.
func DownConvert(batches []byte, magic int8) ([]byte, error) {
	if magic != 0 && magic != 1 {
		return nil, fmt.Errorf("storage: down-convert to magic %d", magic)
	}
	var out []byte
	for len(batches) > 0 {
		size, err := frameBatch(batches)
		if err != nil {
			if len(batches) < batchHeaderSize || int64(len(batches)) < logOverhead+int64(int32(binary.BigEndian.Uint32(batches[offLength:]))) {
				break // partial tail
			}
			return nil, err
		}
		b := batches[:size]
		batches = batches[size:]
		h := parseHeader(b)
		if h.control() {
			continue
		}
		codec := h.codec()
		if codec == codecZstd {
			return nil, fmt.Errorf("%w: zstd batch at offset %d for a magic %d fetch", kerr.UnsupportedCompressionType, h.baseOffset, magic)
		}
		raw, err := batchRecords(b)
		if err != nil {
			return nil, err
		}
		tsAttr := int8(0)
		if magic == 1 && h.attrs&attrLogAppendTime != 0 {
			tsAttr = attrLogAppendTime
		}
		var inner []byte
		var first, last int64 = -1, -1
		err = walkRecords(raw, h.count, false, func(r *record) error {
			off := h.baseOffset + int64(r.offsetDelta)
			ts := h.firstTimestamp + r.tsDelta
			if h.attrs&attrLogAppendTime != 0 {
				ts = h.maxTimestamp
			}
			if codec == codecNone {
				out = appendLegacyMsg(out, magic, off, tsAttr, ts, r.key, r.value)
				return nil
			}
			if first < 0 {
				first = off
			}
			last = off
			innerOff := off
			if magic == 1 {
				innerOff = off - first
			}
			inner = appendLegacyMsg(inner, magic, innerOff, 0, ts, r.key, r.value)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if codec == codecNone || last < 0 {
			continue
		}
		value, err := compress(codec, inner, magic == 0)
		if err != nil {
			return nil, err
		}
		out = appendLegacyMsg(out, magic, last, codec|tsAttr, h.maxTimestamp, nil, value)
	}
	return out, nil
}

// checkLegacySizes rejects a legacy set holding a top-level message (a
// compressed wrapper counts as one) larger than maxBytes with
// kerr.MessageTooLarge; framing errors are left to parseLegacy.
func checkLegacySizes(set []byte, maxBytes int) error {
	for pos := 0; len(set)-pos >= legacyOverhead; {
		size := int64(int32(binary.BigEndian.Uint32(set[pos+8:])))
		if size < 0 {
			return nil
		}
		if legacyOverhead+size > int64(maxBytes) {
			return fmt.Errorf("%w: legacy message at offset %d of %d bytes exceeds max.message.bytes %d",
				kerr.MessageTooLarge, int64(binary.BigEndian.Uint64(set[pos:])), legacyOverhead+size, maxBytes)
		}
		pos += legacyOverhead + int(size)
	}
	return nil
}
