package api

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"kzoo/broker/group"
)

// groupCoord drives broker/group's state machine: it serializes every call
// under mu, appends the records the state machine asks to persist to the
// group's __consumer_offsets partition (answering only once they are
// replicated, as acks=all), and loads and unloads offsets partitions as
// this broker gains and loses their leadership.
//
// Lock order: groupCoord.mu before partition.mu; a persist runs without mu
// and takes it again to deliver its result.
type groupCoord struct {
	h     *Handler
	mu    sync.Mutex
	c     *group.Coordinator
	loads map[int32]*offsetsLoad // offsets partitions this broker leads
	// offsets.retention.minutes and offsets.retention.check.interval.ms
	retentionMs, checkEveryMs, lastCheckMs int64
}

type offsetsLoad struct {
	epoch  int32
	loaded bool
}

// commitTimeout is offsets.commit.timeout.ms's default.
const commitTimeout = 5 * time.Second

func newGroupCoord(h *Handler) *groupCoord {
	gc := &groupCoord{h: h, loads: map[int32]*offsetsLoad{},
		retentionMs:  int64(cfgInt32(h, "offsets.retention.minutes", 10080)) * 60000,
		checkEveryMs: int64(cfgInt32(h, "offsets.retention.check.interval.ms", 600000))}
	gc.c = group.New(group.Config{
		Partitions:            max(h.cfg.OffsetsTopicNumPartitions, 1),
		InitialRebalanceDelay: h.cfg.GroupInitialRebalanceDelayMs,
		MinSessionTimeoutMs:   cfgInt32(h, "group.min.session.timeout.ms", 6000),
		MaxSessionTimeoutMs:   cfgInt32(h, "group.max.session.timeout.ms", 1800000),
		Rand:                  h.o.Rand,
	}, gc.persist)
	return gc
}

func cfgInt32(h *Handler, key string, def int32) int32 {
	if n, err := strconv.ParseInt(h.cfg.Values[key], 10, 32); err == nil {
		return int32(n)
	}
	return def
}

// persist is the state machine's Persist: called with mu held.
func (gc *groupCoord) persist(p int32, kvs []group.KV, done func(*kerr.Error)) {
	go func() {
		e := gc.append(context.Background(), p, kvs)
		gc.mu.Lock()
		defer gc.mu.Unlock()
		done(e)
	}()
}

// append writes kvs to offsets partition p and waits until the high
// watermark covers them. It must be called without mu held.
func (gc *groupCoord) append(ctx context.Context, p int32, kvs []group.KV) *kerr.Error {
	h := gc.h
	now := h.nowMs()
	t := tp{group.Topic, p}
	res, part, err := h.produceOne(t, group.EncodeBatch(kvs, now), -1, now)
	if err != nil {
		h.o.Logf("group coordinator: append to %s: %v", t, err)
		switch {
		case errors.Is(err, kerr.NotLeaderForPartition):
			return kerr.NotCoordinator
		case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
			return kerr.InvalidCommitOffsetSize
		case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.NotEnoughReplicas), errors.Is(err, kerr.NotEnoughReplicasAfterAppend):
			return kerr.CoordinatorNotAvailable
		}
		return kerr.UnknownServerError
	}
	deadline := time.NewTimer(commitTimeout)
	defer deadline.Stop()
	for {
		ch := h.rm.waitChan()
		part.mu.Lock()
		covered, leader := part.hw > res.LastOffset, part.isLeader
		part.mu.Unlock()
		if covered {
			return nil
		}
		if !leader {
			return kerr.NotCoordinator
		}
		select {
		case <-ch:
		case <-deadline.C:
			return kerr.CoordinatorNotAvailable
		case <-ctx.Done():
			return kerr.CoordinatorNotAvailable
		}
	}
}

// check says whether this broker coordinates groupID now. Lock should be held.
func (gc *groupCoord) check(groupID string) *kerr.Error {
	p := gc.c.Partition(groupID)
	l := gc.loads[p]
	switch {
	case l == nil && gc.leads(p):
		return kerr.CoordinatorLoadInProgress // leader already, the next tick loads it
	case l == nil:
		return kerr.NotCoordinator
	case !l.loaded:
		return kerr.CoordinatorLoadInProgress
	}
	return nil
}

