package api

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ISR management on the leader: a follower that has not been caught up for
// replica.lag.time.max.ms leaves the ISR; a replica whose log end reached
// the high watermark joins it. Changes go to the controller as
// AlterPartition; the partition's ISR changes here only once the controller
// has written it, so the high watermark never counts a replica the
// controller does not have in the ISR.

type isrChange struct {
	p       *partition
	epoch   int32
	version int32
	newISR  []int32
}

// MaybeUpdateISRs proposes ISR shrinks and expansions for the partitions
// this broker leads. Called periodically by the server.
func (h *Handler) MaybeUpdateISRs() {
	now := h.nowMs()
	lag := h.cfg.ReplicaLagTimeMaxMs
	self := h.cfg.BrokerID
	var changes []isrChange
	for _, p := range h.rm.all() {
		p.mu.Lock()
		if !p.isLeader || p.isrInFlight {
			p.mu.Unlock()
			continue
		}
		next := p.proposeISR(self, now, lag)
		if !sameSet(next, p.isr) {
			p.isrInFlight = true
			changes = append(changes, isrChange{p, p.leaderEpoch, p.zkVersion, next})
		}
		p.mu.Unlock()
	}
	if len(changes) == 0 {
		return
	}
	resp := h.sendAlterPartition(changes)
	byTP := map[tp]kmsg.AlterPartitionResponseTopicPartition{}
	if resp != nil && resp.ErrorCode == 0 {
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				byTP[tp{rt.Topic, rp.Partition}] = rp
			}
		}
	}
	moved := false
	for _, c := range changes {
		c.p.mu.Lock()
		c.p.isrInFlight = false
		if rp, ok := byTP[c.p.tp]; ok && rp.ErrorCode == 0 && c.p.isLeader && c.p.leaderEpoch == rp.LeaderEpoch {
			h.o.Logf("partition %s: ISR %v -> %v (partition epoch %d)", c.p.tp, c.p.isr, rp.ISR, rp.PartitionEpoch)
			c.p.isr, c.p.zkVersion = rp.ISR, rp.PartitionEpoch
			if c.p.maybeAdvanceHW(h.cfg.BrokerID) {
				moved = true
			}
		} else if ok && rp.ErrorCode != 0 {
			h.o.Logf("partition %s: ISR change to %v refused by the controller: error %d", c.p.tp, c.newISR, rp.ErrorCode)
		}
		c.p.mu.Unlock()
	}
	if moved {
		h.rm.notify()
	}
}

// proposeISR is the ISR this leader wants: members caught up within lagMs
// stay, replicas whose log end reached the high watermark and that were
// caught up within lagMs join, and the leader is always in it.
//
// Lock should be held.
func (p *partition) proposeISR(self int32, nowMs, lagMs int64) []int32 {
	next := []int32{self}
	for _, r := range p.isr {
		if r != self && nowMs-p.caughtUpMs[r] <= lagMs {
			next = append(next, r)
		}
	}
	for _, r := range p.replicas {
		if slices.Contains(next, r) {
			continue
		}
		if leo, ok := p.followerLEO[r]; ok && leo >= p.hw && nowMs-p.caughtUpMs[r] <= lagMs {
			next = append(next, r)
		}
	}
	return next
}

func sameSet(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// sendAlterPartition delivers one AlterPartition (v1, by topic name) to
// the controller: directly when this broker is the controller.
func (h *Handler) sendAlterPartition(changes []isrChange) *kmsg.AlterPartitionResponse {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 1
	req.BrokerID, req.BrokerEpoch = h.cfg.BrokerID, h.o.BrokerEpoch()
	idx := map[string]int{}
	for _, c := range changes {
		i, ok := idx[c.p.tp.Topic]
		if !ok {
			rt := kmsg.NewAlterPartitionRequestTopic()
			rt.Topic = c.p.tp.Topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			idx[c.p.tp.Topic] = i
		}
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.NewISR, rp.PartitionEpoch = c.p.tp.Partition, c.epoch, c.newISR, c.version
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	if c := h.controller(); c != nil && c.IsActive() {
		return c.AlterPartition(req)
	}
	id := h.cache.controller()
	b, ok := h.cache.broker(id)
	if !ok {
		return nil
	}
	e, ok := b.Endpoints[h.cfg.InterBrokerListenerName]
	if !ok {
		return nil
	}
	addr := net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
	resp, err := Request(h.o.Dial, addr, "broker-"+strconv.Itoa(int(h.cfg.BrokerID))+"-isr", req, 10*time.Second)
	if err != nil {
		h.o.Logf("AlterPartition to controller %d at %s: %v", id, addr, err)
		return nil
	}
	return resp.(*kmsg.AlterPartitionResponse)
}
