package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBrokerReplicatedAcksAll(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 6, 3, map[string]*string{"min.insync.replicas": ptr("2")}, "repl")
	require.NoError(t, err)
	require.NoError(t, r.Err)

	p := c.client(kgo.DefaultProduceTopic("repl"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	var recs []*kgo.Record
	for i := range 1000 {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("v%d", i))})
	}
	require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())

	// Every replica holds every record: the high watermark only moved once
	t.Logf("%s step: Every replica holds every record: the high watermark only moved once", time.Now().Format("15:04:05.000"))
	// the followers had them.
	ends, err := adm.ListEndOffsets(ctx, "repl")
	require.NoError(t, err)
	var total int64
	ends.Each(func(o kadmListedOffset) { total += o.Offset })
	require.Equal(t, int64(1000), total)
	require.Eventually(t, func() bool {
		for _, s := range c.brokers {
			n := int64(0)
			for _, pt := range s.h.HostedPartitions() {
				if pt.Topic == "repl" {
					n += pt.EndOffset
				}
			}
			if n != 1000 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
}

// TestBrokerNewTopicReplicatesAtOnce: a topic created while every
// follower's fetch is long-polling its leader for an older topic starts
// replicating at once, not when those fetches end. The fetches here wait
// up to 25 s and a record may take 10 s to be delivered, so the acks=all
// produce to the new topic succeeds only if the followers cut their
// fetches short to take the new partitions in.
func TestBrokerNewTopicReplicatesAtOnce(t *testing.T) {
	c := startCluster(t, 3, "replica.fetch.wait.max.ms=25000")
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A leader may answer NOT_LEADER until its LeaderAndIsr lands; the
	// client then refreshes its metadata after 250 ms, not the default 5 s.
	p := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
		kgo.RecordDeliveryTimeout(10*time.Second), kgo.MetadataMinAge(250*time.Millisecond))
	for _, topic := range []string{"older", "newer"} {
		r, err := adm.CreateTopic(ctx, 3, 3, nil, topic)
		require.NoError(t, err)
		require.NoError(t, r.Err)
		// Every partition has a leader before the produce (asked without
		// the client's metadata cache, which would hold the answer 5 s).
		require.Eventually(t, func() bool {
			md, err := rawMetadata(c.addrs()[0], topic)
			if err != nil || len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != 3 {
				return false
			}
			for _, pt := range md.Topics[0].Partitions {
				if pt.Leader < 0 {
					return false
				}
			}
			return true
		}, 20*time.Second, 20*time.Millisecond)
		var recs []*kgo.Record
		for i := range 3 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i), Value: []byte(topic)})
		}
		require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr(), "acks=all produce to %s", topic)
	}
}

