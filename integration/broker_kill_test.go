//go:build integration

package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerAcked is what a producer was told: the record with this value is
// at this partition and offset.
type brokerAcked struct {
	mu   sync.Mutex
	recs map[[2]int64][]byte
	errs int
}

// brokerLoad produces to topic until ctx ends, recording every
// acknowledged record; returns once every in-flight record is settled.
func brokerLoad(ctx context.Context, t *testing.T, c *brokerCluster, topic string, acks kgo.Acks, acked *brokerAcked) {
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks),
		kgo.RecordDeliveryTimeout(5 * time.Second), kgo.ProducerLinger(2 * time.Millisecond),
		// Without idempotence a record whose fate is unknown fails at the
		// delivery timeout instead of being retried until a broker is back.
		kgo.DisableIdempotentWrite()}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.brokerAddrs()...)}, opts...)...)
	require.NoError(t, err)
	defer cl.Close()
	r := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for seq := 0; ctx.Err() == nil; seq++ {
		v := make([]byte, 16+r.IntN(200))
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		copy(v, strconv.Itoa(seq))
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(seq)), Value: v}, func(rec *kgo.Record, err error) {
			defer wg.Done()
			acked.mu.Lock()
			defer acked.mu.Unlock()
			if err != nil {
				acked.errs++
				return
			}
			acked.recs[[2]int64{int64(rec.Partition), rec.Offset}] = rec.Value
		})
		if seq%64 == 63 {
			// Bound what is in flight so the kill lands mid-stream.
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
}

// brokerAddrs lists the brokers' addresses.
func (c *brokerCluster) brokerAddrs() []string {
	var out []string
	for _, b := range c.brokers {
		out = append(out, b.addr())
	}
	return out
}

// restart starts a killed broker again once its old session is gone (as in
// Kafka, a broker id still registered by another session refuses to start).
func (c *brokerCluster) restart(id int) {
	c.t.Helper()
	zc := coordConnect(c.t, c.zkAddr, 10*time.Second)
	require.Eventually(c.t, func() bool {
		ok, _, err := zc.Exists(fmt.Sprintf("/brokers/ids/%d", id))
		return err == nil && !ok
	}, 30*time.Second, 100*time.Millisecond, "broker %d's registration never expired", id)
	c.start(id)
}

// brokerVerify reads every partition of topic from the start and checks
// each acknowledged record is there at its offset with its bytes.
func brokerVerify(t *testing.T, c *brokerCluster, topic string, partitions int, acked *brokerAcked) {
	t.Helper()
	acked.mu.Lock()
	defer acked.mu.Unlock()
	ends := map[int32]int64{}
	for k := range acked.recs {
		if k[1]+1 > ends[int32(k[0])] {
			ends[int32(k[0])] = k[1] + 1
		}
	}
	cl := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[[2]int64][]byte{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := func() bool {
		for p, end := range ends {
			if _, ok := got[[2]int64{int64(p), end - 1}]; !ok {
				return false
			}
		}
		return true
	}
	for !done() && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got[[2]int64{int64(r.Partition), r.Offset}] = r.Value })
	}
	missing := 0
	for k, v := range acked.recs {
		g, ok := got[k]
		if !ok {
			missing++
			continue
		}
		require.Equal(t, v, g, "partition %d offset %d: other bytes than acknowledged", k[0], k[1])
	}
	require.Zero(t, missing, "%d of %d acknowledged records are gone", missing, len(acked.recs))
}

// brokerKillRun loads the topic, kills the listed brokers with SIGKILL
// mid-load, restarts them and checks every acknowledged record.
func brokerKillRun(t *testing.T, c *brokerCluster, topic string, partitions int, acks kgo.Acks, kill []int) {
	acked := &brokerAcked{recs: map[[2]int64][]byte{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loaded := make(chan struct{})
	go func() { defer close(loaded); brokerLoad(ctx, t, c, topic, acks, acked) }()
	require.Eventually(t, func() bool {
		acked.mu.Lock()
		defer acked.mu.Unlock()
		return len(acked.recs) >= 3000
	}, 60*time.Second, 20*time.Millisecond, "the load never got 3000 acknowledgements")
	for _, id := range kill {
		c.kill9(id)
	}
	time.AfterFunc(500*time.Millisecond, cancel)
	select {
	case <-loaded:
	case <-time.After(30 * time.Second):
		t.Fatal("the producer did not settle within 30s of the kill")
	}
	acked.mu.Lock()
	n, errs := len(acked.recs), acked.errs
	acked.mu.Unlock()
	t.Logf("%d records acknowledged, %d failed around the kill", n, errs)
	for _, id := range kill {
		c.restart(id)
	}
	c.waitBrokers(len(c.brokers))
	brokerVerify(t, c, topic, partitions, acked)

	// New appends go after every acknowledged offset: none is reused.
	cl := c.client(kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < int32(partitions); p++ {
		var last int64 = -1
		for k := range acked.recs {
			if int32(k[0]) == p && k[1] > last {
				last = k[1]
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("after the restart")})
		cancel()
		require.NoError(t, res.FirstErr(), "partition %d after the restart", p)
		r, _ := res.First()
		require.Greater(t, r.Offset, last, "partition %d: an append after the restart reuses an acknowledged offset", p)
	}
}

// TestBrokerKill9AcksOne: acks=1 with a flush after every message; a
// broker killed with SIGKILL mid-load keeps every acknowledged record at
// its offset.
func TestBrokerKill9AcksOne(t *testing.T) {
	c := newBrokerCluster(t, 1, "log.flush.interval.messages=1\n")
	c.createTopic("durable1", 3, 1, nil)
	brokerKillRun(t, c, "durable1", 3, kgo.LeaderAck(), []int{0})
}

// TestBrokerKill9AcksAllRF3: acks=all on RF 3; all three brokers killed
// with SIGKILL mid-load (the OS keeps what they wrote) keep every
// acknowledged record.
func TestBrokerKill9AcksAllRF3(t *testing.T) {
	c := newBrokerCluster(t, 3, "")
	c.createTopic("durable3", 3, 3, nil)
	brokerKillRun(t, c, "durable3", 3, kgo.AllISRAcks(), []int{0, 1, 2})
}

// TestBrokerKill9LeaderAcksAll: acks=all on RF 3 with min.insync.replicas=2;
// the leader of partition 0 killed mid-load: the survivors keep every
// acknowledged record (unclean election is off).
func TestBrokerKill9LeaderAcksAll(t *testing.T) {
	c := newBrokerCluster(t, 3, "min.insync.replicas=2\n")
	c.createTopic("durable-leader", 2, 3, nil)
	adm := c.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx, "durable-leader")
	require.NoError(t, err)
	leader := int(td["durable-leader"].Partitions[0].Leader)
	brokerKillRun(t, c, "durable-leader", 2, kgo.AllISRAcks(), []int{leader})
}
