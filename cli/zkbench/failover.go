package zkbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// ErrNoLeader is returned when an ensemble does not show exactly one leader
// with every other server following in time.
var ErrNoLeader = errors.New("zk-bench: no single leader")

// FailoverConfig is one failover measurement: each round kills the current
// leader with SIGKILL while a session writes continuously, and measures the
// time from the kill to the first acknowledged write issued after it.
type FailoverConfig struct {
	Servers        []string // client addresses; each is asked `srvr` for its mode
	Rounds         int
	Writers        int // goroutines writing through the one session
	Root           string
	SessionTimeout time.Duration
	// SettleTimeout bounds the wait for the ensemble to serve with one
	// leader before a round, and for the first write after a kill.
	SettleTimeout time.Duration
	// Kill stops server i (an index into Servers) with SIGKILL; Start starts
	// it again. Kill may return before the process is gone: the round's
	// clock starts once the server's client port refuses connections.
	Kill, Start func(ctx context.Context, i int) error
}

// FailoverRound is what one round measured.
type FailoverRound struct {
	Round     int
	Killed    string // the leader that was killed
	NewLeader string // the leader afterwards, "" if none showed in time
	Failover  time.Duration
	Acked     int // writes acknowledged during the round
	// WriterOnKilled: the writer's session was connected to the killed
	// leader, so the round includes moving the session to another server.
	WriterOnKilled bool
}

// String is the key=value line zk-bench prints for a round.
func (r FailoverRound) String() string {
	return fmt.Sprintf("failover round=%d killed=%s new_leader=%s writer_on_killed=%t acked=%d failover_ms=%.1f",
		r.Round, r.Killed, r.NewLeader, r.WriterOnKilled, r.Acked, float64(r.Failover)/float64(time.Millisecond))
}

// FailoverResult sums the rounds up.
type FailoverResult struct {
	Rounds           []FailoverRound
	Min, Median, Max time.Duration
}

// String is the summary line zk-bench prints after the rounds.
func (r FailoverResult) String() string {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return fmt.Sprintf("failover rounds=%d min_ms=%.1f median_ms=%.1f max_ms=%.1f",
		len(r.Rounds), ms(r.Min), ms(r.Median), ms(r.Max))
}

func (cfg *FailoverConfig) validate() error {
	switch {
	case len(cfg.Servers) < 3:
		return fmt.Errorf("zk-bench: --failover needs an ensemble of at least 3 servers, --servers has %d", len(cfg.Servers))
	case cfg.Rounds < 1:
		return fmt.Errorf("zk-bench: --rounds %d, want at least 1", cfg.Rounds)
	case cfg.Kill == nil || cfg.Start == nil:
		return errors.New("zk-bench: --failover needs --kill-cmd and --start-cmd")
	case !strings.HasPrefix(cfg.Root, "/") || (len(cfg.Root) > 1 && strings.HasSuffix(cfg.Root, "/")):
		return fmt.Errorf("zk-bench: --root %q is not an absolute znode path", cfg.Root)
	}
	if cfg.Writers < 1 {
		cfg.Writers = 4
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.SettleTimeout <= 0 {
		cfg.SettleTimeout = 2 * time.Minute
	}
	return nil
}

// failoverReconnectBackoff is the writer's pause after every server of a
// pass refused it. go-zookeeper's own pause is a second, which would round
// every failover that moves the writer's session up to a second.
const failoverReconnectBackoff = 10 * time.Millisecond

// backoffHostProvider hands out the servers in a shuffled order, round and
// round, pausing backoff whenever a pass ends without a connection. It
// never reports retryStart, so the client's own one-second pause and its
// failing of queued requests with ErrNoServer do not happen.
type backoffHostProvider struct {
	backoff time.Duration

	mu      sync.Mutex
	servers []string
	curr    int
	last    int // the last server connected to, -1 before the first
}

func (p *backoffHostProvider) Init(servers []string) error {
	if len(servers) == 0 {
		return errors.New("zk-bench: no servers")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.servers = slices.Clone(servers)
	rand.Shuffle(len(p.servers), func(i, j int) { p.servers[i], p.servers[j] = p.servers[j], p.servers[i] })
	p.curr, p.last = -1, -1
	return nil
}

func (p *backoffHostProvider) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.servers)
}

