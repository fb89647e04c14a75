package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Producer state, as Kafka's ProducerStateManager keeps it in the log
// layer: for every idempotent or transactional producer id, its epoch, the
// sequence ranges and offsets of its last five batches (to answer a retried
// batch with its original offsets instead of appending it twice), and the
// first offset of its open transaction; plus the aborted transactions that
// read_committed fetches must skip.
//
// It is saved to producerStateFile (JSON) at roll and close, with the log
// end offset it reflects; Open loads it and replays the batch headers after
// that offset, or every batch when the file is missing or unreadable.
const (
	producerStateFile  = "kzoo-producer-state.json"
	producerBatchCache = 5
)

type producerBatch struct {
	FirstSeq    int32 `json:"first_seq"`
	LastSeq     int32 `json:"last_seq"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	Timestamp   int64 `json:"timestamp"`
}

type producerEntry struct {
	ID       int64           `json:"id"`
	Epoch    int16           `json:"epoch"`
	Batches  []producerBatch `json:"batches"`
	TxnFirst int64           `json:"txn_first"` // first offset of the open transaction, -1 when none
}

// AbortedTxn is an aborted transaction as Fetch reports it.
type AbortedTxn struct {
	ProducerID  int64 `json:"producer_id"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"` // offset of the abort marker
}

type producerSnapshot struct {
	Offset    int64            `json:"offset"`
	Producers []*producerEntry `json:"producers"`
	Aborted   []AbortedTxn     `json:"aborted"`
}

type producerState struct {
	m       map[int64]*producerEntry
	aborted []AbortedTxn // ordered by LastOffset
}

func newProducerState() *producerState { return &producerState{m: make(map[int64]*producerEntry)} }

func (p *producerState) clone() *producerState {
	c := &producerState{m: make(map[int64]*producerEntry, len(p.m)), aborted: append([]AbortedTxn(nil), p.aborted...)}
	for id, e := range p.m {
		ce := *e
		ce.Batches = append([]producerBatch(nil), e.Batches...)
		c.m[id] = &ce
	}
	return c
}

func inSequence(last, first int32) bool {
	return first == last+1 || (first == 0 && last == math.MaxInt32)
}

// duplicateOf returns the cached batch a producer batch repeats, if any.
func (p *producerState) duplicateOf(h *batchHeader) (producerBatch, bool) {
	e := p.m[h.producerID]
	if e == nil || e.Epoch != h.producerEpoch || h.baseSequence < 0 {
		return producerBatch{}, false
	}
	last := h.baseSequence + h.lastOffsetDelta
	for _, b := range e.Batches {
		if b.FirstSeq == h.baseSequence && b.LastSeq == last {
			return b, true
		}
	}
	return producerBatch{}, false
}

// check validates a producer batch from a client against the state, as
// Kafka's ProducerAppendInfo does: an old epoch is fenced, a new epoch must
// start at sequence 0, and within an epoch sequences must follow on. An
// unknown producer may start anywhere.
func (p *producerState) check(h *batchHeader) error {
	e := p.m[h.producerID]
	if e == nil {
		return nil
	}
	if h.producerEpoch < e.Epoch {
		return fmt.Errorf("%w: producer %d epoch %d, current %d", kerr.InvalidProducerEpoch, h.producerID, h.producerEpoch, e.Epoch)
	}
	if h.control() || h.baseSequence < 0 {
		return nil
	}
	if h.producerEpoch > e.Epoch {
		if h.baseSequence != 0 {
			return fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d", kerr.OutOfOrderSequenceNumber, h.producerID, h.producerEpoch, h.baseSequence)
		}
		return nil
	}
	if n := len(e.Batches); n > 0 && !inSequence(e.Batches[n-1].LastSeq, h.baseSequence) {
		return fmt.Errorf("%w: producer %d epoch %d sequence %d after %d", kerr.OutOfOrderSequenceNumber, h.producerID, h.producerEpoch, h.baseSequence, e.Batches[n-1].LastSeq)
	}
	return nil
}

// update records an appended batch (with its assigned offsets). For a
// control batch, marker is its control type (0 abort, 1 commit).
func (p *producerState) update(h *batchHeader, marker int16) {
	if h.producerID < 0 {
		return
	}
	e := p.m[h.producerID]
	if e == nil {
		e = &producerEntry{ID: h.producerID, Epoch: h.producerEpoch, TxnFirst: -1}
		p.m[h.producerID] = e
	}
	if h.producerEpoch > e.Epoch {
		e.Epoch, e.Batches = h.producerEpoch, nil
	}
	if h.control() {
		if marker == 0 && e.TxnFirst >= 0 {
			p.aborted = append(p.aborted, AbortedTxn{ProducerID: h.producerID, FirstOffset: e.TxnFirst, LastOffset: h.baseOffset})
		}
		e.TxnFirst = -1
		return
	}
	if h.attrs&attrTransactional != 0 && e.TxnFirst < 0 {
		e.TxnFirst = h.baseOffset
	}
	if h.baseSequence >= 0 {
		e.Batches = append(e.Batches, producerBatch{FirstSeq: h.baseSequence, LastSeq: h.baseSequence + h.lastOffsetDelta,
			FirstOffset: h.baseOffset, LastOffset: h.lastOffset(), Timestamp: h.maxTimestamp})
		if len(e.Batches) > producerBatchCache {
			e.Batches = e.Batches[len(e.Batches)-producerBatchCache:]
		}
	}
}

