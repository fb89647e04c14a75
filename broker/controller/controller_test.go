package controller_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/controller"
	"kzoo/broker/zkstate"
	"kzoo/broker/zkstate/zktest"
	"kzoo/internal/testnet"
)

func TestMain(m *testing.M) { os.Exit(zktest.Main(m)) }

// kafkaListener is a TCP listener speaking the Kafka framing: it decodes
// every request with kmsg, records it and answers with a zero-error
// response of the same version.
type kafkaListener struct {
	id   int32
	addr string
	mu   sync.Mutex
	reqs []kmsg.Request
}

func newKafkaListener(t *testing.T, id int32) *kafkaListener {
	t.Helper()
	k := &kafkaListener{id: id}
	k.addr = testnet.Serve(t, k.serve)
	return k
}

func (k *kafkaListener) port() int32 {
	_, p, _ := net.SplitHostPort(k.addr)
	n, _ := strconv.Atoi(p)
	return int32(n)
}

func (k *kafkaListener) serve(c net.Conn) {
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > 64<<20 {
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		key := int16(binary.BigEndian.Uint16(body))
		ver := int16(binary.BigEndian.Uint16(body[2:]))
		corr := binary.BigEndian.Uint32(body[4:])
		idLen := int(int16(binary.BigEndian.Uint16(body[8:])))
		rest := body[10:]
		if idLen > 0 {
			rest = rest[idLen:]
		}
		req := kmsg.RequestForKey(key)
		if req == nil {
			return
		}
		req.SetVersion(ver)
		if req.IsFlexible() {
			rest = rest[1:] // empty tag section, as the sender writes it
		}
		if err := req.ReadFrom(rest); err != nil {
			return
		}
		k.mu.Lock()
		k.reqs = append(k.reqs, req)
		k.mu.Unlock()
		resp := req.ResponseKind()
		resp.SetVersion(ver)
		out := binary.BigEndian.AppendUint32(make([]byte, 4), corr)
		if req.IsFlexible() && key != 18 {
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func (k *kafkaListener) requests() []kmsg.Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.reqs)
}

// leaderAndISR returns the newest LeaderAndIsr partition state this broker
// received for topic-p.
func (k *kafkaListener) leaderAndISR(topic string, p int32) (kmsg.LeaderAndISRRequestTopicPartition, int32, bool) {
	var out kmsg.LeaderAndISRRequestTopicPartition
	var epoch int32
	found := false
	for _, r := range k.requests() {
		if l, ok := r.(*kmsg.LeaderAndISRRequest); ok {
			for _, ts := range l.TopicStates {
				for _, ps := range ts.PartitionStates {
					if ts.Topic == topic && ps.Partition == p {
						out, epoch, found = ps, l.ControllerEpoch, true
					}
				}
			}
		}
	}
	return out, epoch, found
}

func (k *kafkaListener) sawUpdateMetadata(with func(*kmsg.UpdateMetadataRequest) bool) bool {
	for _, r := range k.requests() {
		if u, ok := r.(*kmsg.UpdateMetadataRequest); ok && with(u) {
			return true
		}
	}
	return false
}

func (k *kafkaListener) stopReplicas(topic string, del bool) []int32 {
	var out []int32
	for _, r := range k.requests() {
		if s, ok := r.(*kmsg.StopReplicaRequest); ok {
			for _, t := range s.Topics {
				for _, ps := range t.PartitionStates {
					if t.Topic == topic && ps.Delete == del {
						out = append(out, ps.Partition)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// node is one simulated broker: its ZooKeeper session, registration,
// listener and controller.
type node struct {
	id     int32
	zk     *zkstate.Client
	ln     *kafkaListener
	ctrl   *controller.Controller
	cancel context.CancelFunc
	done   chan struct{}
}

func startNode(t *testing.T, connect string, id int32, ln *kafkaListener, unclean bool) *node {
	t.Helper()
	n := prepareNode(t, connect, id, ln, unclean, nil)
	n.start()
	return n
}

// prepareNode connects and registers a broker and creates its controller
// without starting it.
func prepareNode(t *testing.T, connect string, id int32, ln *kafkaListener, unclean bool, dialer *zktest.Sessions) *node {
	t.Helper()
	opts := zkstate.Options{Connect: connect, SessionTimeout: 4 * time.Second, ConnectTimeout: 10 * time.Second, Logf: t.Logf}
	if dialer != nil {
		opts.Dialer = dialer.Dial
	}
	zkc, err := zkstate.DialOptions(opts)
	require.NoError(t, err)
	if ln == nil {
		ln = newKafkaListener(t, id)
	}
	ep := "PLAINTEXT://127.0.0.1:" + strconv.Itoa(int(ln.port()))
	_, err = zkc.RegisterBroker(zkstate.BrokerInfo{ID: id, Host: "127.0.0.1", Port: ln.port(), Endpoints: []string{ep},
		SecurityProtocolMap: map[string]string{"PLAINTEXT": "PLAINTEXT"}})
	require.NoError(t, err)
	n := &node{id: id, zk: zkc, ln: ln, done: make(chan struct{})}
	n.ctrl = controller.New(controller.Config{BrokerID: id, ZK: zkc, Logf: t.Logf, UncleanLeaderElection: unclean,
		RetryBackoffMs: 50, RequestTimeoutMs: 5000})
	t.Cleanup(n.stop)
	return n
}

func (n *node) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { defer close(n.done); _ = n.ctrl.Run(ctx) }()
}

// crash ends the node's session without a goodbye from its controller.
func (n *node) crash() {
	_ = n.zk.Close()
	n.halt()
}

func (n *node) halt() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

// stop is an orderly stop: the controller gives up /controller first.
func (n *node) stop() {
	n.halt()
	_ = n.zk.Close()
}

func activeOf(nodes []*node) []int32 {
	var out []int32
	for _, n := range nodes {
		if n.ctrl.IsActive() {
			out = append(out, n.id)
		}
	}
	return out
}

func waitState(t *testing.T, zkc *zkstate.Client, topic string, p int32, leader int32, isr []int32) zkstate.PartitionState {
	t.Helper()
	var st zkstate.PartitionState
	require.Eventually(t, func() bool {
		var err error
		st, err = zkc.PartitionState(topic, p)
		return err == nil && st.Leader == leader && slices.Equal(st.ISR, isr)
	}, 20*time.Second, 20*time.Millisecond, "%s-%d: want leader %d isr %v, last %+v", topic, p, leader, isr, st)
	return st
}

func TestControllerRaceFailoverAndBrokerFailure(t *testing.T) {
	connect := zktest.Connect(t)
	var nodes []*node
	for id := int32(1); id <= 3; id++ {
		nodes = append(nodes, prepareNode(t, connect, id, nil, false, nil))
	}
	for _, n := range nodes { // all race at once
		n.start()
	}
	admin, err := zkstate.Dial(connect, 4*time.Second, 10*time.Second, t.Logf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })

	// Exactly one wins, and the epoch was bumped once.
	require.Eventually(t, func() bool { return len(activeOf(nodes)) == 1 }, 20*time.Second, 10*time.Millisecond)
	winner := activeOf(nodes)[0]
	id, ok, _, err := admin.Controller()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, winner, id)
	epoch, _, err := admin.ControllerEpoch()
	require.NoError(t, err)
	require.Equal(t, int32(1), epoch)
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.ctrl.ID() == winner }, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, int32(1), n.ctrl.Epoch())
	}

	// A new topic: first live replica in AR order leads, ISR = live replicas.
	assign, err := controller.AssignReplicas([]int32{1, 2, 3}, 3, 3, 0, 0)
	require.NoError(t, err)
	require.NoError(t, admin.CreateTopic(zkstate.TopicAssignment{Name: "orders", TopicID: [16]byte{7}, Partitions: assign}, nil))
	for p := int32(0); p < 3; p++ {
		st := waitState(t, admin, "orders", p, assign[p][0], assign[p])
		require.Equal(t, int32(1), st.ControllerEpoch)
		require.Equal(t, int32(0), st.LeaderEpoch)
	}
	for _, n := range nodes {
		for p := int32(0); p < 3; p++ {
			require.Eventually(t, func() bool {
				ps, cepoch, ok := n.ln.leaderAndISR("orders", p)
				return ok && cepoch == 1 && ps.Leader == assign[p][0] && ps.IsNew && slices.Equal(ps.Replicas, assign[p])
			}, 10*time.Second, 10*time.Millisecond, "broker %d: LeaderAndIsr for orders-%d", n.id, p)
		}
		require.Eventually(t, func() bool {
			return n.ln.sawUpdateMetadata(func(u *kmsg.UpdateMetadataRequest) bool {
				return len(u.LiveBrokers) == 3 && len(u.TopicStates) == 1 && u.TopicStates[0].TopicID == [16]byte{7} &&
					len(u.TopicStates[0].PartitionStates) == 3
			})
		}, 10*time.Second, 10*time.Millisecond, "broker %d: UpdateMetadata", n.id)
	}

	// A broker that is not the controller dies: its /brokers/ids node goes,
	// the partition it led moves to the next replica in AR order, and it
	// leaves every ISR.
	var victim *node
	for _, n := range nodes {
		if n.id != winner {
			victim = n
			break
		}
	}
	victim.crash()
	alive := []*node{}
	for _, n := range nodes {
		if n != victim {
			alive = append(alive, n)
		}
	}
	without := func(rs []int32, id int32) []int32 {
		return slices.DeleteFunc(slices.Clone(rs), func(r int32) bool { return r == id })
	}
	for p := int32(0); p < 3; p++ {
		want := without(assign[p], victim.id)
		st := waitState(t, admin, "orders", p, want[0], want)
		require.Equal(t, int32(1), st.LeaderEpoch, "orders-%d", p)
		for _, n := range alive {
			require.Eventually(t, func() bool {
				ps, _, ok := n.ln.leaderAndISR("orders", p)
				return ok && ps.Leader == want[0] && slices.Equal(ps.ISR, want)
			}, 10*time.Second, 10*time.Millisecond)
		}
	}

	// The controller's session closes: the other live broker takes over,
	// with a higher epoch, and keeps serving the cluster.
	var ctrlNode, other *node
	for _, n := range alive {
		if n.id == winner {
			ctrlNode = n
		} else {
			other = n
		}
	}
	ctrlNode.crash()
	require.Eventually(t, func() bool { return other.ctrl.IsActive() }, 20*time.Second, 10*time.Millisecond)
	epoch, _, err = admin.ControllerEpoch()
	require.NoError(t, err)
	require.Equal(t, int32(2), epoch)
	require.Equal(t, int32(2), other.ctrl.Epoch())
	for p := int32(0); p < 3; p++ {
		st := waitState(t, admin, "orders", p, other.id, []int32{other.id})
		require.Equal(t, int32(2), st.ControllerEpoch)
	}

	// The first victim comes back with a new session: it learns the
	// cluster through UpdateMetadata and its replicas through LeaderAndIsr.
	back := startNode(t, connect, victim.id, nil, false)
	require.Eventually(t, func() bool {
		return back.ln.sawUpdateMetadata(func(u *kmsg.UpdateMetadataRequest) bool {
			return u.ControllerEpoch == 2 && len(u.LiveBrokers) == 2 && len(u.TopicStates) == 1
		})
	}, 20*time.Second, 10*time.Millisecond)
	for p := int32(0); p < 3; p++ {
		require.Eventually(t, func() bool {
			ps, cepoch, ok := back.ln.leaderAndISR("orders", p)
			return ok && cepoch == 2 && ps.Leader == other.id
		}, 10*time.Second, 10*time.Millisecond)
	}
	require.False(t, back.ctrl.IsActive())
}

func TestControllerOfflinePartitionAndUncleanElection(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		t.Run(fmt.Sprintf("unclean=%v", unclean), func(t *testing.T) {
			connect := zktest.Connect(t)
			n1 := startNode(t, connect, 1, nil, unclean)
			require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
			n2 := startNode(t, connect, 2, nil, unclean)
			admin := n1.zk
			require.NoError(t, admin.CreateTopic(zkstate.TopicAssignment{Name: "t", Partitions: map[int32][]int32{0: {2, 1}}}, nil))
			waitState(t, admin, "t", 0, 2, []int32{2, 1})
			// The leader shrinks its ISR to itself (as a partition leader
			// does through ZooKeeper), then dies.
			st, err := admin.PartitionState("t", 0)
			require.NoError(t, err)
			st.ISR = []int32{2}
			st.LeaderEpoch++
			_, err = n2.zk.UpdatePartitionState("t", 0, st)
			require.NoError(t, err)
			require.NoError(t, n2.zk.NotifyISRChange([]zkstate.TopicPartition{{Topic: "t", Partition: 0}}))
			n2.crash()
			if unclean {
				waitState(t, admin, "t", 0, 1, []int32{1})
				return
			}
			waitState(t, admin, "t", 0, controller.NoLeader, []int32{2})
			// When the last in-sync replica returns, it leads again.
			n2b := startNode(t, connect, 2, nil, unclean)
			waitState(t, admin, "t", 0, 2, []int32{2})
			require.Eventually(t, func() bool {
				ps, _, ok := n2b.ln.leaderAndISR("t", 0)
				return ok && ps.Leader == 2
			}, 10*time.Second, 10*time.Millisecond)
		})
	}
}

