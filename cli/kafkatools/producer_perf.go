package kafkatools

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producer-perf-test: kafka-producer-perf-test.sh (ProducerPerformance) of
// Kafka 3.x.
//
// Behavior: sends --num-records records of --record-size random capital
// letters (or lines of --payload-file) with a null key, throttled to
// --throughput records/s (-1: unthrottled); every 5 s prints the window's
// `N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max
// latency.` and at the end the total with 50th/95th/99th/99.9th latency
// percentiles over at most 500000 sampled sends. Latency is from send to
// acknowledgement, in whole milliseconds, as Kafka measures it.

const perfReportingMs = 5000

func producerPerfOpts() *optSet {
	return &optSet{opts: []*opt{
		{name: "topic", arg: "TOPIC", desc: "produce messages to this topic"},
		{name: "num-records", arg: "NUM-RECORDS", typ: "Long", desc: "number of messages to produce"},
		{name: "record-size", arg: "RECORD-SIZE", typ: "Integer", desc: "message size in bytes. Note that you must provide exactly one of --record-size or --payload-file."},
		{name: "payload-file", arg: "PAYLOAD-FILE", desc: "file to read the message payloads from. This works only for UTF-8 encoded text files. Payloads will be read from this file and a payload will be randomly selected when sending messages. Note that you must provide exactly one of --record-size or --payload-file."},
		{name: "payload-delimiter", arg: "PAYLOAD-DELIMITER", def: "\\n", desc: "provides delimiter to be used when --payload-file is provided. This parameter will be ignored if --payload-file is not provided."},
		{name: "throughput", arg: "THROUGHPUT", typ: "Long", desc: "throttle maximum message throughput to *approximately* THROUGHPUT messages/sec. Set this to -1 to disable throttling."},
		{name: "producer-props", arg: "PROP-NAME=PROP-VALUE", nargs: true, desc: "kafka producer related configuration properties like bootstrap.servers,client.id etc. These configs take precedence over those passed via --producer.config."},
		{name: "producer.config", arg: "CONFIG-FILE", desc: "producer config properties file."},
		{name: "bootstrap-server", arg: "BOOTSTRAP-SERVER", desc: "The server(s) to connect to. Overrides bootstrap.servers in --producer-props and --producer.config."},
		{name: "print-metrics", desc: "print out metrics at the end of the test."},
		{name: "transactional-id", arg: "TRANSACTIONAL-ID", def: "performance-producer-default-transactional-id", desc: "The transactionalId to use if transaction-duration-ms is > 0. Useful when testing the performance of concurrent transactions."},
		{name: "transaction-duration-ms", arg: "TRANSACTION-DURATION", typ: "Long", def: "0", desc: "The max age of each transaction. The commitTransaction will be called after this time has elapsed. Transactions are only enabled if this value is positive."},
	}}
}

// perfStats is ProducerPerformance.Stats.
type perfStats struct {
	mu                          sync.Mutex
	w                           func(format string, a ...any)
	start, windowStart          time.Time
	sampling                    int64
	latencies                   []int
	count, bytes                int64
	totalLatency, maxLatency    int64
	windowCount, windowBytes    int64
	windowTotalLat, windowMaxLt int64
	errors                      int64
}

func newPerfStats(numRecords int64, w func(string, ...any)) *perfStats {
	sampling := numRecords / min(numRecords, 500000)
	if sampling < 1 {
		sampling = 1
	}
	now := time.Now()
	return &perfStats{w: w, start: now, windowStart: now, sampling: sampling, latencies: make([]int, 0, numRecords/sampling+1)}
}

func (s *perfStats) record(iteration int64, latencyMs int64, bytes int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.bytes += int64(bytes)
	s.totalLatency += latencyMs
	s.maxLatency = max(s.maxLatency, latencyMs)
	s.windowCount++
	s.windowBytes += int64(bytes)
	s.windowTotalLat += latencyMs
	s.windowMaxLt = max(s.windowMaxLt, latencyMs)
	if iteration%s.sampling == 0 {
		s.latencies = append(s.latencies, int(latencyMs))
	}
	if now.Sub(s.windowStart) >= perfReportingMs*time.Millisecond {
		s.printWindow(now)
		s.windowStart, s.windowCount, s.windowBytes, s.windowTotalLat, s.windowMaxLt = now, 0, 0, 0, 0
	}
}

// Lock should be held.
func (s *perfStats) printWindow(now time.Time) {
	elapsed := float64(now.Sub(s.windowStart).Milliseconds())
	if elapsed <= 0 {
		elapsed = 1
	}
	avg := 0.0
	if s.windowCount > 0 {
		avg = float64(s.windowTotalLat) / float64(s.windowCount)
	}
	s.w("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
		s.windowCount, 1000*float64(s.windowCount)/elapsed, 1000*float64(s.windowBytes)/elapsed/(1024*1024), avg, float64(s.windowMaxLt))
}

