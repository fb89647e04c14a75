package api

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/config"
	"kzoo/broker/zkstate"
)

// Header is a parsed request header plus where the request came from.
type Header struct {
	Key, Version  int16
	CorrelationID int32
	ClientID      *string
	Listener      string // listener name the connection arrived on
	ClientHost    string
}

// AppendResult is what a leader append reports.
type AppendResult struct {
	BaseOffset, LastOffset, LogAppendTimeMs, LogStartOffset int64
	Records                                                 int
}

// Log is one partition's log (broker/storage.Log behind a thin adapter).
// Errors from appends are kerr errors (errors.Is).
type Log interface {
	AppendLeader(records []byte, leaderEpoch int32, nowMs int64) (AppendResult, error)
	AppendFollower(batches []byte) error
	Read(offset int64, maxBytes int, maxOffset int64, minOne bool) ([]byte, error)
	StartOffset() int64
	EndOffset() int64
	OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool)
	MaxTimestamp() (offset, ts int64)
	EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64)
	LatestEpoch() int32
	TruncateTo(off int64) error
	DeleteRecordsBefore(off int64) (int64, error)
	Flush() error
	MaybeFlush(nowMs int64) (bool, error)
	EnforceRetention(nowMs int64) (int, error)
	SetConfig(topicConfig map[string]string)
	Size() int64
	Close() error
	Delete() error
}

// Store is the part of zkstate.Client the handlers use.
type Store interface {
	Brokers() ([]zkstate.BrokerInfo, <-chan zk.Event, error)
	CreateTopic(a zkstate.TopicAssignment, configs map[string]string) error
	Topics() ([]string, <-chan zk.Event, error)
	Topic(name string) (zkstate.TopicAssignment, <-chan zk.Event, error)
	SetTopicAssignment(a zkstate.TopicAssignment) error
	TopicConfig(name string) (map[string]string, error)
	SetTopicConfig(name string, cfg map[string]string) error
	ConfigChanges() ([]string, <-chan zk.Event, error)
	MarkTopicForDeletion(name string) error
	AllocateProducerIDs(broker int32) (zkstate.ProducerIDBlock, error)
	// SetConsumerOffset and ConsumerOffset keep the offsets of OffsetCommit
	// and OffsetFetch v0 under /consumers/<group>/offsets.
	SetConsumerOffset(group, topic string, partition int32, offset int64) error
	ConsumerOffset(group, topic string, partition int32) (offset int64, ok bool, err error)
}

