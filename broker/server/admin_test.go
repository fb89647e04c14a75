package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestBrokerAdminAPIs(t *testing.T) {
	c := startCluster(t, 3, "num.partitions=4", "default.replication.factor=2")
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Auto-creation through Metadata with the broker defaults.
	addr := c.addrs()[0]
	m, err := rawMetadata(addr, "auto")
	require.NoError(t, err)
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, m.Topics[0].ErrorCode, "not created unless the request allows it")
	am := kmsg.NewPtrMetadataRequest()
	am.Version, am.AllowAutoTopicCreation = 12, true
	am.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("auto")}}
	amr, err := am.RequestWith(ctx, c.client())
	require.NoError(t, err)
	require.Equal(t, kerr.LeaderNotAvailable.Code, amr.Topics[0].ErrorCode)
	require.Eventually(t, func() bool {
		m, err := rawMetadata(addr, "auto")
		return err == nil && m.Topics[0].ErrorCode == 0 && len(m.Topics[0].Partitions) == 4 && len(m.Topics[0].Partitions[0].Replicas) == 2
	}, 20*time.Second, 20*time.Millisecond)

	// Manual replica assignment (kafka-topics.sh --replica-assignment 0:1,1:2,2:0).
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 10_000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "manual", -1, -1
	for i, rs := range [][]int32{{0, 1}, {1, 2}, {2, 0}} {
		ct.ReplicaAssignment = append(ct.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: int32(i), Replicas: rs})
	}
	req.Topics = append(req.Topics, ct)
	kresp, err := req.RequestWith(ctx, c.client())
	require.NoError(t, err)
	require.Equal(t, int16(0), kresp.Topics[0].ErrorCode)
	require.Equal(t, int32(3), kresp.Topics[0].NumPartitions)
	require.Eventually(t, func() bool {
		m, err := rawMetadata(addr, "manual")
		if err != nil || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != 3 {
			return false
		}
		for _, p := range m.Topics[0].Partitions {
			if p.Partition == 1 {
				return fmt.Sprint(p.Replicas) == "[1 2]"
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond)

	// validateOnly creates nothing.
	req.ValidateOnly = true
	req.Topics[0].Topic = "dryrun"
	kresp, err = req.RequestWith(ctx, c.client())
	require.NoError(t, err)
	require.Equal(t, int16(0), kresp.Topics[0].ErrorCode)
	m, err = rawMetadata(addr, "dryrun")
	require.NoError(t, err)
	require.NotEqual(t, int16(0), m.Topics[0].ErrorCode)

	// Incremental config changes, seen by DescribeConfigs.
	_, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.bytes", Value: ptr("1048576")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")},
	}, "manual")
	require.NoError(t, err)
	rc, err := adm.DescribeTopicConfigs(ctx, "manual")
	require.NoError(t, err)
	cfg, err := rc.On("manual", nil)
	require.NoError(t, err)
	vals := map[string]string{}
	for _, v := range cfg.Configs {
		vals[v.Key] = v.MaybeValue()
	}
	require.Equal(t, "1048576", vals["retention.bytes"])
	require.Equal(t, "delete,compact", vals["cleanup.policy"])
	require.Equal(t, "1048588", vals["max.message.bytes"])

	// Produce, then DeleteRecords and DescribeLogDirs.
	p := c.client(kgo.DefaultProduceTopic("manual"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		require.NoError(t, p.ProduceSync(ctx, &kgo.Record{Partition: 0, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}).FirstErr())
	}
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "manual", Partition: 0, At: 4})
	dr, err := adm.DeleteRecords(ctx, os)
	require.NoError(t, err)
	d, ok := dr.Lookup("manual", 0)
	require.True(t, ok)
	require.NoError(t, d.Err)
	require.Equal(t, int64(4), d.LowWatermark)
	starts, err := adm.ListStartOffsets(ctx, "manual")
	require.NoError(t, err)
	so, _ := starts.Lookup("manual", 0)
	require.Equal(t, int64(4), so.Offset)

	dirs, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{"manual": {0: {}}})
	require.NoError(t, err)
	found := 0
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == "manual" && p.Partition == 0 {
				found++
				require.Greater(t, p.Size, int64(0))
			}
		})
	})
	require.Equal(t, 2, found, "both replicas report partition 0")

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version, dc.EndpointType = 1, 1
	dresp, err := dc.RequestWith(ctx, c.client())
	require.NoError(t, err)
	require.Equal(t, int16(0), dresp.ErrorCode)
	require.Len(t, dresp.Brokers, 3)
	require.GreaterOrEqual(t, dresp.ControllerID, int32(0))
	require.NotEmpty(t, dresp.ClusterID)
}

func TestBrokerManyPartitions(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 120, 2, nil, "wide")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.DefaultProduceTopic("wide"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var recs []*kgo.Record
	for i := range 2400 {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("w%d", i))})
	}
	require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())
	got := consumeAll(t, c, "wide", 2400)
	require.Len(t, got, 2400)
	ends, err := adm.ListEndOffsets(ctx, "wide")
	require.NoError(t, err)
	ends.Each(func(o kadm.ListedOffset) { require.Equal(t, int64(20), o.Offset, "partition %d", o.Partition) })
}
