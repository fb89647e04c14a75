package storage

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TruncateTo removes every batch at or after the one holding offset, as a
// follower does after OffsetForLeaderEpoch; the log end becomes the start
// of that batch. An offset below the log start empties the log and starts
// it again at offset. The truncated segment is fsynced before returning.
func (l *Log) TruncateTo(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if offset >= l.active().next {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if offset <= l.start || offset <= l.segs[0].base {
		return l.resetLocked(offset)
	}
	for len(l.segs) > 1 && l.active().base >= offset {
		s := l.segs[len(l.segs)-1]
		l.segs = l.segs[:len(l.segs)-1]
		if err := s.remove(); err != nil {
			return err
		}
	}
	s := l.active()
	pos, err := s.findBatch(offset)
	if err != nil {
		return err
	}
	if err := s.log.Truncate(pos); err != nil {
		return fmt.Errorf("storage: truncating %s at %d: %w", s.log.Name(), pos, err)
	}
	if err := l.rebuild(s, pos, false); err != nil {
		return err
	}
	if err := s.preallocate(l.cfg); err != nil {
		return err
	}
	if err := s.sync(); err != nil {
		return err
	}
	l.flushedTo = min(l.flushedTo, s.next)
	if s.next < l.start {
		// the batch holding offset began below the log start: the log is
		// now empty and starts at its end
		l.start = s.next
		if err := l.saveStartOffset(); err != nil {
			return err
		}
	}
	if l.epochs.truncateFromEnd(s.next) {
		if err := l.epochs.save(); err != nil {
			return err
		}
	}
	if err := l.resetProducers(); err != nil {
		return err
	}
	return syncDir(l.fs, l.dir)
}

// TruncateFullyAndStartAt empties the log and starts it again at offset,
// whatever the current offsets are, as a follower does when the leader's
// log start has passed its log end.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.resetLocked(offset)
}

// resetLocked deletes every segment and starts an empty log at offset.
// Lock should be held (wmu and mu).
func (l *Log) resetLocked(offset int64) error {
	for _, s := range l.segs {
		if err := s.remove(); err != nil {
			return err
		}
	}
	l.segs = nil
	s, err := createSegment(l.fs, l.dir, offset, l.cfg, l.lastFlushMs)
	if err != nil {
		return err
	}
	l.segs = []*segment{s}
	l.start, l.flushedTo = offset, offset
	l.epochs.entries = l.epochs.entries[:0]
	if err := l.epochs.save(); err != nil {
		return err
	}
	if err := l.saveStartOffset(); err != nil {
		return err
	}
	if err := l.resetProducers(); err != nil {
		return err
	}
	return syncDir(l.fs, l.dir)
}

// resetProducers rebuilds the producer state from the batches after a
// truncation, dropping a saved state that may be ahead of the new log end.
// Lock should be held (wmu and mu).
func (l *Log) resetProducers() error {
	path := filepath.Join(l.dir, producerStateFile)
	if err := l.fs.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("storage: removing %s: %w", path, err)
	}
	return l.loadProducers()
}

// DeleteRecordsBefore moves the log start offset up to offset (DeleteRecords)
// and removes the segments that then lie wholly below it. offset past the
// log end is kerr.OffsetOutOfRange. It returns the new low watermark.
func (l *Log) DeleteRecordsBefore(offset int64) (lowWatermark int64, err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return -1, ErrClosed
	}
	if leo := l.active().next; offset > leo || offset < 0 {
		return l.start, l.errf(fmt.Errorf("%w: delete records before %d, log end is %d", kerr.OffsetOutOfRange, offset, leo))
	}
	if offset <= l.start {
		return l.start, nil
	}
	return offset, l.advanceStart(offset, 0)
}

// advanceStart sets the log start offset to start (persisted first) and
// deletes the first n segments plus any others wholly below start, never the
// active one. Lock should be held (wmu).
func (l *Log) advanceStart(start int64, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n < len(l.segs)-1 && l.segs[n+1].base <= start {
		n++
	}
	if n > 0 {
		start = max(start, l.segs[n].base)
	}
	if start > l.start {
		l.start = start
		if err := l.saveStartOffset(); err != nil {
			return err
		}
	}
	for _, s := range l.segs[:n] {
		if err := s.remove(); err != nil {
			return err
		}
	}
	l.segs = append(l.segs[:0:0], l.segs[n:]...)
	if l.epochs.truncateFromStart(l.start) {
		if err := l.epochs.save(); err != nil {
			return err
		}
	}
	l.producers.truncateStart(l.start)
	return nil
}

// EnforceRetention is the periodic log cleanup: when cleanup.policy
// includes delete it deletes the oldest segments that break retention.ms
// (by their largest timestamp, or file time when they have none) or
// retention.bytes, never the active segment, and returns how many went;
// when it includes compact it then runs a compaction pass (see Compact).
func (l *Log) EnforceRetention(nowMs int64) (deletedSegments int, err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	n, err := l.deleteExpired(nowMs)
	if err == nil && l.cfg.cleans() {
		_, err = l.compactLocked(nowMs)
	}
	return n, err
}

// deleteExpired is the delete half of EnforceRetention. Lock should be
// held (wmu).
func (l *Log) deleteExpired(nowMs int64) (int, error) {
	cfg := l.cfg
	if !cfg.deletes() {
		return 0, nil
	}
	n := 0
	inactive := l.segs[:len(l.segs)-1]
	if cfg.RetentionMs >= 0 {
		for n < len(inactive) && nowMs-largestTimestamp(inactive[n]) > cfg.RetentionMs {
			n++
		}
	}
	if cfg.RetentionBytes >= 0 {
		var total int64
		for _, s := range l.segs {
			total += s.size
		}
		diff := total - cfg.RetentionBytes
		for _, s := range l.segs[:n] {
			diff -= s.size
		}
		for n < len(inactive) && diff-inactive[n].size >= 0 {
			diff -= inactive[n].size
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	before := len(l.segs)
	if err := l.advanceStart(l.segs[n].base, n); err != nil {
		return 0, err
	}
	return before - len(l.segs), nil
}

func largestTimestamp(s *segment) int64 {
	if s.maxTs > 0 {
		return s.maxTs
	}
	if fi, err := s.fs.Stat(s.log.Name()); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return s.created
}