func (p *backoffHostProvider) Next() (string, bool) {
	p.mu.Lock()
	p.curr = (p.curr + 1) % len(p.servers)
	wrapped := p.curr == p.last
	if p.last == -1 {
		p.last = 0
	}
	s := p.servers[p.curr]
	p.mu.Unlock()
	if wrapped {
		time.Sleep(p.backoff) // the reconnect backoff itself
	}
	return s, false
}

func (p *backoffHostProvider) Connected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = p.curr
}

// ServerMode asks addr `srvr` and returns its `Mode:` (leader, follower,
// standalone, …); an error when it does not answer with one, as a server
// without a quorum does.
func ServerMode(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", fmt.Errorf("zk-bench: srvr to %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "srvr"); err != nil {
		return "", fmt.Errorf("zk-bench: srvr to %s: %w", addr, err)
	}
	return parseMode(addr, c)
}

func parseMode(addr string, r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("zk-bench: srvr to %s: %w", addr, err)
	}
	return "", fmt.Errorf("zk-bench: srvr answer of %s has no Mode line", addr)
}

// Leader returns the index in servers of the one server in `Mode: leader`,
// provided every other one is a follower.
func Leader(servers []string) (int, error) {
	leader := -1
	for i, s := range servers {
		m, err := ServerMode(s)
		if err != nil {
			return -1, err
		}
		switch m {
		case "leader":
			if leader >= 0 {
				return -1, fmt.Errorf("%w: both %s and %s say leader", ErrNoLeader, servers[leader], s)
			}
			leader = i
		case "follower", "observer":
		default:
			return -1, fmt.Errorf("%w: %s is in mode %q", ErrNoLeader, s, m)
		}
	}
	if leader < 0 {
		return -1, fmt.Errorf("%w among %s", ErrNoLeader, strings.Join(servers, ","))
	}
	return leader, nil
}

