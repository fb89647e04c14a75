package controller

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/zkstate"
)

// AlterPartitionReassignments: v0
//
// Behavior:
//   - Starts moving each listed partition to its new replica list (KIP-455,
//     as Kafka's ZooKeeper-mode controller does): the topic znode records
//     replicas = target + origin with adding_replicas/removing_replicas,
//     the new replicas learn the partition through LeaderAndIsr, and once
//     every target replica is in the ISR the leader moves if it must, the
//     old replicas get StopReplica(delete) and the znode keeps only target.
//   - Replicas null cancels a reassignment in progress
//     (NO_REASSIGNMENT_IN_PROGRESS when none is).
//   - A bad list (empty, duplicate, broker not alive) answers
//     INVALID_REPLICA_ASSIGNMENT; unknown partitions
//     UNKNOWN_TOPIC_OR_PARTITION; NOT_CONTROLLER when not active.
func (c *Controller) AlterPartitionReassignments(req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	resp.Version = req.Version
	if !c.do(func(l *leader) { l.alterReassignments(req, resp) }) {
		resp.ErrorCode = kerr.NotController.Code
	}
	return resp
}

// ListPartitionReassignments: v0
//
// Behavior: lists the reassignments in progress (all of them when no topics
// are named), with the full replica set and the adding/removing replicas.
func (c *Controller) ListPartitionReassignments(req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := kmsg.NewPtrListPartitionReassignmentsResponse()
	resp.Version = req.Version
	if !c.do(func(l *leader) { l.listReassignments(req, resp) }) {
		resp.ErrorCode = kerr.NotController.Code
	}
	return resp
}

func errMessage(err error) *string {
	s := err.Error()
	return &s
}

func (l *leader) alterReassignments(req *kmsg.AlterPartitionAssignmentsRequest, resp *kmsg.AlterPartitionAssignmentsResponse) {
	for _, rt := range req.Topics {
		out := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		moves := make([]move, 0, len(rt.Partitions))
		for _, rp := range rt.Partitions {
			moves = append(moves, move{part: rp.Partition, target: rp.Replicas, cancel: rp.Replicas == nil})
		}
		for i, res := range l.reassignPartitions(rt.Topic, moves) {
			pr := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			pr.Partition = rt.Partitions[i].Partition
			if res != nil {
				pr.ErrorCode = kerr.UnknownServerError.Code
				var ke *kerr.Error
				if errors.As(res, &ke) {
					pr.ErrorCode = ke.Code
				}
				if _, bare := res.(*kerr.Error); !bare {
					pr.ErrorMessage = errMessage(res)
				}
			}
			out.Partitions = append(out.Partitions, pr)
		}
		if l.lost {
			resp.ErrorCode = kerr.NotController.Code
			return
		}
		resp.Topics = append(resp.Topics, out)
	}
}

// move is one requested reassignment of a partition.
type move struct {
	part   int32
	target []int32
	cancel bool
}

// reassignPartitions starts (or cancels) reassignments of one topic's
// partitions; the result per move is nil or an error wrapping its kerr code.
func (l *leader) reassignPartitions(name string, moves []move) []error {
	registered := func(id int32) bool { _, ok := l.live[id]; return ok }
	out := make([]error, len(moves))
	t := l.topics[name]
	var started []int32
	dropped := map[int32][]tp{} // earlier adding replicas left out of a redirect
	for i, m := range moves {
		if t == nil || t.deleting || t.parts[m.part] == nil {
			out[i] = kerr.UnknownTopicOrPartition
			continue
		}
		p := m.part
		replicas, adding := t.assign.Partitions[p], t.assign.AddingReplicas[p]
		target := m.target
		if m.cancel {
			if len(adding) == 0 && len(t.assign.RemovingReplicas[p]) == 0 {
				out[i] = kerr.NoReassignmentInProgress
				continue
			}
			target = slices.DeleteFunc(slices.Clone(replicas), func(r int32) bool { return slices.Contains(adding, r) })
		} else if err := ValidReassignment(target, registered); err != nil {
			out[i] = fmt.Errorf("%w: %v", kerr.InvalidReplicaAssignment, err)
			continue
		}
		full, add, remove := ReassignTo(replicas, PendingAdding(adding, t.parts[p].state.ISR), target)
		if slices.Equal(full, replicas) && slices.Equal(add, adding) && slices.Equal(remove, t.assign.RemovingReplicas[p]) {
			continue // nothing to do
		}
		for _, r := range replicas {
			if !slices.Contains(full, r) {
				dropped[r] = append(dropped[r], tp{name, p})
			}
		}
		l.setReassignment(t, p, full, add, remove)
		started = append(started, p)
	}
	if len(started) == 0 {
		return out
	}
	if err := l.zk.SetTopicAssignment(t.assign); !l.check("writing reassignment of "+name, err) {
		for i := range out {
			if out[i] == nil {
				out[i] = fmt.Errorf("%w: %v", kerr.UnknownServerError, err)
			}
		}
		if !l.lost {
			l.loadTopic(name) // back to what ZooKeeper holds
		}
		return out
	}
	l.beginReassignment(name, started, dropped)
	return out
}

