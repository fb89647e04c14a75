package group

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestGroupStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	var persisted int
	c := New(Config{Partitions: 50, InitialRebalanceDelay: 100, MinSessionTimeoutMs: 6000, MaxSessionTimeoutMs: 60000}, func(_ int32, _ []KV, done func(*kerr.Error)) {
		persisted++
		done(nil)
	})
	inst := func(s string) *string { return &s }
	join := func(now int64, member string, instance *string) JoinResult {
		var got JoinResult
		answered := false
		c.Join(now, JoinRequest{Group: "g", MemberID: member, InstanceID: instance, ClientID: "c", SessionTimeoutMs: 6000, RebalanceTimeoutMs: 6000,
			ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: []byte("m")}}, RequireKnownMemberID: true},
			func(r JoinResult) { got, answered = r, true })
		require.True(t, answered)
		return got
	}
	sync := func(now int64, res JoinResult) SyncResult {
		var got SyncResult
		c.Sync(now, SyncRequest{Group: "g", MemberID: res.MemberID, Generation: res.Generation, Assignments: map[string][]byte{}}, func(r SyncResult) { got = r })
		return got
	}
	// The leader (dynamic) and a static member form generation 1.
	var leader, static JoinResult
	c.Join(0, JoinRequest{Group: "g", ClientID: "l", SessionTimeoutMs: 6000, RebalanceTimeoutMs: 6000, ProtocolType: "consumer",
		Protocols: []Protocol{{Name: "range", Metadata: []byte("l")}}}, func(r JoinResult) { leader = r })
	require.Empty(t, leader.MemberID, "first join waits for the join phase")
	c.Join(0, JoinRequest{Group: "g", InstanceID: inst("i1"), ClientID: "c", SessionTimeoutMs: 6000, RebalanceTimeoutMs: 6000,
		ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: []byte("m")}}, RequireKnownMemberID: true},
		func(r JoinResult) { static = r })
	require.Empty(t, static.MemberID, "no MEMBER_ID_REQUIRED for a static member: it waits for the initial delay")
	c.Tick(100)
	require.Nil(t, static.Err)
	require.Nil(t, leader.Err)
	require.EqualValues(t, 1, static.Generation)
	c.Sync(1, SyncRequest{Group: "g", MemberID: leader.MemberID, Generation: 1, Assignments: map[string][]byte{static.MemberID: []byte("a1")}}, func(SyncResult) {})
	require.Equal(t, []byte("a1"), sync(1, static).Assignment)
	require.Equal(t, Stable, c.Group("g").State)

	// The static member restarts: a new id, same generation, no rebalance.
	again := join(2, "", inst("i1"))
	require.Nil(t, again.Err)
	require.NotEqual(t, static.MemberID, again.MemberID)
	require.EqualValues(t, 1, again.Generation)
	require.Equal(t, Stable, c.Group("g").State)
	require.Equal(t, []byte("a1"), sync(3, again).Assignment)
	// Its old id is fenced.
	require.Equal(t, kerr.FencedInstanceID, join(4, static.MemberID, inst("i1")).Err)
	require.Equal(t, kerr.UnknownMemberID, c.Heartbeat(4, "g", static.MemberID, 1))
	require.Nil(t, c.Heartbeat(4, "g", again.MemberID, 1))
	// Leaving by instance id removes it and starts a rebalance.
	require.Equal(t, []*kerr.Error{nil}, c.Leave(5, "g", []string{""}, []*string{inst("i1")}))
	require.Equal(t, PreparingRebalance, c.Group("g").State)
}

func TestGroupOffsetsExpire(t *testing.T) {
	c := New(Config{Partitions: 50, MinSessionTimeoutMs: 6000, MaxSessionTimeoutMs: 60000}, func(_ int32, _ []KV, done func(*kerr.Error)) { done(nil) })
	tp := TopicPartition{Topic: "t", Partition: 0}
	c.Commit(1000, "simple", map[TopicPartition]OffsetValue{tp: {Offset: 5, CommitMs: 1000}})
	require.Empty(t, c.ExpireOffsets(1500, 1000), "not yet")
	out := c.ExpireOffsets(2000, 1000)
	require.Len(t, out[c.Partition("simple")], 2, "the offset and then the empty group")
	r, err := DecodeRecord(out[c.Partition("simple")][0].Key, nil)
	require.NoError(t, err)
	require.True(t, r.Tombstone)
	require.Equal(t, "t", r.OffsetKey.Topic)
	require.Nil(t, c.Group("simple"))
}
