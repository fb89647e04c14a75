package group

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// simClient is a consumer driving the group protocol the way Kafka's
// clients do: join (again with the id handed out by MEMBER_ID_REQUIRED),
// sync, heartbeat, rejoin on REBALANCE_IN_PROGRESS, start over on
// UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION.
type simClient struct {
	name     string
	id       string
	gen      int32
	phase    string // "idle", "joining", "syncing", "stable", "dead"
	leader   bool
	members  []string
	assigned string
}

type simPersist struct {
	kvs  []KV
	done func(*kerr.Error)
}

type sim struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	now     int64
	c       *Coordinator
	clients []*simClient
	queue   []simPersist
	// per generation, the assignment its leader handed out
	assignments map[int32]map[string]string
	lastGen     int32
	log         []KV                           // what reached __consumer_offsets, in order
	acked       map[TopicPartition]OffsetValue // the last acknowledged commit of each partition
	failovers   int
}

func (s *sim) newCoordinator() *Coordinator {
	return New(Config{Partitions: 50, InitialRebalanceDelay: int64(s.seed%3) * 1000, MinSessionTimeoutMs: 6000, MaxSessionTimeoutMs: 1800000,
		Rand: rand.New(rand.NewPCG(s.seed, uint64(s.failovers)))}, func(_ int32, kvs []KV, done func(*kerr.Error)) {
		s.queue = append(s.queue, simPersist{kvs, done})
	})
}

// commit has a client commit an offset the way broker/api does: validate,
// persist, then apply and acknowledge.
func (s *sim) commit(cl *simClient) {
	gen, id := cl.gen, cl.id
	if cl.phase != "stable" {
		gen, id = -1, ""
	}
	if s.c.CheckCommit("g", id, gen) != nil {
		return
	}
	tp := TopicPartition{Topic: "t", Partition: int32(s.rng.IntN(3))}
	v := OffsetValue{Offset: int64(s.rng.IntN(1000)), LeaderEpoch: -1, CommitMs: s.now}
	k, val := OffsetRecord("g", tp.Topic, tp.Partition, &v)
	c := s.c
	s.queue = append(s.queue, simPersist{[]KV{{k, val}}, func(e *kerr.Error) {
		if e == nil {
			c.Commit(s.now, "g", map[TopicPartition]OffsetValue{tp: v})
			s.acked[tp] = v
		}
	}})
}

// failover moves coordination: the old coordinator fails what is in
// flight and unloads; a new one replays the log.
func (s *sim) failover() {
	for len(s.queue) > 0 {
		p := s.queue[0]
		s.queue = s.queue[1:]
		p.done(kerr.NotCoordinator)
	}
	s.c.Unload(s.c.Partition("g"))
	s.failovers++
	s.c = s.newCoordinator()
	for _, kv := range s.log {
		r, err := DecodeRecord(kv.Key, kv.Value)
		if err != nil {
			s.fail("log record: %v", err)
		}
		s.c.Replay(s.now, r)
	}
	for tp, v := range s.acked {
		got, ok := s.c.Offset("g", tp)
		if !ok || got != v {
			s.fail("after failover %d, %v is %+v (present %v), acknowledged %+v", s.failovers, tp, got, ok, v)
		}
	}
	// Generations count on from the last persisted one (Kafka stores a
	// generation when its assignment is synced, so a later unsynced one is
	// forgotten).
	s.lastGen = 0
	if g := s.c.Group("g"); g != nil {
		s.lastGen = g.Generation
	}
	s.check()
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d (replay with SIM_SEED=%d): %s", s.seed, s.seed, fmt.Sprintf(format, args...))
}

func (s *sim) join(cl *simClient) {
	cl.phase = "joining"
	r := JoinRequest{Group: "g", MemberID: cl.id, ClientID: cl.name, ClientHost: "/127.0.0.1", SessionTimeoutMs: 6000,
		RebalanceTimeoutMs: 10000, ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: []byte(cl.name)}},
		RequireKnownMemberID: true}
	s.c.Join(s.now, r, func(res JoinResult) {
		if cl.phase != "joining" {
			s.fail("%s got a join answer while %s", cl.name, cl.phase)
		}
		switch {
		case res.Err == kerr.MemberIDRequired:
			cl.id, cl.phase = res.MemberID, "idle"
		case res.Err != nil:
			cl.id, cl.phase = "", "idle"
		default:
			if res.Generation < s.lastGen {
				s.fail("%s joined generation %d after %d", cl.name, res.Generation, s.lastGen)
			}
			s.lastGen = res.Generation
			cl.gen, cl.phase, cl.leader = res.Generation, "syncing", res.Leader == cl.id
			cl.members = nil
			for _, m := range res.Members {
				cl.members = append(cl.members, m.MemberID)
			}
			if cl.leader && len(res.Members) == 0 {
				s.fail("leader %s of generation %d got no members", cl.name, res.Generation)
			}
			s.sync(cl)
		}
	})
}

func (s *sim) sync(cl *simClient) {
	r := SyncRequest{Group: "g", MemberID: cl.id, Generation: cl.gen}
	if cl.leader {
		r.Assignments = map[string][]byte{}
		for _, m := range cl.members {
			r.Assignments[m] = []byte(fmt.Sprintf("%d/%s", cl.gen, m))
		}
	}
	gen := cl.gen
	s.c.Sync(s.now, r, func(res SyncResult) {
		if cl.phase != "syncing" || cl.gen != gen {
			return // an answer to a sync the client gave up on
		}
		if res.Err != nil {
			cl.phase = "idle"
			if res.Err != kerr.RebalanceInProgress {
				cl.id = ""
			}
			return
		}
		cl.phase, cl.assigned = "stable", string(res.Assignment)
		if want := fmt.Sprintf("%d/%s", gen, cl.id); cl.assigned != want {
			s.fail("%s in generation %d got assignment %q, want %q", cl.name, gen, cl.assigned, want)
		}
	})
}

