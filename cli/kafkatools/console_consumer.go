package kafkatools

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// console-consumer: kafka-console-consumer.sh of Kafka 3.x.
//
// Behavior: prints each record with DefaultMessageFormatter's layout
// (print.timestamp, print.partition, print.offset, print.headers,
// print.key, print.value, key.separator, line.separator, headers.separator,
// null.literal) as soon as its fetch arrives; stops after --max-messages,
// after --timeout-ms without a record (logging Kafka's TimeoutException
// line), or on SIGINT/SIGTERM; then prints `Processed a total of N messages`
// on stderr and exits 0. Without --group it reads every partition directly
// (Kafka would join a throw-away group with auto-commit off: the records
// shown are the same); with --group it joins that consumer group and
// commits, if the cluster serves consumer groups, and otherwise says so and
// exits 1.

func consoleConsumerOpts() *optSet {
	return &optSet{opts: []*opt{
		{name: "topic", arg: "topic", desc: "The topic to consume on."},
		{name: "whitelist", arg: "Java regex (String)", desc: "DEPRECATED, use --include instead; ignored if --include specified. Regular expression specifying list of topics to include for consumption."},
		{name: "include", arg: "Java regex (String)", desc: "Regular expression specifying list of topics to include for consumption."},
		{name: "partition", arg: "partition", typ: "Integer", desc: "The partition to consume from. Consumption starts from the end of the partition unless '--offset' is specified."},
		{name: "offset", arg: "consume offset", def: "latest", desc: "The offset to consume from (a non-negative number), or 'earliest' which means from beginning, or 'latest' which means from end"},
		{name: "consumer-property", arg: "consumer_prop", desc: "A mechanism to pass user-defined properties in the form key=value to the consumer."},
		{name: "consumer.config", arg: "config file", desc: "Consumer config properties file. Note that [consumer-property] takes precedence over this config."},
		{name: "formatter", arg: "class", def: "kafka.tools.DefaultMessageFormatter", desc: "The name of a class to use for formatting kafka messages for display."},
		{name: "property", arg: "prop", desc: "The properties to initialize the message formatter. Default properties include:\n\tprint.timestamp=true|false\n\tprint.key=true|false\n\tprint.offset=true|false\n\tprint.partition=true|false\n\tprint.headers=true|false\n\tprint.value=true|false\n\tkey.separator=<key.separator>\n\tline.separator=<line.separator>\n\theaders.separator=<line.separator>\n\tnull.literal=<null.literal>\n\tkey.deserializer=<key.deserializer>\n\tvalue.deserializer=<value.deserializer>\n\theader.deserializer=<header.deserializer>"},
		{name: "from-beginning", desc: "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message."},
		{name: "max-messages", arg: "num_messages", typ: "Integer", desc: "The maximum number of messages to consume before exiting. If not set, consumption is continual."},
		{name: "timeout-ms", arg: "timeout_ms", typ: "Integer", desc: "If specified, exit if no message is available for consumption for the specified interval."},
		{name: "skip-message-on-error", desc: "If there is an error when processing a message, skip it instead of halt."},
		{name: "bootstrap-server", arg: "server to connect to", desc: "REQUIRED: The server(s) to connect to."},
		{name: "key-deserializer", arg: "deserializer for key", desc: ""},
		{name: "value-deserializer", arg: "deserializer for values", desc: ""},
		{name: "enable-systest-events", desc: "Log lifecycle events of the consumer in addition to logging consumed messages. (This is specific for system tests.)"},
		{name: "isolation-level", arg: "isolation-level", def: "read_uncommitted", desc: "Set to read_committed in order to filter out transactional messages which are not committed. Set to read_uncommitted to read all messages."},
		{name: "group", arg: "consumer group id", desc: "The consumer group id of the consumer."},
		{name: "version", desc: "Display Kafka version."},
	}}
}

// formatter is Kafka's DefaultMessageFormatter.
type formatter struct {
	timestamp, key, offset, partition, headers, value bool
	keySep, lineSep, headersSep, nullLiteral          string
}

