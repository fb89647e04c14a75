package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errBench is the prefix of every failure this program reports.
var errBench = errors.New("kafka-bench")

// spec is one measurement: a topic, its records and the produce settings.
type spec struct {
	servers     []string
	topic       string
	records     int
	recordSize  int
	partitions  int32
	replication int16
	acks        string // 0, 1 or all
	linger      time.Duration
	partitioner string // round-robin or sticky (franz-go's default)
	serverPIDs  []int  // server processes whose CPU time is reported (kfake in its own process, kzoo's brokers)
}

// result is what one run of produce then consume measured.
type result struct {
	produceRecs, produceMB float64 // per second
	p50, p99               time.Duration
	consumeRecs, consumeMB float64 // per second
	// CPU per produced record in µs: this process (the producer, and
	// kfake when it runs in here) and the server processes (-1 when
	// unknown or none).
	cpuSelf, cpuServers float64
	// The same while consuming, over all consumePasses passes, and the
	// mean records in a batch read.
	consumeCPUSelf, consumeCPUServers float64
	consumeRecsPerBatch               float64
	// recsPerBatch is the mean records in a produced batch: with linger
	// 0 the producer batches what arrives while a request is in flight,
	// so it shows how the server's response time shaped the load.
	recsPerBatch float64
	// idle is the share of the machine's CPU left idle while producing
	// (-1 when unknown): above zero, the producer waited on the server
	// rather than on the CPU.
	idle float64
}

// batchCounter counts the batches and records a producer wrote.
type batchCounter struct{ batches, records atomic.Int64 }

func (b *batchCounter) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	b.batches.Add(1)
	b.records.Add(int64(m.NumRecords))
}

// perBatch is the mean records in a batch written (0 before any).
func (b *batchCounter) perBatch() float64 {
	return float64(b.records.Load()) / float64(max(b.batches.Load(), 1))
}

const mib = 1024 * 1024

// latencyEvery is how often a produced record is timed: one in this many.
const latencyEvery = 16

// consumePasses is how many times a round reads the topic back.
const consumePasses = 5

// createTopic makes the benchmark's topic and waits until every partition
// has a leader that answers.
func createTopic(ctx context.Context, s spec) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.servers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = s.topic, s.partitions, s.replication
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("%w: creating topic %s on %s: %v", errBench, s.topic, strings.Join(s.servers, ","), err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("%w: creating topic %s: %v", errBench, s.topic, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !topicReady(ctx, cl, s) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: topic %s has no leader for every partition after 30 s", errBench, s.topic)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// topicReady reports whether every partition of the topic has a leader
// that knows it leads: metadata names one, and a ListOffsets, which the
// client sends to each partition's leader, succeeds everywhere. A leader
// that has not yet taken over would answer the first produce with
// NOT_LEADER_OR_FOLLOWER, and the producer's retry backoff would land in
// the measurement.
func topicReady(ctx context.Context, cl *kgo.Client, s spec) bool {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(s.topic)
	mreq.Topics = append(mreq.Topics, mt)
	m, err := mreq.RequestWith(ctx, cl)
	if err != nil || len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != int(s.partitions) ||
		slices.ContainsFunc(m.Topics[0].Partitions, func(p kmsg.MetadataResponseTopicPartition) bool { return p.Leader < 0 }) {
		return false
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = s.topic
	for p := range s.partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	for _, sh := range cl.RequestSharded(ctx, lreq) {
		resp, _ := sh.Resp.(*kmsg.ListOffsetsResponse)
		if sh.Err != nil || resp == nil {
			return false
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return false
				}
			}
		}
	}
	return true
}

// deleteTopic removes the benchmark's topic; failures only cost disk.
func deleteTopic(ctx context.Context, s spec) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.servers...))
	if err != nil {
		return
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = kmsg.StringPtr(s.topic)
	req.Topics = append(req.Topics, t)
	req.TopicNames = []string{s.topic}
	_, _ = req.RequestWith(ctx, cl)
}

