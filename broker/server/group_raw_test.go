package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
)

// TestGroupRawProtocol speaks the group APIs directly: batched
// FindCoordinator, simple commits, multi-group OffsetFetch v8,
// NOT_COORDINATOR, MEMBER_ID_REQUIRED, OffsetDelete and the errors Kafka
// gives for a wrong generation or member.
func TestGroupRawProtocol(t *testing.T) {
	c := startCluster(t, 2, "offsets.topic.num.partitions=4", "offsets.topic.replication.factor=2", "group.initial.rebalance.delay.ms=0")
	addrs := c.addrs()
	byID := map[int32]string{0: addrs[0], 1: addrs[1]}
	send := func(addr string, req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := api.Request(nil, addr, "raw", req, 10*time.Second)
		require.NoError(t, err)
		return resp
	}

	find := kmsg.NewPtrFindCoordinatorRequest()
	find.Version = 4
	find.CoordinatorKeys = []string{"raw-a", "raw-b"}
	coord := map[string]int32{}
	require.Eventually(t, func() bool {
		r := send(addrs[0], find).(*kmsg.FindCoordinatorResponse)
		for _, k := range r.Coordinators {
			if k.ErrorCode != 0 {
				return false
			}
			coord[k.Key] = k.NodeID
		}
		return len(coord) == 2
	}, 30*time.Second, 50*time.Millisecond)

	commit := func(group string, gen int32, member string, offset int64) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 8
		req.Group, req.Generation, req.MemberID = group, gen, member
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		for p := range int32(2) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata = p, offset+int64(p), kmsg.StringPtr("md")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		var code int16
		require.Eventually(t, func() bool {
			r := send(byID[coord[group]], req).(*kmsg.OffsetCommitResponse)
			code = r.Topics[0].Partitions[0].ErrorCode
			return code != kerr.CoordinatorLoadInProgress.Code
		}, 20*time.Second, 50*time.Millisecond)
		return code
	}
	require.EqualValues(t, 0, commit("raw-a", -1, "", 10))
	require.EqualValues(t, 0, commit("raw-b", -1, "", 20))

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 8
	for _, g := range []string{"raw-a", "raw-b"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g // null topics: every committed offset
		fetch.Groups = append(fetch.Groups, rg)
	}
	if coord["raw-a"] == coord["raw-b"] {
		r := send(byID[coord["raw-a"]], fetch).(*kmsg.OffsetFetchResponse)
		require.Len(t, r.Groups, 2)
		for i, want := range []int64{10, 20} {
			require.EqualValues(t, 0, r.Groups[i].ErrorCode)
			require.Len(t, r.Groups[i].Topics, 1)
			require.EqualValues(t, want, r.Groups[i].Topics[0].Partitions[0].Offset)
			require.EqualValues(t, want+1, r.Groups[i].Topics[0].Partitions[1].Offset)
			require.Equal(t, "md", *r.Groups[i].Topics[0].Partitions[0].Metadata)
		}
	}
	// The other broker is not raw-a's coordinator.
	fetch.Groups = fetch.Groups[:1]
	other := byID[1-coord["raw-a"]]
	r := send(other, fetch).(*kmsg.OffsetFetchResponse)
	require.Equal(t, kerr.NotCoordinator.Code, r.Groups[0].ErrorCode)

	// OffsetFetch v1: named partitions, one never committed.
	old := kmsg.NewPtrOffsetFetchRequest()
	old.Version = 1
	old.Group = "raw-a"
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic, ot.Partitions = "t", []int32{1, 5}
	old.Topics = append(old.Topics, ot)
	or := send(byID[coord["raw-a"]], old).(*kmsg.OffsetFetchResponse)
	require.EqualValues(t, 11, or.Topics[0].Partitions[0].Offset)
	require.EqualValues(t, -1, or.Topics[0].Partitions[1].Offset)

	// A member joins raw-a: v4+ must learn its id first.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 5
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "raw-a", 10000, 10000, "consumer"
	jp := kmsg.NewJoinGroupRequestProtocol()
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{"t"}
	jp.Name, jp.Metadata = "range", md.AppendTo(nil)
	join.Protocols = append(join.Protocols, jp)
	jr := send(byID[coord["raw-a"]], join).(*kmsg.JoinGroupResponse)
	require.Equal(t, kerr.MemberIDRequired.Code, jr.ErrorCode)
	require.NotEmpty(t, jr.MemberID)
	join.MemberID = jr.MemberID
	jr = send(byID[coord["raw-a"]], join).(*kmsg.JoinGroupResponse)
	require.EqualValues(t, 0, jr.ErrorCode)
	require.Equal(t, join.MemberID, jr.LeaderID)
	require.Len(t, jr.Members, 1)
	require.Equal(t, "range", *jr.Protocol)

	// Commits now need the member and its generation.
	require.Equal(t, kerr.RebalanceInProgress.Code, commit("raw-a", jr.Generation, jr.MemberID, 30))
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 3
	sync.Group, sync.Generation, sync.MemberID = "raw-a", jr.Generation, jr.MemberID
	sa := kmsg.NewSyncGroupRequestGroupAssignment()
	sa.MemberID, sa.MemberAssignment = jr.MemberID, []byte{0, 0, 0, 0, 0, 0, 0, 0}
	sync.GroupAssignment = append(sync.GroupAssignment, sa)
	sr := send(byID[coord["raw-a"]], sync).(*kmsg.SyncGroupResponse)
	require.EqualValues(t, 0, sr.ErrorCode)
	require.Equal(t, sa.MemberAssignment, sr.MemberAssignment)
	require.Equal(t, kerr.IllegalGeneration.Code, commit("raw-a", jr.Generation+1, jr.MemberID, 30))
	require.Equal(t, kerr.UnknownMemberID.Code, commit("raw-a", jr.Generation, "stranger", 30))
	require.Equal(t, kerr.UnknownMemberID.Code, commit("raw-a", -1, "", 30), "only members commit to a group with members")
	require.EqualValues(t, 0, commit("raw-a", jr.Generation, jr.MemberID, 30))

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation, hb.MemberID = "raw-a", jr.Generation, jr.MemberID
	require.EqualValues(t, 0, send(byID[coord["raw-a"]], hb).(*kmsg.HeartbeatResponse).ErrorCode)

	// Subscribed topics' offsets cannot be deleted; others can.
	del := kmsg.NewPtrOffsetDeleteRequest()
	del.Group = "raw-a"
	dt := kmsg.NewOffsetDeleteRequestTopic()
	dt.Topic = "t"
	dt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
	del.Topics = append(del.Topics, dt)
	dr := send(byID[coord["raw-a"]], del).(*kmsg.OffsetDeleteResponse)
	require.Equal(t, kerr.GroupSubscribedToTopic.Code, dr.Topics[0].Partitions[0].ErrorCode)

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 3
	leave.Group = "raw-a"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: jr.MemberID}, {MemberID: "stranger"}}
	lr := send(byID[coord["raw-a"]], leave).(*kmsg.LeaveGroupResponse)
	require.EqualValues(t, 0, lr.Members[0].ErrorCode)
	require.Equal(t, kerr.UnknownMemberID.Code, lr.Members[1].ErrorCode)
	require.EqualValues(t, 0, send(byID[coord["raw-a"]], del).(*kmsg.OffsetDeleteResponse).Topics[0].Partitions[0].ErrorCode)
	or = send(byID[coord["raw-a"]], old).(*kmsg.OffsetFetchResponse)
	require.EqualValues(t, 31, or.Topics[0].Partitions[0].Offset, "partition 1 kept")
	old.Topics[0].Partitions = []int32{0}
	or = send(byID[coord["raw-a"]], old).(*kmsg.OffsetFetchResponse)
	require.EqualValues(t, -1, or.Topics[0].Partitions[0].Offset, "partition 0 deleted")

	// DescribeGroups of an unknown group answers Dead; DeleteGroups
	// GROUP_ID_NOT_FOUND.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"raw-a"}
	d := send(byID[coord["raw-a"]], dg).(*kmsg.DescribeGroupsResponse)
	require.Equal(t, "Empty", d.Groups[0].State)
	delg := kmsg.NewPtrDeleteGroupsRequest()
	delg.Groups = []string{"raw-a"}
	require.EqualValues(t, 0, send(byID[coord["raw-a"]], delg).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode)
	require.Equal(t, kerr.GroupIDNotFound.Code, send(byID[coord["raw-a"]], delg).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode)
	d = send(byID[coord["raw-a"]], dg).(*kmsg.DescribeGroupsResponse)
	require.Equal(t, "Dead", d.Groups[0].State)
}

// TestGroupFindCoordinatorNeedsReplicas: with fewer live brokers than
// offsets.topic.replication.factor (3 by default), FindCoordinator answers
// COORDINATOR_NOT_AVAILABLE and creates nothing, as Kafka does.
func TestGroupFindCoordinatorNeedsReplicas(t *testing.T) {
	c := startCluster(t, 1)
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.Version = 2
	find.CoordinatorKey = "g"
	resp, err := api.Request(nil, c.addrs()[0], "raw", find, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, kerr.CoordinatorNotAvailable.Code, resp.(*kmsg.FindCoordinatorResponse).ErrorCode)
	md, err := rawMetadata(c.addrs()[0])
	require.NoError(t, err)
	for _, tp := range md.Topics {
		require.NotEqual(t, "__consumer_offsets", *tp.Topic)
	}
}
