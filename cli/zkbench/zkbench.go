// Package zkbench owns the zk-bench load generator: it drives any ZooKeeper
// 3.x wire-compatible ensemble (kzoo's coordinator or Apache ZooKeeper)
// with a pipelined asynchronous client, kzoo's own client or go-zookeeper/zk
// (--client) with many
// sessions and many outstanding requests per session, in phases (create, set, get, delete), and reports each
// phase's throughput and latency percentiles. With --failover it instead
// measures how long an ensemble takes to acknowledge writes again after its
// leader is killed.
//
// It must never touch anything outside the znode subtree it creates under
// --root for its own run (and, with --failover, the servers its --kill-cmd
// and --start-cmd name), and never leave that subtree behind unless asked
// to with --keep.
package zkbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
)

// Phases lists the phases zk-bench knows, in the order they can run.
var Phases = []string{"create", "set", "get", "delete"}

// Config is one benchmark run.
type Config struct {
	Servers        []string
	Sessions       int
	Inflight       int // goroutines sharing each session's connection
	ValueSize      int
	Ops            int // per phase
	Root           string
	Phases         []string
	Keep           bool // leave the run's znodes behind
	SessionTimeout time.Duration
	// Spread pins session i to server i mod len(Servers) instead of letting
	// each session pick any.
	Spread bool
	// Client is the client generating the load, one of Clients (default
	// "pipelined").
	Client string

	// reconnectBackoff, when set, replaces go-zookeeper's one-second pause
	// after a full pass over the servers fails with this one.
	reconnectBackoff time.Duration
}

// Result is what one phase measured.
type Result struct {
	Phase    string
	Ops      int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	// FirstErr is the first error a request returned, if any.
	FirstErr error
}

// OpsPerSec is the phase's throughput counting successful requests.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops-r.Errors) / r.Elapsed.Seconds()
}

// String is the key=value line zk-bench prints for a phase.
func (r Result) String() string {
	return fmt.Sprintf("phase=%s ops=%d errors=%d secs=%.3f ops_per_sec=%.1f p50_ms=%.3f p99_ms=%.3f",
		r.Phase, r.Ops, r.Errors, r.Elapsed.Seconds(), r.OpsPerSec(),
		float64(r.P50)/float64(time.Millisecond), float64(r.P99)/float64(time.Millisecond))
}

// Command is the zk-bench subcommand.
func Command() *cli.Command {
	return &cli.Command{
		Name:      "zk-bench",
		Usage:     "load a ZooKeeper-compatible ensemble and report ops/s, p50 and p99 per phase",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "servers", Usage: "comma-separated host:port list", Required: true},
			&cli.IntFlag{Name: "sessions", Value: 16, Usage: "ZooKeeper sessions (one TCP connection each)"},
			&cli.IntFlag{Name: "inflight", Value: 1, Usage: "outstanding requests per session"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes of data per znode"},
			&cli.IntFlag{Name: "ops", Value: 10000, Usage: "requests per phase"},
			&cli.StringFlag{Name: "phases", Value: "create,set,get", Usage: "phases to run, in order, from " + strings.Join(Phases, ",")},
			&cli.StringFlag{Name: "root", Value: "/zk-bench", Usage: "parent znode of every run's subtree"},
			&cli.BoolFlag{Name: "keep", Usage: "leave the run's znodes behind"},
			&cli.DurationFlag{Name: "session-timeout", Value: 10 * time.Second},
			&cli.StringFlag{Name: "client", Value: "pipelined", Usage: "client generating the load: " + strings.Join(Clients, ", ")},
			&cli.BoolFlag{Name: "spread", Usage: "pin session i to server i mod n of --servers, spreading sessions evenly over an ensemble"},
			&cli.BoolFlag{Name: "failover", Usage: "instead of the phases, measure leader failover: kill -9 the leader while writing, --rounds times"},
			&cli.IntFlag{Name: "rounds", Value: 5, Usage: "--failover: leader kills"},
			&cli.IntFlag{Name: "writers", Value: 4, Usage: "--failover: goroutines writing through the one session"},
			&cli.StringFlag{Name: "kill-cmd", Usage: "--failover: sh command that kill -9s server $ZKBENCH_SERVER_ID (1-based in --servers order; also $ZKBENCH_SERVER_INDEX, $ZKBENCH_SERVER)"},
			&cli.StringFlag{Name: "start-cmd", Usage: "--failover: sh command that starts server $ZKBENCH_SERVER_ID again in the background"},
			&cli.DurationFlag{Name: "settle-timeout", Value: 2 * time.Minute, Usage: "--failover: wait for a leader before a round and for the first write after a kill"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("failover") {
				return runFailover(c)
			}
			cfg := Config{
				Servers:        splitList(c.String("servers")),
				Sessions:       c.Int("sessions"),
				Inflight:       c.Int("inflight"),
				ValueSize:      c.Int("value-size"),
				Ops:            c.Int("ops"),
				Root:           c.String("root"),
				Phases:         splitList(c.String("phases")),
				Keep:           c.Bool("keep"),
				SessionTimeout: c.Duration("session-timeout"),
				Spread:         c.Bool("spread"),
				Client:         c.String("client"),
			}
			out := c.App.Writer
			if out == nil {
				out = os.Stdout
			}
			results, err := Run(c.Context, cfg, out)
			if err != nil {
				return err
			}
			for _, r := range results {
				if r.Errors > 0 {
					return fmt.Errorf("zk-bench: phase %s: %d of %d requests failed, first: %w", r.Phase, r.Errors, r.Ops, r.FirstErr)
				}
			}
			return nil
		},
	}
}

