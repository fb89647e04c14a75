package controller_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/controller"
	"kzoo/broker/zkstate"
	"kzoo/broker/zkstate/zktest"
)

// alterISR sends the AlterPartition a partition leader would send.
func alterISR(c *controller.Controller, from int32, fromEpoch int64, topic string, p int32, st zkstate.PartitionState, isr []int32) (*kmsg.AlterPartitionResponse, kmsg.AlterPartitionResponseTopicPartition) {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 1
	req.BrokerID, req.BrokerEpoch = from, fromEpoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.NewISR, rp.PartitionEpoch = p, st.LeaderEpoch, isr, st.ZkVersion
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.AlterPartition(req)
	if len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
		return resp, resp.Topics[0].Partitions[0]
	}
	return resp, kmsg.AlterPartitionResponseTopicPartition{}
}

func TestControllerAlterPartition(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	n3 := startNode(t, connect, 3, nil, false)
	require.NoError(t, n1.zk.CreateTopic(zkstate.TopicAssignment{Name: "isr", Partitions: map[int32][]int32{0: {2, 1, 3}}}, nil))
	st := waitState(t, n1.zk, "isr", 0, 2, []int32{2, 1, 3})

	resp, _ := alterISR(n2.ctrl, n2.id, n2.zk.BrokerEpoch(), "isr", 0, st, []int32{2, 1})
	require.Equal(t, kerr.NotController.Code, resp.ErrorCode)
	resp, _ = alterISR(n1.ctrl, 2, -1, "isr", 0, st, []int32{2, 1})
	require.Equal(t, int16(0), resp.ErrorCode)
	_, pr := alterISR(n1.ctrl, n1.id, n1.zk.BrokerEpoch(), "isr", 0, st, []int32{2, 1})
	require.Equal(t, kerr.NotLeaderForPartition.Code, pr.ErrorCode)
	bad := st
	bad.LeaderEpoch++
	_, pr = alterISR(n1.ctrl, n2.id, n2.zk.BrokerEpoch(), "isr", 0, bad, []int32{2, 1})
	require.Equal(t, kerr.FencedLeaderEpoch.Code, pr.ErrorCode)
	fresh, err := n1.zk.PartitionState("isr", 0)
	require.NoError(t, err)
	_, pr = alterISR(n1.ctrl, n2.id, n2.zk.BrokerEpoch(), "isr", 0, fresh, []int32{2, 9})
	require.Equal(t, kerr.IneligibleReplica.Code, pr.ErrorCode)

	// Epoch -1 above means "any"; a wrong one is refused whole.
	req := kmsg.NewPtrAlterPartitionRequest()
	req.BrokerID, req.BrokerEpoch = 2, 1
	require.Equal(t, kerr.StaleBrokerEpoch.Code, n1.ctrl.AlterPartition(req).ErrorCode)

	// The ISR was shrunk to {2,1} by the accepted request above; now shrink to {2}.
	cur, err := n1.zk.PartitionState("isr", 0)
	require.NoError(t, err)
	require.Equal(t, []int32{2, 1}, cur.ISR)
	require.Equal(t, st.LeaderEpoch, cur.LeaderEpoch, "an ISR change keeps the leader epoch")
	_, pr = alterISR(n1.ctrl, n2.id, n2.zk.BrokerEpoch(), "isr", 0, st, []int32{2})
	require.Equal(t, kerr.InvalidUpdateVersion.Code, pr.ErrorCode, "a stale partition epoch is refused")
	_, pr = alterISR(n1.ctrl, n2.id, n2.zk.BrokerEpoch(), "isr", 0, cur, []int32{2})
	require.Equal(t, int16(0), pr.ErrorCode)
	require.Equal(t, []int32{2}, pr.ISR)
	require.Equal(t, cur.ZkVersion+1, pr.PartitionEpoch)
	waitState(t, n1.zk, "isr", 0, 2, []int32{2})
	for _, n := range []*node{n1, n2, n3} {
		require.Eventually(t, func() bool {
			return n.ln.sawUpdateMetadata(func(u *kmsg.UpdateMetadataRequest) bool {
				return len(u.TopicStates) == 1 && len(u.TopicStates[0].PartitionStates) == 1 &&
					slices.Equal(u.TopicStates[0].PartitionStates[0].ISR, []int32{2})
			})
		}, 10*time.Second, 10*time.Millisecond)
	}
}

