package storage

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

const (
	cleanMarker    = ".kzoo-clean"
	logStartFile   = "log-start-offset"
	metadataFile   = "partition.metadata"
	recoveryWindow = 1 << 20
)

// ErrClosed is returned by operations on a closed or deleted Log.
var ErrClosed = errors.New("storage: log closed")

// Log is one partition's log in its directory "T-P". It is safe for
// concurrent use: writers (appends, truncation, retention, flush, config)
// run one at a time; readers run concurrently with each other and with the
// file write of an append, seeing only batches that are fully written.
//
// Ordering rules: a batch is visible to Read only after its bytes are in the
// segment file (not necessarily fsynced; the broker decides when to
// acknowledge); a segment is fsynced before the next one is created; the
// clean-shutdown marker is written only after every file is fsynced.
type Log struct {
	fs        FS
	dir       string
	topic     string
	partition int32
	logf      func(string, ...any)

	wmu sync.Mutex // one writer; held before mu

	// lastFlushMs and unflushed belong to the writer (wmu).
	lastFlushMs int64
	unflushed   int64

	mu        sync.RWMutex // published state below
	cfg       Config
	segs      []*segment // sorted by base; the last one is active
	start     int64      // log start offset
	epochs    *epochCache
	closed    bool
	deleted   bool
	flushedTo int64 // offset below which everything is fsynced
	cleanedTo int64 // compaction has cleaned the segments below this offset
	producers *producerState
}

// Open opens or creates the log in dir, whose name must be "topic-partition".
// An unclean previous shutdown (no marker) makes it validate every batch's
// CRC in the last segment, truncate a torn or corrupt tail (reported through
// logf with file, position and bytes dropped) and rebuild that segment's
// indexes; any segment whose indexes are missing or inconsistent is
// re-indexed too.
func Open(dir string, cfg Config, nowMs int64, logf func(string, ...any)) (*Log, error) {
	return OpenFS(OSFS, dir, cfg, nowMs, logf)
}

// OpenFS is Open on the given filesystem.
func OpenFS(fsys FS, dir string, cfg Config, nowMs int64, logf func(string, ...any)) (*Log, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	topic, part, err := parseDirName(filepath.Base(dir))
	if err != nil {
		return nil, err
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: creating %s: %w", dir, err)
	}
	l := &Log{fs: fsys, dir: dir, topic: topic, partition: part, logf: logf, cfg: cfg.withDefaults(), lastFlushMs: nowMs}
	if err := l.load(nowMs); err != nil {
		for _, s := range l.segs {
			s.close()
		}
		return nil, err
	}
	return l, nil
}

func parseDirName(name string) (string, int32, error) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, fmt.Errorf("storage: log directory %q is not named topic-partition", name)
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 {
		return "", 0, fmt.Errorf("storage: log directory %q is not named topic-partition", name)
	}
	return name[:i], int32(p), nil
}

