package controller

import (
	"errors"
	"fmt"
	"sync"

	"kzoo/broker/zkstate"
)

// This file pipelines the controller's ZooKeeper writes: decisions are made
// on the loop, the writes of a batch go out concurrently on the one session
// (ZooKeeper applies each conditionally, so order between partitions does
// not matter), and the outcomes are applied on the loop again.

// maxInflight bounds the concurrent ZooKeeper requests of one batch.
const maxInflight = 64

func parallel(n int, fn func(i int)) {
	workers := min(n, maxInflight)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// change is one partition and the decision to apply to its state.
type change struct {
	x      tp
	decide func(LeaderAndISR) (LeaderAndISR, bool)
}

// updateAll applies the decisions and writes the changed states; it returns
// the partitions whose state changed, in input order. A write that lost a
// race with a partition leader is decided again on fresh state.
func (l *leader) updateAll(cs []change) []tp {
	type pending struct {
		c   change
		st  zkstate.PartitionState
		v   int32
		err error
	}
	var todo []*pending
	for _, c := range cs {
		part := l.topics[c.x.topic].parts[c.x.part]
		cur := LeaderAndISR{Leader: part.state.Leader, LeaderEpoch: part.state.LeaderEpoch, ISR: part.state.ISR}
		next, changed := c.decide(cur)
		if !changed {
			continue
		}
		todo = append(todo, &pending{c: c, st: zkstate.PartitionState{ControllerEpoch: l.epoch, Leader: next.Leader,
			LeaderEpoch: next.LeaderEpoch, ISR: next.ISR, ZkVersion: part.state.ZkVersion}})
	}
	parallel(len(todo), func(i int) {
		p := todo[i]
		p.v, p.err = l.zk.UpdatePartitionState(p.c.x.topic, p.c.x.part, p.st)
	})
	var out []tp
	for _, p := range todo {
		if l.lost {
			break
		}
		switch {
		case p.err == nil:
			p.st.ZkVersion = p.v
			l.topics[p.c.x.topic].parts[p.c.x.part].state = p.st
			l.noteOffline(p.c.x, p.st)
			out = append(out, p.c.x)
		case errors.Is(p.err, zkstate.ErrBadVersion):
			if l.update(p.c.x.topic, p.c.x.part, p.c.decide) {
				out = append(out, p.c.x)
			}
		default:
			l.check(fmt.Sprintf("writing state of %s-%d", p.c.x.topic, p.c.x.part), p.err)
			l.resyncLater()
		}
	}
	return out
}

func (l *leader) noteOffline(x tp, st zkstate.PartitionState) {
	if st.Leader == NoLeader {
		l.c.logf("partition %s-%d is offline: no live in-sync replica among %v", x.topic, x.part, l.topics[x.topic].assign.Partitions[x.part])
	}
}

// reconcileAll runs Reconcile over the created partitions among xs.
func (l *leader) reconcileAll(xs []tp) []tp {
	alive := l.aliveFn()
	cs := make([]change, 0, len(xs))
	for _, x := range xs {
		t := l.topics[x.topic]
		if !t.parts[x.part].created {
			continue
		}
		assigned := t.assign.Partitions[x.part]
		cs = append(cs, change{x: x, decide: func(cur LeaderAndISR) (LeaderAndISR, bool) {
			return Reconcile(assigned, cur, alive, l.c.cfg.UncleanLeaderElection)
		}})
	}
	return l.updateAll(cs)
}

// initAll starts the partitions among xs that have no state yet: first
// leader elected, state znodes created concurrently. It returns those
// started, in input order.
func (l *leader) initAll(xs []tp) []tp {
	type pending struct {
		x   tp
		st  zkstate.PartitionState
		err error
	}
	alive := l.aliveFn()
	var todo []*pending
	for _, x := range xs {
		t := l.topics[x.topic]
		if t.parts[x.part].created {
			continue
		}
		st0, ok := InitialState(t.assign.Partitions[x.part], alive)
		if !ok {
			l.c.logf("partition %s-%d waits: none of its replicas %v is alive", x.topic, x.part, t.assign.Partitions[x.part])
			continue
		}
		todo = append(todo, &pending{x: x, st: zkstate.PartitionState{ControllerEpoch: l.epoch, Leader: st0.Leader,
			LeaderEpoch: st0.LeaderEpoch, ISR: st0.ISR}})
	}
	parallel(len(todo), func(i int) {
		p := todo[i]
		p.err = l.zk.CreatePartitionState(p.x.topic, p.x.part, p.st)
	})
	var out []tp
	for _, p := range todo {
		if l.lost {
			break
		}
		part := l.topics[p.x.topic].parts[p.x.part]
		switch {
		case p.err == nil:
			part.state, part.created = p.st, true
			out = append(out, p.x)
		case errors.Is(p.err, zkstate.ErrBadVersion):
			// Another controller created it first: adopt its state.
			fresh, err := l.zk.PartitionState(p.x.topic, p.x.part)
			if l.check(fmt.Sprintf("reading state of %s-%d", p.x.topic, p.x.part), err) {
				part.state, part.created = fresh, true
				out = append(out, p.x)
			}
		default:
			l.check(fmt.Sprintf("creating state of %s-%d", p.x.topic, p.x.part), p.err)
			l.resyncLater()
		}
	}
	return out
}

// allPartitions lists every partition of the topics not being deleted.
func (l *leader) allPartitions() []tp {
	var out []tp
	for _, name := range sortedTopics(l.topics) {
		t := l.topics[name]
		if t.deleting {
			continue
		}
		for _, p := range sortedParts(t.parts) {
			out = append(out, tp{name, p})
		}
	}
	return out
}

// resyncLater schedules a resync after a write whose outcome is unknown
// (connection loss): the decision it carried is made again on fresh state.
func (l *leader) resyncLater() {
	if l.lost || l.resyncPending {
		return
	}
	l.resyncPending = true
	l.retryLater(event{kind: evResync})
}

// resync re-reads every partition state, announces those that differ from
// what the controller believed, and decides again: new partitions are
// started, leaders and ISRs reconciled with the live brokers.
func (l *leader) resync() {
	l.resyncPending = false
	all := l.allPartitions()
	states := make([]zkstate.PartitionState, len(all))
	errs := make([]error, len(all))
	parallel(len(all), func(i int) { states[i], errs[i] = l.zk.PartitionState(all[i].topic, all[i].part) })
	var differ []tp
	for i, x := range all {
		part := l.topics[x.topic].parts[x.part]
		switch {
		case errs[i] == nil:
			if !part.created || part.state.ZkVersion != states[i].ZkVersion {
				part.state, part.created = states[i], true
				differ = append(differ, x)
			}
		case errors.Is(errs[i], zkstate.ErrPartitionStateNotFound):
			part.created = false
		default:
			l.check(fmt.Sprintf("re-reading state of %s-%d", x.topic, x.part), errs[i])
			l.resyncLater()
			return
		}
	}
	l.announce(differ, false)
	l.announce(l.initAll(all), true)
	l.announce(l.reconcileAll(all), false)
}