// Total is the summary of a finished run.
type perfTotal struct {
	Count                   int64
	RecordsPerSec, MBPerSec float64
	AvgLatency, MaxLatency  float64
	P50, P95, P99, P999     int
	Elapsed                 time.Duration
}

func (s *perfStats) total(now time.Time) perfTotal {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := float64(now.Sub(s.start).Milliseconds())
	if elapsed <= 0 {
		elapsed = 1
	}
	t := perfTotal{Count: s.count, Elapsed: now.Sub(s.start), MaxLatency: float64(s.maxLatency)}
	t.RecordsPerSec = 1000 * float64(s.count) / elapsed
	t.MBPerSec = 1000 * float64(s.bytes) / elapsed / (1024 * 1024)
	if s.count > 0 {
		t.AvgLatency = float64(s.totalLatency) / float64(s.count)
	}
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	perc := func(p float64) int {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)))]
	}
	t.P50, t.P95, t.P99, t.P999 = perc(0.5), perc(0.95), perc(0.99), perc(0.999)
	return t
}

func (t perfTotal) String() string {
	return fmt.Sprintf("%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.",
		t.Count, t.RecordsPerSec, t.MBPerSec, t.AvgLatency, t.MaxLatency, t.P50, t.P95, t.P99, t.P999)
}

// produceMetrics counts what the client wrote, for --print-metrics.
type produceMetrics struct {
	requests, requestBytes atomic.Int64
	writeNanos             atomic.Int64
}

func (m *produceMetrics) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, timeToWrite time.Duration, err error) {
	if key == 0 && err == nil {
		m.requests.Add(1)
		m.requestBytes.Add(int64(n))
		m.writeNanos.Add(int64(timeToWrite))
	}
}

func runProducerPerf(e *env, args []string) int {
	s := producerPerfOpts()
	p, code := parseArgs(e, s, args, "This tool is used to verify the producer performance.")
	if p == nil {
		return code
	}
	if err := p.require("topic", "num-records", "throughput"); err != nil {
		return usageFail(e, s, err.Error())
	}
	if p.has("record-size") == p.has("payload-file") {
		return usageFail(e, s, "Exactly one of --record-size or --payload-file must be specified.")
	}
	if !p.has("producer-props") && !p.has("producer.config") && !p.has("bootstrap-server") {
		return usageFail(e, s, "Either --producer-props or --producer.config must be specified.")
	}
	props := map[string]string{}
	var err error
	if p.has("producer.config") {
		if props, err = loadProps(p.str("producer.config")); err != nil {
			fmt.Fprintln(e.err, err)
			return 1
		}
	}
	if err := parseKVs(props, p.all("producer-props"), "producer property"); err != nil {
		return usageFail(e, s, err.Error())
	}
	if p.has("bootstrap-server") {
		props["bootstrap.servers"] = p.str("bootstrap-server")
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "perf-producer-client"
	}
	servers, err := splitServers(props["bootstrap.servers"])
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	numRecords := p.int64("num-records")
	if numRecords <= 0 {
		return usageFail(e, s, "--num-records should be greater than zero")
	}
	payloads, err := perfPayloads(p, e)
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	txnMs := p.int64("transaction-duration-ms")
	if txnMs > 0 {
		props["transactional.id"] = p.str("transactional-id")
	}
	pc, err := producerOpts(servers, props, "perf-producer-client")
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	metrics := &produceMetrics{}
	pc.opts = append(pc.opts, kgo.WithHooks(metrics))
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cl, err := newProducer(ctx, servers, pc)
	if err != nil {
		fmt.Fprintln(e.err, fmtErr("ERROR ", err))
		return 1
	}
	defer cl.Close()

	var outMu sync.Mutex
	printf := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(e.out, format, a...)
	}
	res, err := producePerf(ctx, cl, perfRun{
		topic: p.str("topic"), numRecords: numRecords, throughput: p.int64("throughput"),
		payloads: payloads, txnMs: txnMs, printf: printf, errw: e.err,
	})
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	printf("%s\n", res)
	if p.has("print-metrics") {
		printMetrics(e, map[string]float64{
			"producer-metrics:record-send-total:{client-id=" + props["client.id"] + "}":   float64(res.Count),
			"producer-metrics:record-error-total:{client-id=" + props["client.id"] + "}":  float64(res.errors),
			"producer-metrics:request-total:{client-id=" + props["client.id"] + "}":       float64(metrics.requests.Load()),
			"producer-metrics:outgoing-byte-total:{client-id=" + props["client.id"] + "}": float64(metrics.requestBytes.Load()),
			"producer-metrics:record-size-avg:{client-id=" + props["client.id"] + "}":     avgRecordSize(payloads),
			"producer-metrics:request-rate:{client-id=" + props["client.id"] + "}":        float64(metrics.requests.Load()) / res.Elapsed.Seconds(),
		})
	}
	return 0
}