// runFailover is zk-bench --failover.
func runFailover(c *cli.Context) error {
	servers := splitList(c.String("servers"))
	cfg := FailoverConfig{
		Servers:        servers,
		Rounds:         c.Int("rounds"),
		Writers:        c.Int("writers"),
		Root:           c.String("root"),
		SessionTimeout: c.Duration("session-timeout"),
		SettleTimeout:  c.Duration("settle-timeout"),
	}
	if k := c.String("kill-cmd"); k != "" {
		cfg.Kill = shellCommand(k, servers)
	}
	if s := c.String("start-cmd"); s != "" {
		cfg.Start = shellCommand(s, servers)
	}
	out := c.App.Writer
	if out == nil {
		out = os.Stdout
	}
	_, err := Failover(c.Context, cfg, out)
	return err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validate checks cfg and fills defaults.
func (cfg *Config) validate() error {
	switch {
	case len(cfg.Servers) == 0:
		return errors.New("zk-bench: --servers is empty")
	case cfg.Sessions < 1:
		return fmt.Errorf("zk-bench: --sessions %d, want at least 1", cfg.Sessions)
	case cfg.Inflight < 1:
		return fmt.Errorf("zk-bench: --inflight %d, want at least 1", cfg.Inflight)
	case cfg.ValueSize < 0:
		return fmt.Errorf("zk-bench: --value-size %d is negative", cfg.ValueSize)
	case cfg.Ops < 1:
		return fmt.Errorf("zk-bench: --ops %d, want at least 1", cfg.Ops)
	case !strings.HasPrefix(cfg.Root, "/") || (len(cfg.Root) > 1 && strings.HasSuffix(cfg.Root, "/")):
		return fmt.Errorf("zk-bench: --root %q is not an absolute znode path", cfg.Root)
	}
	if cfg.Client == "" {
		cfg.Client = "pipelined"
	}
	if !slices.Contains(Clients, cfg.Client) {
		return fmt.Errorf("zk-bench: unknown --client %q, want one of %s", cfg.Client, strings.Join(Clients, ","))
	}
	if len(cfg.Phases) == 0 {
		return errors.New("zk-bench: --phases is empty")
	}
	for _, p := range cfg.Phases {
		if !slices.Contains(Phases, p) {
			return fmt.Errorf("zk-bench: unknown phase %q, want one of %s", p, strings.Join(Phases, ","))
		}
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	return nil
}

// Run connects cfg.Sessions sessions, runs the phases in order on a fresh
// subtree under cfg.Root, prints one line per phase to out and returns the
// results. Keys are shared by the phases: set and get touch what create
// made, delete removes it.
func Run(ctx context.Context, cfg Config, out io.Writer) ([]Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conns, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	base, err := makeBase(conns[0], cfg.Root)
	if err != nil {
		return nil, err
	}
	keys := make([]string, cfg.Ops)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s/k%08d", base, i)
	}
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = byte('a' + rand.IntN(26))
	}
	fmt.Fprintf(out, "zk-bench servers=%s client=%s sessions=%d inflight=%d value_size=%d ops=%d base=%s\n",
		strings.Join(cfg.Servers, ","), cfg.Client, cfg.Sessions, cfg.Inflight, cfg.ValueSize, cfg.Ops, base)

	var results []Result
	deleted := false
	for _, phase := range cfg.Phases {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		var op func(c benchConn, key string) error
		switch phase {
		case "create":
			op = func(c benchConn, key string) error { return c.create(key, value) }
			deleted = false
		case "set":
			op = func(c benchConn, key string) error { return c.set(key, value) }
		case "get":
			op = func(c benchConn, key string) error {
				b, err := c.get(key)
				if err == nil && len(b) != len(value) {
					err = fmt.Errorf("get %s: %d bytes, want %d", key, len(b), len(value))
				}
				return err
			}
		case "delete":
			op = func(c benchConn, key string) error { return c.delete(key) }
			deleted = true
		}
		var r Result
		if cfg.Client == "pipelined" {
			r = runPhasePipelined(ctx, phase, conns, cfg.Inflight, keys, phaseRequests(phase, value))
		} else {
			r = runPhase(ctx, phase, conns, cfg.Inflight, keys, op)
		}
		fmt.Fprintln(out, r.String())
		results = append(results, r)
	}
	if !cfg.Keep {
		if !deleted && cfg.Client == "pipelined" {
			runPhasePipelined(ctx, "cleanup", conns, cfg.Inflight, keys, phaseRequests("cleanup", value))
		} else if !deleted {
			runPhase(ctx, "cleanup", conns, cfg.Inflight, keys, func(c benchConn, key string) error {
				if err := c.delete(key); err != nil && !isNoNode(err) {
					return err
				}
				return nil
			})
		}
		if err := conns[0].delete(base); err != nil && !isNoNode(err) {
			return results, fmt.Errorf("zk-bench: remove %s: %w", base, err)
		}
	}
	return results, nil
}