// Controller is the part of broker/controller the handlers use.
type Controller interface {
	IsActive() bool
	ControlledShutdown(id int32, brokerEpoch int64) ([]kmsg.ControlledShutdownResponsePartitionsRemaining, error)
	AlterPartition(req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse
	ElectLeaders(req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse
	AlterPartitionReassignments(req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse
	ListPartitionReassignments(req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse
}

// Options wires a Handler to the outside world.
type Options struct {
	Config    *config.Config
	ClusterID string
	// Advertised lists this broker's advertised listeners with their bound
	// ports; Metadata lists this broker alone until the first UpdateMetadata.
	Advertised  func() []config.Listener
	BrokerEpoch func() int64
	Store       Store      // nil: requests that need ZooKeeper fail with UNKNOWN_SERVER_ERROR
	Controller  Controller // nil: ControlledShutdown answers NOT_CONTROLLER
	// Assign is controller.AssignReplicas.
	Assign func(brokers []int32, partitions, replicationFactor int, startIndex, shift int) (map[int32][]int32, error)
	// OpenLog opens (creating if needed) the log of topic-partition in dir
	// with the topic's resolved config.
	OpenLog func(dir, topic string, partition int32, topicID [16]byte, topicConfig map[string]string) (Log, error)
	// ConvertToV2 converts a legacy (magic 0/1) message set to v2 batches.
	ConvertToV2 func(set []byte, nowMs int64) ([]byte, error)
	// DownConvert converts v2 batches to magic 0/1 for old fetchers.
	DownConvert func(batches []byte, magic int8) ([]byte, error)
	// Dial connects to other brokers (replica fetching); net.Dial by default.
	Dial func(network, addr string) (net.Conn, error)
	Logf func(string, ...any)
	Now  func() time.Time
	Rand *rand.Rand
}

// Handler answers every request the broker serves. It is safe for
// concurrent use by many connections.
type Handler struct {
	o        Options
	cfg      *config.Config
	cache    *metaCache
	rm       *replicaManager
	fetchers *fetchers
	randMu   sync.Mutex
	pidMu    sync.Mutex
	pidNext  int64 // next producer id of the claimed block
	pidEnd   int64 // last producer id of the claimed block
	ctrlMu   sync.Mutex
	groups   *groupCoord
}

// New returns a Handler; Start its background loops with Run.
func New(o Options) *Handler {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	}
	if o.BrokerEpoch == nil {
		o.BrokerEpoch = func() int64 { return -1 }
	}
	h := &Handler{o: o, cfg: o.Config, cache: newMetaCache()}
	if o.Dial == nil {
		o.Dial = net.Dial
		h.o.Dial = net.Dial
	}
	h.rm = newReplicaManager(h)
	h.groups = newGroupCoord(h)
	h.fetchers = newFetchers(h)
	return h
}

func (h *Handler) nowMs() int64 { return h.o.Now().UnixMilli() }

func (h *Handler) randIntn(n int) int {
	h.randMu.Lock()
	defer h.randMu.Unlock()
	return h.o.Rand.IntN(n)
}

// SetController wires the controller once it exists (it is created after
// the handler, when the broker has registered).
func (h *Handler) SetController(c Controller) {
	h.ctrlMu.Lock()
	defer h.ctrlMu.Unlock()
	h.o.Controller = c
}

func (h *Handler) controller() Controller {
	h.ctrlMu.Lock()
	defer h.ctrlMu.Unlock()
	return h.o.Controller
}

// Close closes every open partition log.
func (h *Handler) Close() {
	h.fetchers.stopAll()
	h.rm.closeAll()
}

// Versions is the served range of every implemented API key, within the
// ranges Kafka 3.x serves.
var Versions = map[int16][2]int16{
	0:  {0, 9},  // Produce
	1:  {0, 13}, // Fetch
	2:  {0, 7},  // ListOffsets
	3:  {0, 12}, // Metadata
	4:  {0, 7},  // LeaderAndIsr
	5:  {0, 4},  // StopReplica
	6:  {0, 8},  // UpdateMetadata
	7:  {0, 3},  // ControlledShutdown
	8:  {0, 8},  // OffsetCommit
	9:  {0, 8},  // OffsetFetch
	10: {0, 4},  // FindCoordinator
	11: {0, 9},  // JoinGroup
	12: {0, 4},  // Heartbeat
	13: {0, 5},  // LeaveGroup
	14: {0, 5},  // SyncGroup
	15: {0, 5},  // DescribeGroups
	16: {0, 4},  // ListGroups
	18: {0, 3},  // ApiVersions
	19: {0, 7},  // CreateTopics
	20: {0, 6},  // DeleteTopics
	21: {0, 2},  // DeleteRecords
	22: {0, 4},  // InitProducerId
	42: {0, 2},  // DeleteGroups
	23: {0, 4},  // OffsetForLeaderEpoch
	32: {0, 4},  // DescribeConfigs
	33: {0, 2},  // AlterConfigs
	35: {0, 4},  // DescribeLogDirs
	37: {0, 3},  // CreatePartitions
	43: {0, 2},  // ElectLeaders
	44: {0, 1},  // IncrementalAlterConfigs
	45: {0, 0},  // AlterPartitionReassignments
	46: {0, 0},  // ListPartitionReassignments
	47: {0, 0},  // OffsetDelete
	56: {0, 3},  // AlterPartition
	60: {0, 1},  // DescribeCluster
}

// Supported reports whether key at version is served.
func Supported(key, version int16) bool {
	r, ok := Versions[key]
	return ok && version >= r[0] && version <= r[1]
}

func sortedKeys() []int16 {
	ks := make([]int16, 0, len(Versions))
	for k := range Versions {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// ErrUnhandled is returned by Handle for a request type without a handler.
var ErrUnhandled = errors.New("api: no handler for request")

// Handle answers one request. A nil response with a nil error means no
// response is sent (Produce with acks=0).
func (h *Handler) Handle(ctx context.Context, hdr *Header, req kmsg.Request) (kmsg.Response, error) {
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		return h.handleProduce(ctx, hdr, r)
	case *kmsg.FetchRequest:
		return h.handleFetch(ctx, hdr, r)
	case *kmsg.ListOffsetsRequest:
		return h.handleListOffsets(hdr, r), nil
	case *kmsg.MetadataRequest:
		return h.handleMetadata(ctx, hdr, r), nil
	case *kmsg.LeaderAndISRRequest:
		return h.handleLeaderAndISR(r), nil
	case *kmsg.StopReplicaRequest:
		return h.handleStopReplica(r), nil
	case *kmsg.UpdateMetadataRequest:
		return h.handleUpdateMetadata(r), nil
	case *kmsg.ControlledShutdownRequest:
		return h.handleControlledShutdown(r), nil
	case *kmsg.ApiVersionsRequest:
		return h.handleApiVersions(r), nil
	case *kmsg.CreateTopicsRequest:
		return h.handleCreateTopics(ctx, r), nil
	case *kmsg.DeleteTopicsRequest:
		return h.handleDeleteTopics(ctx, r), nil
	case *kmsg.DeleteRecordsRequest:
		return h.handleDeleteRecords(r), nil
	case *kmsg.InitProducerIDRequest:
		return h.handleInitProducerID(r), nil
	case *kmsg.OffsetForLeaderEpochRequest:
		return h.handleOffsetForLeaderEpoch(r), nil
	case *kmsg.DescribeConfigsRequest:
		return h.handleDescribeConfigs(r), nil
	case *kmsg.AlterConfigsRequest:
		return h.handleAlterConfigs(r), nil
	case *kmsg.DescribeLogDirsRequest:
		return h.handleDescribeLogDirs(r), nil
	case *kmsg.CreatePartitionsRequest:
		return h.handleCreatePartitions(ctx, r), nil
	case *kmsg.IncrementalAlterConfigsRequest:
		return h.handleIncrementalAlterConfigs(r), nil
	case *kmsg.ElectLeadersRequest:
		return h.handleElectLeaders(r), nil
	case *kmsg.AlterPartitionAssignmentsRequest:
		return h.handleAlterPartitionAssignments(r), nil
	case *kmsg.ListPartitionReassignmentsRequest:
		return h.handleListPartitionReassignments(r), nil
	case *kmsg.AlterPartitionRequest:
		return h.handleAlterPartition(r), nil
	case *kmsg.OffsetCommitRequest:
		return h.handleOffsetCommit(ctx, r), nil
	case *kmsg.OffsetFetchRequest:
		return h.handleOffsetFetch(r), nil
	case *kmsg.FindCoordinatorRequest:
		return h.handleFindCoordinator(ctx, hdr, r), nil
	case *kmsg.JoinGroupRequest:
		return h.handleJoinGroup(ctx, hdr, r), nil
	case *kmsg.HeartbeatRequest:
		return h.handleHeartbeat(r), nil
	case *kmsg.LeaveGroupRequest:
		return h.handleLeaveGroup(r), nil
	case *kmsg.SyncGroupRequest:
		return h.handleSyncGroup(ctx, r), nil
	case *kmsg.DescribeGroupsRequest:
		return h.handleDescribeGroups(r), nil
	case *kmsg.ListGroupsRequest:
		return h.handleListGroups(r), nil
	case *kmsg.DeleteGroupsRequest:
		return h.handleDeleteGroups(ctx, r), nil
	case *kmsg.OffsetDeleteRequest:
		return h.handleOffsetDelete(ctx, r), nil
	case *kmsg.DescribeClusterRequest:
		return h.handleDescribeCluster(hdr, r), nil
	}
	return nil, ErrUnhandled
}

func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

func strp(s string) *string { return &s }