func (l *Log) load(nowMs int64) error {
	markerPath := filepath.Join(l.dir, cleanMarker)
	_, err := l.fs.Stat(markerPath)
	clean := err == nil
	// stray temporary files from an interrupted rewrite
	if ents, err := l.fs.ReadDir(l.dir); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".tmp") {
				l.fs.Remove(filepath.Join(l.dir, e.Name()))
			}
		}
	}
	if err := l.recoverSwaps(); err != nil {
		return err
	}
	bases, err := listSegments(l.fs, l.dir)
	if err != nil {
		return err
	}
	for i, base := range bases {
		last := i == len(bases)-1
		s, err := l.openSegment(base, last, !clean && last, nowMs)
		if err != nil {
			return err
		}
		if n := len(l.segs); n > 0 {
			prev := l.segs[n-1]
			if s.size > 0 && s.base < prev.next {
				s.close()
				return fmt.Errorf("storage: %s starts at offset %d inside the previous segment, which ends at %d",
					s.log.Name(), s.base, prev.next)
			}
		}
		l.segs = append(l.segs, s)
	}
	if l.epochs, err = loadEpochs(l.fs, l.dir); err != nil {
		l.logf("%v; rebuilding it from the batches", err)
		if l.epochs, err = l.rebuildEpochs(); err != nil {
			return err
		}
	}
	if len(l.segs) == 0 {
		start := l.readStartOffset(0)
		s, err := createSegment(l.fs, l.dir, start, l.cfg, nowMs)
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
	}
	leo := l.active().next
	l.start = max(l.readStartOffset(l.segs[0].base), l.segs[0].base)
	if l.start > leo {
		// records up to the saved start were deleted (DeleteRecords,
		// retention) and the unflushed ones after them lost: as Kafka does,
		// start an empty log there rather than move the start back
		l.logf("storage: %s: log start offset %d is past the recovered log end %d; starting an empty log at %d", l.dir, l.start, leo, l.start)
		for _, s := range l.segs {
			if err := s.remove(); err != nil {
				return err
			}
		}
		s, err := createSegment(l.fs, l.dir, l.start, l.cfg, nowMs)
		l.segs = nil
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
		leo = l.start
	}
	changed := l.epochs.truncateFromEnd(leo)
	changed = l.epochs.truncateFromStart(l.start) || changed
	if changed {
		if err := l.epochs.save(); err != nil {
			return err
		}
	}
	l.flushedTo = leo
	if err := l.loadProducers(); err != nil {
		return err
	}
	if clean {
		if err := l.fs.Remove(markerPath); err != nil {
			return fmt.Errorf("storage: removing %s: %w", markerPath, err)
		}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
	}
	return nil
}