func TestControllerPreferredElectionAndRebalance(t *testing.T) {
	for _, auto := range []bool{false, true} {
		name := "ElectLeaders"
		if auto {
			name = "auto"
		}
		t.Run(name, func(t *testing.T) {
			connect := zktest.Connect(t)
			n3 := prepareNode(t, connect, 3, nil, false, nil)
			n3.ctrl = controller.New(controller.Config{BrokerID: 3, ZK: n3.zk, Logf: t.Logf, RetryBackoffMs: 50,
				AutoLeaderRebalance: auto, LeaderImbalanceCheckIntervalMs: 100})
			n3.start()
			require.Eventually(t, n3.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
			n1 := startNode(t, connect, 1, nil, false)
			startNode(t, connect, 2, nil, false)
			require.NoError(t, n3.zk.CreateTopic(zkstate.TopicAssignment{Name: "pref", Partitions: map[int32][]int32{0: {1, 2}}}, nil))
			waitState(t, n3.zk, "pref", 0, 1, []int32{1, 2})
			n1.crash()
			waitState(t, n3.zk, "pref", 0, 2, []int32{2})
			n1 = startNode(t, connect, 1, nil, false)
			// The leader lets broker 1 back into the ISR.
			var st zkstate.PartitionState
			require.Eventually(t, func() bool {
				var err error
				st, err = n3.zk.PartitionState("pref", 0)
				if err != nil {
					return false
				}
				if slices.Equal(st.ISR, []int32{2, 1}) {
					return true
				}
				_, pr := alterISR(n3.ctrl, 2, -1, "pref", 0, st, []int32{2, 1})
				return pr.ErrorCode == 0
			}, 10*time.Second, 20*time.Millisecond)
			if auto {
				waitState(t, n3.zk, "pref", 0, 1, []int32{2, 1})
				return
			}
			req := kmsg.NewPtrElectLeadersRequest()
			req.Version = 1
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = "pref", []int32{0, 7}
			req.Topics = append(req.Topics, rt)
			resp := n3.ctrl.ElectLeaders(req)
			require.Equal(t, int16(0), resp.ErrorCode)
			require.Len(t, resp.Topics, 1)
			require.Equal(t, int16(0), resp.Topics[0].Partitions[0].ErrorCode)
			require.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].Partitions[1].ErrorCode)
			got := waitState(t, n3.zk, "pref", 0, 1, []int32{2, 1})
			require.Equal(t, st.LeaderEpoch+1, got.LeaderEpoch)
			require.Eventually(t, func() bool {
				ps, _, ok := n1.ln.leaderAndISR("pref", 0)
				return ok && ps.Leader == 1
			}, 10*time.Second, 10*time.Millisecond)
			resp = n3.ctrl.ElectLeaders(req)
			require.Equal(t, kerr.ElectionNotNeeded.Code, resp.Topics[0].Partitions[0].ErrorCode)
			// Unclean election is only for partitions without a live leader.
			req.ElectionType = 1
			resp = n3.ctrl.ElectLeaders(req)
			require.Equal(t, kerr.ElectionNotNeeded.Code, resp.Topics[0].Partitions[0].ErrorCode)
		})
	}
}

func TestControllerReassignment(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	n3 := startNode(t, connect, 3, nil, false)
	require.NoError(t, n1.zk.CreateTopic(zkstate.TopicAssignment{Name: "mv", Partitions: map[int32][]int32{0: {1, 2}}}, nil))
	st := waitState(t, n1.zk, "mv", 0, 1, []int32{1, 2})

	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = "mv"
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = 0, []int32{2, 3}
	bad := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	bad.Partition, bad.Replicas = 5, []int32{2}
	rt.Partitions = append(rt.Partitions, rp, bad)
	req.Topics = append(req.Topics, rt)
	resp := n1.ctrl.AlterPartitionReassignments(req)
	require.Equal(t, int16(0), resp.ErrorCode)
	require.Equal(t, int16(0), resp.Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].Partitions[1].ErrorCode)

	a, _, err := n1.zk.Topic("mv")
	require.NoError(t, err)
	require.Equal(t, []int32{2, 3, 1}, a.Partitions[0])
	require.Equal(t, []int32{3}, a.AddingReplicas[0])
	require.Equal(t, []int32{1}, a.RemovingReplicas[0])
	require.Eventually(t, func() bool {
		ps, _, ok := n3.ln.leaderAndISR("mv", 0)
		return ok && ps.Leader == 1 && slices.Equal(ps.AddingReplicas, []int32{3}) && slices.Equal(ps.Replicas, []int32{2, 3, 1})
	}, 10*time.Second, 10*time.Millisecond)
	list := n1.ctrl.ListPartitionReassignments(kmsg.NewPtrListPartitionReassignmentsRequest())
	require.Len(t, list.Topics, 1)
	require.Equal(t, []int32{2, 3, 1}, list.Topics[0].Partitions[0].Replicas)

	// Broker 3 catches up; the leader adds it to the ISR; the move completes:
	// leadership leaves broker 1, which is told to delete its replica.
	cur, err := n1.zk.PartitionState("mv", 0)
	require.NoError(t, err)
	require.Equal(t, st.LeaderEpoch+1, cur.LeaderEpoch)
	_, pr := alterISR(n1.ctrl, n1.id, n1.zk.BrokerEpoch(), "mv", 0, cur, []int32{1, 2, 3})
	require.Equal(t, int16(0), pr.ErrorCode)
	waitState(t, n1.zk, "mv", 0, 2, []int32{2, 3})
	require.Eventually(t, func() bool {
		a, _, err := n1.zk.Topic("mv")
		return err == nil && slices.Equal(a.Partitions[0], []int32{2, 3}) && len(a.AddingReplicas) == 0 && len(a.RemovingReplicas) == 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return slices.Equal(n1.ln.stopReplicas("mv", true), []int32{0}) }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		ps, _, ok := n2.ln.leaderAndISR("mv", 0)
		return ok && ps.Leader == 2 && slices.Equal(ps.Replicas, []int32{2, 3})
	}, 10*time.Second, 10*time.Millisecond)
	list = n1.ctrl.ListPartitionReassignments(kmsg.NewPtrListPartitionReassignmentsRequest())
	require.Empty(t, list.Topics)

	// Cancelling when nothing moves.
	rp.Replicas = nil
	rt.Partitions = rt.Partitions[:1]
	rt.Partitions[0] = rp
	req.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{rt}
	resp = n1.ctrl.AlterPartitionReassignments(req)
	require.Equal(t, kerr.NoReassignmentInProgress.Code, resp.Topics[0].Partitions[0].ErrorCode)
}

