package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
)

const (
	offsetEntrySize = 8  // relative offset uint32 + position uint32
	timeEntrySize   = 12 // timestamp int64 + relative offset uint32

	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

type offsetEntry struct {
	rel uint32 // last offset of the indexed batch, relative to the segment base
	pos uint32 // position of that batch in the .log file
}

type timeEntry struct {
	ts  int64  // largest timestamp seen up to rel
	rel uint32 // offset carrying ts, relative to the segment base
}

// segment is one .log file with its two indexes. Fields other than the files
// are published state: written under Log.mu held for writing.
type segment struct {
	base  int64
	fs    FS
	log   File
	idxF  File
	tidxF File

	size     int64 // bytes of whole valid batches
	next     int64 // offset after the last batch (base when empty)
	idx      []offsetEntry
	tidx     []timeEntry
	maxTs    int64 // largest batch max timestamp, -1 when none
	maxTsOff int64 // offset of maxTs
	rollTs   int64 // max timestamp of the first batch (segment.ms), -1 when empty
	created  int64 // ms the segment was created or opened, for segment.ms on an empty segment
	sinceIdx int   // bytes appended since the last offset index entry

	maxIdx, maxTidx int  // entry capacity of the preallocated indexes
	prealloc        bool // index files are preallocated (active segment)

	// idxSaved and tidxSaved count the entries of idx and tidx already in
	// the index files. Appends add entries in memory only; saveIndexes
	// writes the rest before a flush, a trim or a rewrite, so an append
	// costs one write call (the batch) rather than three. The files only
	// matter after a restart: a clean shutdown trims (and so saves) them,
	// and a segment that was not flushed before a crash is rebuilt from
	// its .log or, when its saved prefix is consistent, scanned from its
	// last saved entry.
	idxSaved, tidxSaved int

	// recent is a ring of the positions of the last recentBatches batches
	// published (recentN of them, the oldest at recentHead): a follower's
	// or a tailing consumer's fetch starts in one of them, and findBatch
	// then finds it without reading the file. Lock should be held as for
	// size.
	recent              [recentBatches]batchPos
	recentHead, recentN int
}

// recentBatches is how many of its latest batches a segment remembers the
// positions of.
const recentBatches = 32

// batchPos is where a batch with offsets base..last starts in its segment.
type batchPos struct{ base, last, pos int64 }

func segName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// listSegments returns the base offsets of the .log files in dir, sorted.
func listSegments(fsys FS, dir string) ([]int64, error) {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: listing %s: %w", dir, err)
	}
	var bases []int64
	for _, e := range ents {
		name := e.Name()
		if len(name) != 20+len(logSuffix) || filepath.Ext(name) != logSuffix || e.IsDir() {
			continue
		}
		var base int64
		if _, err := fmt.Sscanf(name[:20], "%d", &base); err != nil || base < 0 {
			continue
		}
		bases = append(bases, base)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

func openFile(fsys FS, path string, create bool) (File, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := fsys.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: opening %s: %w", path, err)
	}
	return f, nil
}

// createSegment creates an empty active segment at base, replacing any
// files of that name.
func createSegment(fsys FS, dir string, base int64, cfg Config, nowMs int64) (*segment, error) {
	s := &segment{fs: fsys, base: base, next: base, maxTs: -1, maxTsOff: -1, rollTs: -1, created: nowMs}
	var err error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := fsys.Remove(segName(dir, base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("storage: removing %s: %w", segName(dir, base, suf), err)
		}
	}
	if s.log, err = openFile(fsys, segName(dir, base, logSuffix), true); err != nil {
		return nil, err
	}
	if s.idxF, err = openFile(fsys, segName(dir, base, indexSuffix), true); err != nil {
		s.close()
		return nil, err
	}
	if s.tidxF, err = openFile(fsys, segName(dir, base, timeIndexSuffix), true); err != nil {
		s.close()
		return nil, err
	}
	if err := s.preallocate(cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// preallocate sizes the index files to segment.index.bytes (sparse) as
// Kafka does for the active segment; trim undoes it.
func (s *segment) preallocate(cfg Config) error {
	s.maxIdx = cfg.SegmentIndexBytes / offsetEntrySize
	s.maxTidx = cfg.SegmentIndexBytes / timeEntrySize
	if err := s.idxF.Truncate(int64(s.maxIdx * offsetEntrySize)); err != nil {
		return fmt.Errorf("storage: preallocating %s: %w", s.idxF.Name(), err)
	}
	if err := s.tidxF.Truncate(int64(s.maxTidx * timeEntrySize)); err != nil {
		return fmt.Errorf("storage: preallocating %s: %w", s.tidxF.Name(), err)
	}
	s.prealloc = true
	return nil
}

// trim saves the index entries and cuts the index files to them.
func (s *segment) trim() error {
	if err := s.saveIndexes(); err != nil {
		return err
	}
	if err := s.idxF.Truncate(int64(len(s.idx) * offsetEntrySize)); err != nil {
		return fmt.Errorf("storage: trimming %s: %w", s.idxF.Name(), err)
	}
	if err := s.tidxF.Truncate(int64(len(s.tidx) * timeEntrySize)); err != nil {
		return fmt.Errorf("storage: trimming %s: %w", s.tidxF.Name(), err)
	}
	s.prealloc = false
	s.maxIdx, s.maxTidx = len(s.idx), len(s.tidx)
	return nil
}

// sync saves the index entries and fsyncs the segment's files.
func (s *segment) sync() error {
	if s.idxF != nil && s.tidxF != nil {
		if err := s.saveIndexes(); err != nil {
			return err
		}
	}
	for _, f := range []File{s.log, s.idxF, s.tidxF} {
		if f == nil {
			continue
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("storage: fsync %s: %w", f.Name(), err)
		}
	}
	return nil
}

func (s *segment) close() error {
	var first error
	for _, f := range []File{s.log, s.idxF, s.tidxF} {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil && first == nil {
			first = fmt.Errorf("storage: closing %s: %w", f.Name(), err)
		}
	}
	return first
}

// remove closes and deletes the segment's files.
func (s *segment) remove() error {
	s.close()
	for _, f := range []File{s.log, s.idxF, s.tidxF} {
		if f == nil {
			continue
		}
		if err := s.fs.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("storage: removing %s: %w", f.Name(), err)
		}
	}
	return nil
}

// fits reports whether a batch ending at lastOffset can go in this segment
// by relative offset (indexes hold uint32 deltas).
func (s *segment) fits(lastOffset int64) bool {
	return lastOffset-s.base <= math.MaxInt32 && lastOffset >= s.base
}

func (s *segment) indexFull() bool {
	return len(s.idx) >= s.maxIdx || len(s.tidx) >= s.maxTidx
}

// indexUpdate is what one batch adds to a segment's indexes.
type indexUpdate struct {
	off             offsetEntry
	time            timeEntry
	hasOff, hasTime bool
}

// planIndex decides which index entries a batch at pos adds. Like Kafka, an
// offset entry is added when more than index.interval.bytes were appended
// since the last one (so a segment's first batch has none: position 0 is
// implied), and a time entry alongside it when the max timestamp grew. Lock should be held (wmu).
func (s *segment) planIndex(pos, lastOffset, maxTs, maxTsOff int64, interval int) indexUpdate {
	var u indexUpdate
	if s.sinceIdx <= interval || pos > math.MaxUint32 || len(s.idx) >= s.maxIdx {
		return u
	}
	u.off, u.hasOff = offsetEntry{rel: uint32(lastOffset - s.base), pos: uint32(pos)}, true
	ts, tsOff := s.maxTs, s.maxTsOff
	if maxTs > ts {
		ts, tsOff = maxTs, maxTsOff
	}
	if ts >= 0 && (len(s.tidx) == 0 || ts > s.tidx[len(s.tidx)-1].ts) && len(s.tidx) < s.maxTidx {
		u.time, u.hasTime = timeEntry{ts: ts, rel: uint32(tsOff - s.base)}, true
	}
	return u
}

// saveIndexes writes the entries not yet in the index files, one write
// call per file. It runs at a flush, a roll or a close, not per append, so
// its buffer is not kept. Lock should be held (wmu; or the segment is not
// published yet).
func (s *segment) saveIndexes() error {
	var b []byte
	if n := len(s.idx); n > s.idxSaved {
		for _, e := range s.idx[s.idxSaved:] {
			b = binary.BigEndian.AppendUint32(b, e.rel)
			b = binary.BigEndian.AppendUint32(b, e.pos)
		}
		if _, err := s.idxF.WriteAt(b, int64(s.idxSaved*offsetEntrySize)); err != nil {
			return fmt.Errorf("storage: writing %s: %w", s.idxF.Name(), err)
		}
		s.idxSaved = n
	}
	if n := len(s.tidx); n > s.tidxSaved {
		b = b[:0]
		for _, e := range s.tidx[s.tidxSaved:] {
			b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
			b = binary.BigEndian.AppendUint32(b, e.rel)
		}
		if _, err := s.tidxF.WriteAt(b, int64(s.tidxSaved*timeEntrySize)); err != nil {
			return fmt.Errorf("storage: writing %s: %w", s.tidxF.Name(), err)
		}
		s.tidxSaved = n
	}
	return nil
}

// publish records an appended batch. Lock should be held (mu, for writing).
func (s *segment) publish(u indexUpdate, size int, base, lastOffset, maxTs, maxTsOff int64) {
	if s.size == 0 {
		s.rollTs = maxTs
	}
	e := batchPos{base: base, last: lastOffset, pos: s.size}
	if s.recentN < recentBatches {
		s.recent[(s.recentHead+s.recentN)%recentBatches] = e
		s.recentN++
	} else {
		s.recent[s.recentHead] = e
		s.recentHead = (s.recentHead + 1) % recentBatches
	}
	s.size += int64(size)
	s.next = lastOffset + 1
	if maxTs > s.maxTs {
		s.maxTs, s.maxTsOff = maxTs, maxTsOff
	}
	if u.hasOff {
		s.idx = append(s.idx, u.off)
		s.sinceIdx = 0
	}
	s.sinceIdx += size
	if u.hasTime {
		s.tidx = append(s.tidx, u.time)
	}
}

// finalTimeEntry adds the segment's max timestamp to the time index when it
// is not there yet, as Kafka does when a segment stops being active.
func (s *segment) finalTimeEntry() error {
	if s.maxTs < 0 || (len(s.tidx) > 0 && s.tidx[len(s.tidx)-1].ts >= s.maxTs) {
		return nil
	}
	if !s.prealloc && len(s.tidx) >= s.maxTidx {
		s.maxTidx++
	}
	if len(s.tidx) >= s.maxTidx {
		return nil
	}
	s.tidx = append(s.tidx, timeEntry{ts: s.maxTs, rel: uint32(s.maxTsOff - s.base)})
	return nil
}

// lookup returns the position to start scanning from for offset.
func (s *segment) lookup(offset int64) int64 {
	rel := offset - s.base
	i := sort.Search(len(s.idx), func(i int) bool { return int64(s.idx[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(s.idx[i-1].pos)
}

// lookupTime returns the offset to start scanning from for timestamp ts.
func (s *segment) lookupTime(ts int64) int64 {
	i := sort.Search(len(s.tidx), func(i int) bool { return s.tidx[i].ts >= ts })
	if i == 0 {
		return s.base
	}
	return s.base + int64(s.tidx[i-1].rel)
}

// findBatch returns the position of the first batch whose last offset is
// at least offset, scanning forward from the index, or s.size when none.
// Lock should be held (mu, for reading).
func (s *segment) findBatch(offset int64) (int64, error) {
	if pos, ok := s.findRecent(offset); ok {
		return pos, nil
	}
	return s.scanBatch(offset)
}

// scanBatch is findBatch by reading batch headers from the index entry
// below offset.
func (s *segment) scanBatch(offset int64) (int64, error) {
	sc := newScanner(s.log, s.lookup(offset), s.size, 4096+batchHeaderSize)
	for {
		pos, hdr, err := sc.next(false)
		if errors.Is(err, io.EOF) {
			return s.size, nil
		}
		if err != nil {
			return 0, err
		}
		h := parseHeader(hdr)
		if h.lastOffset() >= offset {
			return pos, nil
		}
	}
}

// findRecent is findBatch from the ring of recent batches: ok is false
// when the batch wanted may be older than the ring's oldest.
func (s *segment) findRecent(offset int64) (pos int64, ok bool) {
	if s.recentN == 0 {
		return 0, false
	}
	at := func(i int) batchPos { return s.recent[(s.recentHead+i)%recentBatches] }
	if offset > at(s.recentN-1).last {
		return s.size, true
	}
	// the first batch whose last offset reaches offset, newest first
	i := s.recentN - 1
	for i > 0 && at(i-1).last >= offset {
		i--
	}
	if i == 0 && offset < at(0).base {
		return 0, false // an older batch may hold it
	}
	return at(i).pos, true
}

// loadIndexes reads the index files of a segment whose .log holds size
// bytes, keeping the increasing prefix of entries that point inside it
// (trailing preallocated zeros fall away). It reports whether the files
// looked consistent; callers rebuild them otherwise.
func (s *segment) loadIndexes() (bool, error) {
	ok := true
	ib, err := io.ReadAll(io.NewSectionReader(s.idxF, 0, math.MaxInt64))
	if err != nil {
		return false, fmt.Errorf("storage: reading %s: %w", s.idxF.Name(), err)
	}
	if len(ib)%offsetEntrySize != 0 {
		ok = false
	}
	s.idx = s.idx[:0]
	for i := 0; i+offsetEntrySize <= len(ib); i += offsetEntrySize {
		e := offsetEntry{rel: binary.BigEndian.Uint32(ib[i:]), pos: binary.BigEndian.Uint32(ib[i+4:])}
		if n := len(s.idx); n > 0 && (e.rel <= s.idx[n-1].rel || e.pos <= s.idx[n-1].pos) {
			if e.rel != 0 || e.pos != 0 {
				ok = false
			}
			break
		}
		if int64(e.pos) >= s.size {
			ok = false
			break
		}
		s.idx = append(s.idx, e)
	}
	tb, err := io.ReadAll(io.NewSectionReader(s.tidxF, 0, math.MaxInt64))
	if err != nil {
		return false, fmt.Errorf("storage: reading %s: %w", s.tidxF.Name(), err)
	}
	if len(tb)%timeEntrySize != 0 {
		ok = false
	}
	s.tidx = s.tidx[:0]
	for i := 0; i+timeEntrySize <= len(tb); i += timeEntrySize {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(tb[i:])), rel: binary.BigEndian.Uint32(tb[i+8:])}
		if n := len(s.tidx); n > 0 && (e.ts <= s.tidx[n-1].ts || e.rel < s.tidx[n-1].rel) {
			if e.ts != 0 || e.rel != 0 {
				ok = false
			}
			break
		}
		if e.ts < 0 {
			ok = false
			break
		}
		s.tidx = append(s.tidx, e)
	}
	if n := len(s.tidx); n > 0 {
		s.maxTs, s.maxTsOff = s.tidx[n-1].ts, s.base+int64(s.tidx[n-1].rel)
	}
	s.maxIdx, s.maxTidx = len(s.idx), len(s.tidx)
	s.idxSaved, s.tidxSaved = len(s.idx), len(s.tidx)
	return ok, nil
}

// indexesWithin reports whether every index entry names an offset the
// segment holds.
func (s *segment) indexesWithin() bool {
	if n := len(s.idx); n > 0 && s.base+int64(s.idx[n-1].rel) >= s.next {
		return false
	}
	if n := len(s.tidx); n > 0 && (s.base+int64(s.tidx[n-1].rel) >= s.next || s.tidx[n-1].ts > s.maxTs) {
		return false
	}
	return true
}
