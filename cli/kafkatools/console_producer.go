package kafkatools

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// console-producer: kafka-console-producer.sh of Kafka 3.x.
//
// Behavior: one record per stdin line (LineMessageReader: parse.key,
// key.separator, parse.headers, headers.delimiter, headers.separator,
// headers.key.separator, null.marker, ignore.error); the prompt `>` is
// printed before each line only when stdin is a terminal; at EOF every
// record is flushed and the tool exits 0. A failed send is reported on
// stderr as Kafka's ErrorLoggingCallback does and the tool carries on;
// with --sync each line is acknowledged before the next is read.

func consoleProducerOpts() *optSet {
	return &optSet{opts: []*opt{
		{name: "topic", arg: "topic", desc: "REQUIRED: The topic id to produce messages to."},
		{name: "bootstrap-server", arg: "server to connect to", desc: "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to. The broker list string in the form HOST1:PORT1,HOST2:PORT2."},
		{name: "broker-list", arg: "broker-list", desc: "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified.  The broker list string in the form HOST1:PORT1,HOST2:PORT2."},
		{name: "sync", desc: "If set message send requests to the brokers are synchronously, one at a time as they arrive."},
		{name: "compression-codec", arg: "compression-codec", optionalArg: true, desc: "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'.If specified without value, then it defaults to 'gzip'"},
		{name: "batch-size", arg: "size", typ: "Integer", def: "16384", desc: "Number of messages to send in a single batch if they are not being sent synchronously. please note that this option will be replaced if max-partition-memory-bytes is also set"},
		{name: "message-send-max-retries", arg: "Integer", typ: "Integer", def: "2147483647", desc: "Brokers can fail receiving the message for multiple reasons, and being unavailable transiently is just one of them. This property specifies the number of retries before the producer give up and drop this message. This is the option to control `retries` in producer configs."},
		{name: "retry-backoff-ms", arg: "Long", typ: "Long", def: "100", desc: "Before each retry, the producer refreshes the metadata of relevant topics. Since leader election takes a bit of time, this property specifies the amount of time that the producer waits before refreshing the metadata. This is the option to control `retry.backoff.ms` in producer configs."},
		{name: "timeout", arg: "timeout_ms", typ: "Long", def: "1000", desc: "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting sufficient batch size. The value is given in ms. This is the option to control `linger.ms` in producer configs."},
		{name: "request-required-acks", arg: "request required acks", def: "-1", desc: "The required `acks` of the producer requests"},
		{name: "request-timeout-ms", arg: "request timeout ms", typ: "Integer", def: "1500", desc: "The ack timeout of the producer requests. Value must be non-negative and non-zero."},
		{name: "metadata-expiry-ms", arg: "metadata expiration interval", typ: "Long", def: "300000", desc: "The period of time in milliseconds after which we force a refresh of metadata even if we haven't seen any leadership changes. This is the option to control `metadata.max.age.ms` in producer configs."},
		{name: "max-block-ms", arg: "max block on send", typ: "Long", def: "60000", desc: "The max time that the producer will block for during a send request."},
		{name: "max-memory-bytes", arg: "total memory in bytes", typ: "Long", def: "33554432", desc: "The total memory used by the producer to buffer records waiting to be sent to the server. This is the option to control `buffer.memory` in producer configs."},
		{name: "max-partition-memory-bytes", arg: "memory in bytes per partition", typ: "Long", def: "16384", desc: "The buffer size allocated for a partition. When records are received which are smaller than this size the producer will attempt to optimistically group them together until this size is reached. This is the option to control `batch.size` in producer configs."},
		{name: "socket-buffer-size", arg: "size", typ: "Integer", def: "102400", desc: "The size of the tcp RECV size. This is the option to control `send.buffer.bytes` in producer configs."},
		{name: "property", arg: "prop", desc: "A mechanism to pass user-defined properties in the form key=value to the message reader. This allows custom configuration for a user-defined message reader.\nDefault properties include:\n\tparse.key=false\n\tparse.headers=false\n\tignore.error=false\n\tkey.separator=\\t\n\theaders.delimiter=\\t\n\theaders.separator=,\n\theaders.key.separator=:\n\tnull.marker=   When set, any fields (key, value and headers) equal to this will be replaced by null"},
		{name: "producer-property", arg: "producer_prop", desc: "A mechanism to pass user-defined properties in the form key=value to the producer."},
		{name: "producer.config", arg: "config file", desc: "Producer config properties file. Note that [producer-property] takes precedence over this config."},
		{name: "line-reader", arg: "reader_class", def: "kafka.tools.ConsoleProducer$LineMessageReader", desc: "The class name of the class to use for reading lines from standard in. By default each line is read as a separate message."},
		{name: "version", desc: "Display Kafka version."},
	}}
}