func TestControllerTopicDeletionAndNewPartitions(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	admin := n1.zk
	a := zkstate.TopicAssignment{Name: "gone", Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 1}}}
	require.NoError(t, admin.CreateTopic(a, map[string]string{"retention.ms": "1"}))
	waitState(t, admin, "gone", 0, 1, []int32{1, 2})
	waitState(t, admin, "gone", 1, 2, []int32{2, 1})

	// CreatePartitions: a new partition in the assignment gets a leader.
	a.Partitions[2] = []int32{1, 2}
	require.NoError(t, admin.SetTopicAssignment(a))
	waitState(t, admin, "gone", 2, 1, []int32{1, 2})

	require.NoError(t, admin.MarkTopicForDeletion("gone"))
	for _, n := range []*node{n1, n2} {
		require.Eventually(t, func() bool {
			return slices.Equal(n.ln.stopReplicas("gone", true), []int32{0, 1, 2})
		}, 20*time.Second, 10*time.Millisecond, "broker %d: StopReplica(delete)", n.id)
		require.Eventually(t, func() bool {
			return n.ln.sawUpdateMetadata(func(u *kmsg.UpdateMetadataRequest) bool {
				for _, ts := range u.TopicStates {
					for _, ps := range ts.PartitionStates {
						if ts.Topic == "gone" && ps.Leader == controller.LeaderDuringDelete {
							return true
						}
					}
				}
				return false
			})
		}, 10*time.Second, 10*time.Millisecond)
	}
	require.Eventually(t, func() bool {
		for _, p := range []string{"/brokers/topics/gone", "/config/topics/gone", "/admin/delete_topics/gone"} {
			if ok, _, err := admin.Conn().Exists(admin.Chroot() + p); err != nil || ok {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond)
	// The name can be used again.
	require.NoError(t, admin.CreateTopic(zkstate.TopicAssignment{Name: "gone", Partitions: map[int32][]int32{0: {2}}}, nil))
	waitState(t, admin, "gone", 0, 2, []int32{2})
}

func TestControllerControlledShutdown(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	n3 := startNode(t, connect, 3, nil, false)
	admin := n1.zk
	require.NoError(t, admin.CreateTopic(zkstate.TopicAssignment{Name: "cs", Partitions: map[int32][]int32{
		0: {2, 1}, 1: {1, 2}, 2: {2}, 3: {3, 2}}}, nil))
	waitState(t, admin, "cs", 0, 2, []int32{2, 1})
	waitState(t, admin, "cs", 3, 3, []int32{3, 2})

	_, err := n2.ctrl.ControlledShutdown(2, -1)
	require.ErrorIs(t, err, kerr.NotController)
	_, err = n1.ctrl.ControlledShutdown(2, 12345)
	require.ErrorIs(t, err, kerr.StaleBrokerEpoch)
	_, err = n1.ctrl.ControlledShutdown(9, -1)
	require.ErrorIs(t, err, kerr.BrokerNotAvailable)

	remaining, err := n1.ctrl.ControlledShutdown(2, n2.zk.BrokerEpoch())
	require.NoError(t, err)
	require.Empty(t, remaining, "single-replica partitions do not hold up a shutdown")
	waitState(t, admin, "cs", 0, 1, []int32{1})
	waitState(t, admin, "cs", 1, 1, []int32{1})
	waitState(t, admin, "cs", 2, 2, []int32{2})
	waitState(t, admin, "cs", 3, 3, []int32{3})
	require.Eventually(t, func() bool {
		return slices.Equal(n2.ln.stopReplicas("cs", false), []int32{1, 3})
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		ps, _, ok := n2.ln.leaderAndISR("cs", 0)
		return ok && ps.Leader == 1
	}, 10*time.Second, 10*time.Millisecond)

	// With the only other replica shutting down too, leadership stays.
	remaining, err = n1.ctrl.ControlledShutdown(3, -1)
	require.NoError(t, err)
	require.Equal(t, []kmsg.ControlledShutdownResponsePartitionsRemaining{{Topic: "cs", Partition: 3}}, remaining)
	_ = n3
}

func TestControllerStopHandsOver(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	require.Never(t, n2.ctrl.IsActive, 300*time.Millisecond, 20*time.Millisecond)
	n1.halt() // orderly: the controller gives /controller up at once
	require.False(t, n1.ctrl.IsActive())
	require.Eventually(t, n2.ctrl.IsActive, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, int32(2), n2.ctrl.Epoch())
	require.True(t, errors.Is(kerr.NotController, controller.ErrNotActive))
}

func TestControllerResignsOnSessionExpiry(t *testing.T) {
	connect := zktest.Connect(t)
	var sess zktest.Sessions
	n1 := prepareNode(t, connect, 1, nil, false, &sess)
	n1.start()
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	require.NoError(t, n1.zk.CreateTopic(zkstate.TopicAssignment{Name: "x", Partitions: map[int32][]int32{0: {1, 2}}}, nil))
	waitState(t, n1.zk, "x", 0, 1, []int32{1, 2})

	// Broker 1's session is closed under it. It re-registers with a new
	// session; exactly one controller runs afterwards, with a new epoch,
	// and the partition's state survives the bounce.
	oldEpoch := n1.zk.BrokerEpoch()
	require.NoError(t, sess.Kill(zktest.Addr(t)))
	require.Eventually(t, func() bool { return n1.zk.BrokerEpoch() != oldEpoch }, 20*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		e, _, err := n2.zk.ControllerEpoch()
		return err == nil && e >= 2 && len(activeOf([]*node{n1, n2})) == 1
	}, 20*time.Second, 10*time.Millisecond)
	active := activeOf([]*node{n1, n2})[0]
	id, ok, _, err := n2.zk.Controller()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, active, id)
	require.Never(t, func() bool { return len(activeOf([]*node{n1, n2})) != 1 }, 500*time.Millisecond, 10*time.Millisecond)
	st, err := n2.zk.PartitionState("x", 0)
	require.NoError(t, err)
	require.Contains(t, []int32{1, 2}, st.Leader)
	// Broker 1 came back: it hears about its replica from the controller.
	require.Eventually(t, func() bool {
		ps, cepoch, ok := n1.ln.leaderAndISR("x", 0)
		return ok && cepoch >= 2 && slices.Equal(ps.Replicas, []int32{1, 2})
	}, 20*time.Second, 10*time.Millisecond)
}