// openSegment opens an existing segment. The last segment becomes active
// (indexes preallocated); recover selects a full CRC scan of it.
func (l *Log) openSegment(base int64, last, recover bool, nowMs int64) (*segment, error) {
	s := &segment{fs: l.fs, base: base, next: base, maxTs: -1, maxTsOff: -1, rollTs: -1, created: nowMs}
	var err error
	if s.log, err = openFile(l.fs, segName(l.dir, base, logSuffix), false); err != nil {
		return nil, err
	}
	_, idxErr := l.fs.Stat(segName(l.dir, base, indexSuffix))
	_, tidxErr := l.fs.Stat(segName(l.dir, base, timeIndexSuffix))
	if s.idxF, err = openFile(l.fs, segName(l.dir, base, indexSuffix), true); err != nil {
		s.close()
		return nil, err
	}
	if s.tidxF, err = openFile(l.fs, segName(l.dir, base, timeIndexSuffix), true); err != nil {
		s.close()
		return nil, err
	}
	st, err := s.log.Stat()
	if err != nil {
		s.close()
		return nil, fmt.Errorf("storage: stat %s: %w", s.log.Name(), err)
	}
	fileSize := st.Size()
	s.size = fileSize
	consistent := false
	if !recover && idxErr == nil && tidxErr == nil {
		if consistent, err = s.loadIndexes(); err != nil {
			s.close()
			return nil, err
		}
	}
	if recover || !consistent {
		if !recover {
			l.logf("storage: rebuilding indexes of %s", s.log.Name())
		}
		if err := l.rebuild(s, fileSize, recover); err != nil {
			s.close()
			return nil, err
		}
	} else if err := l.scanTail(s); err != nil {
		s.close()
		return nil, err
	} else if !s.indexesWithin() {
		l.logf("storage: rebuilding indexes of %s: they point past its last batch", s.log.Name())
		if err := l.rebuild(s, s.size, false); err != nil {
			s.close()
			return nil, err
		}
	}
	if last {
		if err := s.preallocate(l.cfg); err != nil {
			s.close()
			return nil, err
		}
	} else if err := s.trim(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// rebuildEpochs recreates the leader epoch history from the partition
// leader epoch of every batch, and saves it.
func (l *Log) rebuildEpochs() (*epochCache, error) {
	c := &epochCache{fs: l.fs, path: filepath.Join(l.dir, epochFile)}
	for _, s := range l.segs {
		sc := newScanner(s.log, 0, s.size, recoveryWindow)
		for {
			_, hdr, err := sc.next(false)
			if err != nil {
				break
			}
			h := parseHeader(hdr)
			c.assign(h.leaderEpoch, h.baseOffset)
		}
	}
	return c, c.save()
}

// scanTail finds a trusted segment's next offset, max timestamp and
// roll timestamp by walking headers from its last offset index entry.
func (l *Log) scanTail(s *segment) error {
	from := int64(0)
	if n := len(s.idx); n > 0 {
		from = int64(s.idx[n-1].pos)
	}
	sc := newScanner(s.log, from, s.size, recoveryWindow)
	for {
		pos, hdr, err := sc.next(false)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// a trusted segment must be whole; treat anything else as a crash tail
			l.logf("storage: %v; re-validating %s", err, s.log.Name())
			return l.rebuild(s, s.size, true)
		}
		h := parseHeader(hdr)
		if pos == 0 {
			s.rollTs = h.maxTimestamp
		}
		s.next = h.lastOffset() + 1
		if h.maxTimestamp > s.maxTs {
			s.maxTs, s.maxTsOff = h.maxTimestamp, h.lastOffset()
		}
		s.sinceIdx += h.size()
	}
	if s.rollTs < 0 && s.size > 0 {
		hdr := make([]byte, batchHeaderSize)
		if _, err := s.log.ReadAt(hdr, 0); err == nil {
			s.rollTs = parseHeader(hdr).maxTimestamp
		}
	}
	return nil
}

// rebuild re-indexes a segment from its .log file, truncating the file at
// the first batch whose framing or offset order is broken (and, with
// validate set, whose CRC does not match), reporting what was dropped.
func (l *Log) rebuild(s *segment, fileSize int64, validate bool) error {
	s.idx, s.tidx = nil, nil
	s.size, s.next, s.sinceIdx = 0, s.base, 0
	s.recentHead, s.recentN = 0, 0
	s.maxTs, s.maxTsOff, s.rollTs = -1, -1, -1
	s.maxIdx = l.cfg.SegmentIndexBytes / offsetEntrySize
	s.maxTidx = l.cfg.SegmentIndexBytes / timeEntrySize
	sc := newScanner(s.log, 0, fileSize, recoveryWindow)
	var bad error
	for {
		pos, b, err := sc.next(validate)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errTorn) {
			bad = err
			break
		}
		if err != nil {
			return err
		}
		h := parseHeader(b)
		if validate {
			if err := checkCRC(b); err != nil {
				bad = fmt.Errorf("%s position %d: %w", s.log.Name(), pos, err)
				break
			}
		}
		if h.baseOffset < s.next || h.lastOffsetDelta < 0 || !s.fits(h.lastOffset()) {
			bad = fmt.Errorf("%w: %s position %d: batch offsets %d..%d after offset %d", errTorn, s.log.Name(), pos, h.baseOffset, h.lastOffset(), s.next)
			break
		}
		u := s.planIndex(pos, h.lastOffset(), h.maxTimestamp, h.lastOffset(), l.cfg.IndexIntervalBytes)
		s.publish(u, h.size(), h.baseOffset, h.lastOffset(), h.maxTimestamp, h.lastOffset())
	}
	if bad != nil {
		dropped := fileSize - s.size
		l.logf("storage: recovering %s: %v; truncating at position %d, dropping %d bytes", s.log.Name(), bad, s.size, dropped)
		if err := s.log.Truncate(s.size); err != nil {
			return fmt.Errorf("storage: truncating %s at %d: %w", s.log.Name(), s.size, err)
		}
	}
	return s.rewriteIndexes()
}

// rewriteIndexes writes the in-memory indexes over the index files.
func (s *segment) rewriteIndexes() error {
	if err := s.idxF.Truncate(0); err != nil {
		return fmt.Errorf("storage: truncating %s: %w", s.idxF.Name(), err)
	}
	if err := s.tidxF.Truncate(0); err != nil {
		return fmt.Errorf("storage: truncating %s: %w", s.tidxF.Name(), err)
	}
	s.idxSaved, s.tidxSaved = 0, 0
	return s.saveIndexes()
}

