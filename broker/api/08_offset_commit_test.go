package api

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/config"
	"kzoo/broker/group"
	"kzoo/broker/storage"
	"kzoo/broker/zkstate"
	"kzoo/broker/zkstate/zktest"
)

func TestMain(m *testing.M) { os.Exit(zktest.Main(m)) }

// offsetsLog presents a *storage.Log as a Log, for handlers that host a
// real __consumer_offsets partition.
type offsetsLog struct{ *storage.Log }

func (l offsetsLog) AppendLeader(records []byte, leaderEpoch int32, nowMs int64) (AppendResult, error) {
	r, err := l.Log.AppendLeader(records, leaderEpoch, nowMs)
	return AppendResult{BaseOffset: r.BaseOffset, LastOffset: r.LastOffset, LogAppendTimeMs: r.LogAppendTimeMs, LogStartOffset: r.LogStartOffset, Records: r.Records}, err
}

func (offsetsLog) SetConfig(map[string]string) {}

// offsetsBroker is a Handler for broker id whose Store is a zkstate client
// of connect (a chroot of the package's in-process coordinator), with
// partitions 0-2 of topic "orders" in its metadata cache.
func offsetsBroker(t *testing.T, id int32, connect string) (*Handler, *zkstate.Client) {
	t.Helper()
	zc, err := zkstate.Dial(connect, 4*time.Second, 10*time.Second, t.Logf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = zc.Close() })
	props := fmt.Sprintf("broker.id=%d\nzookeeper.connect=%s\nlog.dirs=%s\noffsets.topic.num.partitions=1\n", id, connect, t.TempDir())
	cfg, err := config.Parse("server.properties", []byte(props), nil)
	require.NoError(t, err)
	h := New(Options{Config: cfg, ClusterID: "c", Store: zc, Logf: t.Logf,
		OpenLog: func(dir, topic string, partition int32, _ [16]byte, _ map[string]string) (Log, error) {
			l, err := storage.Open(filepath.Join(dir, fmt.Sprintf("%s-%d", topic, partition)), storage.Defaults(), time.Now().UnixMilli(), t.Logf)
			if err != nil {
				return nil, err
			}
			return offsetsLog{l}, nil
		}})
	t.Cleanup(h.Close)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version, um.ControllerID, um.ControllerEpoch = 4, 0, 1
	for p := int32(0); p < 3; p++ {
		ps := kmsg.NewUpdateMetadataRequestTopicPartition()
		ps.Topic, ps.Partition, ps.Leader, ps.ISR, ps.Replicas = "orders", p, 1, []int32{1}, []int32{1}
		um.PartitionStates = append(um.PartitionStates, ps)
	}
	require.Zero(t, h.handleUpdateMetadata(um).(*kmsg.UpdateMetadataResponse).ErrorCode)
	return h, zc
}

// leadOffsetsPartition makes h the leader of __consumer_offsets-0, so that it
// coordinates every group, and waits until the partition is loaded.
func leadOffsetsPartition(t *testing.T, h *Handler) {
	t.Helper()
	self := h.cfg.BrokerID
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version, req.ControllerID, req.ControllerEpoch = 1, self, 1
	ps := kmsg.NewLeaderAndISRRequestTopicPartition()
	ps.Topic, ps.Partition, ps.Leader, ps.ISR, ps.Replicas = group.Topic, 0, self, []int32{self}, []int32{self}
	req.PartitionStates = append(req.PartitionStates, ps)
	resp := h.handleLeaderAndISR(req).(*kmsg.LeaderAndISRResponse)
	require.Len(t, resp.Partitions, 1)
	require.Zero(t, resp.Partitions[0].ErrorCode)
	require.Eventually(t, func() bool {
		h.GroupTick()
		h.groups.mu.Lock()
		defer h.groups.mu.Unlock()
		return h.groups.check("any") == nil
	}, 10*time.Second, 20*time.Millisecond, "__consumer_offsets-0 never loaded")
}

type commitPart struct {
	topic     string
	partition int32
	offset    int64
	metadata  *string
}