func TestBrokerTopicLifecycleMetadata(t *testing.T) {
	c := startCluster(t, 3, "auto.create.topics.enable=false")
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	names := []string{"a", "b", "c"}
	resps, err := adm.CreateTopics(ctx, 12, 2, nil, names...)
	require.NoError(t, err)
	for _, r := range resps.Sorted() {
		require.NoError(t, r.Err, r.Topic)
		require.Equal(t, int32(12), r.NumPartitions)
	}
	// Every broker learns of the topics through UpdateMetadata.
	t.Logf("%s step: Every broker learns of the topics through UpdateMetadata.", time.Now().Format("15:04:05.000"))
	for _, addr := range c.addrs() {
		require.Eventually(t, func() bool {
			m, err := rawMetadata(addr, names...)
			if err != nil {
				return false
			}
			for _, td := range m.Topics {
				if td.ErrorCode != 0 || len(td.Partitions) != 12 {
					return false
				}
				for _, p := range td.Partitions {
					if p.Leader < 0 || len(p.Replicas) != 2 {
						return false
					}
				}
			}
			return true
		}, 20*time.Second, 20*time.Millisecond, addr)
	}

	// Errors as Kafka reports them.
	t.Logf("%s step: Errors as Kafka reports them.", time.Now().Format("15:04:05.000"))
	createErr := func(partitions int32, rf int16, cfg map[string]*string, name string) error {
		r, err := adm.CreateTopic(ctx, partitions, rf, cfg, name)
		if err != nil {
			return err
		}
		return r.Err
	}
	require.ErrorIs(t, createErr(1, 4, nil, "toomany"), kerr.InvalidReplicationFactor)
	require.ErrorIs(t, createErr(1, 1, nil, "a"), kerr.TopicAlreadyExists)
	require.ErrorIs(t, createErr(1, 1, nil, "bad/name"), kerr.InvalidTopicException)
	require.NoError(t, createErr(1, 1, nil, "x.y"))
	require.Eventually(t, func() bool { return errors.Is(createErr(1, 1, nil, "x_y"), kerr.InvalidTopicException) }, 10*time.Second, 20*time.Millisecond, "x_y collides with x.y")
	require.ErrorIs(t, createErr(1, 1, map[string]*string{"retention.ms": ptr("soon")}, "badcfg"), kerr.InvalidConfig)
	require.ErrorIs(t, createErr(1, 1, map[string]*string{"no.such.config": ptr("1")}, "badcfg"), kerr.InvalidConfig)

	// Partitions grow; never shrink.
	t.Logf("%s step: Partitions grow; never shrink.", time.Now().Format("15:04:05.000"))
	cp, err := adm.CreatePartitions(ctx, 4, "c")
	require.NoError(t, err)
	require.NoError(t, cp["c"].Err)
	for _, addr := range c.addrs() {
		require.Eventually(t, func() bool {
			m, err := rawMetadata(addr, "c")
			return err == nil && len(m.Topics[0].Partitions) == 16
		}, 20*time.Second, 20*time.Millisecond, addr)
	}
	up, err := adm.UpdatePartitions(ctx, 3, "c")
	if err == nil {
		err = up["c"].Err
	}
	require.ErrorIs(t, err, kerr.InvalidPartitions)

	// Configs round-trip through ZooKeeper.
	t.Logf("%s step: Configs round-trip through ZooKeeper.", time.Now().Format("15:04:05.000"))
	_, err = adm.AlterTopicConfigs(ctx, []kadmAlterConfig{{Name: "retention.ms", Value: ptr("12345")}}, "a")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		rc, err := adm.DescribeTopicConfigs(ctx, "a")
		if err != nil {
			return false
		}
		cfg, err := rc.On("a", nil)
		if err != nil {
			return false
		}
		for _, v := range cfg.Configs {
			if v.Key == "retention.ms" {
				return v.MaybeValue() == "12345"
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)

	// Delete, then the topic is gone from every broker's metadata.
	t.Logf("%s step: Delete, then the topic is gone from every broker's metadata.", time.Now().Format("15:04:05.000"))
	dr, err := adm.DeleteTopics(ctx, "b")
	require.NoError(t, err)
	require.NoError(t, dr["b"].Err)
	for _, addr := range c.addrs() {
		require.Eventually(t, func() bool {
			m, err := rawMetadata(addr, "b")
			return err == nil && m.Topics[0].ErrorCode == kerr.UnknownTopicOrPartition.Code
		}, 20*time.Second, 20*time.Millisecond, addr)
	}
	list, err := adm.ListTopics(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a", "c", "x.y"}, list.Names())

	// Produce to an unknown topic without auto-creation.
	t.Logf("%s step: Produce to an unknown topic without auto-creation.", time.Now().Format("15:04:05.000"))
	p := c.client(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(2*time.Second))
	err = p.ProduceSync(ctx, &kgo.Record{Topic: "nope", Value: []byte("x")}).FirstErr()
	require.Error(t, err)
	require.True(t, errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrRecordTimeout), "%v", err)
}

func TestBrokerProduceErrors(t *testing.T) {
	c := startCluster(t, 1)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": ptr("1000")}, "small")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	err = p.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: make([]byte, 5000)}).FirstErr()
	require.ErrorIs(t, err, kerr.MessageTooLarge)
	require.NoError(t, p.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: []byte("ok")}).FirstErr())

	// acks=all with min.insync.replicas above the ISR.
	r, err = adm.CreateTopic(ctx, 1, 1, map[string]*string{"min.insync.replicas": ptr("2")}, "strict")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	pa := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.RecordDeliveryTimeout(3*time.Second))
	err = pa.ProduceSync(ctx, &kgo.Record{Topic: "strict", Value: []byte("x")}).FirstErr()
	require.Error(t, err)
	require.True(t, errors.Is(err, kerr.NotEnoughReplicas) || errors.Is(err, kgo.ErrRecordTimeout), "%v", err)
}

func ptr(s string) *string { return &s }
