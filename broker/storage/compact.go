package storage

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Compaction (cleanup.policy=compact) keeps, in the segments before the
// active one, only the latest record of every key, as Kafka's log cleaner
// does. Offsets never change: a rewritten batch keeps its base offset and
// last offset delta, and holds the surviving records with their original
// offset deltas. Tombstones (null values) survive while younger than
// delete.retention.ms.
//
// A group of consecutive segments is rewritten into <base>.log.cleaned (with
// its indexes), fsynced, renamed to .swap — from then on the result is
// authoritative — then the old segments are deleted and the .swap files
// renamed into place. Open finishes an interrupted swap and discards
// .cleaned leftovers.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// CompactResult reports one compaction pass.
type CompactResult struct {
	SegmentsBefore, SegmentsAfter int
	BytesBefore, BytesAfter       int64
	RecordsRemoved                int
}

// Compact runs one compaction pass when cleanup.policy includes compact,
// NoCompaction is not set, and the dirty part (bytes appended to cleanable
// segments since the last pass) is at least min.cleanable.dirty.ratio of
// them, or holds a segment whose newest record is older than
// max.compaction.lag.ms. It holds the writer lock
// throughout, so appends wait for it; readers wait only for the swap.
func (l *Log) Compact(nowMs int64) (CompactResult, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.compactLocked(nowMs)
}

// compactLocked is Compact. Lock should be held (wmu).
func (l *Log) compactLocked(nowMs int64) (CompactResult, error) {
	var res CompactResult
	if l.closed {
		return res, ErrClosed
	}
	cfg := l.cfg
	if !cfg.cleans() || len(l.segs) < 2 {
		return res, nil
	}
	inactive := l.cleanable(nowMs)
	var total, dirty int64
	overdue := false // a dirty record has waited max.compaction.lag.ms
	for _, s := range inactive {
		total += s.size
		if s.base >= l.cleanedTo {
			dirty += s.size
			overdue = overdue || cfg.MaxCompactionLagMs < math.MaxInt64 && nowMs-largestTimestamp(s) > cfg.MaxCompactionLagMs
		}
	}
	if dirty == 0 || !overdue && float64(dirty)/float64(total) < cfg.MinCleanableDirtyRatio {
		return res, nil
	}
	res.SegmentsBefore, res.BytesBefore = len(inactive), total

	latest := make(map[string]int64)
	for _, s := range inactive {
		err := forEachRecord(s, func(h *batchHeader, r *record) {
			if r.key != nil {
				latest[string(r.key)] = h.baseOffset + int64(r.offsetDelta)
			}
		})
		if err != nil {
			return res, err
		}
	}

	var out []*segment
	for i := 0; i < len(inactive); {
		j := i + 1
		size := inactive[i].size
		for j < len(inactive) && size+inactive[j].size <= cfg.SegmentBytes &&
			inactive[j].next-1-inactive[i].base <= math.MaxInt32 {
			size += inactive[j].size
			j++
		}
		s, removed, err := l.cleanGroup(inactive[i:j], latest, nowMs)
		if err != nil {
			return res, err
		}
		res.RecordsRemoved += removed
		out = append(out, s)
		i = j
	}
	for _, s := range out {
		res.BytesAfter += s.size
	}
	res.SegmentsAfter = len(out)
	l.cleanedTo = l.segs[len(out)].base // the first segment left out
	return res, nil
}

// cleanable is the segments a pass may clean: those before the active one,
// up to the first dirty one holding a record younger than
// min.compaction.lag.ms (by its largest timestamp). Lock should be held
// (wmu).
func (l *Log) cleanable(nowMs int64) []*segment {
	inactive := l.segs[:len(l.segs)-1]
	if lag := l.cfg.MinCompactionLagMs; lag > 0 {
		for i, s := range inactive {
			if s.base >= l.cleanedTo && nowMs-largestTimestamp(s) < lag {
				return inactive[:i]
			}
		}
	}
	return inactive
}

