package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

func TestBrokerProduceConsumeCodecs(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 6, 1, nil, "codecs")
	require.NoError(t, err)
	require.NoError(t, resp.Err)

	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	want := map[string]bool{}
	for name, codec := range codecs {
		p := c.client(kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.DefaultProduceTopic("codecs"))
		var recs []*kgo.Record
		for i := range 200 {
			v := fmt.Sprintf("%s-%d", name, i)
			want[v] = true
			recs = append(recs, &kgo.Record{Value: []byte(v)})
		}
		require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr(), name)
	}
	cons := c.client(kgo.ConsumeTopics("codecs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]bool{}
	for len(got) < len(want) {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	require.Equal(t, want, got)
}

// An old client (Kafka 0.10 protocol: Produce v2 with magic-1 message sets,
// Fetch v3) round-trips through v2 storage.
func TestBrokerLegacyClientRoundTrip(t *testing.T) {
	c := startCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.admin().CreateTopic(ctx, 2, 1, nil, "legacy")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	old := kversion.V0_10_1()
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression()} {
		p := c.client(kgo.MaxVersions(old), kgo.DefaultProduceTopic("legacy"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(codec))
		var recs []*kgo.Record
		for i := range 50 {
			recs = append(recs, &kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprintf("old-%d", i))})
		}
		require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())
	}
	for _, versions := range []*kversion.Versions{old, kversion.Stable()} {
		cons := c.client(kgo.MaxVersions(versions), kgo.ConsumeTopics("legacy"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		n := 0
		for n < 150 && ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				require.Equal(t, "k", string(r.Key))
				n++
			})
		}
		require.Equal(t, 150, n)
	}
}
