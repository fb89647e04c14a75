package kafkatools

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumer-perf-test: kafka-consumer-perf-test.sh (ConsumerPerformance) of
// Kafka 3.x.
//
// Behavior: joins --group (default perf-consumer-NNNNN) on --topic from the
// earliest offset (--from-latest: the latest), reads until --messages
// records or --timeout ms without a record, then prints Kafka's CSV header
// and values line (MB = 2^20 bytes of keys and values; rebalance.time.ms is
// the time spent waiting for partition assignments, fetch.time.ms the rest).
// With --show-detailed-stats a line every --reporting-interval ms instead.
// When the cluster serves no consumer groups and --group was not given, it
// reads every partition directly and says so on stderr (rebalance.time.ms 0).

const perfDateFormat = "2006-01-02 15:04:05:000"

func consumerPerfOpts() *optSet {
	return &optSet{opts: []*opt{
		{name: "bootstrap-server", arg: "server to connect to", desc: "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to."},
		{name: "broker-list", arg: "broker-list", desc: "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified. The broker list string in the form HOST1:PORT1,HOST2:PORT2."},
		{name: "topic", arg: "topic", desc: "REQUIRED: The topic to consume from."},
		{name: "group", arg: "gid", def: "perf-consumer-NNNNN", desc: "The group id to consume on."},
		{name: "fetch-size", arg: "size", typ: "Integer", def: "1048576", desc: "The amount of data to fetch in a single request."},
		{name: "from-latest", desc: "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message."},
		{name: "socket-buffer-size", arg: "size", typ: "Integer", def: "2097152", desc: "The size of the tcp RECV size."},
		{name: "threads", arg: "count", typ: "Integer", def: "10", desc: "DEPRECATED AND IGNORED: Number of processing threads."},
		{name: "num-fetch-threads", arg: "count", typ: "Integer", def: "1", desc: "DEPRECATED AND IGNORED: Number of fetcher threads."},
		{name: "consumer.config", arg: "config file", desc: "Consumer config properties file."},
		{name: "print-metrics", desc: "Print out the metrics."},
		{name: "show-detailed-stats", desc: "If set, stats are reported for each reporting interval as configured by reporting-interval"},
		{name: "timeout", arg: "milliseconds", typ: "Long", def: "10000", desc: "The maximum allowed time in milliseconds between returned records."},
		{name: "messages", arg: "count", typ: "Long", desc: "REQUIRED: The number of messages to send or consume"},
		{name: "reporting-interval", arg: "interval_ms", typ: "Integer", def: "5000", desc: "Interval in milliseconds at which to print progress info."},
		{name: "hide-header", desc: "If set, skips printing the header for the stats"},
		{name: "date-format", arg: "date format", def: "yyyy-MM-dd HH:mm:ss:SSS", desc: "The date format to use for formatting the time field. See java.text.SimpleDateFormat for options."},
		{name: "version", desc: "Display Kafka version."},
	}}
}

// javaDate formats t with a java.text.SimpleDateFormat pattern's common
// letters (yyyy MM dd HH mm ss SSS), as --date-format takes them.
func javaDate(t time.Time, pattern string) string {
	layout := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05").Replace(pattern)
	return strings.ReplaceAll(t.Format(layout), "SSS", fmt.Sprintf("%03d", t.Nanosecond()/int(time.Millisecond)))
}

// consumeStats is what a consumer benchmark measured.
type consumeStats struct {
	messages, bytes int64
	start, end      time.Time
	joinMs          int64
	fetchRequests   int64
}

func (s consumeStats) mb() float64 { return float64(s.bytes) / (1024 * 1024) }

// csv is ConsumerPerformance's values line.
func (s consumeStats) csv(layout string) string {
	elapsed := s.end.Sub(s.start).Seconds()
	fetchMs := s.end.Sub(s.start).Milliseconds() - s.joinMs
	return fmt.Sprintf("%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f",
		javaDate(s.start, layout), javaDate(s.end, layout), s.mb(), s.mb()/elapsed, s.messages, float64(s.messages)/elapsed,
		s.joinMs, fetchMs, s.mb()/(float64(fetchMs)/1000), float64(s.messages)/(float64(fetchMs)/1000))
}

