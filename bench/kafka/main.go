// Command kafka-bench measures Kafka producer and consumer throughput with
// franz-go: keyless records of --record-size bytes into a fresh topic of
// --partitions partitions, produced with --acks, --linger (0: each batch is
// what arrived while the previous request was in flight) and
// --partitioner (round-robin: record by record). Consumers then read, five
// times from the start (the median is kept), a second topic of as many
// records filled with franz-go's default linger and partitioner, whose
// batches do not depend on how fast the server answered. It reports
// records/s and MB/s (MB = 2^20 bytes) for both, the p50/p99 produce
// latency (Produce call to acknowledgement, of every 16th record), the mean
// records per batch produced and read, the share of the machine idle while
// producing, and the CPU time per record of this process and of the
// servers, producing and consuming.
//
// franz-go's kfake cluster (--kfake-brokers brokers, in memory, no
// validation, nothing on disk) is the reference, measured two ways: in a
// process of its own, as the cluster under test runs, and inside this
// process, where it shares the load generator's Go runtime and pays no
// cross-process wakeups. A kzoo cluster given by --bootstrap-server
// (bench/kafka/run.sh starts one from dist/kzoo) is measured interleaved
// with both, round by round (each cluster serves the whole run; the
// --warmup-rounds first rounds are printed but not counted), and the best
// of --rounds of each is compared as kzoo/kfake ratios (rates: above 1
// means kzoo is faster; latencies: below 1 means kzoo is faster), then the
// rates round by round (the median and middle half of the --rounds
// ratios of rounds measured one right after the other), which a slow
// stretch of the machine moves less than it moves a best.
//
// It never touches topics other than the kafka-bench-* topics it creates,
// and deletes each after its round.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	var (
		bootstrap    = flag.String("bootstrap-server", "", "kzoo cluster to measure against kfake (host:port,…); empty: kfake only")
		serverPIDs   = flag.String("server-pids", "", "PIDs of the --bootstrap-server cluster's processes (comma-separated), for its CPU time per record")
		records      = flag.Int("records", 1000000, "records per run")
		recordSize   = flag.Int("record-size", 100, "bytes per record")
		partitions   = flag.Int("partitions", 6, "partitions of the benchmark topic")
		replication  = flag.Int("replication-factor", 3, "replication factor of the topic on the kzoo cluster")
		acks         = flag.String("acks", "1", "produce acks: 0, 1 or all")
		linger       = flag.Duration("linger", 0, "producer linger (franz-go's default is 10ms)")
		partitioner  = flag.String("partitioner", "round-robin", "round-robin, or sticky for franz-go's default (64 KiB to a partition, then the next)")
		gogc         = flag.Int("gogc", 400, "GOGC of the load generator (a kfake served with --serve-kfake keeps Go's default)")
		rounds       = flag.Int("rounds", 10, "rounds counted; the ratios compare the best of them and, round by round, their median and middle half")
		warmup       = flag.Int("warmup-rounds", 1, "rounds run first and left out of the figures")
		kfakeBrokers = flag.Int("kfake-brokers", 3, "brokers of the kfake reference cluster")
		noKfake      = flag.Bool("no-kfake", false, "measure only the cluster of --bootstrap-server (for profiling it; prints no ratios)")
		serveKfake   = flag.Bool("serve-kfake", false, "serve a kfake cluster of --kfake-brokers brokers until stdin closes, printing its addresses on one line (the separate-process reference)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *serveKfake {
		if err := serveKfakeCluster(ctx, *kfakeBrokers); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	// The generator allocates a record per record produced; at Go's
	// default GOGC its collector took a fifth of its CPU, which the
	// servers measured here would otherwise have had. The servers keep
	// their own defaults.
	debug.SetGCPercent(*gogc)
	pids, err := parsePIDs(*serverPIDs)
	if err == nil {
		err = run(ctx, config{
			bootstrap: *bootstrap, serverPIDs: pids, records: *records, recordSize: *recordSize, partitions: int32(*partitions),
			replication: int16(*replication), acks: *acks, linger: *linger, partitioner: *partitioner, rounds: *rounds, warmupRounds: *warmup, kfakeBrokers: *kfakeBrokers, noKfake: *noKfake,
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type config struct {
	bootstrap    string
	serverPIDs   []int
	records      int
	recordSize   int
	partitions   int32
	replication  int16
	acks         string
	linger       time.Duration
	partitioner  string
	rounds       int
	warmupRounds int
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

func parsePIDs(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%w: --server-pids: %q is not a process id", errBench, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// serveKfakeCluster is the body of the separate-process reference: a kfake
// cluster whose addresses go to stdout, served until stdin reaches EOF (the
// parent closed it or died) or a signal ends ctx.
func serveKfakeCluster(ctx context.Context, brokers int) error {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(brokers))
	if err != nil {
		return fmt.Errorf("%w: starting kfake: %v", errBench, err)
	}
	defer cluster.Close()
	fmt.Println(strings.Join(cluster.ListenAddrs(), ","))
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return nil
}

// kfakeProcess is the separate-process reference: this program with
// --serve-kfake, serving one kfake cluster for the whole run, as the
// cluster under test does.
type kfakeProcess struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addrs []string
}

func startKfakeProcess(c config) (*kfakeProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: finding this program to start kfake: %v", errBench, err)
	}
	cmd := exec.Command(self, "--serve-kfake", "--kfake-brokers", strconv.Itoa(c.kfakeBrokers))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting %s --serve-kfake: %v", errBench, self, err)
	}
	k := &kfakeProcess{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		k.close()
		return nil, fmt.Errorf("%w: kfake process %d printed no addresses: %v", errBench, cmd.Process.Pid, err)
	}
	k.addrs = strings.Split(strings.TrimSpace(line), ",")
	return k, nil
}

// close stops the process: closing its stdin is its signal to stop.
func (k *kfakeProcess) close() {
	k.stdin.Close()
	done := make(chan struct{})
	go func() { k.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		k.cmd.Process.Kill()
		<-done
	}
}

// spec is one round's measurement of the cluster at servers, whose
// processes are pids (none when it runs in this process).
func (c config) spec(servers []string, topic string, replication int16, pids []int) spec {
	return spec{
		servers: servers, topic: topic, records: c.records, recordSize: c.recordSize,
		partitions: c.partitions, replication: replication, acks: c.acks,
		linger: c.linger, partitioner: c.partitioner, serverPIDs: pids,
	}
}

// target is one cluster measured each round: its bootstrap servers, the
// replication factor of its topics (-1: the cluster's default) and its
// processes (none when it runs in this process).
type target struct {
	name        string
	servers     []string
	replication int16
	pids        []int
	results     []result
}

func run(ctx context.Context, c config) error {
	if _, err := parseAcks(c.acks); err != nil {
		return err
	}
	if c.partitioner != "round-robin" && c.partitioner != "sticky" {
		return fmt.Errorf("%w: --partitioner %q: want round-robin or sticky", errBench, c.partitioner)
	}
	if c.linger < 0 {
		return fmt.Errorf("%w: --linger %v: must not be negative", errBench, c.linger)
	}
	if c.rounds < 1 {
		return fmt.Errorf("%w: --rounds %d: want at least 1", errBench, c.rounds)
	}
	if c.warmupRounds < 0 {
		return fmt.Errorf("%w: --warmup-rounds %d: must not be negative", errBench, c.warmupRounds)
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
	// Every cluster serves the whole run, as a broker does, and each
	// round writes a fresh topic to it.
	var targets []*target
	if !c.noKfake {
		kp, err := startKfakeProcess(c)
		if err != nil {
			return err
		}
		defer kp.close()
		cluster, err := kfake.NewCluster(kfake.NumBrokers(c.kfakeBrokers))
		if err != nil {
			return fmt.Errorf("%w: starting kfake: %v", errBench, err)
		}
		defer cluster.Close()
		targets = append(targets,
			&target{name: "kfake (own process)", servers: kp.addrs, replication: -1, pids: []int{kp.cmd.Process.Pid}},
			&target{name: "kfake (in this process)", servers: cluster.ListenAddrs(), replication: -1})
	}
	if c.bootstrap != "" {
		targets = append(targets, &target{name: "kzoo", servers: strings.Split(c.bootstrap, ","), replication: c.replication, pids: c.serverPIDs})
	}
	// The first rounds of a load generator run slower on every target
	// (its heap and the clients' buffers are still growing: a fifth more
	// of its CPU per record), so warm-up rounds go first, printed but
	// left out of every figure compared.
	for round := 1 - c.warmupRounds; round <= c.rounds; round++ {
		label := fmt.Sprintf("round %d", round)
		if round < 1 {
			label = fmt.Sprintf("warm-up %d", round+c.warmupRounds)
		}
		for i, t := range targets {
			topic := fmt.Sprintf("kafka-bench-%d-%d-%d", time.Now().Unix(), round+c.warmupRounds, i)
			r, err := measure(ctx, c.spec(t.servers, topic, t.replication, t.pids))
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			fmt.Printf("%s %-24s %s\n", label, t.name+":", r)
			if round >= 1 {
				t.results = append(t.results, r)
			}
		}
	}
	bests := make([]result, len(targets))
	for i, t := range targets {
		bests[i] = best(t.results)
		fmt.Printf("best of %d %-24s %s\n", c.rounds, t.name+":", bests[i])
	}
	if c.noKfake || c.bootstrap == "" {
		return nil
	}
	kz := bests[len(bests)-1]
	kzRounds := targets[len(targets)-1].results
	for i, t := range targets[:len(targets)-1] {
		bf := bests[i]
		fmt.Printf("kzoo / %-24s produce rec/s %.2f  MB/s %.2f  p50 %.2f  p99 %.2f | consume rec/s %.2f  MB/s %.2f (best of %d each)\n", t.name+":",
			kz.produceRecs/bf.produceRecs, kz.produceMB/bf.produceMB, ms(kz.p50)/ms(bf.p50), ms(kz.p99)/ms(bf.p99),
			kz.consumeRecs/bf.consumeRecs, kz.consumeMB/bf.consumeMB, c.rounds)
		produce, consume := roundRatios(kzRounds, t.results)
		fmt.Printf("       %-24s produce rec/s %s | consume rec/s %s (round by round: median, middle half)\n", "", produce, consume)
	}
	return nil
}

// spread is the median and the quartiles of a set of ratios.
type spread struct{ median, q1, q3 float64 }

func (s spread) String() string { return fmt.Sprintf("%.2f (%.2f-%.2f)", s.median, s.q1, s.q3) }

// roundRatios compares kzoo with a reference round by round: the rates of
// round i of both were measured one right after the other, so a slow
// stretch of the machine weighs on both sides of the ratio, where it
// would move a best or a median of one side alone.
func roundRatios(kz, ref []result) (produce, consume spread) {
	p := make([]float64, len(kz))
	c := make([]float64, len(kz))
	for i := range kz {
		p[i] = kz[i].produceRecs / ref[i].produceRecs
		c[i] = kz[i].consumeRecs / ref[i].consumeRecs
	}
	return spreadOf(p), spreadOf(c)
}

// spreadOf sorts xs in place and returns its median and quartiles.
func spreadOf(xs []float64) spread {
	slices.Sort(xs)
	return spread{quantile(xs, 0.5), quantile(xs, 0.25), quantile(xs, 0.75)}
}

// quantile is the q-quantile of sorted xs, interpolated between the two
// nearest values (so the 0.5-quantile of an even count is the mean of the
// middle two).
func quantile(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	lo := int(pos)
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[lo] + (xs[lo+1]-xs[lo])*(pos-float64(lo))
}

// median is the middle of xs (the mean of the middle two for an even
// count); xs is sorted in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return quantile(xs, 0.5)
}
