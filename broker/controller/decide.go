package controller

import (
	"errors"
	"fmt"
	"slices"
	"sort"
)

// This file holds the controller's decisions as pure functions. It must not
// import net, os or time; randomness comes in as arguments.

// NoLeader is the leader of a partition that has none (Kafka's
// LeaderAndIsr.NoLeader).
const NoLeader int32 = -1

// Sentinel errors of the decisions.
var (
	ErrInvalidPartitions        = errors.New("controller: number of partitions must be larger than 0")
	ErrInvalidReplicationFactor = errors.New("controller: invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("controller: invalid replica assignment")
)

// AssignReplicas spreads partitions over brokers the way Kafka's
// rack-unaware assignment does: the first replica of partition p goes to
// broker (p+startIndex) mod n, the followers follow at a shift that grows by
// one every n partitions, so that leaders and followers both spread evenly.
// startIndex and shift are Kafka's random start (rand.Intn(n) each), chosen
// by the caller; pass 0 and 0 for the textbook layout.
func AssignReplicas(brokers []int32, partitions, replicationFactor int, startIndex, shift int) (map[int32][]int32, error) {
	return AssignReplicasFrom(brokers, 0, partitions, replicationFactor, startIndex, shift)
}

// AssignReplicasFrom is AssignReplicas for partitions startPartition,
// startPartition+1, … (CreatePartitions adds to an existing topic).
func AssignReplicasFrom(brokers []int32, startPartition, partitions, replicationFactor int, startIndex, shift int) (map[int32][]int32, error) {
	if partitions <= 0 {
		return nil, ErrInvalidPartitions
	}
	if replicationFactor <= 0 {
		return nil, fmt.Errorf("%w: replication factor must be larger than 0, got %d", ErrInvalidReplicationFactor, replicationFactor)
	}
	n := len(brokers)
	if replicationFactor > n {
		return nil, fmt.Errorf("%w: replication factor: %d larger than available brokers: %d", ErrInvalidReplicationFactor, replicationFactor, n)
	}
	sorted := slices.Clone(brokers)
	slices.Sort(sorted)
	if startIndex < 0 {
		startIndex = 0
	}
	if shift < 0 {
		shift = 0
	}
	out := make(map[int32][]int32, partitions)
	p := max(0, startPartition)
	for range partitions {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + startIndex) % n
		replicas := []int32{sorted[first]}
		for j := 0; j < replicationFactor-1; j++ {
			replicas = append(replicas, sorted[(first+1+(shift+j)%(n-1))%n])
		}
		out[int32(p)] = replicas
		p++
	}
	return out, nil
}

// ElectLeader picks a partition's leader: the first replica in assignment
// order that is alive and in the ISR; failing that, when unclean election is
// allowed, the first live replica (which may have lost records).
func ElectLeader(assigned, isr []int32, alive func(int32) bool, unclean bool) (leader int32, ok bool) {
	for _, r := range assigned {
		if alive(r) && slices.Contains(isr, r) {
			return r, true
		}
	}
	if unclean {
		for _, r := range assigned {
			if alive(r) {
				return r, true
			}
		}
	}
	return NoLeader, false
}

// LeaderAndISR is the part of a partition's state the decisions change.
type LeaderAndISR struct {
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
}

func (s LeaderAndISR) equal(o LeaderAndISR) bool {
	return s.Leader == o.Leader && slices.Equal(s.ISR, o.ISR)
}

func liveOf(rs []int32, alive func(int32) bool) []int32 {
	out := []int32{}
	for _, r := range rs {
		if alive(r) {
			out = append(out, r)
		}
	}
	return out
}

// InitialState is the state of a new partition: the first live replica in
// assignment order leads, every live replica is in the ISR. ok is false when
// no replica is alive; the partition then waits for one.
func InitialState(assigned []int32, alive func(int32) bool) (LeaderAndISR, bool) {
	live := liveOf(assigned, alive)
	if len(live) == 0 {
		return LeaderAndISR{}, false
	}
	return LeaderAndISR{Leader: live[0], LeaderEpoch: 0, ISR: live}, true
}

