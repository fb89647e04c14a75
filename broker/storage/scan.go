package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errTorn marks bytes at the end of a segment that are not a whole, valid
// batch; recovery truncates them, reads stop before them.
var errTorn = errors.New("storage: torn or corrupt batch")

// scanner walks the batches of one segment file between two positions,
// reading through a small window so a header walk costs few syscalls.
type scanner struct {
	f        File
	name     string
	pos, end int64
	chunk    int
	buf      []byte
	bufStart int64
}

func newScanner(f File, from, to int64, chunk int) *scanner {
	return &scanner{f: f, name: f.Name(), pos: from, end: to, chunk: chunk}
}

// window returns n bytes at position at, from the buffer when it holds them.
func (sc *scanner) window(at int64, n int) ([]byte, error) {
	if at+int64(n) > sc.end {
		return nil, fmt.Errorf("%w: %s position %d: %d bytes needed, %d left", errTorn, sc.name, at, n, sc.end-at)
	}
	if at >= sc.bufStart && at+int64(n) <= sc.bufStart+int64(len(sc.buf)) {
		return sc.buf[at-sc.bufStart : at-sc.bufStart+int64(n)], nil
	}
	want := int64(max(n, sc.chunk))
	want = min(want, sc.end-at)
	if int64(cap(sc.buf)) < want {
		sc.buf = make([]byte, want)
	}
	sc.buf = sc.buf[:want]
	if _, err := sc.f.ReadAt(sc.buf, at); err != nil {
		sc.buf = sc.buf[:0]
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s position %d: file shorter than expected", errTorn, sc.name, at)
		}
		return nil, fmt.Errorf("storage: reading %s at %d: %w", sc.name, at, err)
	}
	sc.bufStart = at
	return sc.buf[:n], nil
}

// next returns the position and bytes of the next batch: the whole batch
// when full is set, else its 61-byte header. io.EOF at the end; errTorn
// when the framing is broken or the batch overruns the end.
func (sc *scanner) next(full bool) (int64, []byte, error) {
	if sc.pos >= sc.end {
		return 0, nil, io.EOF
	}
	hdr, err := sc.window(sc.pos, int(min(int64(batchHeaderSize), sc.end-sc.pos)))
	if err != nil {
		return 0, nil, err
	}
	if len(hdr) < batchHeaderSize {
		return 0, nil, fmt.Errorf("%w: %s position %d: %d bytes are not a batch header", errTorn, sc.name, sc.pos, len(hdr))
	}
	length := int64(int32(binary.BigEndian.Uint32(hdr[offLength:])))
	if length < batchHeaderSize-logOverhead || hdr[offMagic] != 2 {
		return 0, nil, fmt.Errorf("%w: %s position %d: batch length %d magic %d", errTorn, sc.name, sc.pos, length, int8(hdr[offMagic]))
	}
	size := logOverhead + length
	if sc.pos+size > sc.end {
		return 0, nil, fmt.Errorf("%w: %s position %d: batch of %d bytes overruns the end at %d", errTorn, sc.name, sc.pos, size, sc.end)
	}
	b := hdr
	if full {
		if b, err = sc.window(sc.pos, int(size)); err != nil {
			return 0, nil, err
		}
	}
	p := sc.pos
	sc.pos += size
	return p, b, nil
}