// leads reports whether this broker leads offsets partition p.
func (gc *groupCoord) leads(p int32) bool {
	part := gc.h.rm.get(tp{group.Topic, p})
	if part == nil {
		return false
	}
	part.mu.Lock()
	defer part.mu.Unlock()
	return part.isLeader
}

// GroupTick expires group sessions and join phases, and loads or unloads
// __consumer_offsets partitions whose leadership moved. The server calls it
// every 100ms.
func (h *Handler) GroupTick() {
	gc := h.groups
	n := max(h.cfg.OffsetsTopicNumPartitions, 1)
	gc.mu.Lock()
	defer gc.mu.Unlock()
	for p := range n {
		var leader bool
		var epoch int32
		if part := h.rm.get(tp{group.Topic, p}); part != nil {
			part.mu.Lock()
			leader, epoch = part.isLeader, part.leaderEpoch
			part.mu.Unlock()
		}
		l := gc.loads[p]
		switch {
		case leader && (l == nil || l.epoch != epoch):
			if l != nil {
				gc.c.Unload(p)
			}
			gc.loads[p] = &offsetsLoad{epoch: epoch}
			go gc.load(p, epoch)
		case !leader && l != nil:
			gc.c.Unload(p)
			delete(gc.loads, p)
		}
	}
	now := h.nowMs()
	gc.c.Tick(now)
	if gc.lastCheckMs == 0 {
		gc.lastCheckMs = now
	}
	if now-gc.lastCheckMs >= gc.checkEveryMs {
		gc.lastCheckMs = now
		for p, kvs := range gc.c.ExpireOffsets(now, gc.retentionMs) {
			if l := gc.loads[p]; l != nil && l.loaded {
				gc.persist(p, kvs, func(e *kerr.Error) {
					if e != nil {
						h.o.Logf("group coordinator: expiring offsets in %s-%d: %v", group.Topic, p, e)
					}
				})
			}
		}
	}
}

// load replays offsets partition p into the state machine, tombstones
// included, then marks it loaded if leadership did not move meanwhile.
func (gc *groupCoord) load(p int32, epoch int32) {
	h := gc.h
	part := h.rm.get(tp{group.Topic, p})
	if part == nil {
		return
	}
	var recs []group.Record
	part.mu.Lock()
	off, end := part.log.StartOffset(), part.log.EndOffset()
	part.mu.Unlock()
	for off < end {
		part.mu.Lock()
		data, err := part.log.Read(off, 1<<20, end, true)
		part.mu.Unlock()
		if err != nil {
			h.o.Logf("group coordinator: loading %s-%d at offset %d: %v", group.Topic, p, off, err)
			break
		}
		next, err := group.DecodeBatches(data, func(_ int64, r group.Record) error {
			recs = append(recs, r)
			return nil
		})
		if err != nil {
			h.o.Logf("group coordinator: loading %s-%d: %v", group.Topic, p, err)
		}
		if next <= off {
			break
		}
		off = next
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	l := gc.loads[p]
	if l == nil || l.epoch != epoch || l.loaded {
		return
	}
	now := h.nowMs()
	for _, r := range recs {
		gc.c.Replay(now, r)
	}
	l.loaded = true
	h.o.Logf("group coordinator: loaded %s-%d (%d records, leader epoch %d)", group.Topic, p, len(recs), epoch)
}

// await runs one call of the group state machine that answers later (a
// join or sync completes when the rebalance does): start is called under
// the coordinator's lock with the time and a callback, and await waits for
// that callback or the request's end. code is nonzero when the group is not
// served here or the request ended first.
func await[R any](ctx context.Context, gc *groupCoord, groupID string, start func(nowMs int64, done func(R))) (res R, code int16) {
	ch := make(chan R, 1)
	gc.mu.Lock()
	if e := gc.check(groupID); e != nil {
		gc.mu.Unlock()
		return res, e.Code
	}
	start(gc.h.nowMs(), func(r R) { ch <- r })
	gc.mu.Unlock()
	select {
	case res = <-ch:
		return res, 0
	case <-ctx.Done():
		return res, kerr.CoordinatorNotAvailable.Code
	}
}