// firstUnstable returns the first offset of the oldest open transaction,
// -1 when none is open.
func (p *producerState) firstUnstable() int64 {
	first := int64(-1)
	for _, e := range p.m {
		if e.TxnFirst >= 0 && (first < 0 || e.TxnFirst < first) {
			first = e.TxnFirst
		}
	}
	return first
}

// truncateStart forgets aborted transactions and idle producers wholly
// below the log start.
func (p *producerState) truncateStart(start int64) {
	i := sort.Search(len(p.aborted), func(i int) bool { return p.aborted[i].LastOffset >= start })
	p.aborted = append(p.aborted[:0:0], p.aborted[i:]...)
	for id, e := range p.m {
		if e.TxnFirst < 0 && (len(e.Batches) == 0 || e.Batches[len(e.Batches)-1].LastOffset < start) {
			delete(p.m, id)
		}
	}
}

// controlType reads the type of a control batch's marker record (key:
// version int16, type int16); -1 when it cannot be read.
func controlType(b []byte) int16 {
	raw, err := batchRecords(b)
	if err != nil {
		return -1
	}
	t := int16(-1)
	walkRecords(raw, 1, false, func(r *record) error {
		if len(r.key) >= 4 {
			t = int16(binary.BigEndian.Uint16(r.key[2:]))
		}
		return errStop
	})
	return t
}

// replay feeds the batches of s from position pos into the state.
func (p *producerState) replay(s *segment, from int64) error {
	sc := newScanner(s.log, s.lookup(from), s.size, recoveryWindow)
	for {
		_, hdr, err := sc.next(false)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		h := parseHeader(hdr)
		if h.lastOffset() < from || h.producerID < 0 {
			continue
		}
		marker := int16(-1)
		if h.control() {
			b, err := sc.window(sc.pos-int64(h.size()), h.size())
			if err != nil {
				return err
			}
			marker = controlType(b)
		}
		p.update(&h, marker)
	}
}

func (p *producerState) save(fsys FS, dir string, offset int64) error {
	snap := producerSnapshot{Offset: offset, Aborted: p.aborted}
	for _, e := range p.m {
		snap.Producers = append(snap.Producers, e)
	}
	sort.Slice(snap.Producers, func(i, j int) bool { return snap.Producers[i].ID < snap.Producers[j].ID })
	b, err := json.Marshal(snap)
	if err != nil {
		panic(fmt.Sprintf("storage: encoding producer state: %v", err))
	}
	return writeFileAtomic(fsys, filepath.Join(dir, producerStateFile), b)
}

// parseProducerSnapshot decodes and sanity-checks a saved producer state.
func parseProducerSnapshot(b []byte) (*producerSnapshot, error) {
	var snap producerSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, err
	}
	if snap.Offset < 0 {
		return nil, fmt.Errorf("offset %d", snap.Offset)
	}
	for _, e := range snap.Producers {
		if e == nil || e.ID < 0 || len(e.Batches) > producerBatchCache {
			return nil, errors.New("malformed producer entry")
		}
	}
	for i, a := range snap.Aborted {
		if a.FirstOffset > a.LastOffset || (i > 0 && a.LastOffset < snap.Aborted[i-1].LastOffset) {
			return nil, fmt.Errorf("aborted transaction %d out of order", i)
		}
	}
	return &snap, nil
}

// loadProducers builds the producer state at Open: the saved snapshot plus a
// replay of the batches after it, or a replay of everything. Lock should be
// held (Open).
func (l *Log) loadProducers() error {
	p := newProducerState()
	from := l.segs[0].base
	path := filepath.Join(l.dir, producerStateFile)
	if b, err := l.fs.ReadFile(path); err == nil {
		snap, err := parseProducerSnapshot(b)
		switch {
		case err != nil:
			l.logf("storage: ignoring unreadable %s: %v", path, err)
		case snap.Offset > l.active().next:
			l.logf("storage: ignoring %s: it is ahead of the log end %d", path, l.active().next)
		default:
			for _, e := range snap.Producers {
				p.m[e.ID] = e
			}
			p.aborted = snap.Aborted
			from = snap.Offset
		}
	}
	for _, s := range l.segs {
		if s.next <= from {
			continue
		}
		if err := p.replay(s, max(from, s.base)); err != nil {
			return err
		}
	}
	p.truncateStart(l.start)
	l.producers = p
	return nil
}

// FirstUnstableOffset returns the first offset of the oldest open
// transaction, or -1 when none is open; the last stable offset is the
// smaller of it and the high watermark.
func (l *Log) FirstUnstableOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.producers.firstUnstable()
}

// AbortedTransactions lists the aborted transactions a read_committed fetch
// of [from, upTo) must report: those whose range overlaps it.
func (l *Log) AbortedTransactions(from, upTo int64) []AbortedTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []AbortedTxn
	for _, a := range l.producers.aborted {
		if a.LastOffset >= from && a.FirstOffset < upTo {
			out = append(out, a)
		}
	}
	return out
}