// Reconcile brings a partition's state in line with the set of live brokers,
// as Kafka's controller does after brokers fail or come back:
//   - dead replicas leave the ISR, except that the ISR never becomes empty
//     (the last member stays, so a clean election can happen when it returns);
//   - a partition whose leader is dead or missing gets a new one from
//     ElectLeader; after an unclean election the ISR is just the new leader;
//   - when no leader can be found the partition goes offline (NoLeader).
//
// Every change bumps the leader epoch. changed is false when nothing moved.
func Reconcile(assigned []int32, cur LeaderAndISR, alive func(int32) bool, unclean bool) (next LeaderAndISR, changed bool) {
	next = LeaderAndISR{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch, ISR: shrinkISR(cur, alive)}
	if cur.Leader == NoLeader || !alive(cur.Leader) {
		if l, ok := ElectLeader(assigned, next.ISR, alive, false); ok {
			next.Leader = l
			next.ISR = liveOf(next.ISR, alive)
		} else if l, ok := ElectLeader(assigned, next.ISR, alive, unclean); ok {
			next.Leader, next.ISR = l, []int32{l}
		} else {
			next.Leader = NoLeader
		}
	}
	if next.equal(cur) {
		return cur, false
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	return next, true
}

// shrinkISR drops dead members; when none would remain, it keeps one
// (the current leader if it was in the ISR, else the first member).
func shrinkISR(cur LeaderAndISR, alive func(int32) bool) []int32 {
	live := liveOf(cur.ISR, alive)
	if len(live) > 0 || len(cur.ISR) == 0 {
		return live
	}
	if slices.Contains(cur.ISR, cur.Leader) {
		return []int32{cur.Leader}
	}
	return []int32{cur.ISR[0]}
}

// ShutdownMove is the controlled-shutdown decision for one partition with a
// replica on the broker that is going away: if it leads, leadership moves to
// the first other replica in assignment order that is alive and in the ISR
// (and not shutting down); the broker leaves the ISR unless it is the last
// member. stillLeads is true when no other replica can take over.
func ShutdownMove(assigned []int32, cur LeaderAndISR, broker int32, alive func(int32) bool) (next LeaderAndISR, changed, stillLeads bool) {
	eligible := func(r int32) bool { return r != broker && alive(r) }
	next = LeaderAndISR{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch, ISR: slices.Clone(cur.ISR)}
	if cur.Leader == broker {
		l, ok := ElectLeader(assigned, cur.ISR, eligible, false)
		if !ok {
			return cur, false, true
		}
		next.Leader = l
	}
	if without := slices.DeleteFunc(slices.Clone(next.ISR), func(r int32) bool { return r == broker }); len(without) > 0 {
		next.ISR = without
	}
	if next.equal(cur) {
		return cur, false, false
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	return next, true, false
}

// PreferredLeader moves leadership to the first assigned replica when it is
// alive and in the ISR (Kafka's preferred replica election).
func PreferredLeader(assigned []int32, cur LeaderAndISR, alive func(int32) bool) (next LeaderAndISR, changed bool) {
	if len(assigned) == 0 || cur.Leader == assigned[0] || !alive(assigned[0]) || !slices.Contains(cur.ISR, assigned[0]) {
		return cur, false
	}
	return LeaderAndISR{Leader: assigned[0], LeaderEpoch: cur.LeaderEpoch + 1, ISR: slices.Clone(cur.ISR)}, true
}

// SortedIDs returns the keys of a set of broker ids in ascending order.
func SortedIDs[V any](m map[int32]V) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ReassignTo is the replica set a partition moves through on its way from
// its current replicas to target (Kafka's ReplicaAssignment.reassignTo):
// the origin replicas are the current ones minus those still being added;
// during the move the partition is replicated on target plus origin, with
// adding = target minus origin and removing = origin minus target.
func ReassignTo(replicas, adding, target []int32) (full, add, remove []int32) {
	origin := slices.DeleteFunc(slices.Clone(replicas), func(r int32) bool { return slices.Contains(adding, r) })
	for _, r := range append(slices.Clone(target), origin...) {
		if !slices.Contains(full, r) {
			full = append(full, r)
		}
	}
	for _, r := range full {
		if !slices.Contains(origin, r) {
			add = append(add, r)
		}
		if !slices.Contains(target, r) {
			remove = append(remove, r)
		}
	}
	return full, add, remove
}

// CompleteReassignment is the last step of a reassignment, possible once
// every target replica is in the ISR: leadership stays if the leader is a
// target replica and alive, else it moves to the first live in-sync target
// replica; the ISR keeps only target replicas. ok is false while a target
// replica is missing from the ISR or no target replica can lead.
func CompleteReassignment(target []int32, cur LeaderAndISR, alive func(int32) bool) (next LeaderAndISR, ok bool) {
	for _, r := range target {
		if !slices.Contains(cur.ISR, r) {
			return cur, false
		}
	}
	leader := cur.Leader
	if !slices.Contains(target, leader) || !alive(leader) {
		l, found := ElectLeader(target, cur.ISR, alive, false)
		if !found {
			return cur, false
		}
		leader = l
	}
	isr := slices.DeleteFunc(slices.Clone(cur.ISR), func(r int32) bool { return !slices.Contains(target, r) })
	return LeaderAndISR{Leader: leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: isr}, true
}

// ValidReassignment checks a requested replica list: not empty, no
// duplicates, every broker registered.
func ValidReassignment(target []int32, registered func(int32) bool) error {
	if len(target) == 0 {
		return fmt.Errorf("%w: the replica list is empty", ErrInvalidReplicaAssignment)
	}
	seen := map[int32]bool{}
	for _, r := range target {
		if seen[r] {
			return fmt.Errorf("%w: broker %d appears twice in %v", ErrInvalidReplicaAssignment, r, target)
		}
		seen[r] = true
		if !registered(r) {
			return fmt.Errorf("%w: broker %d in %v is not alive", ErrInvalidReplicaAssignment, r, target)
		}
	}
	return nil
}

// BeginReassignment is the state of a partition as a reassignment starts or
// is redirected (full is the replica set from ReassignTo): replicas that
// are no longer part of it (earlier adding replicas left out of the new
// target) leave the ISR, a leader among them is replaced from the ISR, and
// the leader epoch goes up so every replica learns the new replica set.
func BeginReassignment(full []int32, cur LeaderAndISR, alive func(int32) bool) LeaderAndISR {
	isr := slices.DeleteFunc(slices.Clone(cur.ISR), func(r int32) bool { return !slices.Contains(full, r) })
	next := LeaderAndISR{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: isr}
	if cur.Leader != NoLeader && !slices.Contains(full, cur.Leader) {
		next.Leader, _ = ElectLeader(full, isr, alive, false)
	}
	if len(next.ISR) == 0 {
		// Every in-sync replica would go: keep them rather than lose the
		// partition's data (callers avoid this by counting adding replicas
		// that joined the ISR as origin replicas; see ReassignTo).
		return LeaderAndISR{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: slices.Clone(cur.ISR)}
	}
	return next
}

// PendingAdding is the adding replicas of a reassignment in progress that
// have not joined the ISR yet. Passing it to ReassignTo (instead of all
// adding replicas) keeps an in-sync replica in the replica set when a
// reassignment is redirected, so that a redirect can never drop every
// in-sync replica.
func PendingAdding(adding, isr []int32) []int32 {
	return slices.DeleteFunc(slices.Clone(adding), func(r int32) bool { return slices.Contains(isr, r) })
}
