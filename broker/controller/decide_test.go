package controller

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func aliveSet(ids ...int32) func(int32) bool {
	return func(id int32) bool { return slices.Contains(ids, id) }
}

func TestAssignReplicasKafkaOutput(t *testing.T) {
	// AdminZkClientTest.testReplicaAssignment in Apache Kafka: brokers 0-4,
	// 10 partitions, replication factor 3, fixed start index 0.
	got, err := AssignReplicas([]int32{4, 2, 0, 3, 1}, 10, 3, 0, 0)
	require.NoError(t, err)
	require.Equal(t, map[int32][]int32{
		0: {0, 1, 2}, 1: {1, 2, 3}, 2: {2, 3, 4}, 3: {3, 4, 0}, 4: {4, 0, 1},
		5: {0, 2, 3}, 6: {1, 3, 4}, 7: {2, 4, 0}, 8: {3, 0, 1}, 9: {4, 1, 2},
	}, got)

	// A random start shifts the whole layout.
	got, err = AssignReplicas([]int32{0, 1, 2}, 3, 2, 1, 1)
	require.NoError(t, err)
	require.Equal(t, map[int32][]int32{0: {1, 0}, 1: {2, 1}, 2: {0, 2}}, got)

	// CreatePartitions continues where the topic ended.
	more, err := AssignReplicasFrom([]int32{0, 1, 2, 3, 4}, 10, 2, 3, 0, 0)
	require.NoError(t, err)
	// As Kafka: the shift only grows for boundaries crossed inside this call.
	require.Equal(t, map[int32][]int32{10: {0, 2, 3}, 11: {1, 3, 4}}, more)
}

func TestAssignReplicasErrors(t *testing.T) {
	_, err := AssignReplicas([]int32{0, 1}, 0, 1, 0, 0)
	require.ErrorIs(t, err, ErrInvalidPartitions)
	_, err = AssignReplicas([]int32{0, 1}, 1, 0, 0, 0)
	require.ErrorIs(t, err, ErrInvalidReplicationFactor)
	_, err = AssignReplicas([]int32{0, 1}, 1, 3, 0, 0)
	require.ErrorIs(t, err, ErrInvalidReplicationFactor)
	require.Contains(t, err.Error(), "3 larger than available brokers: 2")
}

func TestAssignReplicasSpread(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 1; n <= 7; n++ {
		brokers := make([]int32, n)
		for i := range brokers {
			brokers[i] = int32(10 + 3*i)
		}
		for rf := 1; rf <= n; rf++ {
			parts := n * (1 + rng.Intn(4))
			start, shift := rng.Intn(n), rng.Intn(n)
			got, err := AssignReplicas(brokers, parts, rf, start, shift)
			require.NoError(t, err)
			require.Len(t, got, parts)
			leaders := map[int32]int{}
			replicas := map[int32]int{}
			for p := 0; p < parts; p++ {
				rs := got[int32(p)]
				require.Len(t, rs, rf)
				seen := map[int32]bool{}
				for _, r := range rs {
					require.False(t, seen[r], "n=%d rf=%d p=%d: duplicate broker in %v", n, rf, p, rs)
					seen[r] = true
					require.Contains(t, brokers, r)
					replicas[r]++
				}
				leaders[rs[0]]++
			}
			for _, b := range brokers {
				require.Equal(t, parts/n, leaders[b], "n=%d rf=%d: leaders not even: %v", n, rf, leaders)
				require.Equal(t, parts*rf/n, replicas[b], "n=%d rf=%d: replicas not even: %v", n, rf, replicas)
			}
		}
	}
}

func TestElectLeaderTable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		assigned []int32
		isr      []int32
		alive    []int32
		unclean  bool
		leader   int32
		ok       bool
	}{
		{"first in AR order, not ISR order", []int32{3, 1, 2}, []int32{1, 2, 3}, []int32{1, 2, 3}, false, 3, true},
		{"skip dead", []int32{3, 1, 2}, []int32{1, 2, 3}, []int32{1, 2}, false, 1, true},
		{"skip out of sync", []int32{3, 1, 2}, []int32{2}, []int32{1, 2, 3}, false, 2, true},
		{"no live ISR, clean", []int32{1, 2}, []int32{1}, []int32{2}, false, NoLeader, false},
		{"no live ISR, unclean", []int32{1, 2, 3}, []int32{1}, []int32{3, 2}, true, 2, true},
		{"unclean still prefers ISR", []int32{1, 2, 3}, []int32{3}, []int32{2, 3}, true, 3, true},
		{"nobody alive", []int32{1, 2}, []int32{1, 2}, nil, true, NoLeader, false},
		{"ISR member not assigned", []int32{1}, []int32{5}, []int32{5}, false, NoLeader, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := ElectLeader(tc.assigned, tc.isr, aliveSet(tc.alive...), tc.unclean)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.leader, l)
		})
	}
}