// TestControllerRecoversFromConnectionLoss cuts the controller's
// connection to the coordinator while it handles a broker failure; writes
// and reads in flight fail, the session survives, and the controller still
// ends with the right state (it retries reads and re-decides after writes
// whose outcome it could not know).
func TestControllerRecoversFromConnectionLoss(t *testing.T) {
	connect := zktest.Connect(t)
	sess := zktest.Sessions{HoldUntilWatchesReset: true}
	n1 := prepareNode(t, connect, 1, nil, false, &sess)
	// A watch that never fires, so that every resumed connection sends
	// SetWatches, which the held connections wait for.
	_, _, _, err := n1.zk.Conn().ExistsW("/never-created")
	require.NoError(t, err)
	n1.start()
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	n3 := startNode(t, connect, 3, nil, false)
	assign, err := controller.AssignReplicas([]int32{1, 2, 3}, 60, 3, 0, 0)
	require.NoError(t, err)
	require.NoError(t, n3.zk.CreateTopic(zkstate.TopicAssignment{Name: "cut", Partitions: assign}, nil))
	waitState(t, n3.zk, "cut", 59, assign[59][0], assign[59])
	session := n1.zk.Conn().SessionID()

	n2.crash()
	for i := 0; i < 3; i++ {
		sess.Drop()
	}
	for p := int32(0); p < 60; p++ {
		var want []int32
		for _, r := range assign[p] {
			if r != 2 {
				want = append(want, r)
			}
		}
		waitState(t, n3.zk, "cut", p, want[0], want)
	}
	require.True(t, n1.ctrl.IsActive())
	require.Equal(t, session, n1.zk.Conn().SessionID(), "the session survived the cut")
}