func offsetCommit(t *testing.T, h *Handler, version int16, groupID string, parts ...commitPart) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = version, groupID, -1
	for _, p := range parts {
		if len(req.Topics) == 0 || req.Topics[len(req.Topics)-1].Topic != p.topic {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = p.partition, p.offset, p.metadata
		last := &req.Topics[len(req.Topics)-1]
		last.Partitions = append(last.Partitions, rp)
	}
	req.Version = version
	resp := handleOnWire(t, h, req).(*kmsg.OffsetCommitResponse)
	codes := map[string]int16{}
	n := 0
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			codes[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)] = rp.ErrorCode
			n++
		}
	}
	require.Len(t, codes, n, "one answer per partition")
	return codes
}

// znode reads a consumer offset znode's data; "" with ok false when missing.
func znode(t *testing.T, zc *zkstate.Client, groupID, topic string, partition int32) (string, bool) {
	t.Helper()
	data, _, err := zc.Conn().Get(zc.Chroot() + zkstate.ConsumerOffsetPath(groupID, topic, partition))
	if err != nil {
		require.ErrorContains(t, err, "node does not exist")
		return "", false
	}
	return string(data), true
}

// OffsetCommit v0 writes ZooKeeper on a broker that coordinates nothing,
// checks partitions against the metadata cache and metadata for size, and
// overwrites on a second commit.
func TestOffsetCommitV0GoesToZooKeeper(t *testing.T) {
	h, zc := offsetsBroker(t, 0, zktest.Connect(t))
	big := strings.Repeat("m", offsetMetadataMaxBytes+1)
	codes := offsetCommit(t, h, 0, "g1",
		commitPart{"orders", 0, 17, kmsg.StringPtr("some metadata")},
		commitPart{"orders", 2, 5, nil},
		commitPart{"orders", 1, 9, &big},
		commitPart{"orders", 7, 1, nil},
		commitPart{"missing", 0, 1, nil})
	require.Equal(t, map[string]int16{
		"orders-0":  0,
		"orders-2":  0,
		"orders-1":  kerr.OffsetMetadataTooLarge.Code,
		"orders-7":  kerr.UnknownTopicOrPartition.Code,
		"missing-0": kerr.UnknownTopicOrPartition.Code,
	}, codes)
	for _, c := range []struct {
		topic string
		p     int32
		want  string
		ok    bool
	}{{"orders", 0, "17", true}, {"orders", 2, "5", true}, {"orders", 1, "", false}, {"orders", 7, "", false}, {"missing", 0, "", false}} {
		got, ok := znode(t, zc, "g1", c.topic, c.p)
		require.Equal(t, c.ok, ok, "%s-%d", c.topic, c.p)
		require.Equal(t, c.want, got, "%s-%d: the offset as a decimal string, metadata dropped", c.topic, c.p)
	}

	// A second commit overwrites, backwards too.
	require.Equal(t, map[string]int16{"orders-0": 0}, offsetCommit(t, h, 0, "g1", commitPart{"orders", 0, 3, nil}))
	got, _ := znode(t, zc, "g1", "orders", 0)
	require.Equal(t, "3", got)

	// The group coordinator saw none of it.
	h.groups.mu.Lock()
	require.Equal(t, kerr.NotCoordinator, h.groups.check("g1"))
	require.Empty(t, h.groups.c.Offsets("g1"))
	h.groups.mu.Unlock()
}

// An empty group id makes an invalid znode path: Kafka answers
// UNKNOWN_SERVER_ERROR for the partitions it tried to write.
func TestOffsetCommitV0EmptyGroup(t *testing.T) {
	h, zc := offsetsBroker(t, 0, zktest.Connect(t))
	codes := offsetCommit(t, h, 0, "", commitPart{"orders", 0, 1, nil}, commitPart{"nope", 0, 1, nil})
	require.Equal(t, map[string]int16{"orders-0": kerr.UnknownServerError.Code, "nope-0": kerr.UnknownTopicOrPartition.Code}, codes)
	kids, _, err := zc.Conn().Children(zc.Chroot() + "/consumers")
	require.NoError(t, err)
	require.Empty(t, kids)
}