// setReassignment records a partition's replica sets in memory (the caller
// writes the topic znode).
func (l *leader) setReassignment(t *topic, p int32, full, add, remove []int32) {
	a := &t.assign
	a.Partitions = maps.Clone(a.Partitions)
	a.AddingReplicas = maps.Clone(a.AddingReplicas)
	a.RemovingReplicas = maps.Clone(a.RemovingReplicas)
	if a.AddingReplicas == nil {
		a.AddingReplicas = map[int32][]int32{}
	}
	if a.RemovingReplicas == nil {
		a.RemovingReplicas = map[int32][]int32{}
	}
	a.Partitions[p] = full
	delete(a.AddingReplicas, p)
	delete(a.RemovingReplicas, p)
	if len(add) > 0 {
		a.AddingReplicas[p] = add
	}
	if len(remove) > 0 {
		a.RemovingReplicas[p] = remove
	}
}

// beginReassignment applies BeginReassignment to the moving partitions so
// that every replica, old and new, hears of the new replica set; replicas
// dropped by a redirect are told to delete theirs. Then it sees whether
// some can complete at once.
func (l *leader) beginReassignment(name string, parts []int32, dropped map[int32][]tp) {
	alive := l.aliveFn()
	t := l.topics[name]
	cs := make([]change, 0, len(parts))
	for _, p := range parts {
		full := t.assign.Partitions[p]
		cs = append(cs, change{x: tp{name, p}, decide: func(cur LeaderAndISR) (LeaderAndISR, bool) {
			return BeginReassignment(full, cur, alive), true
		}})
	}
	changed := l.updateAll(cs)
	l.announce(changed, false)
	for _, b := range SortedIDs(dropped) {
		if _, ok := l.live[b]; ok {
			l.sendStopReplica(b, dropped[b], true, nil)
		}
	}
	l.maybeCompleteReassignments(changed)
}

func (l *leader) reassigning(x tp) (target []int32, ok bool) {
	t := l.topics[x.topic]
	if t == nil || t.deleting {
		return nil, false
	}
	add, remove := t.assign.AddingReplicas[x.part], t.assign.RemovingReplicas[x.part]
	if len(add) == 0 && len(remove) == 0 {
		return nil, false
	}
	return slices.DeleteFunc(slices.Clone(t.assign.Partitions[x.part]), func(r int32) bool { return slices.Contains(remove, r) }), true
}

// maybeCompleteReassignments finishes the reassignments among parts whose
// target replicas are all in the ISR.
func (l *leader) maybeCompleteReassignments(parts []tp) {
	alive := l.aliveFn()
	removed := map[int32][]tp{}
	var done []tp
	for _, x := range parts {
		target, ok := l.reassigning(x)
		if !ok || !l.topics[x.topic].parts[x.part].created {
			continue
		}
		t := l.topics[x.topic]
		remove := t.assign.RemovingReplicas[x.part]
		if !l.update(x.topic, x.part, func(cur LeaderAndISR) (LeaderAndISR, bool) {
			return CompleteReassignment(target, cur, alive)
		}) {
			continue
		}
		l.setReassignment(t, x.part, target, nil, nil)
		if !l.check("completing reassignment of "+x.topic, l.zk.SetTopicAssignment(t.assign)) {
			continue
		}
		l.c.logf("reassignment of %s-%d to %v completed", x.topic, x.part, target)
		for _, r := range remove {
			removed[r] = append(removed[r], x)
		}
		done = append(done, x)
	}
	l.announce(done, false)
	for _, b := range SortedIDs(removed) {
		if _, ok := l.live[b]; ok {
			l.sendStopReplica(b, removed[b], true, nil)
		}
	}
	if len(done) > 0 {
		l.soon(event{kind: evAdminReassign, prune: true})
	}
}