func newFormatter(props map[string]string) *formatter {
	b := func(k string, def bool) bool {
		if v, ok := props[k]; ok {
			return strings.EqualFold(strings.TrimSpace(v), "true")
		}
		return def
	}
	s := func(k, def string) string {
		if v, ok := props[k]; ok {
			return unescape(v)
		}
		return def
	}
	return &formatter{
		timestamp: b("print.timestamp", false), key: b("print.key", false),
		offset: b("print.offset", false), partition: b("print.partition", false),
		headers: b("print.headers", false), value: b("print.value", true),
		keySep: s("key.separator", "\t"), lineSep: s("line.separator", "\n"),
		headersSep: s("headers.separator", ","), nullLiteral: s("null.literal", "null"),
	}
}

// unescape turns the \t, \n and \r a user typed into the characters, as
// Kafka's formatter properties do.
func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}

func (f *formatter) write(w *bufio.Writer, r *kgo.Record) {
	sep := func(more bool) {
		if more {
			w.WriteString(f.keySep)
		} else {
			w.WriteString(f.lineSep)
		}
	}
	bytesOrNull := func(b []byte) {
		if b == nil {
			w.WriteString(f.nullLiteral)
		} else {
			w.Write(b)
		}
	}
	if f.timestamp {
		switch r.Attrs.TimestampType() {
		case 0:
			fmt.Fprintf(w, "CreateTime:%d", r.Timestamp.UnixMilli())
		case 1:
			fmt.Fprintf(w, "LogAppendTime:%d", r.Timestamp.UnixMilli())
		default:
			w.WriteString("NO_TIMESTAMP")
		}
		sep(f.partition || f.offset || f.headers || f.key || f.value)
	}
	if f.partition {
		fmt.Fprintf(w, "Partition:%d", r.Partition)
		sep(f.offset || f.headers || f.key || f.value)
	}
	if f.offset {
		fmt.Fprintf(w, "Offset:%d", r.Offset)
		sep(f.headers || f.key || f.value)
	}
	if f.headers {
		if len(r.Headers) == 0 {
			w.WriteString("NO_HEADERS")
		}
		for i, h := range r.Headers {
			if i > 0 {
				w.WriteString(f.headersSep)
			}
			w.WriteString(h.Key)
			w.WriteString(":")
			bytesOrNull(h.Value)
		}
		sep(f.key || f.value)
	}
	if f.key {
		bytesOrNull(r.Key)
		sep(f.value)
	}
	if f.value {
		bytesOrNull(r.Value)
		w.WriteString(f.lineSep)
	}
}

