package kafkatools

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// producerConfig is what the producer tools take from Kafka producer
// properties (producer.config files, --producer-property, --producer-props).
type producerConfig struct {
	opts []kgo.Opt
	// idempotence: "" when not set (Kafka's default is on with acks=all).
	idempotence string
	acksAll     bool
	waitMs      int
	// deliveryMs bounds the final flush (delivery.timeout.ms).
	deliveryMs int
}

// producerOpts maps the Kafka producer properties kgo has an equivalent for;
// others are accepted and ignored, as the Java producer warns and ignores
// unknown ones.
func producerOpts(servers []string, props map[string]string, clientID string) (*producerConfig, error) {
	opts, err := commonOpts(servers, props, clientID)
	if err != nil {
		return nil, err
	}
	// The Java producer's metadata requests always allow the broker to
	// create a missing topic (auto.create.topics.enable decides).
	opts = append(opts, kgo.AllowAutoTopicCreation())
	pc := &producerConfig{acksAll: true, idempotence: props["enable.idempotence"]}
	num := func(k string) (int64, bool, error) {
		v, ok := props[k]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("Invalid value %s for configuration %s: Not a number of type LONG", v, k)
		}
		return n, true, nil
	}
	if v, ok := props["acks"]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "all", "-1":
			opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
		case "1":
			pc.acksAll = false
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
		case "0":
			pc.acksAll = false
			opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
		default:
			return nil, fmt.Errorf("Invalid value %s for configuration acks: String must be one of: all, -1, 0, 1", v)
		}
	}
	if v, ok := props["compression.type"]; ok {
		c, err := codec(v)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.ProducerBatchCompression(c))
	}
	ms := func(k string, f func(time.Duration) kgo.Opt) error {
		n, ok, err := num(k)
		if err == nil && ok {
			opts = append(opts, f(time.Duration(n)*time.Millisecond))
		}
		return err
	}
	for k, f := range map[string]func(time.Duration) kgo.Opt{
		"linger.ms":           func(d time.Duration) kgo.Opt { return kgo.ProducerLinger(d) },
		"request.timeout.ms":  func(d time.Duration) kgo.Opt { return kgo.ProduceRequestTimeout(d) },
		"delivery.timeout.ms": func(d time.Duration) kgo.Opt { return kgo.RecordDeliveryTimeout(d) },
		"retry.backoff.ms":    func(d time.Duration) kgo.Opt { return kgo.RetryBackoffFn(func(int) time.Duration { return d }) },
		"metadata.max.age.ms": func(d time.Duration) kgo.Opt { return kgo.MetadataMaxAge(d) },
	} {
		if err := ms(k, f); err != nil {
			return nil, err
		}
	}
	if n, ok, err := num("batch.size"); err != nil {
		return nil, err
	} else if ok && n > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(n)))
	}
	if n, ok, err := num("buffer.memory"); err != nil {
		return nil, err
	} else if ok && n > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(int(n)))
	}
	if n, ok, err := num("retries"); err != nil {
		return nil, err
	} else if ok && n >= 0 && n < 1<<31-1 {
		opts = append(opts, kgo.RecordRetries(int(n)))
	}
	if v := props["transactional.id"]; v != "" {
		opts = append(opts, kgo.TransactionalID(v))
	}
	pc.waitMs = propMs(props, defaultWaitMs, "max.block.ms")
	pc.deliveryMs = propMs(props, 120000, "delivery.timeout.ms")
	if _, set := props["delivery.timeout.ms"]; !set {
		// The Java producer gives up on a record after two minutes.
		opts = append(opts, kgo.RecordDeliveryTimeout(time.Duration(pc.deliveryMs)*time.Millisecond))
	}
	if !pc.acksAll || strings.EqualFold(pc.idempotence, "false") {
		opts = append(opts, kgo.DisableIdempotentWrite())
		if n, ok, _ := num("max.in.flight.requests.per.connection"); ok && n > 0 {
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(int(n)))
		}
	}
	pc.opts = opts
	return pc, nil
}

// codec maps compression.type names to kgo codecs.
func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("Invalid value %s for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd", name)
}

// newProducer connects a producer client. When idempotence was not asked
// for explicitly and the cluster does not serve InitProducerId, it falls
// back to a plain producer rather than fail every send.
func newProducer(ctx context.Context, servers []string, pc *producerConfig) (*kgo.Client, error) {
	cl, err := kgo.NewClient(pc.opts...)
	if err != nil {
		return nil, err
	}
	if err := waitReachable(ctx, cl, servers, pc.waitMs); err != nil {
		cl.Close()
		return nil, err
	}
	if !pc.acksAll || pc.idempotence != "" {
		return cl, nil
	}
	if supportsKeys(ctx, cl, 22) {
		return cl, nil
	}
	cl.Close()
	return kgo.NewClient(append(pc.opts, kgo.DisableIdempotentWrite())...)
}

// supportsKeys asks a broker, with one ApiVersions request, whether it
// serves every one of the API keys.
func supportsKeys(ctx context.Context, cl *kgo.Client, keys ...int16) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, kmsg.NewPtrApiVersionsRequest())
	if err != nil {
		return true // unknown: keep the default and let the send report
	}
	served := map[int16]bool{}
	for _, k := range resp.(*kmsg.ApiVersionsResponse).ApiKeys {
		served[k.ApiKey] = true
	}
	for _, k := range keys {
		if !served[k] {
			return false
		}
	}
	return true
}

// probeGroups connects to servers as clientID, waits (default.api.timeout.ms)
// until one answers, and reports whether the cluster serves consumer groups
// (FindCoordinator and JoinGroup).
func probeGroups(ctx context.Context, servers []string, clientID string, props map[string]string) (bool, error) {
	probe, err := kgo.NewClient(kgo.SeedBrokers(servers...), kgo.ClientID(clientID))
	if err != nil {
		return false, err
	}
	defer probe.Close()
	if err := waitReachable(ctx, probe, servers, propMs(props, defaultWaitMs, "default.api.timeout.ms")); err != nil {
		return false, err
	}
	return supportsKeys(ctx, probe, 10, 11), nil
}