func (l *Log) readStartOffset(def int64) int64 {
	b, err := l.fs.ReadFile(filepath.Join(l.dir, logStartFile))
	if err != nil {
		return def
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v < 0 {
		l.logf("storage: ignoring unreadable %s", filepath.Join(l.dir, logStartFile))
		return def
	}
	return v
}

func (l *Log) saveStartOffset() error {
	return writeFileAtomic(l.fs, filepath.Join(l.dir, logStartFile), []byte(strconv.FormatInt(l.start, 10)+"\n"))
}

// active returns the segment appends go to. Lock should be held (either).
func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// Topic returns the topic named by the directory.
func (l *Log) Topic() string { return l.topic }

// Partition returns the partition named by the directory.
func (l *Log) Partition() int32 { return l.partition }

// StartOffset returns the log start offset.
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start
}

// EndOffset returns the log end offset: the next offset to assign.
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.active().next
}

// LatestEpoch returns the newest leader epoch in the log, -1 when none.
func (l *Log) LatestEpoch() int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.latest()
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the end offset of the
// given epoch as this log knows it, and the epoch that offset belongs to.
func (l *Log) EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.active().next)
}

// Size returns the bytes held in all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// NumSegments returns how many segments the log has.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}

// Config returns the log's effective configuration.
func (l *Log) Config() Config {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg
}

// SetConfig replaces the configuration; zero fields take Kafka defaults.
// Index capacity changes apply from the next segment.
func (l *Log) SetConfig(cfg Config) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg.withDefaults()
}

// Flush fsyncs every segment and index with unflushed data.
func (l *Log) Flush() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.flushLocked()
}

// MaybeFlush applies flush.ms on a timer, as Kafka's log flusher does: it
// fsyncs when something is unflushed and flush.ms has passed since the last
// flush. It reports whether it flushed.
func (l *Log) MaybeFlush(nowMs int64) (bool, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed || l.unflushed == 0 || nowMs-l.lastFlushMs < l.cfg.FlushMs {
		return false, nil
	}
	if err := l.flushLocked(); err != nil {
		return false, err
	}
	l.lastFlushMs = nowMs
	return true, nil
}

// flushLocked fsyncs the segments at or after the flush point. Lock should
// be held (wmu).
func (l *Log) flushLocked() error {
	if l.closed {
		return ErrClosed
	}
	for _, s := range l.segs {
		if s.next > l.flushedTo || s == l.active() {
			if err := s.sync(); err != nil {
				return err
			}
		}
	}
	l.mu.Lock()
	l.flushedTo = l.active().next
	l.mu.Unlock()
	l.unflushed = 0
	return nil
}

// Close fsyncs and closes the log, trimming the active segment's indexes
// and leaving the clean-shutdown marker so the next Open skips recovery.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return nil
	}
	act := l.active()
	l.mu.Lock()
	err := act.finalTimeEntry()
	if err == nil {
		err = act.trim()
	}
	l.mu.Unlock()
	if err == nil {
		err = l.flushLocked()
	}
	if err == nil {
		err = l.producers.save(l.fs, l.dir, act.next)
	}
	if err == nil {
		err = writeFileAtomic(l.fs, filepath.Join(l.dir, cleanMarker), nil)
	}
	l.mu.Lock()
	l.closed = true
	for _, s := range l.segs {
		if cerr := s.close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	l.mu.Unlock()
	return err
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		s.close()
	}
	l.closed, l.deleted = true, true
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("storage: removing %s: %w", l.dir, err)
	}
	return nil
}

// WritePartitionMetadata writes dir/partition.metadata in Kafka's format
// ("version: 0", "topic_id: <base64url id>") durably.
func WritePartitionMetadata(dir string, topicID [16]byte) error {
	body := "version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(topicID[:]) + "\n"
	return writeFileAtomic(OSFS, filepath.Join(dir, metadataFile), []byte(body))
}

// ReadPartitionMetadata reads the topic id from dir/partition.metadata.
func ReadPartitionMetadata(dir string) ([16]byte, error) {
	var id [16]byte
	path := filepath.Join(dir, metadataFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return id, fmt.Errorf("storage: reading %s: %w", path, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != "version: 0" || !strings.HasPrefix(lines[1], "topic_id: ") {
		return id, fmt.Errorf("storage: %s is not version 0 partition metadata", path)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(lines[1], "topic_id: ")))
	if err != nil || len(raw) != 16 {
		return id, fmt.Errorf("storage: %s line 2: bad topic id", path)
	}
	copy(id[:], raw)
	return id, nil
}
