package api

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
)

type tp struct {
	Topic     string
	Partition int32
}

func (t tp) String() string { return t.Topic + "-" + strconv.Itoa(int(t.Partition)) }

// partition is one replica hosted by this broker.
//
// Invariant: the high watermark never passes the smallest log end offset of
// the ISR members (the leader's own LEO included), and never moves back.
type partition struct {
	tp      tp
	topicID [16]byte
	dir     string // log dir holding it

	mu          sync.Mutex // guards everything below; Lock should be held for log calls
	log         Log
	isLeader    bool
	leader      int32
	leaderEpoch int32
	isr         []int32
	replicas    []int32
	hw          int64
	followerLEO map[int32]int64 // leader only: from follower fetches
	minISR      int             // min.insync.replicas of the topic
	zkVersion   int32           // partition epoch: the state znode's version

	// Leader only, from follower fetches (Kafka's replica state): the last
	// time each follower was caught up, and the leader's log end and time
	// at its previous fetch.
	caughtUpMs   map[int32]int64
	lastFetchLEO map[int32]int64
	lastFetchMs  map[int32]int64
	isrInFlight  bool
}

// Lock should be held.
func (p *partition) resetFollowerState(nowMs int64) {
	p.followerLEO = map[int32]int64{}
	p.caughtUpMs = map[int32]int64{}
	p.lastFetchLEO = map[int32]int64{}
	p.lastFetchMs = map[int32]int64{}
	for _, r := range p.isr {
		p.caughtUpMs[r] = nowMs
	}
}

// recordFollowerFetch updates a follower's state the way Kafka's leader
// does: caught up at this fetch when it asked for the log end, or as of its
// previous fetch when it asked for at least the log end of then.
//
// Lock should be held.
func (p *partition) recordFollowerFetch(r int32, fetchOffset, leo, nowMs int64) {
	p.followerLEO[r] = fetchOffset
	if fetchOffset >= leo {
		p.caughtUpMs[r] = nowMs
	} else if prev, ok := p.lastFetchLEO[r]; ok && fetchOffset >= prev {
		p.caughtUpMs[r] = max(p.caughtUpMs[r], p.lastFetchMs[r])
	}
	p.lastFetchLEO[r], p.lastFetchMs[r] = leo, nowMs
}

func minISROf(cfg map[string]string) int {
	n, err := strconv.Atoi(cfg["min.insync.replicas"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// Lock should be held.
func (p *partition) maybeAdvanceHW(self int32) bool {
	if !p.isLeader {
		return false
	}
	hw := p.log.EndOffset()
	for _, r := range p.isr {
		if r == self {
			continue
		}
		leo, ok := p.followerLEO[r]
		if !ok {
			leo = p.hw
		}
		hw = min(hw, leo)
	}
	if hw > p.hw {
		p.hw = hw
		return true
	}
	return false
}

// replicaManager owns the partitions this broker hosts.
type replicaManager struct {
	h         *Handler
	mu        sync.RWMutex
	parts     map[tp]*partition
	onDisk    map[tp]string // partitions found in log dirs at startup, by dir
	ctrlEpoch int32         // newest controller epoch seen (LeaderAndIsr/StopReplica/UpdateMetadata)

	sigMu  sync.Mutex
	signal chan struct{} // closed and replaced whenever data or the HW moves
}

func newReplicaManager(h *Handler) *replicaManager {
	return &replicaManager{h: h, parts: map[tp]*partition{}, onDisk: map[tp]string{}, signal: make(chan struct{})}
}

func (rm *replicaManager) waitChan() <-chan struct{} {
	rm.sigMu.Lock()
	defer rm.sigMu.Unlock()
	return rm.signal
}

func (rm *replicaManager) notify() {
	rm.sigMu.Lock()
	close(rm.signal)
	rm.signal = make(chan struct{})
	rm.sigMu.Unlock()
}

func (rm *replicaManager) get(t tp) *partition {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	return rm.parts[t]
}

func (rm *replicaManager) all() []*partition {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	out := make([]*partition, 0, len(rm.parts))
	for _, p := range rm.parts {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].tp.Topic != out[j].tp.Topic {
			return out[i].tp.Topic < out[j].tp.Topic
		}
		return out[i].tp.Partition < out[j].tp.Partition
	})
	return out
}

var partDirRe = regexp.MustCompile(`^(.+)-([0-9]+)$`)

// ErrLogDir is wrapped when a log dir cannot be read.
var ErrLogDir = errors.New("api: log dir")

// LoadLogDirs records which partitions already have data in which log
// dir, so that LeaderAndIsr reopens them where they are.
func (h *Handler) LoadLogDirs() error {
	rm := h.rm
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, d := range h.cfg.LogDirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("%w %s: %v", ErrLogDir, d, err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			m := partDirRe.FindStringSubmatch(e.Name())
			if m == nil {
				continue
			}
			n, err := strconv.ParseInt(m[2], 10, 32)
			if err != nil {
				continue
			}
			rm.onDisk[tp{m[1], int32(n)}] = d
		}
	}
	return nil
}