// lineReader is Kafka's LineMessageReader.
type lineReader struct {
	parseKey, parseHeaders, ignoreError bool
	keySep, headersDelim, headersSep    string
	headerKeySep                        string
	nullMarker                          *string
	lineNumber                          int
}

func newLineReader(props map[string]string) *lineReader {
	get := func(k, def string) string {
		if v, ok := props[k]; ok {
			return v
		}
		return def
	}
	r := &lineReader{
		parseKey:     strings.EqualFold(get("parse.key", "false"), "true"),
		parseHeaders: strings.EqualFold(get("parse.headers", "false"), "true"),
		ignoreError:  strings.EqualFold(get("ignore.error", "false"), "true"),
		keySep:       get("key.separator", "\t"),
		headersDelim: get("headers.delimiter", "\t"),
		headersSep:   get("headers.separator", ","),
		headerKeySep: get("headers.key.separator", ":"),
	}
	if v, ok := props["null.marker"]; ok {
		r.nullMarker = &v
	}
	return r
}

// record turns one line (without its line ending) into a record.
func (r *lineReader) record(topic, line string) (*kgo.Record, error) {
	r.lineNumber++
	rec := &kgo.Record{Topic: topic}
	off := 0
	field := func(enabled bool, start int, sep, what string) (string, bool, error) {
		if !enabled {
			return "", false, nil
		}
		i := strings.Index(line[start:], sep)
		if i < 0 {
			if r.ignoreError {
				return "", false, nil
			}
			return "", false, fmt.Errorf("No %s found on line number %d: '%s'", what, r.lineNumber, line)
		}
		return line[start : start+i], true, nil
	}
	headers, ok, err := field(r.parseHeaders, 0, r.headersDelim, "headers delimiter")
	if err != nil {
		return nil, err
	}
	if ok {
		off = len(headers) + len(r.headersDelim)
		if r.nullMarker == nil || headers != *r.nullMarker {
			for _, pair := range strings.Split(headers, r.headersSep) {
				k, v, found := strings.Cut(pair, r.headerKeySep)
				if !found {
					if r.ignoreError {
						continue
					}
					return nil, fmt.Errorf("No header key separator found in pair '%s' on line number %d", pair, r.lineNumber)
				}
				h := kgo.RecordHeader{Key: k}
				if r.nullMarker == nil || v != *r.nullMarker {
					h.Value = []byte(v)
				}
				rec.Headers = append(rec.Headers, h)
			}
		}
	}
	key, ok, err := field(r.parseKey, off, r.keySep, "key separator")
	if err != nil {
		return nil, err
	}
	if ok {
		off += len(key) + len(r.keySep)
		if r.nullMarker == nil || key != *r.nullMarker {
			rec.Key = []byte(key)
		}
	}
	value := line[off:]
	if r.nullMarker == nil || value != *r.nullMarker {
		rec.Value = []byte(value)
	}
	return rec, nil
}

