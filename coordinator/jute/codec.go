// Package jute owns the byte layout of ZooKeeper's client protocol: the
// primitive encodings (big-endian ints, length-prefixed strings and buffers,
// counted vectors), the length-prefixed frame, and the records a 3.8 client
// and server exchange. It never does I/O beyond the io.Reader/io.Writer it
// is handed and never interprets what a record means.
//
// A Decoder never panics on hostile input: every length is checked against
// the bytes that remain, and the first failure sticks in Err.
package jute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrShort reports a record that ends before its fields do.
var ErrShort = errors.New("jute: record truncated")

// ErrLength reports a negative or impossible length prefix.
var ErrLength = errors.New("jute: bad length")

// Encoder appends jute encodings to a byte slice.
type Encoder struct{ B []byte }

func (e *Encoder) Int(v int32)  { e.B = binary.BigEndian.AppendUint32(e.B, uint32(v)) }
func (e *Encoder) Long(v int64) { e.B = binary.BigEndian.AppendUint64(e.B, uint64(v)) }
func (e *Encoder) Bool(v bool) {
	if v {
		e.B = append(e.B, 1)
	} else {
		e.B = append(e.B, 0)
	}
}

// String writes a length-prefixed UTF-8 string. Jute has no null string
// distinct from empty on the write side of the server; use NullString for -1.
func (e *Encoder) String(s string) { e.Int(int32(len(s))); e.B = append(e.B, s...) }

// NullString writes the -1 length that decodes as a null string.
func (e *Encoder) NullString() { e.Int(-1) }

// Buffer writes a length-prefixed byte buffer; a nil buffer is written as
// length -1 so that a znode created without data reads back as null.
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(b)))
	e.B = append(e.B, b...)
}

// Strings writes a vector of strings; nil is written as an empty vector,
// which is what ZooKeeper servers send.
func (e *Encoder) Strings(v []string) {
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// Decoder reads jute encodings from a byte slice. The first error sticks.
type Decoder struct {
	B   []byte
	Off int
	Err error
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{B: b} }

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.B) - d.Off }

func (d *Decoder) fail(err error) {
	if d.Err == nil {
		d.Err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.Err != nil {
		return nil
	}
	if n < 0 || n > d.Remaining() {
		d.fail(ErrShort)
		return nil
	}
	b := d.B[d.Off : d.Off+n]
	d.Off += n
	return b
}

func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (d *Decoder) Bool() bool {
	b := d.take(1)
	return b != nil && b[0] != 0
}

func (d *Decoder) length() int {
	n := d.Int()
	if d.Err != nil {
		return 0
	}
	if n < -1 {
		d.fail(fmt.Errorf("%w: %d", ErrLength, n))
		return 0
	}
	return int(n)
}

// String reads a string; a null string (-1) reads as "".
func (d *Decoder) String() string {
	n := d.length()
	if n <= 0 {
		return ""
	}
	return string(d.take(n))
}

// Buffer reads a buffer; a null buffer (-1) reads as nil and an empty one
// as a non-nil empty slice. The result is a copy.
func (d *Decoder) Buffer() []byte {
	n := d.length()
	if d.Err != nil || n < 0 {
		return nil
	}
	b := d.take(n)
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, n), b...)
}

// count reads a vector length and checks that at least min bytes per
// element remain, so a hostile count cannot make us allocate.
func (d *Decoder) count(min int) int {
	n := d.length()
	if n <= 0 {
		return 0
	}
	if min > 0 && n > d.Remaining()/min {
		d.fail(fmt.Errorf("%w: vector of %d", ErrLength, n))
		return 0
	}
	return n
}

// Strings reads a vector of strings; null and empty both read as nil.
func (d *Decoder) Strings() []string {
	n := d.count(4)
	if n == 0 {
		return nil
	}
	v := make([]string, 0, n)
	for i := 0; i < n && d.Err == nil; i++ {
		v = append(v, d.String())
	}
	return v
}

// Record is anything with a jute encoding.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// Marshal encodes records back to back.
func Marshal(rs ...Record) []byte {
	var e Encoder
	for _, r := range rs {
		r.Encode(&e)
	}
	return e.B
}

// Unmarshal decodes records back to back from b and returns the decoder so
// the caller can read what follows (or check Remaining).
func Unmarshal(b []byte, rs ...Record) *Decoder {
	d := NewDecoder(b)
	for _, r := range rs {
		r.Decode(d)
	}
	return d
}

// MaxBufferDefault is jute.maxbuffer's default: 0xfffff bytes (1 MiB - 1).
const MaxBufferDefault = 0xfffff

// packetSlack is what ZooKeeper adds to jute.maxbuffer for the request
// header and path when it checks an incoming frame length.
const packetSlack = 1024

// MaxFrame is the largest frame length a server accepts for maxBuffer.
func MaxFrame(maxBuffer int) int {
	if maxBuffer <= 0 {
		maxBuffer = MaxBufferDefault
	}
	if maxBuffer > math.MaxInt32-packetSlack {
		return math.MaxInt32
	}
	return maxBuffer + packetSlack
}
