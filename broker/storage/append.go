package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrOffsetOrder is returned by AppendFollower for batches whose offsets do
// not follow the log end offset.
var ErrOffsetOrder = errors.New("storage: batch offsets do not follow the log end")

// AppendResult describes what an append stored.
type AppendResult struct {
	BaseOffset      int64 // first offset assigned, -1 when nothing was appended
	LastOffset      int64 // last offset assigned, -1 when nothing was appended
	LogAppendTimeMs int64 // the broker time stamped on the batches, -1 under CreateTime
	LogStartOffset  int64
	Records         int // records appended
}

// batchMeta locates one validated batch inside an append's buffer.
type batchMeta struct {
	pos, size      int
	base, last     int64
	epoch          int32
	maxTs, maxTsOf int64
	count          int32
	recoded        []byte // validateAppend: the batch recompressed to compression.type, nil when stored as received
}

// AppendLeader validates a produce request's records field and appends it,
// assigning offsets from the log end. records holds one or more v2 batches,
// or a legacy message set (magic 0/1) that is converted to one v2 batch.
//
// Validation follows Kafka's LogValidator: CRC (kerr.CorruptMessage), batch
// size against max.message.bytes (kerr.MessageTooLarge), the whole set
// against segment.bytes (kerr.RecordListTooLarge), record structure, count
// and offset deltas (kerr.CorruptMessage / kerr.InvalidRecord), keys on
// compacted topics (kerr.InvalidRecord). Batches are stored as received,
// except: the base offset and partition leader epoch fields (outside the
// CRC) are set; under LogAppendTime the timestamp-type bit and max timestamp
// are set and the CRC recomputed; under CreateTime a max timestamp that
// disagrees with the records is corrected (CRC recomputed); when
// compression.type names a codec other than the batch's, the batch is
// recompressed. AppendLeader rewrites those fields inside records itself:
// the caller must not reuse the buffer.
//
// Idempotent and transactional batches are checked against the producer
// state as Kafka does: an older producer epoch is kerr.InvalidProducerEpoch,
// a sequence gap kerr.OutOfOrderSequenceNumber, and a retry of one of the
// producer's last five batches is answered with that batch's original
// offsets without being appended again.
func (l *Log) AppendLeader(records []byte, leaderEpoch int32, nowMs int64) (AppendResult, error) {
	return l.appendLeader(records, leaderEpoch, nowMs, false)
}

// AppendCoordinator is AppendLeader for the broker's own writes (transaction
// markers from WriteTxnMarkers, group coordinator records): control batches
// are allowed.
func (l *Log) AppendCoordinator(records []byte, leaderEpoch int32, nowMs int64) (AppendResult, error) {
	return l.appendLeader(records, leaderEpoch, nowMs, true)
}

func (l *Log) appendLeader(records []byte, leaderEpoch int32, nowMs int64, coordinator bool) (AppendResult, error) {
	res := AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTimeMs: -1}
	l.mu.RLock()
	cfg := l.cfg
	l.mu.RUnlock()
	// validation (and any decompression) runs before the writer lock, so
	// producers to one partition validate in parallel
	sc := getScratch()
	defer sc.release()
	records, metas, err := validateAppend(records, cfg, coordinator, sc)
	if err != nil {
		return res, l.errf(err)
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return res, ErrClosed
	}
	cfg = l.cfg
	res.LogStartOffset = l.start
	if len(metas) == 0 {
		return res, nil
	}
	if dup, ok, err := l.checkProducers(records, metas); err != nil || ok {
		if ok {
			res.BaseOffset, res.LastOffset = dup.FirstOffset, dup.LastOffset
			if cfg.logAppendTime() {
				res.LogAppendTimeMs = dup.Timestamp
			}
		}
		return res, l.errf(err)
	}
	next := l.active().next
	lat := cfg.logAppendTime()
	for i := range metas {
		m := &metas[i]
		b := records[m.pos : m.pos+m.size]
		m.base = next
		m.last = next + m.last
		m.maxTsOf += next
		m.epoch = leaderEpoch
		next = m.last + 1
		binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(m.base))
		binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(leaderEpoch))
		attrs := binary.BigEndian.Uint16(b[offAttributes:]) &^ attrLogAppendTime
		if lat {
			attrs |= attrLogAppendTime
			m.maxTs, m.maxTsOf = nowMs, m.last
		}
		if attrs != binary.BigEndian.Uint16(b[offAttributes:]) || uint64(m.maxTs) != binary.BigEndian.Uint64(b[offMaxTimestamp:]) {
			binary.BigEndian.PutUint16(b[offAttributes:], attrs)
			binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(m.maxTs))
			putCRC(b)
		}
		res.Records += int(m.count)
	}
	if err := l.write(records, metas, nowMs); err != nil {
		return res, err
	}
	res.BaseOffset, res.LastOffset = metas[0].base, metas[len(metas)-1].last
	if lat {
		res.LogAppendTimeMs = nowMs
	}
	return res, nil
}