// check verifies the group's invariants after every step.
func (s *sim) check() {
	g := s.c.Group("g")
	if g == nil {
		return
	}
	if (g.State == Stable || g.State == CompletingRebalance) && g.members[g.Leader] == nil {
		s.fail("state %s with leader %q not a member", g.State, g.Leader)
	}
	for _, m := range g.members {
		if m.joinCB != nil && g.State != PreparingRebalance {
			s.fail("member %s awaits a join answer in state %s", m.ID, g.State)
		}
		if m.syncCB != nil && g.State != CompletingRebalance {
			s.fail("member %s awaits a sync answer in state %s", m.ID, g.State)
		}
	}
	if g.State == Empty && len(g.members) > 0 {
		s.fail("Empty with %d members", len(g.members))
	}
	// Two stable clients of the same generation saw the same leader's plan.
	for _, a := range s.clients {
		if a.phase == "stable" && a.gen == g.Generation && g.State == Stable && g.members[a.id] == nil {
			s.fail("stable client %s of the current generation %d is not a member", a.name, a.gen)
		}
	}
}

func runGroupSim(t *testing.T, seed uint64, steps int) {
	s := &sim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), now: 1000, assignments: map[int32]map[string]string{},
		acked: map[TopicPartition]OffsetValue{}}
	s.c = s.newCoordinator()
	for i := range 2 + s.rng.IntN(4) {
		s.clients = append(s.clients, &simClient{name: fmt.Sprintf("c%d", i), phase: "idle"})
	}
	faults := true
	for step := range steps {
		if step == steps*3/4 {
			faults = false // heal: everyone alive and well-behaved from here on
			for _, cl := range s.clients {
				if cl.phase == "dead" {
					cl.phase, cl.id = "idle", ""
				}
			}
		}
		cl := s.clients[s.rng.IntN(len(s.clients))]
		switch x := s.rng.IntN(100); {
		case x < 25:
			s.now += int64(s.rng.IntN(3000))
			s.c.Tick(s.now)
		case x < 45 && len(s.queue) > 0:
			i := s.rng.IntN(len(s.queue))
			p := s.queue[i]
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			var e *kerr.Error
			if faults && s.rng.IntN(10) == 0 {
				e = kerr.CoordinatorNotAvailable
			}
			for _, kv := range p.kvs {
				if _, err := DecodeRecord(kv.Key, kv.Value); err != nil {
					s.fail("persisted an undecodable record: %v", err)
				}
			}
			if e == nil {
				s.log = append(s.log, p.kvs...)
			}
			p.done(e)
		case x < 65:
			if cl.phase == "idle" {
				s.join(cl)
			}
		case x < 85:
			if cl.phase == "stable" || cl.phase == "syncing" {
				switch e := s.c.Heartbeat(s.now, "g", cl.id, cl.gen); e {
				case nil:
				case kerr.RebalanceInProgress:
					s.join(cl)
				default:
					cl.phase, cl.id = "idle", ""
				}
			}
		case x < 92 && faults:
			if cl.phase == "stable" || cl.phase == "idle" {
				if cl.id != "" {
					s.c.Leave(s.now, "g", []string{cl.id}, []*string{nil})
				}
				cl.phase, cl.id = "idle", ""
			}
		case x < 96 && faults:
			if cl.phase != "joining" && cl.phase != "syncing" {
				cl.phase = "dead" // crashes: no more requests
			}
		case x < 99:
			if cl.phase != "dead" {
				s.commit(cl)
			}
		default:
			if faults && s.rng.IntN(4) == 0 {
				s.failover()
			}
		}
		s.check()
	}
	// Liveness: once healed, all clients settle in one Stable generation.
	for range 2000 {
		for len(s.queue) > 0 {
			p := s.queue[0]
			s.queue = s.queue[1:]
			s.log = append(s.log, p.kvs...)
			p.done(nil)
		}
		settled := true
		for _, cl := range s.clients {
			switch cl.phase {
			case "idle":
				s.join(cl)
			case "stable", "syncing":
				if e := s.c.Heartbeat(s.now, "g", cl.id, cl.gen); e == kerr.RebalanceInProgress {
					s.join(cl)
				} else if e != nil {
					cl.phase, cl.id = "idle", ""
				}
			}
			settled = settled && cl.phase == "stable"
		}
		g := s.c.Group("g")
		if settled && g != nil && g.State == Stable && len(g.members) == len(s.clients) {
			for _, cl := range s.clients {
				if cl.gen != g.Generation {
					settled = false
				}
			}
			if settled {
				return
			}
		}
		s.now += 500
		s.c.Tick(s.now)
		s.check()
	}
	g := s.c.Group("g")
	s.fail("group did not settle: state %v, %d members, clients %+v", g.State, len(g.members), s.clients)
}

func TestGroupSim(t *testing.T) {
	seeds := 200
	if v, err := strconv.Atoi(os.Getenv("SIM_SEEDS")); err == nil {
		seeds = v
	}
	if v, err := strconv.ParseUint(os.Getenv("SIM_SEED"), 10, 64); err == nil {
		runGroupSim(t, v, 2000)
		return
	}
	for seed := range uint64(seeds) {
		runGroupSim(t, seed+1, 2000)
	}
}
