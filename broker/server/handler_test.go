package server

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
)

// v2Batch builds a valid uncompressed v2 batch of n records.
func v2Batch(n int, value string, ts int64) []byte {
	var recs []byte
	for i := range n {
		body := []byte{0}                          // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, -1)       // null key
		body = binary.AppendVarint(body, int64(len(value)))
		body = append(body, value...)
		body = binary.AppendVarint(body, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: ts, MaxTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(n), Records: recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// v1Message builds a legacy magic-1 message set of one message.
func v1Message(value string, ts int64) []byte {
	body := []byte{1, 0} // magic, attributes
	body = binary.BigEndian.AppendUint64(body, uint64(ts))
	body = binary.BigEndian.AppendUint32(body, 0xffffffff) // null key
	body = binary.BigEndian.AppendUint32(body, uint32(len(value)))
	body = append(body, value...)
	msg := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(body))
	msg = append(msg, body...)
	out := binary.BigEndian.AppendUint64(nil, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(msg)))
	return append(out, msg...)
}

type direct struct {
	t *testing.T
	h *api.Handler
}

func (d direct) do(req kmsg.Request) kmsg.Response {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := d.h.Handle(ctx, &api.Header{Key: req.Key(), Version: req.GetVersion(), Listener: "PLAINTEXT"}, req)
	require.NoError(d.t, err)
	return resp
}

func leaderAndISR(epoch, leaderEpoch, leader int32, topic string, part int32, replicas ...int32) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version = 5
	req.ControllerEpoch = epoch
	ps := kmsg.NewLeaderAndISRRequestTopicPartition()
	ps.Partition, ps.Leader, ps.LeaderEpoch, ps.ISR, ps.Replicas = part, leader, leaderEpoch, replicas, replicas
	req.TopicStates = []kmsg.LeaderAndISRRequestTopicState{{Topic: topic, TopicID: [16]byte{1}, PartitionStates: []kmsg.LeaderAndISRRequestTopicPartition{ps}}}
	return req
}

func produce(version int16, topic string, part int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, 1, 1000
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: part, Records: records}}}}
	return req
}

func fetch(version int16, topic string, part int32, offset int64, waitMs int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = version, -1, waitMs, 1, 1<<20
	req.SessionEpoch = -1
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = part, offset, 1<<20
	req.Topics = []kmsg.FetchRequestTopic{{Topic: topic, Partitions: []kmsg.FetchRequestTopicPartition{fp}}}
	return req
}

func TestBrokerHandlerInterBrokerEpochs(t *testing.T) {
	d := direct{t, standaloneHandler(t)}
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version, um.ControllerID, um.ControllerEpoch = 7, 0, 5
	um.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{{ID: 0, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "h0", Port: 9092, ListenerName: "PLAINTEXT"}}}}
	require.Equal(t, int16(0), d.do(um).(*kmsg.UpdateMetadataResponse).ErrorCode)

	stale := *um
	stale.ControllerEpoch = 4
	require.Equal(t, kerr.StaleControllerEpoch.Code, d.do(&stale).(*kmsg.UpdateMetadataResponse).ErrorCode)
	require.Equal(t, kerr.StaleControllerEpoch.Code, d.do(leaderAndISR(4, 0, 0, "t", 0, 0)).(*kmsg.LeaderAndISRResponse).ErrorCode)
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.Version, sr.ControllerEpoch = 3, 3
	require.Equal(t, kerr.StaleControllerEpoch.Code, d.do(sr).(*kmsg.StopReplicaResponse).ErrorCode)

	// Leader epochs never go back.
	r := d.do(leaderAndISR(5, 3, 0, "t", 0, 0)).(*kmsg.LeaderAndISRResponse)
	require.Equal(t, int16(0), r.Topics[0].Partitions[0].ErrorCode)
	r = d.do(leaderAndISR(5, 2, 0, "t", 0, 0)).(*kmsg.LeaderAndISRResponse)
	require.Equal(t, kerr.StaleControllerEpoch.Code, r.Topics[0].Partitions[0].ErrorCode)

	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	mr := d.do(md).(*kmsg.MetadataResponse)
	require.Equal(t, int32(0), mr.ControllerID)
	require.Len(t, mr.Brokers, 1)
	require.Equal(t, "h0", mr.Brokers[0].Host)
}