// validateAppend converts a legacy set, validates every batch and applies
// compression.type, returning the bytes to store and where each batch is.
// Batches are inflated into sc, and the metas returned live in it: both are
// valid until sc is released.
func validateAppend(records []byte, cfg Config, coordinator bool, sc *scratch) ([]byte, []batchMeta, error) {
	if len(records) == 0 {
		return nil, nil, nil
	}
	legacy := isLegacy(records)
	if legacy {
		// Kafka checks max.message.bytes on the messages as sent, before conversion
		if err := checkLegacySizes(records, cfg.MaxMessageBytes); err != nil {
			return nil, nil, err
		}
		v2, err := ConvertToV2(records)
		if err != nil {
			return nil, nil, err
		}
		records = v2
	}
	metas := sc.metas[:0]
	recode := false
	for pos := 0; pos < len(records); {
		size, err := frameBatch(records[pos:])
		if err != nil {
			return nil, nil, err
		}
		b := records[pos : pos+size]
		if err := checkCRC(b); err != nil {
			return nil, nil, err
		}
		if size > cfg.MaxMessageBytes && !legacy {
			return nil, nil, fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", kerr.MessageTooLarge, size, cfg.MaxMessageBytes)
		}
		info, raw, err := validateClientBatch(b, cfg.compacted(), coordinator, sc)
		if err != nil {
			return nil, nil, err
		}
		h := parseHeader(b)
		m := batchMeta{pos: pos, size: size, count: h.count,
			last: int64(h.lastOffsetDelta), maxTs: info.maxTimestamp, maxTsOf: int64(info.offsetOfMaxTs)}
		if tc := cfg.targetCodec(); tc >= 0 && tc != h.codec() {
			if m.recoded, err = encodeBatch(h, tc, raw); err != nil {
				return nil, nil, err
			}
			recode = true
		}
		metas = append(metas, m)
		sc.metas = metas
		pos += size
	}
	if recode {
		var out []byte
		for i, m := range metas {
			b := m.recoded
			if b == nil {
				b = records[m.pos : m.pos+m.size]
			}
			metas[i].pos, metas[i].size, metas[i].recoded = len(out), len(b), nil
			out = append(out, b...)
		}
		records = out
	}
	if int64(len(records)) > cfg.SegmentBytes {
		return nil, nil, fmt.Errorf("%w: %d bytes exceed segment.bytes %d", kerr.RecordListTooLarge, len(records), cfg.SegmentBytes)
	}
	return records, metas, nil
}

// checkProducers answers a retried batch from the producer cache (ok set)
// or validates epochs and sequences of the producer batches about to be
// appended. Lock should be held (wmu).
func (l *Log) checkProducers(records []byte, metas []batchMeta) (producerBatch, bool, error) {
	ps := l.producers
	if len(metas) > 1 {
		ps = ps.clone() // later batches of the request follow on from earlier ones
	}
	next := l.active().next
	for _, m := range metas {
		h := parseHeader(records[m.pos:])
		if h.producerID < 0 {
			next += int64(h.lastOffsetDelta) + 1
			continue
		}
		if dup, ok := ps.duplicateOf(&h); ok {
			return dup, true, nil
		}
		if err := ps.check(&h); err != nil {
			return producerBatch{}, false, err
		}
		if len(metas) > 1 {
			h.baseOffset = next
			ps.update(&h, -1)
		}
		next += int64(h.lastOffsetDelta) + 1
	}
	return producerBatch{}, false, nil
}

func (l *Log) errf(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s-%d: %w", l.topic, l.partition, err)
}

// AppendFollower appends batches fetched from the leader, keeping their
// offsets and partition leader epochs. Every batch must be a CRC-valid v2
// batch starting at or after the log end offset (else ErrOffsetOrder); a
// trailing partial batch is ignored. The wall clock drives segment.ms and
// flush.ms; AppendFollowerAt takes the time from the caller.
func (l *Log) AppendFollower(batches []byte) error {
	return l.AppendFollowerAt(batches, time.Now().UnixMilli())
}

// AppendFollowerAt is AppendFollower at time nowMs.
func (l *Log) AppendFollowerAt(batches []byte, nowMs int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return ErrClosed
	}
	next := l.active().next
	var metas []batchMeta
	end := 0
	for pos := 0; pos < len(batches); {
		rest := batches[pos:]
		size, err := frameBatch(rest)
		if err != nil {
			if len(rest) >= logOverhead && int64(len(rest)) < logOverhead+int64(int32(binary.BigEndian.Uint32(rest[offLength:]))) {
				break // partial batch at the end of a fetch response
			}
			return l.errf(err)
		}
		b := rest[:size]
		if err := checkCRC(b); err != nil {
			return l.errf(err)
		}
		h := parseHeader(b)
		if h.baseOffset < next || h.lastOffsetDelta < 0 {
			return l.errf(fmt.Errorf("%w: batch %d..%d at log end %d", ErrOffsetOrder, h.baseOffset, h.lastOffset(), next))
		}
		metas = append(metas, batchMeta{pos: pos, size: size, base: h.baseOffset, last: h.lastOffset(),
			epoch: h.leaderEpoch, maxTs: h.maxTimestamp, maxTsOf: h.lastOffset(), count: h.count})
		next = h.lastOffset() + 1
		pos += size
		end = pos
	}
	if len(metas) == 0 {
		return nil
	}
	return l.write(batches[:end], metas, nowMs)
}