// newProducer is a client producing to s's servers with s's acks, linger
// and partitioner, counting its batches into batches.
func newProducer(s spec, batches *batchCounter) (*kgo.Client, error) {
	acks, err := parseAcks(s.acks)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.servers...),
		kgo.RequiredAcks(acks),
		kgo.ProducerLinger(s.linger),
		kgo.WithHooks(batches),
	}
	if s.partitioner == "round-robin" {
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	}
	if s.acks != "all" && s.acks != "-1" {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return kgo.NewClient(opts...)
}

// randomValue is a record value of n random capital letters.
func randomValue(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('A' + rand.IntN(26))
	}
	return p
}

// measureProduce sends s.records records of s.recordSize random bytes,
// keyless, as fast as the client takes them, and times every
// latencyEvery-th from the Produce call to its acknowledgement. It fills
// r's produce figures.
func measureProduce(ctx context.Context, s spec) (r result, err error) {
	var batches batchCounter
	cl, err := newProducer(s, &batches)
	if err != nil {
		return r, err
	}
	defer cl.Close()
	payload := randomValue(s.recordSize)
	// Every latencyEvery-th record is timed, from the Produce call to its
	// acknowledgement; the others carry the timed record's timestamp
	// (franz-go reads the clock for a record only when its Timestamp is
	// zero). A clock read costs tens of ns on some virtual machines, and
	// two per record took a fifth of the producer's CPU, which the servers
	// measured here would otherwise have had; a 1-in-16 sample of 1M
	// records still puts over 600 latencies above the p99.
	// Two promises serve all records (no closure a record): latencies go
	// to the next free slot, since only their distribution is reported.
	lat := make([]int64, (s.records+latencyEvery-1)/latencyEvery)
	var done, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { firstErr = err })
		}
	}
	timed := func(r *kgo.Record, err error) {
		if err != nil {
			promise(r, err)
			return
		}
		lat[done.Add(1)-1] = int64(time.Since(r.Timestamp))
	}
	cpu0 := sampleCPU(s.serverPIDs)
	start := time.Now()
	var now time.Time
	for i := range s.records {
		p := promise
		if i%latencyEvery == 0 {
			now, p = time.Now(), timed
		}
		cl.Produce(ctx, &kgo.Record{Topic: s.topic, Value: payload, Timestamp: now}, p)
	}
	if err := cl.Flush(ctx); err != nil {
		return r, err
	}
	elapsed := time.Since(start).Seconds()
	cpu1 := sampleCPU(s.serverPIDs)
	r.cpuSelf, r.cpuServers = perRecord(cpu0, cpu1, s.records)
	r.idle = idleShare(cpu0, cpu1)
	if n := failed.Load(); n > 0 {
		return r, fmt.Errorf("%w: %d of %d produces to %s failed, first: %v", errBench, n, s.records, s.topic, firstErr)
	}
	r.recsPerBatch = batches.perBatch()
	lat = lat[:done.Load()]
	slices.Sort(lat)
	r.p50 = time.Duration(lat[len(lat)/2])
	r.p99 = time.Duration(lat[len(lat)*99/100])
	r.produceRecs = float64(s.records) / elapsed
	r.produceMB = float64(s.records*s.recordSize) / mib / elapsed
	return r, nil
}

// measureConsume reads the topic from the start until s.records records
// have arrived (no consumer group, as a partition-direct reader).
func measureConsume(ctx context.Context, s spec) (recsPerSec, mbPerSec float64, err error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(s.servers...),
		kgo.ConsumeTopics(s.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(50*mib),
		kgo.FetchMaxPartitionBytes(mib),
	)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var n, bytes int
	start := time.Now()
	for n < s.records {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("%w: consumed %d of %d records of %s before the deadline", errBench, n, s.records, s.topic)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("%w: fetching %s-%d: %v", errBench, t, p, err) })
		if ferr != nil {
			return 0, 0, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			bytes += len(r.Value) + len(r.Key)
		})
	}
	elapsed := time.Since(start).Seconds()
	return float64(n) / elapsed, float64(bytes) / mib / elapsed, nil
}