// parseOffset is ConsoleConsumer's --offset: earliest (-2), latest (-1) or
// a non-negative offset.
func parseOffset(s string) (int64, bool) {
	switch strings.ToLower(s) {
	case "earliest":
		return -2, true
	case "latest":
		return -1, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

func kgoOffset(o int64) kgo.Offset {
	switch o {
	case -2:
		return kgo.NewOffset().AtStart()
	case -1:
		return kgo.NewOffset().AtEnd()
	}
	return kgo.NewOffset().At(o)
}

// consumerOpts maps the Kafka consumer properties kgo has an equivalent for.
func consumerOpts(props map[string]string) []kgo.Opt {
	var opts []kgo.Opt
	// allow.auto.create.topics defaults to true in the Java consumer.
	if !strings.EqualFold(strings.TrimSpace(props["allow.auto.create.topics"]), "false") {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	n := func(k string) (int64, bool) {
		v, ok := props[k]
		if !ok {
			return 0, false
		}
		x, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return x, err == nil && x > 0
	}
	if x, ok := n("fetch.max.bytes"); ok {
		opts = append(opts, kgo.FetchMaxBytes(int32(x)))
	}
	if x, ok := n("max.partition.fetch.bytes"); ok {
		opts = append(opts, kgo.FetchMaxPartitionBytes(int32(x)))
	}
	if x, ok := n("fetch.max.wait.ms"); ok {
		opts = append(opts, kgo.FetchMaxWait(time.Duration(x)*time.Millisecond))
	}
	if x, ok := n("fetch.min.bytes"); ok {
		opts = append(opts, kgo.FetchMinBytes(int32(x)))
	}
	if x, ok := n("session.timeout.ms"); ok {
		opts = append(opts, kgo.SessionTimeout(time.Duration(x)*time.Millisecond))
	}
	if x, ok := n("heartbeat.interval.ms"); ok {
		opts = append(opts, kgo.HeartbeatInterval(time.Duration(x)*time.Millisecond))
	}
	if x, ok := n("auto.commit.interval.ms"); ok {
		opts = append(opts, kgo.AutoCommitInterval(time.Duration(x)*time.Millisecond))
	}
	if v := props["group.instance.id"]; v != "" {
		opts = append(opts, kgo.InstanceID(v))
	}
	return opts
}

func runConsoleConsumer(e *env, args []string) int {
	const about = "This tool helps to read data from Kafka topics and outputs it to standard output."
	s := consoleConsumerOpts()
	if len(args) == 0 {
		return usageFail(e, s, about)
	}
	p, code := parseArgs(e, s, args, about)
	if p == nil {
		return code
	}
	if err := p.require("bootstrap-server"); err != nil {
		return usageFail(e, s, err.Error())
	}
	include := p.str("include")
	if include == "" {
		include = p.str("whitelist")
	}
	if p.has("topic") == (include != "") {
		return usageFail(e, s, "Exactly one of include/topic is required.")
	}
	offset := int64(-1)
	if p.has("partition") {
		if !p.has("topic") {
			return usageFail(e, s, "The topic is required when partition is specified.")
		}
		if p.has("from-beginning") && p.has("offset") {
			return usageFail(e, s, "Options from-beginning and offset cannot be specified together.")
		}
		var ok bool
		if offset, ok = parseOffset(p.str("offset")); !ok {
			return usageFail(e, s, fmt.Sprintf("The provided offset value '%s' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.", p.str("offset")))
		}
		if p.has("from-beginning") {
			offset = -2
		}
	} else if p.has("offset") {
		return usageFail(e, s, "The partition is required when offset is specified.")
	}
	switch f := p.str("formatter"); f {
	case "kafka.tools.DefaultMessageFormatter", "org.apache.kafka.tools.consumer.DefaultMessageFormatter":
	default:
		return usageFail(e, s, fmt.Sprintf("--formatter %s is not available; only kafka.tools.DefaultMessageFormatter is", f))
	}
	props := map[string]string{}
	if p.has("consumer.config") {
		var err error
		if props, err = loadProps(p.str("consumer.config")); err != nil {
			fmt.Fprintln(e.err, err)
			return 1
		}
	}
	if err := parseKVs(props, p.all("consumer-property"), "consumer property"); err != nil {
		return usageFail(e, s, err.Error())
	}
	groups := map[string]bool{}
	if p.has("group") {
		groups[p.str("group")] = true
	}
	if g := props["group.id"]; g != "" {
		groups[g] = true
	}
	if len(groups) > 1 {
		var ids []string
		for g := range groups {
			ids = append(ids, g)
		}
		return usageFail(e, s, "The group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match. Detected group ids: '"+strings.Join(ids, "', '")+"'")
	}
	group := ""
	for g := range groups {
		group = g
	}
	if group != "" && p.has("partition") {
		return usageFail(e, s, "Options group and partition cannot be specified together.")
	}
	if p.has("from-beginning") && strings.EqualFold(props["auto.offset.reset"], "latest") {
		return usageFail(e, s, "Can't simultaneously specify --from-beginning and 'auto.offset.reset=latest'")
	}
	iso := strings.ToLower(p.str("isolation-level"))
	if v, ok := props["isolation.level"]; ok && !p.has("isolation-level") {
		iso = strings.ToLower(v)
	}
	if iso != "read_committed" && iso != "read_uncommitted" {
		return usageFail(e, s, fmt.Sprintf("Invalid value %s for configuration isolation.level: String must be one of: read_committed, read_uncommitted", iso))
	}
	fmtProps := map[string]string{}
	if err := parseKVs(fmtProps, p.all("property"), "property"); err != nil {
		return usageFail(e, s, err.Error())
	}
	servers, err := splitServers(p.str("bootstrap-server"))
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	clientID := "console-consumer"
	opts, err := commonOpts(servers, props, clientID)
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	opts = append(opts, consumerOpts(props)...)
	if iso == "read_committed" {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	reset := kgo.NewOffset().AtEnd()
	if p.has("from-beginning") || strings.EqualFold(props["auto.offset.reset"], "earliest") {
		reset = kgo.NewOffset().AtStart()
	}
	topic := p.str("topic")
	switch {
	case p.has("partition"):
		// An offset out of range falls back to auto.offset.reset, as in
		// Kafka (latest unless --from-beginning).
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {int32(p.int64("partition")): kgoOffset(offset)},
		}), kgo.ConsumeResetOffset(reset))
	case include != "":
		re, err := includeList(include)
		if err != nil {
			fmt.Fprintln(e.err, err)
			return 1
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(re.String()), kgo.ConsumeResetOffset(reset))
	default:
		opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(reset))
	}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group))
		if strings.EqualFold(props["enable.auto.commit"], "false") {
			opts = append(opts, kgo.DisableAutoCommit())
		}
	}

	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The client is started without consuming first, so that a missing
	// server or missing group support is reported before anything else.
	groupsServed, err := probeGroups(ctx, servers, clientID, props)
	if err != nil {
		fmt.Fprintln(e.err, fmtErr("ERROR ", err))
		return 1
	}
	if group != "" && !groupsServed {
		fmt.Fprintf(e.err, "ERROR The cluster at %s does not serve consumer groups (FindCoordinator/JoinGroup), so --group %s cannot be used; consume without --group, or with --partition\n", strings.Join(servers, ","), group)
		return 1
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	defer cl.Close()

	n := consume(ctx, e, cl, newFormatter(fmtProps), p.int64("max-messages"), p.int64("timeout-ms"), p.has("skip-message-on-error"))
	if group != "" {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cl.CommitUncommittedOffsets(cctx)
		cancel()
	}
	fmt.Fprintf(e.err, "Processed a total of %d messages\n", n)
	return 0
}