// sessionServers is the server list session i connects to: all of them
// (the client picks one at random), or with Spread only server i mod n, so
// the sessions are spread evenly.
func sessionServers(cfg Config, i int) []string {
	if cfg.Spread {
		return cfg.Servers[i%len(cfg.Servers) : i%len(cfg.Servers)+1]
	}
	return cfg.Servers
}

// makeBase creates root (if missing) and a fresh child for this run.
func makeBase(c benchConn, root string) (string, error) {
	if root != "/" {
		if err := c.create(root, nil); err != nil && !isNodeExists(err) {
			return "", fmt.Errorf("zk-bench: create %s: %w", root, err)
		}
	}
	prefix := strings.TrimSuffix(root, "/") + "/run-"
	base, err := c.createSequential(prefix)
	if err != nil {
		return "", fmt.Errorf("zk-bench: create %s: %w", prefix, err)
	}
	return base, nil
}

// runPhase spreads keys over len(conns)*inflight workers, each taking the
// next key until none is left, and times every request.
func runPhase(ctx context.Context, phase string, conns []benchConn, inflight int, keys []string, op func(benchConn, string) error) Result {
	lat := make([]time.Duration, len(keys))
	var next, errs atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		for j := 0; j < inflight; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					i := next.Add(1) - 1
					if i >= int64(len(keys)) {
						return
					}
					t0 := time.Now()
					err := op(c, keys[i])
					lat[i] = time.Since(t0)
					if err != nil {
						errs.Add(1)
						err = fmt.Errorf("%s %s: %w", phase, keys[i], err)
						firstErr.CompareAndSwap(nil, &err)
					}
				}
			}()
		}
	}
	wg.Wait()
	return phaseResult(phase, keys, lat, start, next.Load(), errs.Load(), firstErr.Load())
}

// phaseResult sums up a phase: keys handed out (done, possibly past the
// end), errors, and the latencies of the requests that ran.
func phaseResult(phase string, keys []string, lat []time.Duration, start time.Time, done, errs int64, firstErr *error) Result {
	r := Result{Phase: phase, Ops: len(keys), Errors: int(errs), Elapsed: time.Since(start)}
	if n := int(min(done, int64(len(keys)))); n < len(keys) {
		r.Ops = n
		lat = lat[:n]
	}
	if firstErr != nil {
		r.FirstErr = *firstErr
	}
	r.P50, r.P99 = percentile(lat, 50), percentile(lat, 99)
	return r
}

// percentile returns the p-th percentile (nearest rank) of lat, sorting it.
func percentile(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	rank := (p*len(lat) + 99) / 100 // ceil(p/100 * n)
	return lat[max(rank, 1)-1]
}
