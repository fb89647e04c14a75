package jute

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ErrFrameTooLarge is returned by ReadFrame for a length prefix over the
// limit; the frame's body has not been read.
type ErrFrameTooLarge struct{ Len, Max int }

func (e *ErrFrameTooLarge) Error() string {
	return fmt.Sprintf("jute: packet len %d is out of range (max %d)", e.Len, e.Max)
}

// ReadFrame reads one length-prefixed frame. A length above max (or
// negative) is refused before any of the body is read.
func ReadFrame(r io.Reader, max int, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 0 || n > max {
		return nil, &ErrFrameTooLarge{Len: n, Max: max}
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// AppendFrame appends body with its 4-byte length prefix to dst.
func AppendFrame(dst, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// FrameRecords encodes records as one frame (length prefix included).
func FrameRecords(rs ...Record) []byte {
	e := Encoder{B: make([]byte, 4, 64)}
	for _, r := range rs {
		r.Encode(&e)
	}
	binary.BigEndian.PutUint32(e.B, uint32(len(e.B)-4))
	return e.B
}