func TestElectReconcileTable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		assigned []int32
		cur      LeaderAndISR
		alive    []int32
		unclean  bool
		next     LeaderAndISR
		changed  bool
	}{
		{"all alive", []int32{1, 2, 3}, LeaderAndISR{1, 4, []int32{1, 2, 3}}, []int32{1, 2, 3}, false, LeaderAndISR{1, 4, []int32{1, 2, 3}}, false},
		{"follower dies", []int32{1, 2, 3}, LeaderAndISR{1, 4, []int32{1, 2, 3}}, []int32{1, 3}, false, LeaderAndISR{1, 5, []int32{1, 3}}, true},
		{"leader dies", []int32{1, 2, 3}, LeaderAndISR{1, 4, []int32{1, 2, 3}}, []int32{2, 3}, false, LeaderAndISR{2, 5, []int32{2, 3}}, true},
		{"leader dies, AR order wins", []int32{1, 3, 2}, LeaderAndISR{1, 0, []int32{1, 2, 3}}, []int32{2, 3}, false, LeaderAndISR{3, 1, []int32{2, 3}}, true},
		{"last ISR member dies: offline, ISR kept", []int32{1, 2}, LeaderAndISR{1, 2, []int32{1}}, []int32{2}, false, LeaderAndISR{NoLeader, 3, []int32{1}}, true},
		{"last ISR member dies, unclean", []int32{1, 2}, LeaderAndISR{1, 2, []int32{1}}, []int32{2}, true, LeaderAndISR{2, 3, []int32{2}}, true},
		{"offline partition, ISR member back", []int32{1, 2}, LeaderAndISR{NoLeader, 3, []int32{1}}, []int32{1, 2}, false, LeaderAndISR{1, 4, []int32{1}}, true},
		{"offline stays offline", []int32{1, 2}, LeaderAndISR{NoLeader, 3, []int32{1}}, []int32{2}, false, LeaderAndISR{NoLeader, 3, []int32{1}}, false},
		{"everyone dies", []int32{1, 2}, LeaderAndISR{2, 0, []int32{1, 2}}, nil, true, LeaderAndISR{NoLeader, 1, []int32{2}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, changed := Reconcile(tc.assigned, tc.cur, aliveSet(tc.alive...), tc.unclean)
			require.Equal(t, tc.changed, changed)
			require.Equal(t, tc.next, next)
		})
	}
}

func TestElectShutdownMoveTable(t *testing.T) {
	all := aliveSet(1, 2, 3)
	next, changed, still := ShutdownMove([]int32{1, 2, 3}, LeaderAndISR{1, 0, []int32{1, 2, 3}}, 1, all)
	require.Equal(t, LeaderAndISR{2, 1, []int32{2, 3}}, next)
	require.True(t, changed)
	require.False(t, still)
	next, changed, still = ShutdownMove([]int32{1, 2, 3}, LeaderAndISR{1, 0, []int32{1, 2, 3}}, 3, all)
	require.Equal(t, LeaderAndISR{1, 1, []int32{1, 2}}, next)
	require.True(t, changed)
	require.False(t, still)
	next, changed, still = ShutdownMove([]int32{1, 2}, LeaderAndISR{1, 0, []int32{1}}, 1, all)
	require.Equal(t, LeaderAndISR{1, 0, []int32{1}}, next)
	require.False(t, changed)
	require.True(t, still, "no other in-sync replica: it keeps leading")
	next, changed, _ = ShutdownMove([]int32{1, 2}, LeaderAndISR{1, 0, []int32{1}}, 2, all)
	require.False(t, changed, "a follower outside the ISR changes nothing")
	require.Equal(t, LeaderAndISR{1, 0, []int32{1}}, next)

	p, changed := PreferredLeader([]int32{1, 2}, LeaderAndISR{2, 3, []int32{2, 1}}, all)
	require.True(t, changed)
	require.Equal(t, LeaderAndISR{1, 4, []int32{2, 1}}, p)
	_, changed = PreferredLeader([]int32{1, 2}, LeaderAndISR{2, 3, []int32{2}}, all)
	require.False(t, changed)
}

