package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

// Sentinel errors. Errors returned by the WAL wrap one of these (or an FS
// error) and name the file and offset they are about.
var (
	// ErrCorrupt reports bytes that are not a valid log or snapshot frame
	// where recovery cannot simply cut the log short.
	ErrCorrupt = errors.New("wal: corrupt")
	// ErrZxidOrder reports an Append whose zxid is not above the last one.
	ErrZxidOrder = errors.New("wal: zxid not above the last logged zxid")
	// ErrNotRecovered reports a call that needs Recover to have run first.
	ErrNotRecovered = errors.New("wal: Recover has not run")
	// ErrCompacted reports a ReadFrom or Recover that needs records the
	// logs on disk no longer hold (purged, or behind a snapshot).
	ErrCompacted = errors.New("wal: records no longer in the log")
	// ErrClosed reports use of a closed WAL.
	ErrClosed = errors.New("wal: closed")
	// ErrTooLarge reports a record whose frame does not fit in 32 bits.
	ErrTooLarge = errors.New("wal: record too large")
)

const (
	logMagic      = "KZTL"
	snapMagic     = "KZSN"
	snapEndMagic  = "KZSE"
	formatVersion = 1

	logHeaderSize  = 16
	frameHeader    = 8 // length + crc
	minFrameLength = 8 // a zxid, no data
	maxFrameLength = 1<<31 - 1

	snapHeaderSize  = 16
	snapTrailerSize = 16

	logPrefix  = "log."
	snapPrefix = "snapshot."
	tmpSuffix  = ".tmp"
	versionDir = "version-2"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one logged entry: its zxid and the caller's opaque bytes.
type Record struct {
	Zxid int64
	Data []byte
}

// appendLogHeader appends a log file header to b.
func appendLogHeader(b []byte, prevZxid int64) []byte {
	b = append(b, logMagic...)
	b = binary.BigEndian.AppendUint32(b, formatVersion)
	return binary.BigEndian.AppendUint64(b, uint64(prevZxid))
}

// parseLogHeader returns the prevZxid of a log file header.
func parseLogHeader(h []byte) (int64, error) {
	if len(h) < logHeaderSize {
		return 0, fmt.Errorf("%w: log header is %d bytes, want %d", ErrCorrupt, len(h), logHeaderSize)
	}
	if string(h[:4]) != logMagic {
		return 0, fmt.Errorf("%w: log header magic %q, want %q", ErrCorrupt, h[:4], logMagic)
	}
	if v := binary.BigEndian.Uint32(h[4:8]); v != formatVersion {
		return 0, fmt.Errorf("%w: log format version %d, want %d", ErrCorrupt, v, formatVersion)
	}
	prev := int64(binary.BigEndian.Uint64(h[8:16]))
	if prev < 0 {
		return 0, fmt.Errorf("%w: log header prevZxid %d is negative", ErrCorrupt, prev)
	}
	return prev, nil
}

// appendFrame appends r's frame to b without allocating beyond b's growth.
func appendFrame(b []byte, r Record) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(minFrameLength+len(r.Data)))
	b = append(b, 0, 0, 0, 0) // crc, filled below
	b = binary.BigEndian.AppendUint64(b, uint64(r.Zxid))
	b = append(b, r.Data...)
	crc := crc32.Update(0, castagnoli, b[start:start+4])
	crc = crc32.Update(crc, castagnoli, b[start+frameHeader:])
	binary.BigEndian.PutUint32(b[start+4:], crc)
	return b
}

// frameSize is the on-disk size of a record with n bytes of data.
func frameSize(n int) int64 { return frameHeader + minFrameLength + int64(n) }

// tail says how a scan of a log file ended.
type tail int

const (
	tailClean tail = iota // end of file, or only zeros of preallocation after the last record
	tailTorn              // a partial, zero-filled or mismatching frame: cut the file here
)

// logScanner reads the records of one log file, checking every frame.
type logScanner struct {
	r    *bufio.Reader
	size int64 // bytes in the file
	off  int64 // offset of the next frame
	hdr  [frameHeader + 8]byte
	// why explains a tailTorn end.
	why string
}

func newLogScanner(r io.ReaderAt, size int64) *logScanner {
	return &logScanner{
		r:    bufio.NewReaderSize(io.NewSectionReader(r, logHeaderSize, size-logHeaderSize), 64<<10),
		size: size,
		off:  logHeaderSize,
	}
}

// next returns the next record. At the end it returns ok=false with the kind
// of tail found at s.off, or an I/O error.
func (s *logScanner) next() (rec Record, ok bool, t tail, err error) {
	remain := s.size - s.off
	if remain == 0 {
		return Record{}, false, tailClean, nil
	}
	if remain < int64(len(s.hdr)) {
		n, err := io.ReadFull(s.r, s.hdr[:remain])
		if err != nil {
			return Record{}, false, 0, err
		}
		if allZero(s.hdr[:n]) {
			return Record{}, false, tailClean, nil
		}
		s.why = fmt.Sprintf("partial frame header (%d bytes)", remain)
		return Record{}, false, tailTorn, nil
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return Record{}, false, 0, err
	}
	length := binary.BigEndian.Uint32(s.hdr[0:4])
	if length == 0 {
		zeros, err := s.restIsZero(s.hdr[:])
		if err != nil {
			return Record{}, false, 0, err
		}
		if zeros {
			return Record{}, false, tailClean, nil
		}
		s.why = "zero length followed by non-zero bytes"
		return Record{}, false, tailTorn, nil
	}
	if length < minFrameLength {
		s.why = fmt.Sprintf("frame length %d below %d", length, minFrameLength)
		return Record{}, false, tailTorn, nil
	}
	if int64(length) > remain-frameHeader {
		s.why = fmt.Sprintf("frame length %d runs past the end of the file", length)
		return Record{}, false, tailTorn, nil
	}
	data := make([]byte, length-minFrameLength)
	if _, err := io.ReadFull(s.r, data); err != nil {
		return Record{}, false, 0, err
	}
	crc := crc32.Update(0, castagnoli, s.hdr[0:4])
	crc = crc32.Update(crc, castagnoli, s.hdr[8:16])
	crc = crc32.Update(crc, castagnoli, data)
	if want := binary.BigEndian.Uint32(s.hdr[4:8]); crc != want {
		s.why = fmt.Sprintf("crc %08x, frame says %08x", crc, want)
		return Record{}, false, tailTorn, nil
	}
	rec = Record{Zxid: int64(binary.BigEndian.Uint64(s.hdr[8:16])), Data: data}
	if rec.Zxid <= 0 {
		s.why = fmt.Sprintf("zxid %d not positive", rec.Zxid)
		return Record{}, false, tailTorn, nil
	}
	s.off += frameSize(len(data))
	return rec, true, 0, nil
}