func runConsumerPerf(e *env, args []string) int {
	const about = "This tool helps in performance test for the full zookeeper consumer"
	s := consumerPerfOpts()
	if len(args) == 0 {
		return usageFail(e, s, about)
	}
	p, code := parseArgs(e, s, args, about)
	if p == nil {
		return code
	}
	if err := p.require("topic", "messages"); err != nil {
		return usageFail(e, s, err.Error())
	}
	bootstrap := p.str("bootstrap-server")
	if !p.has("bootstrap-server") {
		if !p.has("broker-list") {
			return usageFail(e, s, "Missing required argument \"[bootstrap-server]\"")
		}
		bootstrap = p.str("broker-list")
	}
	servers, err := splitServers(bootstrap)
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	props := map[string]string{}
	if p.has("consumer.config") {
		if props, err = loadProps(p.str("consumer.config")); err != nil {
			fmt.Fprintln(e.err, err)
			return 1
		}
	}
	group := p.str("group")
	explicitGroup := p.has("group")
	if !explicitGroup {
		group = randomGroup("perf-consumer-")
	}
	clientID := "perf-consumer-client"
	opts, err := commonOpts(servers, props, clientID)
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	opts = append(opts, consumerOpts(props)...)
	opts = append(opts, kgo.FetchMaxPartitionBytes(int32(p.int64("fetch-size"))))
	reset := kgo.NewOffset().AtStart()
	if p.has("from-latest") {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts, kgo.ConsumeTopics(p.str("topic")), kgo.ConsumeResetOffset(reset))

	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	groupsServed, err := probeGroups(ctx, servers, clientID, props)
	if err != nil {
		fmt.Fprintln(e.err, fmtErr("ERROR ", err))
		return 1
	}
	useGroup := groupsServed
	if !groupsServed {
		if explicitGroup {
			fmt.Fprintf(e.err, "ERROR The cluster at %s does not serve consumer groups (FindCoordinator/JoinGroup), so --group %s cannot be used\n", strings.Join(servers, ","), group)
			return 1
		}
		fmt.Fprintf(e.err, "WARN The cluster at %s does not serve consumer groups; reading every partition of %s directly (rebalance.time.ms is 0)\n", strings.Join(servers, ","), p.str("topic"))
	}
	run := consumePerfRun{
		messages: p.int64("messages"), timeout: time.Duration(p.int64("timeout")) * time.Millisecond,
		detailed: p.has("show-detailed-stats"), interval: time.Duration(p.int64("reporting-interval")) * time.Millisecond,
		layout: p.str("date-format"), printf: func(f string, a ...any) { fmt.Fprintf(e.out, f, a...) },
	}
	if useGroup {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
	}
	if !p.has("hide-header") {
		if run.detailed {
			fmt.Fprintln(e.out, "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
		} else {
			fmt.Fprintln(e.out, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
		}
	}
	st, err := consumePerf(ctx, opts, useGroup, run)
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	if st.messages < run.messages {
		fmt.Fprintf(e.out, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded. You can use the --timeout option to increase the timeout.\n", run.timeout.Milliseconds())
	}
	if !run.detailed {
		fmt.Fprintln(e.out, st.csv(run.layout))
	}
	if p.has("print-metrics") {
		printMetrics(e, map[string]float64{
			"consumer-fetch-manager-metrics:records-consumed-total:{client-id=" + clientID + "}": float64(st.messages),
			"consumer-fetch-manager-metrics:bytes-consumed-total:{client-id=" + clientID + "}":   float64(st.bytes),
			"consumer-fetch-manager-metrics:fetch-total:{client-id=" + clientID + "}":            float64(st.fetchRequests),
		})
	}
	return 0
}

// consumePerfRun is one consumer benchmark.
type consumePerfRun struct {
	messages int64
	timeout  time.Duration
	detailed bool
	interval time.Duration
	layout   string
	printf   func(string, ...any)
}

// fetchCounter counts Fetch requests written, for --print-metrics.
type fetchCounter struct{ n atomic.Int64 }

func (f *fetchCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 1 && err == nil {
		f.n.Add(1)
	}
}

// consumePerf is ConsumerPerformance.consume. It is also what bench/kafka
// measures.
func consumePerf(ctx context.Context, opts []kgo.Opt, group bool, run consumePerfRun) (consumeStats, error) {
	var joinNanos, roundJoinNanos atomic.Int64
	var joinStart atomic.Int64 // unix nanos of the last revoke or start
	joinStart.Store(time.Now().UnixNano())
	fc := &fetchCounter{}
	opts = append(opts, kgo.WithHooks(fc))
	if group {
		opts = append(opts,
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
				d := time.Now().UnixNano() - joinStart.Load()
				joinNanos.Add(d)
				roundJoinNanos.Add(d)
			}),
			kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) { joinStart.Store(time.Now().UnixNano()) }),
		)
	}
	st := consumeStats{start: time.Now()}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return st, err
	}
	defer cl.Close()
	lastConsumed := time.Now()
	lastReport := lastConsumed
	var lastBytes, lastMessages int64
	for st.messages < run.messages && time.Since(lastConsumed) <= run.timeout && ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		now := time.Now()
		iter := fetches.RecordIter()
		if !iter.Done() {
			lastConsumed = now
		}
		for !iter.Done() {
			r := iter.Next()
			st.messages++
			st.bytes += int64(len(r.Key) + len(r.Value))
			if now.Sub(lastReport) >= run.interval {
				if run.detailed {
					join := roundJoinNanos.Swap(0) / int64(time.Millisecond)
					fetchMs := now.Sub(lastReport).Milliseconds() - join
					mb := float64(st.bytes) / (1024 * 1024)
					run.printf("%s, %d, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f\n",
						javaDate(now, run.layout), 0, mb, 1000*(float64(st.bytes-lastBytes)/(1024*1024))/float64(now.Sub(lastReport).Milliseconds()),
						st.messages, 1000*float64(st.messages-lastMessages)/float64(now.Sub(lastReport).Milliseconds()),
						join, fetchMs, 1000*(float64(st.bytes-lastBytes)/(1024*1024))/float64(fetchMs), 1000*float64(st.messages-lastMessages)/float64(fetchMs))
				} else {
					roundJoinNanos.Store(0)
				}
				lastReport, lastBytes, lastMessages = now, st.bytes, st.messages
			}
		}
	}
	st.end = time.Now()
	st.joinMs = joinNanos.Load() / int64(time.Millisecond)
	st.fetchRequests = fc.n.Load()
	return st, nil
}