// consume runs ConsoleConsumer.process: it writes records as they arrive
// and returns how many it wrote.
func consume(ctx context.Context, e *env, cl *kgo.Client, f *formatter, maxMessages, timeoutMs int64, skipOnError bool) int64 {
	w := bufio.NewWriterSize(e.out, 64*1024)
	defer w.Flush()
	var n int64
	warned := map[string]bool{}
	last := time.Now()
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if timeoutMs > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, last.Add(time.Duration(timeoutMs)*time.Millisecond))
		}
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return n
		}
		got := false
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			msg := fmt.Sprintf("WARN Error fetching %s-%d: %v", t, p, err)
			if !warned[msg] {
				warned[msg] = true
				fmt.Fprintf(e.err, "[%s] %s\n", time.Now().Format("2006-01-02 15:04:05,000"), msg)
			}
		})
		iter := fetches.RecordIter()
		for !iter.Done() {
			r := iter.Next()
			got = true
			f.write(w, r)
			n++
			if maxMessages > 0 && n >= maxMessages {
				w.Flush()
				return n
			}
		}
		if err := w.Flush(); err != nil {
			if !skipOnError {
				fmt.Fprintf(e.err, "ERROR writing records: %v\n", err)
				return n
			}
		}
		if got {
			last = time.Now()
			continue
		}
		if timeoutMs > 0 && time.Since(last) >= time.Duration(timeoutMs)*time.Millisecond {
			fmt.Fprintf(e.err, "[%s] ERROR Error processing message, terminating consumer process:  (kafka.tools.ConsoleConsumer$)\norg.apache.kafka.common.errors.TimeoutException\n",
				time.Now().Format("2006-01-02 15:04:05,000"))
			return n
		}
	}
}

// randomGroup is the throw-away group name Kafka's tools make up.
func randomGroup(prefix string) string { return prefix + strconv.Itoa(rand.IntN(100000)) }