func TestBrokerHandlerProduceFetch(t *testing.T) {
	h := standaloneHandler(t)
	d := direct{t, h}
	d.do(leaderAndISR(1, 0, 0, "t", 0, 0))
	d.do(leaderAndISR(1, 0, 1, "t", 1, 1, 0)) // follower of broker 1

	now := time.Now().UnixMilli()
	pr := d.do(produce(9, "t", 0, v2Batch(3, "hello", now))).(*kmsg.ProduceResponse)
	require.Equal(t, int16(0), pr.Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, int64(0), pr.Topics[0].Partitions[0].BaseOffset)

	// Not the leader, unknown partition, bad CRC.
	pr = d.do(produce(9, "t", 1, v2Batch(1, "x", now))).(*kmsg.ProduceResponse)
	require.Equal(t, kerr.NotLeaderForPartition.Code, pr.Topics[0].Partitions[0].ErrorCode)
	pr = d.do(produce(9, "t", 7, v2Batch(1, "x", now))).(*kmsg.ProduceResponse)
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, pr.Topics[0].Partitions[0].ErrorCode)
	bad := v2Batch(1, "x", now)
	bad[len(bad)-1] ^= 0xff
	pr = d.do(produce(9, "t", 0, bad)).(*kmsg.ProduceResponse)
	require.Equal(t, kerr.CorruptMessage.Code, pr.Topics[0].Partitions[0].ErrorCode)

	// Legacy magic 1 from a Produce v2 client is stored as v2.
	pr = d.do(produce(2, "t", 0, v1Message("old", now))).(*kmsg.ProduceResponse)
	require.Equal(t, int16(0), pr.Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, int64(3), pr.Topics[0].Partitions[0].BaseOffset)

	fr := d.do(fetch(11, "t", 0, 0, 0)).(*kmsg.FetchResponse)
	fp := fr.Topics[0].Partitions[0]
	require.Equal(t, int16(0), fp.ErrorCode)
	require.Equal(t, int64(4), fp.HighWatermark)
	require.Equal(t, byte(2), fp.RecordBatches[16])
	var values []string
	for b := fp.RecordBatches; len(b) > 0; {
		var rb kmsg.RecordBatch
		require.NoError(t, rb.ReadFrom(b))
		recs := rb.Records
		for range rb.NumRecords {
			var r kmsg.Record
			require.NoError(t, r.ReadFrom(recs))
			values = append(values, string(r.Value))
			recs = recs[len(r.AppendTo(nil)):]
		}
		b = b[12+int(rb.Length):]
	}
	require.Equal(t, []string{"hello", "hello", "hello", "old"}, values)

	// Old fetchers get magic 1.
	fr = d.do(fetch(3, "t", 0, 0, 0)).(*kmsg.FetchResponse)
	require.Equal(t, byte(1), fr.Topics[0].Partitions[0].RecordBatches[16])

	// Out of range.
	fr = d.do(fetch(11, "t", 0, 99, 0)).(*kmsg.FetchResponse)
	require.Equal(t, kerr.OffsetOutOfRange.Code, fr.Topics[0].Partitions[0].ErrorCode)

	// Long poll: waits for max wait, and an append wakes it early.
	start := time.Now()
	fr = d.do(fetch(11, "t", 0, 4, 300)).(*kmsg.FetchResponse)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	require.Empty(t, fr.Topics[0].Partitions[0].RecordBatches)
	done := make(chan *kmsg.FetchResponse, 1)
	start = time.Now()
	go func() { done <- d.do(fetch(11, "t", 0, 4, 10_000)).(*kmsg.FetchResponse) }()
	require.Eventually(t, func() bool {
		d.do(produce(9, "t", 0, v2Batch(1, "late", time.Now().UnixMilli())))
		select {
		case fr = <-done:
			return true
		default:
			return false
		}
	}, 5*time.Second, 100*time.Millisecond)
	require.Less(t, time.Since(start), 5*time.Second)
	require.NotEmpty(t, fr.Topics[0].Partitions[0].RecordBatches)

	// ListOffsets: earliest, latest, by timestamp.
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version, lo.ReplicaID = 7, -1
	for _, ts := range []int64{-2, -1, now, now + 3_600_000, -3} {
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition, p.Timestamp = 0, ts
		if len(lo.Topics) == 0 {
			lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "t"}}
		}
		lo.Topics[0].Partitions = append(lo.Topics[0].Partitions, p)
	}
	lr := d.do(lo).(*kmsg.ListOffsetsResponse)
	ps := lr.Topics[0].Partitions
	require.Equal(t, int64(0), ps[0].Offset)
	require.GreaterOrEqual(t, ps[1].Offset, int64(5))
	require.Equal(t, int64(0), ps[2].Offset)
	require.Equal(t, int64(-1), ps[3].Offset)
	require.GreaterOrEqual(t, ps[4].Offset, int64(0), "max timestamp")
	require.GreaterOrEqual(t, ps[4].Timestamp, now)

	// StopReplica with delete removes the files.
	var dir string
	for _, pi := range h.HostedPartitions() {
		if pi.Partition == 0 {
			dir = filepath.Join(pi.Dir, "t-0")
		}
	}
	require.DirExists(t, dir)
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.Version, sr.ControllerEpoch = 3, 1
	sr.Topics = []kmsg.StopReplicaRequestTopic{{Topic: "t", PartitionStates: []kmsg.StopReplicaRequestTopicPartitionState{{Partition: 0, LeaderEpoch: 1, Delete: true}}}}
	srr := d.do(sr).(*kmsg.StopReplicaResponse)
	require.Equal(t, int16(0), srr.Partitions[0].ErrorCode)
	_, err := os.Stat(dir)
	require.True(t, os.IsNotExist(err), "%s should be gone", dir)
}