func avgRecordSize(payloads [][]byte) float64 {
	var n int
	for _, p := range payloads {
		n += len(p)
	}
	return float64(n) / float64(len(payloads))
}

// printMetrics prints metrics as Kafka's ToolsUtils.printMetrics does.
func printMetrics(e *env, m map[string]float64) {
	names := make([]string, 0, len(m))
	width := len("Metric Name")
	for k := range m {
		names = append(names, k)
		width = max(width, len(k))
	}
	slices.Sort(names)
	fmt.Fprintf(e.out, "\n%-*s   %s\n", width, "Metric Name", "Value")
	for _, k := range names {
		fmt.Fprintf(e.out, "%-*s : %.3f\n", width, k, m[k])
	}
}

// perfPayloads is the payload to send: one random record of --record-size
// capital letters, or the --payload-file's pieces.
func perfPayloads(p *parsed, e *env) ([][]byte, error) {
	if p.has("record-size") {
		size := p.int64("record-size")
		if size < 0 {
			return nil, fmt.Errorf("--record-size must not be negative: %d", size)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte('A' + rand.IntN(26))
		}
		return [][]byte{b}, nil
	}
	path := p.str("payload-file")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading payload file %s: %w", path, err)
	}
	delim := unescape(p.str("payload-delimiter"))
	fmt.Fprintf(e.out, "Reading payloads from: %s\n", path)
	var out [][]byte
	for _, piece := range strings.Split(string(data), delim) {
		if piece != "" {
			out = append(out, []byte(piece))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("No payloads found in %s", path)
	}
	fmt.Fprintf(e.out, "Number of messages read: %d\n", len(out))
	return out, nil
}

// perfRun is one producer benchmark.
type perfRun struct {
	topic      string
	numRecords int64
	throughput int64
	payloads   [][]byte
	txnMs      int64
	printf     func(string, ...any)
	errw       interface{ Write([]byte) (int, error) }
}

type perfResult struct {
	perfTotal
	errors int64
}

func (r perfResult) String() string { return r.perfTotal.String() }

// producePerf sends the records, throttled, and returns the totals once
// every record is acknowledged. It is also what bench/kafka measures.
func producePerf(ctx context.Context, cl *kgo.Client, run perfRun) (perfResult, error) {
	stats := newPerfStats(run.numRecords, run.printf)
	var errs atomic.Int64
	var firstErr atomic.Value
	txnStart := time.Now()
	if run.txnMs > 0 {
		if err := cl.BeginTransaction(); err != nil {
			return perfResult{}, err
		}
	}
	start := time.Now()
	for i := int64(0); i < run.numRecords && ctx.Err() == nil; i++ {
		if run.txnMs > 0 && time.Since(txnStart) >= time.Duration(run.txnMs)*time.Millisecond {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				return perfResult{}, err
			}
			if err := cl.BeginTransaction(); err != nil {
				return perfResult{}, err
			}
			txnStart = time.Now()
		}
		payload := run.payloads[0]
		if len(run.payloads) > 1 {
			payload = run.payloads[rand.IntN(len(run.payloads))]
		}
		sent := time.Now()
		iter := i
		cl.Produce(ctx, &kgo.Record{Topic: run.topic, Value: payload}, func(r *kgo.Record, err error) {
			now := time.Now()
			if err != nil {
				if errs.Add(1) == 1 {
					firstErr.Store(err)
				}
				if errs.Load() <= 10 {
					fmt.Fprintf(run.errw, "org.apache.kafka.common.KafkaException: sending to %s: %v\n", r.Topic, err)
				}
				return
			}
			stats.record(iter, now.Sub(sent).Milliseconds(), len(payload), now)
		})
		if run.throughput > 0 {
			// ThroughputThrottler: stay at or under the target rate.
			due := start.Add(time.Duration(float64(i+1) / float64(run.throughput) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
	}
	// Like the Java producer's delivery.timeout.ms, the final flush is
	// bounded: a cluster that went away must not hang the run.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		return perfResult{}, fmt.Errorf("flushing the last records: %w", err)
	}
	if run.txnMs > 0 {
		if err := cl.EndTransaction(flushCtx, kgo.TryCommit); err != nil {
			return perfResult{}, err
		}
	}
	res := perfResult{perfTotal: stats.total(time.Now()), errors: errs.Load()}
	if res.Count == 0 && res.errors > 0 {
		return res, fmt.Errorf("every send failed; first error: %v", firstErr.Load())
	}
	return res, nil
}