// TestElectSimulation drives the decisions through seeded random histories
// of broker crashes, restarts, controlled shutdowns and ISR catch-up, and
// checks Kafka's invariants after every step. A failure names its seed.
func TestElectSimulation(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	if v, err := strconv.Atoi(os.Getenv("SIM_SEEDS")); err == nil && v > 0 {
		seeds = v // make sim
	}
	first := int64(1)
	if v, err := strconv.ParseInt(os.Getenv("SIM_SEED"), 10, 64); err == nil {
		first, seeds = v, 1 // replay one seed
	}
	for seed := first; seed < first+int64(seeds); seed++ {
		if msg := simulate(seed, 200); msg != "" {
			t.Fatalf("seed %d: %s (replay: SIM_SEED=%d go test -run TestElectSimulation ./broker/controller/)", seed, msg, seed)
		}
	}
}

type simPart struct {
	assigned []int32
	st       LeaderAndISR
	created  bool
	// A reassignment in progress: its target and the replicas being added.
	target, adding []int32
}

func simulate(seed int64, steps int) string {
	rng := rand.New(rand.NewSource(seed))
	n := 1 + rng.Intn(6)
	brokers := make([]int32, n)
	up := map[int32]bool{}
	for i := range brokers {
		brokers[i] = int32(i)
		up[int32(i)] = true
	}
	unclean := rng.Intn(4) == 0
	alive := func(id int32) bool { return up[id] }
	rf := 1 + rng.Intn(n)
	assign, err := AssignReplicas(brokers, 1+rng.Intn(12), rf, rng.Intn(n), rng.Intn(n))
	if err != nil {
		return err.Error()
	}
	parts := map[int32]*simPart{}
	for p, rs := range assign {
		parts[p] = &simPart{assigned: rs}
	}
	// caughtUp records, per partition, which replicas hold everything the
	// leader acknowledged; a clean election must pick one of them.
	caughtUp := map[int32]map[int32]bool{}
	step := func(what string) string {
		for _, p := range SortedIDs(parts) {
			sp := parts[p]
			if !sp.created {
				if st, ok := InitialState(sp.assigned, alive); ok {
					sp.st, sp.created = st, true
					caughtUp[p] = map[int32]bool{}
					for _, r := range st.ISR {
						caughtUp[p][r] = true
					}
				}
				continue
			}
			prev := sp.st
			next, changed := Reconcile(sp.assigned, sp.st, alive, unclean)
			if changed != !next.equal(prev) {
				return fmt.Sprintf("%s: p%d: changed=%v but %v -> %v", what, p, changed, prev, next)
			}
			if changed && next.LeaderEpoch != prev.LeaderEpoch+1 {
				return fmt.Sprintf("%s: p%d: epoch %d -> %d", what, p, prev.LeaderEpoch, next.LeaderEpoch)
			}
			if next.Leader != NoLeader && next.Leader != prev.Leader && !unclean && !caughtUp[p][next.Leader] {
				return fmt.Sprintf("%s: p%d: clean election chose %d which had not caught up (%v)", what, p, next.Leader, caughtUp[p])
			}
			if next.Leader != NoLeader && next.Leader != prev.Leader && unclean && !caughtUp[p][next.Leader] {
				caughtUp[p] = map[int32]bool{next.Leader: true} // unclean: history restarts at the new leader
			}
			sp.st = next
			if sp.target != nil {
				if done, ok := CompleteReassignment(sp.target, sp.st, alive); ok {
					if !caughtUp[p][done.Leader] && !unclean {
						return fmt.Sprintf("%s: p%d: reassignment moved leadership to %d which had not caught up", what, p, done.Leader)
					}
					if !slices.Contains(sp.target, done.Leader) {
						return fmt.Sprintf("%s: p%d: reassignment leader %d outside target %v", what, p, done.Leader, sp.target)
					}
					sp.st, sp.assigned, sp.target, sp.adding = done, sp.target, nil, nil
				}
			}
		}
		for _, p := range SortedIDs(parts) {
			sp := parts[p]
			if msg := checkInvariants(sp, alive, unclean); msg != "" {
				return fmt.Sprintf("%s: p%d %v: %s", what, p, sp.st, msg)
			}
		}
		return ""
	}
	if msg := step("start"); msg != "" {
		return msg
	}
	for i := 0; i < steps; i++ {
		b := brokers[rng.Intn(n)]
		var what string
		switch r := rng.Intn(10); {
		case r < 3:
			what = fmt.Sprintf("step %d: crash %d", i, b)
			up[b] = false
		case r < 6:
			what = fmt.Sprintf("step %d: restart %d", i, b)
			up[b] = true
		case r < 7:
			what = fmt.Sprintf("step %d: controlled shutdown %d", i, b)
			if !up[b] {
				continue
			}
			for _, p := range SortedIDs(parts) {
				sp := parts[p]
				if !sp.created || !slices.Contains(sp.assigned, b) {
					continue
				}
				prev := sp.st
				next, changed, still := ShutdownMove(sp.assigned, sp.st, b, alive)
				if still && prev.Leader != b {
					return fmt.Sprintf("%s: p%d: stillLeads for a follower", what, p)
				}
				if changed && next.Leader != b && !caughtUp[p][next.Leader] {
					return fmt.Sprintf("%s: p%d: moved to %d which had not caught up", what, p, next.Leader)
				}
				sp.st = next
			}
			up[b] = false
		case r < 8:
			// A reassignment of one partition to live brokers.
			var live []int32
			for _, id := range brokers {
				if up[id] {
					live = append(live, id)
				}
			}
			p := int32(rng.Intn(len(parts)))
			sp := parts[p]
			if len(live) == 0 || !sp.created {
				continue
			}
			rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
			target := live[:1+rng.Intn(len(live))]
			what = fmt.Sprintf("step %d: reassign p%d %v -> %v", i, p, sp.assigned, target)
			if err := ValidReassignment(target, func(id int32) bool { return up[id] }); err != nil {
				return fmt.Sprintf("%s: %v", what, err)
			}
			full, add, remove := ReassignTo(sp.assigned, PendingAdding(sp.adding, sp.st.ISR), target)
			for _, r := range target {
				if !slices.Contains(full, r) {
					return fmt.Sprintf("%s: target replica %d missing from %v", what, r, full)
				}
			}
			for _, r := range remove {
				if slices.Contains(target, r) {
					return fmt.Sprintf("%s: removing target replica %d", what, r)
				}
			}
			prev := sp.st
			sp.st = BeginReassignment(full, sp.st, alive)
			if sp.st.Leader != prev.Leader && sp.st.Leader != NoLeader && !unclean && !caughtUp[p][sp.st.Leader] {
				return fmt.Sprintf("%s: leadership moved to %d which had not caught up", what, sp.st.Leader)
			}
			sp.assigned, sp.adding, sp.target = full, add, slices.Clone(target)
		default:
			// A leader writes, then a live follower catches up and the
			// leader adds it to the ISR.
			what = fmt.Sprintf("step %d: catch-up", i)
			for _, p := range SortedIDs(parts) {
				sp := parts[p]
				if !sp.created || sp.st.Leader == NoLeader {
					continue
				}
				caughtUp[p] = map[int32]bool{}
				for _, r := range sp.st.ISR {
					if up[r] {
						caughtUp[p][r] = true
					}
				}
				for _, r := range sp.assigned {
					if up[r] && !slices.Contains(sp.st.ISR, r) && rng.Intn(2) == 0 {
						sp.st.ISR = append(sp.st.ISR, r)
						sp.st.LeaderEpoch++
						caughtUp[p][r] = true
						break
					}
				}
			}
		}
		if msg := step(what); msg != "" {
			return msg
		}
	}
	return ""
}