func TestBrokerHandlerTopicDeletionDisabled(t *testing.T) {
	d := direct{t, standaloneHandler(t, "delete.topic.enable=false")}
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version, um.ControllerEpoch = 7, 1
	um.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{{ID: 0, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "h", Port: 1, ListenerName: "PLAINTEXT"}}}}
	ps := kmsg.NewUpdateMetadataRequestTopicPartition()
	ps.Partition, ps.Leader, ps.ISR, ps.Replicas = 0, 0, []int32{0}, []int32{0}
	um.TopicStates = []kmsg.UpdateMetadataRequestTopicState{{Topic: "keep", TopicID: [16]byte{9}, PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{ps}}}
	d.do(um)
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version, dt.TimeoutMillis = 6, 1000
	dt.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("keep")}, {Topic: kmsg.StringPtr("nope")}, {TopicID: [16]byte{9}}}
	r := d.do(dt).(*kmsg.DeleteTopicsResponse)
	require.Equal(t, kerr.TopicDeletionDisabled.Code, r.Topics[0].ErrorCode)
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, r.Topics[1].ErrorCode)
	require.Equal(t, kerr.TopicDeletionDisabled.Code, r.Topics[2].ErrorCode)
	require.Equal(t, "keep", *r.Topics[2].Topic)

	// Deleting the topic through UpdateMetadata (leader -2) removes it.
	ps.Leader = -2
	um.TopicStates[0].PartitionStates = []kmsg.UpdateMetadataRequestTopicPartition{ps}
	d.do(um)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("keep")}}
	mr := d.do(md).(*kmsg.MetadataResponse)
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, mr.Topics[0].ErrorCode)
}
