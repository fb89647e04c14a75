package api

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/zkstate/zktest"
)

type fetchedPart struct {
	offset   int64
	metadata string
	code     int16
}

func (f fetchedPart) String() string { return fmt.Sprintf("%d %q %d", f.offset, f.metadata, f.code) }

// offsetFetch sends an OffsetFetch of version (below 8) for topic →
// partitions and returns the answer by "topic-partition", plus the
// top-level error code and the answer's topic order.
func offsetFetch(t *testing.T, h *Handler, version int16, groupID string, topics []string, parts map[string][]int32) (map[string]fetchedPart, int16, []string) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.Group = version, groupID
	for _, topic := range topics {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = topic, parts[topic]
		req.Topics = append(req.Topics, rt)
	}
	// Through the wire format: v0 has no leader epoch and no top-level error.
	back := handleOnWire(t, h, req).(*kmsg.OffsetFetchResponse)
	got := map[string]fetchedPart{}
	var order []string
	for _, rt := range back.Topics {
		order = append(order, rt.Topic)
		for _, rp := range rt.Partitions {
			k := fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)
			_, dup := got[k]
			require.False(t, dup, "%s answered twice", k)
			md := "<null>"
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			got[k] = fetchedPart{rp.Offset, md, rp.ErrorCode}
		}
	}
	return got, back.ErrorCode, order
}

// OffsetFetch v0 reads what OffsetCommit v0 wrote, on any broker: the
// offset with empty metadata, and Kafka's UNKNOWN_PARTITION (-1,
// UNKNOWN_TOPIC_OR_PARTITION) for a partition without a znode or missing
// from the metadata cache.
func TestOffsetFetchV0ReadsZooKeeper(t *testing.T) {
	connect := zktest.Connect(t)
	a, zc := offsetsBroker(t, 0, connect)
	b, _ := offsetsBroker(t, 1, connect)
	require.Equal(t, map[string]int16{"orders-0": 0, "orders-2": 0},
		offsetCommit(t, a, 0, "g", commitPart{"orders", 0, 17, kmsg.StringPtr("dropped")}, commitPart{"orders", 2, 4, nil}))

	unknown := fetchedPart{-1, "", kerr.UnknownTopicOrPartition.Code}
	for name, h := range map[string]*Handler{"the broker that committed": a, "another broker": b} {
		got, top, order := offsetFetch(t, h, 0, "g", []string{"orders", "missing"},
			map[string][]int32{"orders": {2, 0, 1, 9, 0}, "missing": {0}})
		require.Zero(t, top)
		require.Equal(t, []string{"orders", "missing"}, order, name)
		require.Equal(t, map[string]fetchedPart{
			"orders-0":  {17, "", 0},
			"orders-2":  {4, "", 0},
			"orders-1":  unknown, // never committed
			"orders-9":  unknown, // no such partition
			"missing-0": unknown, // no such topic
		}, got, name)
	}

	// Another group has nothing.
	got, _, _ := offsetFetch(t, b, 0, "other", []string{"orders"}, map[string][]int32{"orders": {0}})
	require.Equal(t, map[string]fetchedPart{"orders-0": unknown}, got)

	// A znode that is not a number is a server error for that partition.
	_, err := zc.Conn().Set(zc.Chroot()+"/consumers/g/offsets/orders/2", []byte("garbage"), -1)
	require.NoError(t, err)
	got, _, _ = offsetFetch(t, b, 0, "g", []string{"orders"}, map[string][]int32{"orders": {0, 2}})
	require.Equal(t, map[string]fetchedPart{"orders-0": {17, "", 0}, "orders-2": {-1, "", kerr.UnknownServerError.Code}}, got)

	// An empty group id is an invalid path: a server error, as in Kafka.
	got, _, _ = offsetFetch(t, b, 0, "", []string{"orders", "missing"}, map[string][]int32{"orders": {0}, "missing": {0}})
	require.Equal(t, map[string]fetchedPart{"orders-0": {-1, "", kerr.UnknownServerError.Code}, "missing-0": unknown}, got)

	// Without a ZooKeeper store.
	h := testHandler(t)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version, um.ControllerEpoch = 4, 1
	ps := kmsg.NewUpdateMetadataRequestTopicPartition()
	ps.Topic, ps.Leader = "orders", 0
	um.PartitionStates = append(um.PartitionStates, ps)
	h.handleUpdateMetadata(um)
	got, _, _ = offsetFetch(t, h, 0, "g", []string{"orders"}, map[string][]int32{"orders": {0}})
	require.Equal(t, map[string]fetchedPart{"orders-0": {-1, "", kerr.UnknownServerError.Code}}, got)
}

// Versions 1 and later read the group coordinator, never ZooKeeper.
func TestOffsetFetchV1AndLaterUseTheCoordinator(t *testing.T) {
	connect := zktest.Connect(t)
	other, _ := offsetsBroker(t, 1, connect)
	coord, _ := offsetsBroker(t, 0, connect)
	require.Equal(t, map[string]int16{"orders-0": 0}, offsetCommit(t, coord, 0, "g", commitPart{"orders", 0, 50, nil}))

	// Not the coordinator: per partition in v1, at the top level from v2.
	got, top, _ := offsetFetch(t, other, 1, "g", []string{"orders"}, map[string][]int32{"orders": {0}})
	require.Zero(t, top)
	require.Equal(t, map[string]fetchedPart{"orders-0": {-1, "", kerr.NotCoordinator.Code}}, got)
	for _, v := range []int16{2, 5, 7} {
		_, top, _ = offsetFetch(t, other, v, "g", []string{"orders"}, map[string][]int32{"orders": {0}})
		require.Equal(t, kerr.NotCoordinator.Code, top, "v%d", v)
	}

	// The coordinator answers from __consumer_offsets: the v0 commit in
	// ZooKeeper is not there, a v1 commit is, with its metadata.
	leadOffsetsPartition(t, coord)
	for _, v := range []int16{1, 3, 7} {
		got, top, _ = offsetFetch(t, coord, v, "g", []string{"orders"}, map[string][]int32{"orders": {0}})
		require.Zero(t, top, "v%d", v)
		require.Equal(t, map[string]fetchedPart{"orders-0": {-1, "", 0}}, got, "v%d", v)
	}
	require.Equal(t, map[string]int16{"orders-0": 0}, offsetCommit(t, coord, 2, "g", commitPart{"orders", 0, 8, kmsg.StringPtr("md")}))
	for _, v := range []int16{1, 3, 7} {
		got, _, _ = offsetFetch(t, coord, v, "g", []string{"orders"}, map[string][]int32{"orders": {0}})
		require.Equal(t, map[string]fetchedPart{"orders-0": {8, "md", 0}}, got, "v%d", v)
	}
	// While v0 still reads ZooKeeper.
	got, _, _ = offsetFetch(t, coord, 0, "g", []string{"orders"}, map[string][]int32{"orders": {0}})
	require.Equal(t, map[string]fetchedPart{"orders-0": {50, "", 0}}, got)
}