// pickDir returns the log dir holding the fewest partitions (Kafka's rule).
//
// Lock should be held (rm.mu).
func (rm *replicaManager) pickDir(t tp) string {
	if d, ok := rm.onDisk[t]; ok {
		return d
	}
	count := map[string]int{}
	for _, d := range rm.onDisk {
		count[d]++
	}
	for _, p := range rm.parts {
		if _, ok := rm.onDisk[p.tp]; !ok {
			count[p.dir]++
		}
	}
	best := rm.h.cfg.LogDirs[0]
	for _, d := range rm.h.cfg.LogDirs {
		if count[d] < count[best] {
			best = d
		}
	}
	return best
}

// ensure opens the partition's log if it is not hosted yet. The topic's
// config is read from ZooKeeper before the partitions map is locked.
func (rm *replicaManager) ensure(t tp, topicID [16]byte) (*partition, error) {
	if p := rm.get(t); p != nil {
		rm.mu.Lock()
		if p.topicID == ([16]byte{}) {
			p.topicID = topicID
		}
		rm.mu.Unlock()
		return p, nil
	}
	if err := validateTopicName(t.Topic); err != nil || t.Partition < 0 {
		return nil, fmt.Errorf("partition %s: invalid topic-partition name", t)
	}
	var over map[string]string
	if rm.h.o.Store != nil {
		var err error
		if over, err = rm.h.o.Store.TopicConfig(t.Topic); err != nil {
			rm.h.o.Logf("partition %s: reading topic config: %v; using broker defaults", t, err)
		}
	}
	cfg := rm.h.cfg.TopicMap(over)
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if p, ok := rm.parts[t]; ok {
		return p, nil
	}
	dir := rm.pickDir(t)
	l, err := rm.h.o.OpenLog(dir, t.Topic, t.Partition, topicID, cfg)
	if err != nil {
		return nil, fmt.Errorf("partition %s in %s: %w", t, dir, err)
	}
	p := &partition{tp: t, topicID: topicID, dir: dir, log: l, leader: -1, minISR: minISROf(cfg)}
	p.resetFollowerState(0)
	p.hw = l.EndOffset() // the leader's HW rule takes over; a restart keeps what is on disk visible
	rm.parts[t] = p
	rm.onDisk[t] = dir
	return p, nil
}