// allReassigning lists every partition with a reassignment in progress.
func (l *leader) allReassigning() []tp {
	var out []tp
	for _, name := range sortedTopics(l.topics) {
		for _, p := range sortedParts(l.topics[name].parts) {
			if _, ok := l.reassigning(tp{name, p}); ok {
				out = append(out, tp{name, p})
			}
		}
	}
	return out
}

func (l *leader) listReassignments(req *kmsg.ListPartitionReassignmentsRequest, resp *kmsg.ListPartitionReassignmentsResponse) {
	var want []tp
	if req.Topics == nil {
		want = l.allReassigning()
	} else {
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				if _, ok := l.reassigning(tp{rt.Topic, p}); ok {
					want = append(want, tp{rt.Topic, p})
				}
			}
		}
	}
	idx := map[string]int{}
	for _, x := range want {
		a := l.topics[x.topic].assign
		i, ok := idx[x.topic]
		if !ok {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = x.topic
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			idx[x.topic] = i
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = x.part
		rp.Replicas = slices.Clone(a.Partitions[x.part])
		rp.AddingReplicas = orEmpty(a.AddingReplicas[x.part])
		rp.RemovingReplicas = orEmpty(a.RemovingReplicas[x.part])
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
}

func orEmpty(v []int32) []int32 {
	if v == nil {
		return []int32{}
	}
	return slices.Clone(v)
}

// onAdminReassign handles /admin/reassign_partitions, the ZooKeeper way to
// ask for reassignments: each entry starts one; entries that fail or are
// done are removed, and the znode goes when none is left.
func (l *leader) onAdminReassign(fromWatch bool) {
	if fromWatch {
		l.reassignWatched = false
	}
	rs, version, ok, ev, err := l.zk.Reassignments(!l.reassignWatched)
	if ev != nil {
		l.reassignWatched = true
		l.watch(ev, event{kind: evAdminReassign})
	}
	if errors.Is(err, zkstate.ErrBadJSON) {
		l.c.logf("removing unreadable /admin/reassign_partitions: %v", err)
		l.check("removing /admin/reassign_partitions", l.zk.SetReassignments(nil, -1))
		return
	}
	if !l.check("reading /admin/reassign_partitions", err) {
		l.retryLater(event{kind: evAdminReassign, prune: true})
		return
	}
	if !ok {
		return
	}
	var keep []zkstate.Reassignment
	for _, r := range rs {
		x := tp{r.Topic, r.Partition}
		if target, ok := l.reassigning(x); ok && slices.Equal(target, r.Replicas) {
			keep = append(keep, r) // in progress
			continue
		}
		t := l.topics[r.Topic]
		if t != nil && slices.Equal(t.assign.Partitions[r.Partition], r.Replicas) {
			continue // done
		}
		if err := l.reassignPartitions(r.Topic, []move{{part: r.Partition, target: r.Replicas}})[0]; err != nil {
			l.c.logf("reassignment of %s-%d to %v from /admin/reassign_partitions refused: %v", r.Topic, r.Partition, r.Replicas, err)
			continue
		}
		if _, ok := l.reassigning(x); ok {
			keep = append(keep, r)
		}
	}
	if len(keep) != len(rs) {
		if err := l.zk.SetReassignments(keep, version); err != nil && !l.lost {
			l.check("updating /admin/reassign_partitions", err)
			l.retryLater(event{kind: evAdminReassign, prune: true})
		}
	}
}

// onAdminPreferred handles /admin/preferred_replica_election: a preferred
// leader election for the listed partitions, then the znode is removed.
func (l *leader) onAdminPreferred() {
	parts, ok, ev, err := l.zk.PreferredReplicaElection()
	l.watch(ev, event{kind: evAdminPreferred})
	if errors.Is(err, zkstate.ErrBadJSON) {
		l.c.logf("removing unreadable /admin/preferred_replica_election: %v", err)
		l.check("removing /admin/preferred_replica_election", l.zk.DeletePreferredReplicaElection())
		return
	}
	if !l.check("reading /admin/preferred_replica_election", err) {
		l.retryLater(event{kind: evAdminPreferred})
		return
	}
	if !ok {
		return
	}
	req := kmsg.NewPtrElectLeadersRequest()
	idx := map[string]int{}
	for _, p := range parts {
		i, ok := idx[p.Topic]
		if !ok {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic = p.Topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			idx[p.Topic] = i
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p.Partition)
	}
	if req.Topics == nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
	}
	l.electLeaders(req, kmsg.NewPtrElectLeadersResponse())
	l.check("removing /admin/preferred_replica_election", l.zk.DeletePreferredReplicaElection())
}