func checkInvariants(sp *simPart, alive func(int32) bool, unclean bool) string {
	if !sp.created {
		for _, r := range sp.assigned {
			if alive(r) {
				return "not created although a replica is alive"
			}
		}
		return ""
	}
	st := sp.st
	if len(st.ISR) == 0 {
		return "empty ISR"
	}
	seen := map[int32]bool{}
	for _, r := range st.ISR {
		if seen[r] {
			return "duplicate in ISR"
		}
		seen[r] = true
		if !slices.Contains(sp.assigned, r) {
			return "ISR member not assigned"
		}
	}
	if st.Leader != NoLeader {
		if !alive(st.Leader) {
			return "dead leader"
		}
		if !slices.Contains(st.ISR, st.Leader) {
			return "leader outside ISR"
		}
		for _, r := range st.ISR {
			if !alive(r) {
				return "dead replica in ISR of a led partition"
			}
		}
		return ""
	}
	if _, ok := ElectLeader(sp.assigned, st.ISR, alive, unclean); ok {
		return "offline although a leader could be elected"
	}
	return ""
}

func TestReassignPure(t *testing.T) {
	full, add, remove := ReassignTo([]int32{1, 2}, nil, []int32{2, 3})
	require.Equal(t, []int32{2, 3, 1}, full)
	require.Equal(t, []int32{3}, add)
	require.Equal(t, []int32{1}, remove)
	// Redirecting a reassignment in progress starts from the origin.
	full, add, remove = ReassignTo([]int32{2, 3, 1}, []int32{3}, []int32{4})
	require.Equal(t, []int32{4, 2, 1}, full)
	require.Equal(t, []int32{4}, add)
	require.Equal(t, []int32{2, 1}, remove)
	// Cancelling: target = origin.
	full, add, remove = ReassignTo([]int32{2, 3, 1}, []int32{3}, []int32{2, 1})
	require.Equal(t, []int32{2, 1}, full)
	require.Empty(t, add)
	require.Empty(t, remove)

	alive := aliveSet(1, 2, 3)
	_, ok := CompleteReassignment([]int32{2, 3}, LeaderAndISR{1, 4, []int32{1, 2}}, alive)
	require.False(t, ok, "3 has not caught up")
	next, ok := CompleteReassignment([]int32{2, 3}, LeaderAndISR{1, 4, []int32{1, 2, 3}}, alive)
	require.True(t, ok)
	require.Equal(t, LeaderAndISR{2, 5, []int32{2, 3}}, next)
	next, ok = CompleteReassignment([]int32{3, 1}, LeaderAndISR{1, 4, []int32{1, 2, 3}}, alive)
	require.True(t, ok)
	require.Equal(t, LeaderAndISR{1, 5, []int32{1, 3}}, next, "the leader stays when it is a target replica")

	reg := aliveSet(1, 2)
	require.NoError(t, ValidReassignment([]int32{2, 1}, reg))
	require.ErrorIs(t, ValidReassignment(nil, reg), ErrInvalidReplicaAssignment)
	require.ErrorIs(t, ValidReassignment([]int32{1, 1}, reg), ErrInvalidReplicaAssignment)
	err := ValidReassignment([]int32{1, 7}, reg)
	require.ErrorIs(t, err, ErrInvalidReplicaAssignment)
	require.Contains(t, err.Error(), "broker 7")
}