// stop removes the partition; with del its files go too.
func (rm *replicaManager) stop(t tp, del bool) error {
	rm.mu.Lock()
	p, ok := rm.parts[t]
	delete(rm.parts, t)
	dir, onDisk := rm.onDisk[t]
	if del {
		delete(rm.onDisk, t)
	}
	rm.mu.Unlock()
	if !ok {
		if del && onDisk && rm.h.o.OpenLog != nil {
			// Data left from an earlier run: open it to delete it properly.
			l, err := rm.h.o.OpenLog(dir, t.Topic, t.Partition, [16]byte{}, rm.h.cfg.TopicMap(nil))
			if err != nil {
				return err
			}
			return l.Delete()
		}
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if del {
		return p.log.Delete()
	}
	return p.log.Close()
}

func (rm *replicaManager) closeAll() {
	rm.mu.Lock()
	parts := rm.parts
	rm.parts = map[tp]*partition{}
	rm.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		if err := p.log.Flush(); err != nil {
			rm.h.o.Logf("partition %s: flush on close: %v", p.tp, err)
		}
		if err := p.log.Close(); err != nil {
			rm.h.o.Logf("partition %s: close: %v", p.tp, err)
		}
		p.mu.Unlock()
	}
}

// leaderPartition returns the partition if this broker leads it, else a kerr error.
func (h *Handler) leaderPartition(t tp) (*partition, error) {
	p := h.rm.get(t)
	if p == nil {
		if h.cache.hasTopic(t.Topic) {
			if tm, ok := h.cache.topic(t.Topic); ok {
				if _, ok := tm.Parts[t.Partition]; ok {
					return nil, kerr.NotLeaderForPartition
				}
			}
		}
		return nil, kerr.UnknownTopicOrPartition
	}
	return p, nil
}

// EnforceRetention runs retention on every hosted partition.
func (h *Handler) EnforceRetention() {
	now := h.nowMs()
	for _, p := range h.rm.all() {
		p.mu.Lock()
		n, err := p.log.EnforceRetention(now)
		p.mu.Unlock()
		if err != nil {
			h.o.Logf("partition %s: retention: %v", p.tp, err)
		} else if n > 0 {
			h.o.Logf("partition %s: retention deleted %d segment(s)", p.tp, n)
		}
	}
}

// FlushDue is Kafka's log flusher: it fsyncs every hosted partition with
// records unflushed for flush.ms.
func (h *Handler) FlushDue() {
	now := h.nowMs()
	for _, p := range h.rm.all() {
		p.mu.Lock()
		if _, err := p.log.MaybeFlush(now); err != nil {
			h.o.Logf("partition %s: flush: %v", p.tp, err)
		}
		p.mu.Unlock()
	}
}

// ApplyTopicConfigs re-reads the dynamic config of every hosted topic and
// applies it (called when /config/changes moves).
func (h *Handler) ApplyTopicConfigs() {
	if h.o.Store == nil {
		return
	}
	byTopic := map[string][]*partition{}
	for _, p := range h.rm.all() {
		byTopic[p.tp.Topic] = append(byTopic[p.tp.Topic], p)
	}
	for topic, ps := range byTopic {
		over, err := h.o.Store.TopicConfig(topic)
		if err != nil {
			h.o.Logf("topic %s: reading config: %v", topic, err)
			continue
		}
		cfg := h.cfg.TopicMap(over)
		for _, p := range ps {
			p.mu.Lock()
			p.log.SetConfig(cfg)
			p.minISR = minISROf(cfg)
			p.mu.Unlock()
		}
	}
}

// PartitionInfo describes one hosted replica.
type PartitionInfo struct {
	Topic                          string
	Partition                      int32
	Leader                         bool
	LeaderEpoch                    int32
	StartOffset, EndOffset, HighWM int64
	Dir                            string
}

// HostedPartitions lists the replicas this broker hosts.
func (h *Handler) HostedPartitions() []PartitionInfo {
	var out []PartitionInfo
	for _, p := range h.rm.all() {
		p.mu.Lock()
		out = append(out, PartitionInfo{p.tp.Topic, p.tp.Partition, p.isLeader, p.leaderEpoch, p.log.StartOffset(), p.log.EndOffset(), p.hw, p.dir})
		p.mu.Unlock()
	}
	return out
}