// write appends validated batches with assigned offsets: rolls when due,
// writes the bytes past the published end, then publishes them with their
// index entries and epochs, and applies the flush policy. Lock should be
// held (wmu).
func (l *Log) write(data []byte, metas []batchMeta, nowMs int64) error {
	cfg := l.cfg
	first, last := metas[0].base, metas[len(metas)-1].last
	act := l.active()
	switch {
	case act.size == 0 && act.base != first:
		if err := l.roll(first, nowMs); err != nil {
			return err
		}
	case act.size > 0 && l.rollDue(act, int64(len(data)), last, maxTimestamp(metas), nowMs):
		if err := l.roll(first, nowMs); err != nil {
			return err
		}
	}
	act = l.active()
	if _, err := act.log.WriteAt(data, act.size); err != nil {
		// nothing was published; cut whatever part reached the file
		act.log.Truncate(act.size)
		return fmt.Errorf("%w: writing %s at %d: %v", kerr.KafkaStorageError, act.log.Name(), act.size, err)
	}
	epochsChanged := false
	var records int64
	l.mu.Lock()
	for _, m := range metas {
		pos := act.size
		u := act.planIndex(pos, m.last, m.maxTs, m.maxTsOf, cfg.IndexIntervalBytes)
		act.publish(u, m.size, m.base, m.last, m.maxTs, m.maxTsOf)
		if l.epochs.assign(m.epoch, m.base) {
			epochsChanged = true
		}
		if h := parseHeader(data[m.pos:]); h.producerID >= 0 {
			marker := int16(-1)
			if h.control() {
				marker = controlType(data[m.pos : m.pos+m.size])
			}
			l.producers.update(&h, marker)
		}
		records += int64(m.count)
	}
	l.mu.Unlock()
	if epochsChanged {
		if err := l.epochs.save(); err != nil {
			return err
		}
	}
	l.unflushed += records
	if l.unflushed >= cfg.FlushMessages || nowMs-l.lastFlushMs >= cfg.FlushMs {
		if err := l.flushLocked(); err != nil {
			return err
		}
		l.lastFlushMs = nowMs
	}
	return nil
}

// rollDue says whether an append of size bytes ending at lastOffset with
// largest timestamp maxTs must go to a new segment: the active one would
// pass segment.bytes, an index is full, the offsets no longer fit its
// relative index, or, as Kafka measures segment.ms, the incoming timestamp
// is that far past the active segment's first batch (the segment's age by
// the clock when its batches carry no timestamps).
func (l *Log) rollDue(act *segment, size, lastOffset, maxTs, nowMs int64) bool {
	waited := nowMs - act.created
	if act.rollTs >= 0 {
		waited = maxTs - act.rollTs
	}
	return act.size+size > l.cfg.SegmentBytes || act.indexFull() || !act.fits(lastOffset) ||
		waited > l.cfg.SegmentMs
}

func maxTimestamp(metas []batchMeta) int64 {
	ts := int64(-1)
	for _, m := range metas {
		ts = max(ts, m.maxTs)
	}
	return ts
}

// roll makes a new active segment at base: the old one gets its final time
// index entry, trimmed indexes and an fsync first. An empty active segment
// is replaced instead. Lock should be held (wmu).
func (l *Log) roll(base int64, nowMs int64) error {
	old := l.active()
	if old.size == 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := old.remove(); err != nil {
			return err
		}
		s, err := createSegment(l.fs, l.dir, base, l.cfg, nowMs)
		if err != nil {
			return err
		}
		l.segs[len(l.segs)-1] = s
		if len(l.segs) == 1 && base > l.start {
			// an empty log restarted further on (a follower catching up to the leader's start)
			l.start = base
			if err := l.saveStartOffset(); err != nil {
				return err
			}
		}
		return syncDir(l.fs, l.dir)
	}
	l.mu.Lock()
	err := old.finalTimeEntry()
	if err == nil {
		err = old.trim()
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if err := old.sync(); err != nil {
		return err
	}
	s, err := createSegment(l.fs, l.dir, base, l.cfg, nowMs)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	if err := l.producers.save(l.fs, l.dir, old.next); err != nil {
		return err
	}
	return syncDir(l.fs, l.dir)
}
