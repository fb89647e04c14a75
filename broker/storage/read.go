package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Read returns whole stored batches, never re-encoded, starting with the
// one that holds offset and stopping before the first batch that reaches
// maxOffset (the high watermark, or the log end for followers) or would pass
// maxBytes. With minOne, the first batch is returned even when it alone is
// larger than maxBytes. offset outside [StartOffset, EndOffset] is
// kerr.OffsetOutOfRange; offset == EndOffset reads nothing. The batch
// holding offset may begin before it, as in Kafka; clients skip the records
// below the offset they asked for. Reads come from one segment at a time.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64, minOne bool) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	leo := l.active().next
	if offset < l.start || offset > leo {
		return nil, l.errf(fmt.Errorf("%w: offset %d outside [%d, %d]", kerr.OffsetOutOfRange, offset, l.start, leo))
	}
	maxOffset = min(maxOffset, leo)
	if offset >= maxOffset {
		return nil, nil
	}
	for i := l.segIndex(offset); i < len(l.segs); i++ {
		s := l.segs[i]
		if offset >= s.next || s.size == 0 {
			continue
		}
		pos, err := s.findBatch(max(offset, s.base))
		if err != nil {
			return nil, err
		}
		if pos >= s.size {
			continue
		}
		return s.readFrom(pos, maxBytes, maxOffset, minOne)
	}
	return nil, nil
}

// segIndex returns the index of the segment that would hold offset. Lock
// should be held (mu, either).
func (l *Log) segIndex(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	return max(i-1, 0)
}

// readFrom reads the batches from pos as Read describes with one pread.
// Lock should be held (mu, for reading).
func (s *segment) readFrom(pos int64, maxBytes int, maxOffset int64, minOne bool) ([]byte, error) {
	end := s.size
	if maxOffset < s.next {
		e, err := s.findBatch(maxOffset)
		if err != nil {
			return nil, err
		}
		end = e
	}
	if end <= pos {
		return nil, nil
	}
	n := min(int64(max(maxBytes, 0)), end-pos)
	var buf []byte
	if n >= logOverhead {
		buf = make([]byte, n)
		if _, err := s.log.ReadAt(buf, pos); err != nil {
			return nil, fmt.Errorf("storage: reading %s at %d: %w", s.log.Name(), pos, err)
		}
	}
	cut := 0
	for cut+batchHeaderSize <= len(buf) {
		size := logOverhead + int(int32(binary.BigEndian.Uint32(buf[cut+offLength:])))
		if size < batchHeaderSize || cut+size > len(buf) {
			break
		}
		h := parseHeader(buf[cut:])
		if h.lastOffset() >= maxOffset {
			break
		}
		cut += size
	}
	if cut > 0 || !minOne {
		return buf[:cut], nil
	}
	var hdr [batchHeaderSize]byte
	if _, err := s.log.ReadAt(hdr[:], pos); err != nil {
		return nil, fmt.Errorf("storage: reading %s at %d: %w", s.log.Name(), pos, err)
	}
	h := parseHeader(hdr[:])
	if h.length < batchHeaderSize-logOverhead || pos+int64(h.size()) > end || h.lastOffset() >= maxOffset {
		return nil, nil
	}
	buf = make([]byte, h.size())
	if _, err := s.log.ReadAt(buf, pos); err != nil {
		return nil, fmt.Errorf("storage: reading %s at %d: %w", s.log.Name(), pos, err)
	}
	return buf, nil
}

// OffsetForTimestamp returns the first record at or after the log start
// whose timestamp is at least ts, with its timestamp, as ListOffsets does.
// Compressed batches that may hold it are inflated to find the record.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return -1, -1, false
	}
	for _, s := range l.segs {
		if s.size == 0 || s.maxTs < ts || s.next <= l.start {
			continue
		}
		from := max(s.lookupTime(ts), l.start)
		pos := s.lookup(from)
		sc := newScanner(s.log, pos, s.size, 64<<10)
		for {
			_, b, err := sc.next(true)
			if err != nil {
				break // io.EOF, or bytes Read would not serve either
			}
			h := parseHeader(b)
			if h.maxTimestamp < ts || h.lastOffset() < l.start || h.control() {
				continue
			}
			if h.attrs&attrLogAppendTime != 0 {
				return max(h.baseOffset, l.start), h.maxTimestamp, true
			}
			raw, err := batchRecords(b)
			if err != nil {
				continue
			}
			found := false
			walkRecords(raw, h.count, false, func(r *record) error {
				off, rts := h.baseOffset+int64(r.offsetDelta), h.firstTimestamp+r.tsDelta
				if rts >= ts && off >= l.start {
					offset, timestamp, found = off, rts, true
					return errStop
				}
				return nil
			})
			if found {
				return offset, timestamp, true
			}
		}
	}
	return -1, -1, false
}

var errStop = errors.New("storage: stop walk")

// MaxTimestamp returns the largest timestamp in the log and the offset of
// the first record carrying it (the batch's last offset for batches that
// came through replication or recovery); (-1, -1) when the log has none.
func (l *Log) MaxTimestamp() (offset, timestamp int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	offset, timestamp = -1, -1
	for _, s := range l.segs {
		if s.maxTs > timestamp {
			offset, timestamp = s.maxTsOff, s.maxTs
		}
	}
	return offset, timestamp
}