// forEachRecord calls fn for every record of every data batch in s.
func forEachRecord(s *segment, fn func(*batchHeader, *record)) error {
	sc := newScanner(s.log, 0, s.size, recoveryWindow)
	for {
		_, b, err := sc.next(true)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		h := parseHeader(b)
		if h.control() {
			continue
		}
		raw, err := batchRecords(b)
		if err != nil {
			return fmt.Errorf("storage: compacting %s at offset %d: %w", s.log.Name(), h.baseOffset, err)
		}
		if err := walkRecords(raw, h.count, true, func(r *record) error { fn(&h, r); return nil }); err != nil {
			return fmt.Errorf("storage: compacting %s at offset %d: %w", s.log.Name(), h.baseOffset, err)
		}
	}
}

// cleanGroup rewrites a run of inactive segments into one and swaps it in.
// Lock should be held (wmu).
func (l *Log) cleanGroup(group []*segment, latest map[string]int64, nowMs int64) (*segment, int, error) {
	base := group[0].base
	ns := &segment{fs: l.fs, base: base, next: base, maxTs: -1, maxTsOff: -1, rollTs: -1, created: nowMs}
	var err error
	names := func(suffix string) [3]string {
		return [3]string{segName(l.dir, base, logSuffix+suffix), segName(l.dir, base, indexSuffix+suffix), segName(l.dir, base, timeIndexSuffix+suffix)}
	}
	cleaned, swap := names(cleanedSuffix), names(swapSuffix)
	files := []*File{&ns.log, &ns.idxF, &ns.tidxF}
	for i, name := range cleaned {
		l.fs.Remove(name)
		if *files[i], err = openFile(l.fs, name, true); err != nil {
			ns.close()
			return nil, 0, err
		}
	}
	fail := func(err error) (*segment, int, error) {
		ns.close()
		for _, name := range cleaned {
			l.fs.Remove(name)
		}
		return nil, 0, err
	}
	if err := ns.preallocate(l.cfg); err != nil {
		return fail(err)
	}
	removed := 0
	for _, s := range group {
		sc := newScanner(s.log, 0, s.size, recoveryWindow)
		for {
			_, b, err := sc.next(true)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fail(err)
			}
			h := parseHeader(b)
			kept, n, err := l.cleanBatch(b, h, latest, nowMs)
			if err != nil {
				return fail(fmt.Errorf("storage: compacting %s at offset %d: %w", s.log.Name(), h.baseOffset, err))
			}
			removed += n
			if kept == nil {
				continue
			}
			if _, err := ns.log.WriteAt(kept, ns.size); err != nil {
				return fail(fmt.Errorf("storage: writing %s: %w", ns.log.Name(), err))
			}
			kh := parseHeader(kept)
			u := ns.planIndex(ns.size, kh.lastOffset(), kh.maxTimestamp, kh.lastOffset(), l.cfg.IndexIntervalBytes)
			ns.publish(u, len(kept), kh.baseOffset, kh.lastOffset(), kh.maxTimestamp, kh.lastOffset())
		}
	}
	if err := ns.finalTimeEntry(); err != nil {
		return fail(err)
	}
	if err := ns.trim(); err != nil {
		return fail(err)
	}
	if err := ns.sync(); err != nil {
		return fail(err)
	}
	ns.close()
	for i := range cleaned {
		if err := l.fs.Rename(cleaned[i], swap[i]); err != nil {
			return fail(fmt.Errorf("storage: renaming %s: %w", cleaned[i], err))
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return nil, 0, err
	}
	// the swap files are now the truth for this range
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.finishSwap(base, group)
	if err != nil {
		return nil, 0, err
	}
	i := 0
	for l.segs[i] != group[0] {
		i++
	}
	l.segs = append(l.segs[:i:i], append([]*segment{s}, l.segs[i+len(group):]...)...)
	return s, removed, nil
}