func TestReassignRedirectKeepsInSyncReplicas(t *testing.T) {
	alive := aliveSet(1, 2, 3, 4)
	// 1,2 -> 3 is running; 3 already joined the ISR. Redirecting to 4 keeps
	// 3 (in sync) as an origin replica; only a still-pending adder would go.
	full, add, remove := ReassignTo([]int32{3, 1, 2}, PendingAdding([]int32{3}, []int32{1, 3}), []int32{4})
	require.Equal(t, []int32{4, 3, 1, 2}, full)
	require.Equal(t, []int32{4}, add)
	require.Equal(t, []int32{3, 1, 2}, remove)
	// Without the ISR rule, 3 would be dropped.
	full, _, _ = ReassignTo([]int32{3, 1, 2}, []int32{3}, []int32{4})
	require.Equal(t, []int32{4, 1, 2}, full)
	next := BeginReassignment(full, LeaderAndISR{3, 7, []int32{3, 1}}, alive)
	require.Equal(t, LeaderAndISR{1, 8, []int32{1}}, next, "a dropped leader is replaced from the ISR")
	next = BeginReassignment([]int32{4}, LeaderAndISR{3, 7, []int32{3}}, alive)
	require.Equal(t, LeaderAndISR{3, 8, []int32{3}}, next, "the last in-sync replica is never dropped")
}

func BenchmarkAssignReplicas(b *testing.B) {
	brokers := []int32{0, 1, 2, 3, 4, 5}
	for b.Loop() {
		if _, err := AssignReplicas(brokers, 1000, 3, 2, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkElectReconcile(b *testing.B) {
	alive := aliveSet(2, 3)
	cur := LeaderAndISR{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2, 3}}
	for b.Loop() {
		if _, changed := Reconcile([]int32{1, 2, 3}, cur, alive, false); !changed {
			b.Fatal("no change")
		}
	}
}