// waitLeader polls Leader until it answers or timeout passes.
func waitLeader(ctx context.Context, servers []string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		i, err := Leader(servers)
		if err == nil {
			return i, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("%w within %s: %v", ErrNoLeader, timeout, err)
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Failover runs cfg.Rounds rounds, prints one line per round and a summary
// to out, and returns what it measured.
func Failover(ctx context.Context, cfg FailoverConfig, out io.Writer) (FailoverResult, error) {
	var res FailoverResult
	if err := cfg.validate(); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "zk-bench failover servers=%s rounds=%d writers=%d\n", strings.Join(cfg.Servers, ","), cfg.Rounds, cfg.Writers)
	var lat []time.Duration
	for round := 1; round <= cfg.Rounds; round++ {
		r, err := failoverRound(ctx, cfg, round)
		if err != nil {
			return res, err
		}
		fmt.Fprintln(out, r.String())
		res.Rounds = append(res.Rounds, r)
		lat = append(lat, r.Failover)
	}
	res.Median = percentile(lat, 50) // sorts lat
	res.Min, res.Max = lat[0], lat[len(lat)-1]
	fmt.Fprintln(out, res.String())
	return res, nil
}

func failoverRound(ctx context.Context, cfg FailoverConfig, round int) (FailoverRound, error) {
	r := FailoverRound{Round: round}
	leader, err := waitLeader(ctx, cfg.Servers, cfg.SettleTimeout)
	if err != nil {
		return r, fmt.Errorf("zk-bench: round %d: %w", round, err)
	}
	r.Killed = cfg.Servers[leader]
	// go-zookeeper, whose reconnect pause the round can shorten.
	conns, err := dialGoZookeeper(ctx, Config{Servers: cfg.Servers, Sessions: 1, SessionTimeout: cfg.SessionTimeout,
		reconnectBackoff: failoverReconnectBackoff})
	if err != nil {
		return r, err
	}
	c := conns[0]
	defer c.Close()
	base, err := makeBase(goZkConn{c}, cfg.Root)
	if err != nil {
		return r, err
	}
	node := base + "/w"
	if _, err := c.Create(node, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return r, fmt.Errorf("zk-bench: create %s: %w", node, err)
	}

	// Writers record every acknowledged write; after the kill, the first
	// one issued after it ends the round.
	var (
		mu       sync.Mutex
		killedAt time.Time // zero until the leader is gone
		acked    int
		first    = make(chan time.Time, 1)
	)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			val := []byte(fmt.Sprintf("writer-%d", w))
			for wctx.Err() == nil {
				issued := time.Now()
				if _, err := c.Set(node, val, -1); err != nil {
					continue // lost while the ensemble fails over
				}
				done := time.Now()
				mu.Lock()
				acked++
				if !killedAt.IsZero() && issued.After(killedAt) {
					select {
					case first <- done:
					default:
					}
				}
				mu.Unlock()
			}
		}()
	}
	defer func() { stop(); c.Close(); wg.Wait() }()

	// Let writes flow before the kill.
	warm := time.Now().Add(cfg.SettleTimeout)
	for {
		mu.Lock()
		n := acked
		mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(warm) {
			return r, fmt.Errorf("zk-bench: round %d: only %d writes acknowledged before the kill in %s", round, n, cfg.SettleTimeout)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}

	r.WriterOnKilled = c.Server() == r.Killed
	if err := cfg.Kill(ctx, leader); err != nil {
		return r, fmt.Errorf("zk-bench: round %d: kill %s: %w", round, r.Killed, err)
	}
	gone, err := waitRefused(ctx, r.Killed, 10*time.Second)
	if err != nil {
		return r, fmt.Errorf("zk-bench: round %d: %w", round, err)
	}
	mu.Lock()
	killedAt = gone
	mu.Unlock()

	select {
	case t := <-first:
		r.Failover = t.Sub(gone)
	case <-time.After(cfg.SettleTimeout):
		return r, fmt.Errorf("zk-bench: round %d: no write acknowledged within %s of killing leader %s", round, cfg.SettleTimeout, r.Killed)
	case <-ctx.Done():
		return r, ctx.Err()
	}
	mu.Lock()
	r.Acked = acked
	mu.Unlock()
	var rest []string
	for i, s := range cfg.Servers {
		if i != leader {
			rest = append(rest, s)
		}
	}
	if i, err := Leader(rest); err == nil {
		r.NewLeader = rest[i]
	}
	stop()
	if err := c.Delete(node, -1); err == nil {
		_ = c.Delete(base, -1)
	}
	if err := cfg.Start(ctx, leader); err != nil {
		return r, fmt.Errorf("zk-bench: round %d: start %s again: %w", round, r.Killed, err)
	}
	return r, nil
}

// waitRefused polls addr until a connection to it is refused (the killed
// server's listening socket is gone) and returns that moment.
func waitRefused(ctx context.Context, addr string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return time.Now(), nil
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s still accepts connections %s after the kill", addr, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// shellCommand runs cmd with sh -c, telling it which server through
// ZKBENCH_SERVER_INDEX (0-based, the order of --servers), ZKBENCH_SERVER_ID
// (1-based) and ZKBENCH_SERVER (its address); its output goes to stderr.
func shellCommand(cmd string, servers []string) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Env = append(os.Environ(),
			fmt.Sprintf("ZKBENCH_SERVER_INDEX=%d", i),
			fmt.Sprintf("ZKBENCH_SERVER_ID=%d", i+1),
			"ZKBENCH_SERVER="+servers[i])
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("sh -c %q for %s: %w", cmd, servers[i], err)
		}
		return nil
	}
}