// fillTopic produces s.records records as measureProduce does, but with
// franz-go's default linger and partitioner and without timing them, and
// reports the mean records per batch. Its batches (about 5,000 records,
// cut by size and linger) do not depend on how fast the server answers,
// as measureProduce's do, so a topic it fills reads back the same on every
// target.
func fillTopic(ctx context.Context, s spec) (recsPerBatch float64, err error) {
	s.linger, s.partitioner = 10*time.Millisecond, "sticky"
	var batches batchCounter
	cl, err := newProducer(s, &batches)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	value := randomValue(s.recordSize)
	var failed atomic.Int64
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
		}
	}
	for range s.records {
		cl.Produce(ctx, &kgo.Record{Topic: s.topic, Value: value}, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("%w: %d of %d produces to %s failed", errBench, n, s.records, s.topic)
	}
	return batches.perBatch(), nil
}

// measure creates the topic, produces, and deletes the topic; then fills
// a second topic with fillTopic and reads it back consumePasses times.
// Reading what the produce phase wrote would measure how that phase
// batched (a server that answers sooner gets smaller batches, which cost
// the consumer more per record) rather than how the server reads.
func measure(ctx context.Context, s spec) (result, error) {
	if err := createTopic(ctx, s); err != nil {
		return result{}, err
	}
	r, err := measureProduce(ctx, s)
	deleteTopic(context.WithoutCancel(ctx), s)
	if err != nil {
		return r, err
	}
	s.topic += "-read"
	if err := createTopic(ctx, s); err != nil {
		return r, err
	}
	defer deleteTopic(context.WithoutCancel(ctx), s)
	if r.consumeRecsPerBatch, err = fillTopic(ctx, s); err != nil {
		return r, err
	}
	// A pass reads 1M records in 50-80 ms, where a GC cycle or a
	// scheduling hiccup moves the rate by a third: the median of
	// consumePasses passes, each with a new client, is the round's figure.
	var recs, mbs []float64
	cpu0 := sampleCPU(s.serverPIDs)
	for range consumePasses {
		rec, mb, err := measureConsume(ctx, s)
		if err != nil {
			return r, err
		}
		recs, mbs = append(recs, rec), append(mbs, mb)
	}
	r.consumeCPUSelf, r.consumeCPUServers = perRecord(cpu0, sampleCPU(s.serverPIDs), consumePasses*s.records)
	r.consumeRecs, r.consumeMB = median(recs), median(mbs)
	return r, nil
}

// best keeps the best of each figure over rounds: highest rates, lowest
// latencies.
func best(rs []result) result {
	var b result
	for i, r := range rs {
		if i == 0 {
			b = r
			continue
		}
		b.produceRecs = max(b.produceRecs, r.produceRecs)
		b.produceMB = max(b.produceMB, r.produceMB)
		b.consumeRecs = max(b.consumeRecs, r.consumeRecs)
		b.consumeMB = max(b.consumeMB, r.consumeMB)
		b.p50 = min(b.p50, r.p50)
		b.p99 = min(b.p99, r.p99)
		b.cpuSelf = min(b.cpuSelf, r.cpuSelf)
		b.cpuServers = min(b.cpuServers, r.cpuServers)
		b.consumeCPUSelf = min(b.consumeCPUSelf, r.consumeCPUSelf)
		b.consumeCPUServers = min(b.consumeCPUServers, r.consumeCPUServers)
		b.recsPerBatch = max(b.recsPerBatch, r.recsPerBatch)
		b.consumeRecsPerBatch = max(b.consumeRecsPerBatch, r.consumeRecsPerBatch)
		b.idle = min(b.idle, r.idle)
	}
	return b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r result) String() string {
	return fmt.Sprintf("produce %10.0f rec/s %7.2f MB/s  p50 %7.2f ms  p99 %7.2f ms  rec/batch %5.0f  idle %3.0f%%  cpu µs/rec: bench %5.3f servers %s | consume %10.0f rec/s %7.2f MB/s  rec/batch %5.0f  cpu µs/rec: bench %5.3f servers %s",
		r.produceRecs, r.produceMB, ms(r.p50), ms(r.p99), r.recsPerBatch, 100*r.idle, r.cpuSelf, cpuFigure(r.cpuServers),
		r.consumeRecs, r.consumeMB, r.consumeRecsPerBatch, r.consumeCPUSelf, cpuFigure(r.consumeCPUServers))
}

// cpuFigure formats a servers' CPU per record, "-" when unknown.
func cpuFigure(us float64) string {
	if us < 0 {
		return "     -"
	}
	return fmt.Sprintf("%6.3f", us)
}
