// Command kafka-bench measures Kafka producer and consumer throughput with
// franz-go: keyless records of --record-size bytes into a fresh topic of
// --partitions partitions, produced with --acks, then read back from the
// start. It reports records/s and MB/s (MB = 2^20 bytes) for both, and the
// p50/p99 produce latency (Produce call to acknowledgement).
//
// franz-go's in-process kfake cluster (--kfake-brokers brokers) is the
// reference; a kzoo cluster given by --bootstrap-server (bench/kafka/run.sh
// starts one from dist/kzoo) is measured interleaved with it, round by
// round, and the best of --rounds of each is compared as kzoo/kfake ratios
// (rates: above 1 means kzoo is faster; latencies: below 1 means kzoo is
// faster).
//
// It never touches topics other than the kafka-bench-* topics it creates,
// and deletes each after its round.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	var (
		bootstrap    = flag.String("bootstrap-server", "", "kzoo cluster to measure against kfake (host:port,…); empty: kfake only")
		records      = flag.Int("records", 1000000, "records per run")
		recordSize   = flag.Int("record-size", 100, "bytes per record")
		partitions   = flag.Int("partitions", 6, "partitions of the benchmark topic")
		replication  = flag.Int("replication-factor", 3, "replication factor of the topic on the kzoo cluster")
		acks         = flag.String("acks", "1", "produce acks: 0, 1 or all")
		rounds       = flag.Int("rounds", 3, "rounds; the best of each figure is kept")
		kfakeBrokers = flag.Int("kfake-brokers", 3, "brokers of the in-process kfake reference cluster")
		noKfake      = flag.Bool("no-kfake", false, "measure only the cluster of --bootstrap-server (for profiling it; prints no ratios)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{
		bootstrap: *bootstrap, records: *records, recordSize: *recordSize, partitions: int32(*partitions),
		replication: int16(*replication), acks: *acks, rounds: *rounds, kfakeBrokers: *kfakeBrokers, noKfake: *noKfake,
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type config struct {
	bootstrap    string
	records      int
	recordSize   int
	partitions   int32
	replication  int16
	acks         string
	rounds       int
	kfakeBrokers int
	noKfake      bool
}

func parseAcks(s string) (kgo.Acks, error) {
	switch s {
	case "0":
		return kgo.NoAck(), nil
	case "1":
		return kgo.LeaderAck(), nil
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	}
	return kgo.Acks{}, fmt.Errorf("%w: --acks %q: want 0, 1 or all", errBench, s)
}

// measureKfake runs one round against a fresh in-process kfake cluster.
func measureKfake(ctx context.Context, c config, topic string) (result, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(c.kfakeBrokers))
	if err != nil {
		return result{}, fmt.Errorf("%w: starting kfake: %v", errBench, err)
	}
	defer cluster.Close()
	return measure(ctx, spec{
		servers: cluster.ListenAddrs(), topic: topic, records: c.records, recordSize: c.recordSize,
		partitions: c.partitions, replication: -1, acks: c.acks,
	})
}

func run(ctx context.Context, c config) error {
	if _, err := parseAcks(c.acks); err != nil {
		return err
	}
	if c.noKfake && c.bootstrap == "" {
		return fmt.Errorf("%w: --no-kfake needs --bootstrap-server", errBench)
	}
	fmt.Printf("kafka-bench: %d records of %d bytes, %d partitions, acks=%s, %d rounds; kfake with %d brokers",
		c.records, c.recordSize, c.partitions, c.acks, c.rounds, c.kfakeBrokers)
	if c.bootstrap != "" {
		fmt.Printf("; kzoo at %s (replication factor %d)", c.bootstrap, c.replication)
	}
	fmt.Println()
	var kf, kz []result
	for round := 1; round <= c.rounds; round++ {
		topic := fmt.Sprintf("kafka-bench-%d-%d", time.Now().Unix(), round)
		if !c.noKfake {
			r, err := measureKfake(ctx, c, topic)
			if err != nil {
				return err
			}
			fmt.Printf("round %d kfake: %s\n", round, r)
			kf = append(kf, r)
		}
		if c.bootstrap == "" {
			continue
		}
		r, err := measure(ctx, spec{
			servers: strings.Split(c.bootstrap, ","), topic: topic, records: c.records, recordSize: c.recordSize,
			partitions: c.partitions, replication: c.replication, acks: c.acks,
		})
		if err != nil {
			return err
		}
		fmt.Printf("round %d kzoo:  %s\n", round, r)
		kz = append(kz, r)
	}
	bz := best(kz)
	if c.noKfake {
		fmt.Printf("best of %d kzoo:  %s\n", c.rounds, bz)
		return nil
	}
	bf := best(kf)
	fmt.Printf("best of %d kfake: %s\n", c.rounds, bf)
	if c.bootstrap == "" {
		return nil
	}
	fmt.Printf("best of %d kzoo:  %s\n", c.rounds, bz)
	fmt.Printf("kzoo/kfake: produce rec/s %.2f  MB/s %.2f  p50 %.2f  p99 %.2f | consume rec/s %.2f  MB/s %.2f\n",
		bz.produceRecs/bf.produceRecs, bz.produceMB/bf.produceMB, ms(bz.p50)/ms(bf.p50), ms(bz.p99)/ms(bf.p99),
		bz.consumeRecs/bf.consumeRecs, bz.consumeMB/bf.consumeMB)
	return nil
}