// restIsZero reports whether first and everything after it to the end of the
// file are zeros.
func (s *logScanner) restIsZero(first []byte) (bool, error) {
	if !allZero(first) {
		return false, nil
	}
	var buf [4096]byte
	for {
		n, err := s.r.Read(buf[:])
		if !allZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseName returns the zxid in a file name "<prefix><lower-case hex>", as
// ZooKeeper names its files, and whether name is one.
func parseName(name, prefix string) (int64, bool) {
	if !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	hex := name[len(prefix):]
	if hex == "" || len(hex) > 16 || strings.ToLower(hex) != hex {
		return 0, false
	}
	z, err := strconv.ParseUint(hex, 16, 64)
	if err != nil || int64(z) < 0 {
		return 0, false
	}
	return int64(z), true
}

func logName(zxid int64) string  { return logPrefix + strconv.FormatInt(zxid, 16) }
func snapName(zxid int64) string { return snapPrefix + strconv.FormatInt(zxid, 16) }

// snapshotFrame writes a snapshot's header on open and its trailer on
// finish, keeping the CRC and length of everything between.
type snapshotFrame struct {
	w   io.Writer
	crc uint32
	n   uint64
	err error
}

func newSnapshotFrame(w io.Writer, zxid int64) *snapshotFrame {
	f := &snapshotFrame{w: w}
	h := make([]byte, 0, snapHeaderSize)
	h = append(h, snapMagic...)
	h = binary.BigEndian.AppendUint32(h, formatVersion)
	h = binary.BigEndian.AppendUint64(h, uint64(zxid))
	f.crc = crc32.Update(0, castagnoli, h)
	_, f.err = w.Write(h)
	return f
}

func (f *snapshotFrame) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.w.Write(p)
	f.crc = crc32.Update(f.crc, castagnoli, p[:n])
	f.n += uint64(n)
	f.err = err
	return n, err
}

func (f *snapshotFrame) finish() error {
	if f.err != nil {
		return f.err
	}
	t := make([]byte, 0, snapTrailerSize)
	t = binary.BigEndian.AppendUint64(t, f.n)
	t = binary.BigEndian.AppendUint32(t, f.crc)
	t = append(t, snapEndMagic...)
	_, f.err = f.w.Write(t)
	return f.err
}

// readSnapshotFrame checks a whole snapshot of size bytes (magic, version,
// length and CRC) and returns its zxid and body.
func readSnapshotFrame(r io.ReaderAt, size int64) (zxid int64, body *io.SectionReader, err error) {
	if size < snapHeaderSize+snapTrailerSize {
		return 0, nil, fmt.Errorf("%w: snapshot is %d bytes, shorter than its frame", ErrCorrupt, size)
	}
	var h [snapHeaderSize]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return 0, nil, err
	}
	if string(h[:4]) != snapMagic {
		return 0, nil, fmt.Errorf("%w: snapshot magic %q, want %q", ErrCorrupt, h[:4], snapMagic)
	}
	if v := binary.BigEndian.Uint32(h[4:8]); v != formatVersion {
		return 0, nil, fmt.Errorf("%w: snapshot format version %d, want %d", ErrCorrupt, v, formatVersion)
	}
	zxid = int64(binary.BigEndian.Uint64(h[8:16]))
	if zxid < 0 {
		return 0, nil, fmt.Errorf("%w: snapshot zxid %d is negative", ErrCorrupt, zxid)
	}
	var t [snapTrailerSize]byte
	if _, err := r.ReadAt(t[:], size-snapTrailerSize); err != nil {
		return 0, nil, err
	}
	if string(t[12:16]) != snapEndMagic {
		return 0, nil, fmt.Errorf("%w: snapshot end magic %q, want %q (truncated?)", ErrCorrupt, t[12:16], snapEndMagic)
	}
	bodyLen := size - snapHeaderSize - snapTrailerSize
	if n := binary.BigEndian.Uint64(t[0:8]); n != uint64(bodyLen) {
		return 0, nil, fmt.Errorf("%w: snapshot body is %d bytes, trailer says %d", ErrCorrupt, bodyLen, n)
	}
	h32 := crc32.New(castagnoli)
	if _, err := io.Copy(h32, io.NewSectionReader(r, 0, size-snapTrailerSize)); err != nil {
		return 0, nil, err
	}
	if got, want := h32.Sum32(), binary.BigEndian.Uint32(t[8:12]); got != want {
		return 0, nil, fmt.Errorf("%w: snapshot crc %08x, trailer says %08x", ErrCorrupt, got, want)
	}
	return zxid, io.NewSectionReader(r, snapHeaderSize, bodyLen), nil
}