func TestControllerAdminZnodes(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	startNode(t, connect, 2, nil, false)
	n3 := startNode(t, connect, 3, nil, false)
	admin := n1.zk
	require.NoError(t, admin.CreateTopic(zkstate.TopicAssignment{Name: "z", Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 1}}}, nil))
	waitState(t, admin, "z", 0, 1, []int32{1, 2})
	st1 := waitState(t, admin, "z", 1, 2, []int32{2, 1})

	// Kafka's old tools: /admin/reassign_partitions.
	require.NoError(t, admin.CreateReassignments([]zkstate.Reassignment{{Topic: "z", Partition: 0, Replicas: []int32{3, 1}}, {Topic: "nope", Partition: 0, Replicas: []int32{1}}}))
	require.ErrorIs(t, admin.CreateReassignments(nil), zkstate.ErrReassignmentInProgress)
	require.Eventually(t, func() bool {
		a, _, err := admin.Topic("z")
		return err == nil && slices.Equal(a.Partitions[0], []int32{3, 1, 2}) && slices.Equal(a.AddingReplicas[0], []int32{3})
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		rs, _, ok, _, err := admin.Reassignments(false)
		return err == nil && ok && len(rs) == 1 && rs[0].Topic == "z"
	}, 10*time.Second, 10*time.Millisecond, "the refused entry is dropped, the running one stays")
	require.Eventually(t, func() bool {
		ps, _, ok := n3.ln.leaderAndISR("z", 0)
		return ok && slices.Equal(ps.Replicas, []int32{3, 1, 2})
	}, 10*time.Second, 10*time.Millisecond)
	cur, err := admin.PartitionState("z", 0)
	require.NoError(t, err)
	_, pr := alterISR(n1.ctrl, 1, -1, "z", 0, cur, []int32{1, 2, 3})
	require.Equal(t, int16(0), pr.ErrorCode)
	waitState(t, admin, "z", 0, 1, []int32{1, 3})
	require.Eventually(t, func() bool {
		ok, _, err := admin.Conn().Exists(admin.Chroot() + "/admin/reassign_partitions")
		return err == nil && !ok
	}, 10*time.Second, 10*time.Millisecond, "/admin/reassign_partitions goes once done")

	// /admin/preferred_replica_election: partition 1 (AR 2,1, led by 2) is
	// already at its preferred leader; move it away first by AR order.
	require.Equal(t, int32(2), st1.Leader)
	require.NoError(t, admin.CreatePreferredReplicaElection([]zkstate.TopicPartition{{Topic: "z", Partition: 1}}))
	require.Eventually(t, func() bool {
		ok, _, err := admin.Conn().Exists(admin.Chroot() + "/admin/preferred_replica_election")
		return err == nil && !ok
	}, 10*time.Second, 10*time.Millisecond)
	got, err := admin.PartitionState("z", 1)
	require.NoError(t, err)
	require.Equal(t, st1.LeaderEpoch, got.LeaderEpoch, "no election was needed")
}

func TestControllerDeletionWaitsForDeadReplica(t *testing.T) {
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	admin := n1.zk
	require.NoError(t, admin.CreateTopic(zkstate.TopicAssignment{Name: "d", Partitions: map[int32][]int32{0: {1, 2}}}, nil))
	waitState(t, admin, "d", 0, 1, []int32{1, 2})
	ln2 := n2.ln
	n2.crash()
	waitState(t, admin, "d", 0, 1, []int32{1})
	require.NoError(t, admin.MarkTopicForDeletion("d"))
	require.Eventually(t, func() bool { return slices.Equal(n1.ln.stopReplicas("d", true), []int32{0}) }, 10*time.Second, 10*time.Millisecond)
	require.Never(t, func() bool {
		ok, _, err := admin.Conn().Exists(admin.Chroot() + "/brokers/topics/d")
		return err == nil && !ok
	}, 300*time.Millisecond, 20*time.Millisecond, "deletion must wait for broker 2")
	// Broker 2 returns on the same listener and is told to delete too.
	startNode(t, connect, 2, ln2, false)
	require.Eventually(t, func() bool { return slices.Equal(ln2.stopReplicas("d", true), []int32{0}) }, 20*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		ok, _, err := admin.Conn().Exists(admin.Chroot() + "/brokers/topics/d")
		return err == nil && !ok
	}, 20*time.Second, 20*time.Millisecond)
}