// TestControllerBrokerBounceGetsNewEpoch expires a follower broker's
// session: it re-registers with a new broker epoch, which the controller
// treats as a failure followed by a start, and its requests then carry the
// new epoch (brokers reject requests with an older one).
func TestControllerBrokerBounceGetsNewEpoch(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	var sess zktest.Sessions
	n2 := prepareNode(t, connect, 2, nil, false, &sess)
	n2.start()
	require.NoError(t, n1.zk.CreateTopic(zkstate.TopicAssignment{Name: "b", Partitions: map[int32][]int32{0: {2, 1}}}, nil))
	waitState(t, n1.zk, "b", 0, 2, []int32{2, 1})
	old := n2.zk.BrokerEpoch()
	require.NoError(t, sess.Kill(zktest.Addr(t)))
	require.Eventually(t, func() bool { return n2.zk.BrokerEpoch() != old }, 20*time.Second, 10*time.Millisecond)
	epoch := n2.zk.BrokerEpoch()
	// Leadership moved to 1 while 2 was away; 2 left the ISR.
	waitState(t, n1.zk, "b", 0, 1, []int32{1})
	require.Eventually(t, func() bool {
		for _, r := range n2.ln.requests() {
			if l, ok := r.(*kmsg.LeaderAndISRRequest); ok && l.BrokerEpoch == epoch {
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "LeaderAndIsr with the new broker epoch")
	for _, r := range n2.ln.requests() {
		switch req := r.(type) {
		case *kmsg.LeaderAndISRRequest:
			require.Contains(t, []int64{old, epoch}, req.BrokerEpoch)
		case *kmsg.UpdateMetadataRequest:
			require.Contains(t, []int64{old, epoch}, req.BrokerEpoch)
		}
	}
}