// finishSwap deletes the segments a .swap replaces, renames it into place
// and opens it. Lock should be held (wmu and mu, or Open).
func (l *Log) finishSwap(base int64, group []*segment) (*segment, error) {
	for _, s := range group {
		if err := s.remove(); err != nil {
			return nil, err
		}
	}
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		from, to := segName(l.dir, base, suf+swapSuffix), segName(l.dir, base, suf)
		if err := l.fs.Rename(from, to); err != nil && !(suf != logSuffix && errors.Is(err, os.ErrNotExist)) {
			return nil, fmt.Errorf("storage: renaming %s: %w", from, err)
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return nil, err
	}
	return l.openSegment(base, false, false, l.lastFlushMs)
}

// cleanBatch returns the batch with only the records compaction keeps (nil
// when none), and how many it dropped. Control batches are kept as they are.
func (l *Log) cleanBatch(b []byte, h batchHeader, latest map[string]int64, nowMs int64) ([]byte, int, error) {
	if h.control() {
		return b, 0, nil
	}
	raw, err := batchRecords(b)
	if err != nil {
		return nil, 0, err
	}
	var keep []byte
	kept, dropped := int32(0), 0
	maxTs := int64(-1)
	tombstoneLive := nowMs-h.maxTimestamp <= l.cfg.DeleteRetentionMs
	err = walkRecords(raw, h.count, true, func(r *record) error {
		off := h.baseOffset + int64(r.offsetDelta)
		if r.key != nil && (latest[string(r.key)] != off || (r.value == nil && !tombstoneLive)) {
			dropped++
			return nil
		}
		kept++
		maxTs = max(maxTs, h.firstTimestamp+r.tsDelta)
		keep = appendRecord(keep, r)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if dropped == 0 {
		return b, 0, nil
	}
	if kept == 0 {
		return nil, dropped, nil
	}
	nh := h
	nh.count = kept
	if h.attrs&attrLogAppendTime == 0 {
		nh.maxTimestamp = maxTs
	}
	nb, err := encodeBatch(nh, h.codec(), keep)
	return nb, dropped, err
}

// recoverSwaps finishes compaction swaps interrupted by a crash and removes
// .cleaned leftovers; it runs at Open before segments are listed.
func (l *Log) recoverSwaps() error {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("storage: listing %s: %w", l.dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, cleanedSuffix) {
			l.fs.Remove(filepath.Join(l.dir, name))
		}
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, logSuffix+swapSuffix) || len(name) != 20+len(logSuffix+swapSuffix) {
			continue
		}
		var base int64
		if _, err := fmt.Sscanf(name[:20], "%d", &base); err != nil {
			continue
		}
		// the swap covers up to its last batch: the old segments starting
		// inside that range are the ones it replaces
		f, err := openFile(l.fs, filepath.Join(l.dir, name), false)
		if err != nil {
			return err
		}
		st, _ := f.Stat()
		sc := newScanner(f, 0, st.Size(), recoveryWindow)
		end := base
		for {
			_, hdr, err := sc.next(false)
			if err != nil {
				break
			}
			h := parseHeader(hdr)
			end = h.lastOffset() + 1
		}
		f.Close()
		bases, err := listSegments(l.fs, l.dir)
		if err != nil {
			return err
		}
		for _, b := range bases {
			if b >= base && b < end {
				for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
					l.fs.Remove(segName(l.dir, b, suf))
				}
			}
		}
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			from := segName(l.dir, base, suf+swapSuffix)
			if err := l.fs.Rename(from, segName(l.dir, base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("storage: renaming %s: %w", from, err)
			}
		}
		// indexes are rebuilt: the renamed ones may be the old segment's
		l.fs.Remove(segName(l.dir, base, indexSuffix))
		l.fs.Remove(segName(l.dir, base, timeIndexSuffix))
		l.logf("storage: finished interrupted compaction swap of %s", filepath.Join(l.dir, name))
	}
	// index .swap files whose log was already renamed into place
	ents, err = l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("storage: listing %s: %w", l.dir, err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), swapSuffix) {
			l.fs.Remove(filepath.Join(l.dir, e.Name()))
		}
	}
	return syncDir(l.fs, l.dir)
}