// Without a ZooKeeper store the v0 commit fails per partition instead of
// being dropped.
func TestOffsetCommitV0WithoutStore(t *testing.T) {
	h := testHandler(t)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version, um.ControllerEpoch = 4, 1
	ps := kmsg.NewUpdateMetadataRequestTopicPartition()
	ps.Topic, ps.Leader = "orders", 0
	um.PartitionStates = append(um.PartitionStates, ps)
	h.handleUpdateMetadata(um)
	require.Equal(t, map[string]int16{"orders-0": kerr.UnknownServerError.Code}, offsetCommit(t, h, 0, "g", commitPart{"orders", 0, 1, nil}))
}

// Versions 1 and later stay with the group coordinator: NOT_COORDINATOR on
// a broker that does not lead the group's offsets partition, and a commit
// to __consumer_offsets, not ZooKeeper, on the one that does.
func TestOffsetCommitV1AndLaterUseTheCoordinator(t *testing.T) {
	connect := zktest.Connect(t)
	other, zc := offsetsBroker(t, 1, connect)
	for _, v := range []int16{1, 2, 5, 8} {
		codes := offsetCommit(t, other, v, "g", commitPart{"orders", 0, 11, nil})
		require.Equal(t, map[string]int16{"orders-0": kerr.NotCoordinator.Code}, codes, "v%d", v)
	}
	// v1+ checks the group id, which v0 never does.
	require.Equal(t, map[string]int16{"orders-0": kerr.InvalidGroupID.Code}, offsetCommit(t, other, 1, "", commitPart{"orders", 0, 1, nil}))

	coord, _ := offsetsBroker(t, 0, connect)
	leadOffsetsPartition(t, coord)
	for i, v := range []int16{1, 2, 5, 8} {
		off := int64(20 + i)
		codes := offsetCommit(t, coord, v, "g", commitPart{"orders", 0, off, kmsg.StringPtr("md")})
		require.Equal(t, map[string]int16{"orders-0": 0}, codes, "v%d", v)
		coord.groups.mu.Lock()
		got, ok := coord.groups.c.Offset("g", group.TopicPartition{Topic: "orders", Partition: 0})
		coord.groups.mu.Unlock()
		require.True(t, ok, "v%d", v)
		require.Equal(t, off, got.Offset, "v%d", v)
		require.Equal(t, "md", got.Metadata, "v%d keeps the metadata", v)
	}
	_, ok := znode(t, zc, "g", "orders", 0)
	require.False(t, ok, "no v1+ commit reaches ZooKeeper")
	part := coord.rm.get(tp{group.Topic, 0})
	require.NotNil(t, part)
	part.mu.Lock()
	end := part.log.EndOffset()
	part.mu.Unlock()
	require.Equal(t, int64(4), end, "one offset commit record per commit in __consumer_offsets-0")

	// And v0 on the coordinator still goes to ZooKeeper.
	require.Equal(t, map[string]int16{"orders-0": 0}, offsetCommit(t, coord, 0, "g", commitPart{"orders", 0, 99, nil}))
	got, _ := znode(t, zc, "g", "orders", 0)
	require.Equal(t, "99", got)
	coord.groups.mu.Lock()
	v, _ := coord.groups.c.Offset("g", group.TopicPartition{Topic: "orders", Partition: 0})
	coord.groups.mu.Unlock()
	require.Equal(t, int64(23), v.Offset, "the coordinator's offset is untouched by v0")
}

// handleOnWire hands req to h as a client sends it (encoded and decoded at
// req's version) and returns the response as the client reads it back.
func handleOnWire(t *testing.T, h *Handler, req kmsg.Request) kmsg.Response {
	t.Helper()
	dec := kmsg.RequestForKey(req.Key())
	dec.SetVersion(req.GetVersion())
	require.NoError(t, dec.ReadFrom(req.AppendTo(nil)))
	out, err := h.Handle(context.Background(), &Header{Key: req.Key(), Version: req.GetVersion(), Listener: "PLAINTEXT"}, dec)
	require.NoError(t, err)
	back := dec.ResponseKind()
	back.SetVersion(req.GetVersion())
	require.NoError(t, back.ReadFrom(out.AppendTo(nil)))
	return back
}