// isTerminal says whether r is a character device (an interactive stdin).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runConsoleProducer(e *env, args []string) int {
	s := consoleProducerOpts()
	p, code := parseArgs(e, s, args, "This tool helps to read data from standard input and publish it to Kafka.")
	if p == nil {
		return code
	}
	if err := p.require("topic"); err != nil {
		return usageFail(e, s, err.Error())
	}
	bootstrap := p.str("bootstrap-server")
	if !p.has("bootstrap-server") {
		if !p.has("broker-list") {
			return usageFail(e, s, "Missing required argument \"[bootstrap-server]\"")
		}
		bootstrap = p.str("broker-list")
	}
	if p.str("line-reader") != "kafka.tools.ConsoleProducer$LineMessageReader" {
		return usageFail(e, s, "--line-reader: only kafka.tools.ConsoleProducer$LineMessageReader is available")
	}
	servers, err := splitServers(bootstrap)
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	props := map[string]string{}
	if p.has("producer.config") {
		if props, err = loadProps(p.str("producer.config")); err != nil {
			fmt.Fprintln(e.err, err)
			return 1
		}
	}
	if err := parseKVs(props, p.all("producer-property"), "producer property"); err != nil {
		return usageFail(e, s, err.Error())
	}
	// Options given on the command line win; their defaults apply only
	// where no property set the value (CommandLineUtils.maybeMergeOptions).
	_, userBlock := props["max.block.ms"]
	userBlock = userBlock || p.has("max-block-ms")
	merge := func(key, option string) {
		if _, set := props[key]; p.has(option) || !set {
			props[key] = p.str(option)
		}
	}
	merge("linger.ms", "timeout")
	merge("acks", "request-required-acks")
	merge("request.timeout.ms", "request-timeout-ms")
	merge("retries", "message-send-max-retries")
	merge("retry.backoff.ms", "retry-backoff-ms")
	merge("metadata.max.age.ms", "metadata-expiry-ms")
	merge("max.block.ms", "max-block-ms")
	merge("buffer.memory", "max-memory-bytes")
	merge("batch.size", "max-partition-memory-bytes")
	if p.has("compression-codec") {
		c := p.str("compression-codec")
		if c == "" {
			c = "gzip"
		}
		props["compression.type"] = c
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "console-producer"
	}
	readerProps := map[string]string{}
	if err := parseKVs(readerProps, p.all("property"), "property"); err != nil {
		return usageFail(e, s, err.Error())
	}
	pc, err := producerOpts(servers, props, "console-producer")
	if err != nil {
		fmt.Fprintln(e.err, err)
		return 1
	}
	if !userBlock {
		// Kafka's default max.block.ms is a minute; the first connection
		// is bounded more tightly unless the user asked for a value.
		pc.waitMs = defaultWaitMs
	}
	cl, err := newProducer(e.ctx, servers, pc)
	if err != nil {
		fmt.Fprintln(e.err, fmtErr("ERROR ", err))
		return 1
	}
	defer cl.Close()

	topic := p.str("topic")
	reader := newLineReader(readerProps)
	prompt := isTerminal(e.in)
	in := bufio.NewReaderSize(e.in, 64*1024)
	var errMu sync.Mutex
	report := func(r *kgo.Record, err error) {
		errMu.Lock()
		defer errMu.Unlock()
		key := "null"
		if r.Key != nil {
			key = fmt.Sprintf("%d bytes", len(r.Key))
		}
		fmt.Fprintf(e.err, "[%s] ERROR Error when sending message to topic %s with key: %s, value: %d bytes with error: (org.apache.kafka.clients.producer.internals.ErrorLoggingCallback)\n%s\n",
			time.Now().Format("2006-01-02 15:04:05,000"), r.Topic, key, len(r.Value), javaException(err))
	}
	// SIGINT/SIGTERM stop reading; what was read is still flushed, as the
	// Java producer's shutdown hook closes (and so flushes) the producer.
	sigCtx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	type readLine struct {
		line string
		err  error
	}
	lines := make(chan readLine)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(lines)
		for {
			line, err := in.ReadString('\n')
			select {
			case lines <- readLine{line, err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	exit := 0
read:
	for {
		if prompt {
			fmt.Fprint(e.out, ">")
		}
		// A line already read is sent even when a signal came with it.
		var l readLine
		var ok bool
		select {
		case l, ok = <-lines:
		default:
			select {
			case <-sigCtx.Done():
				break read
			case l, ok = <-lines:
			}
		}
		if !ok {
			break
		}
		if l.err != nil && l.line == "" {
			if !errors.Is(l.err, io.EOF) {
				fmt.Fprintf(e.err, "reading standard input: %v\n", l.err)
				exit = 1
			}
			break
		}
		line := strings.TrimSuffix(strings.TrimSuffix(l.line, "\n"), "\r")
		rec, err := reader.record(topic, line)
		if err != nil {
			fmt.Fprintln(e.err, "org.apache.kafka.common.KafkaException: "+err.Error())
			exit = 1
			break
		}
		// Records carry the tool's context, not the signal's: a signal
		// must not fail what is already buffered.
		if p.has("sync") {
			if err := cl.ProduceSync(e.ctx, rec).FirstErr(); err != nil {
				report(rec, err)
			}
		} else {
			cl.Produce(e.ctx, rec, func(r *kgo.Record, err error) {
				if err != nil {
					report(r, err)
				}
			})
		}
		if l.err != nil {
			break
		}
	}
	// Flush returns once every record's promise has run.
	flushCtx, cancel := context.WithTimeout(context.Background(), time.Duration(pc.deliveryMs)*time.Millisecond)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		fmt.Fprintf(e.err, "ERROR flushing records to %s: %v\n", strings.Join(servers, ","), err)
		exit = 1
	}
	return exit
}
