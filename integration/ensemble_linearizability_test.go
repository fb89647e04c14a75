//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/integration/faultproxy"
)

// ensembleSeedEnv replays a run of the linearizability test: the seed
// chooses the nemesis' events and victims and every client's operations.
const ensembleSeedEnv = "KZOO_ENSEMBLE_SEED"

const (
	linClients    = 5
	linRegisters  = 3
	linEvents     = 5 // nemesis events per run
	linSeqParent  = "/lin/seq"
	linCheckLimit = 60 * time.Second
)

func linRegister(i int) string { return fmt.Sprintf("/lin/r%d", i) }

// linHistory collects operations from every client.
type linHistory struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	acked []string // acknowledged sequential children of linSeqParent
}

func (h *linHistory) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *linHistory) add(op porcupine.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// linWorker runs one client's operations until ctx ends: reads (sync then
// get), versioned sets on the version just read, and sequential creates.
func linWorker(ctx context.Context, t *testing.T, id int, c *zk.Conn, rng *rand.Rand, h *linHistory) {
	pace := time.NewTicker(10 * time.Millisecond)
	defer pace.Stop()
	for n := 0; ctx.Err() == nil; n++ {
		select {
		case <-pace.C:
		case <-ctx.Done():
			return
		}
		r := rng.IntN(100)
		if r >= 75 {
			tag := fmt.Sprintf("c%d-%d", id, n)
			call := h.now()
			name, err := c.Create(linSeqParent+"/n-", []byte(tag), zk.FlagSequence, zk.WorldACL(zk.PermAll))
			ret := h.now()
			out := linOutput{unknown: ensembleIndeterminate(err)}
			if err == nil {
				seq, perr := strconv.ParseInt(name[strings.LastIndexByte(name, '-')+1:], 10, 64)
				if perr != nil {
					t.Errorf("client %d: create returned %q, not a sequential name", id, name)
					continue
				}
				out.seq = seq
				h.mu.Lock()
				h.acked = append(h.acked, name[len(linSeqParent)+1:])
				h.mu.Unlock()
			} else if !out.unknown {
				t.Errorf("client %d: create under %s: %v", id, linSeqParent, err)
				continue
			}
			h.add(linOp(id, call, ret, linInput{kind: linCreateSeq, key: linSeqParent, val: tag}, out))
			continue
		}
		key := linRegister(rng.IntN(linRegisters))
		call := h.now()
		_, err := c.Sync(key)
		var data []byte
		var stat *zk.Stat
		if err == nil {
			data, stat, err = c.Get(key)
		}
		ret := h.now()
		if err != nil {
			// A read that failed changed nothing; it constrains nothing.
			if !ensembleIndeterminate(err) {
				t.Errorf("client %d: sync+get %s: %v", id, key, err)
			}
			continue
		}
		h.add(linOp(id, call, ret, linInput{kind: linRead, key: key}, linOutput{ver: stat.Version, val: string(data)}))
		if r < 30 {
			continue
		}
		val := fmt.Sprintf("c%d-%d", id, n)
		call = h.now()
		_, err = c.Set(key, []byte(val), stat.Version)
		ret = h.now()
		out := linOutput{unknown: ensembleIndeterminate(err), badVersion: errors.Is(err, zk.ErrBadVersion)}
		if err != nil && !out.unknown && !out.badVersion {
			t.Errorf("client %d: set %s version %d: %v", id, key, stat.Version, err)
			continue
		}
		h.add(linOp(id, call, ret, linInput{kind: linCAS, key: key, ver: stat.Version, val: val}, out))
	}
}

// nemesisHold waits d unless ctx ends first.
func nemesisHold(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// TestEnsembleLinearizableUnderFaults runs clients against a 3-process
// ensemble while a nemesis kill -9s and restarts servers, partitions one
// away and heals it, and resets and slows a server's peer links, then checks the history with porcupine and that
// every acknowledged create is on every server.
func TestEnsembleLinearizableUnderFaults(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(ensembleSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "%s=%q", ensembleSeedEnv, s)
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, ensembleSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 0x6b7a6f6f))

	e := newEnsemble(t)
	e.waitServing(90 * time.Second)
	setup := ensembleConnect(t, e.clientAddrs(), 6*time.Second)
	for _, p := range []string{"/lin", linSeqParent, linRegister(0), linRegister(1), linRegister(2)} {
		_, err := setup.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err, "create %s", p)
	}
	setup.Close()

	h := &linHistory{start: time.Now()}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	conns := make([]*zk.Conn, linClients)
	for i := range conns {
		conns[i] = ensembleConnect(t, e.clientAddrs(), 6*time.Second)
		wrng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			linWorker(ctx, t, i, conns[i], wrng, h)
		}()
	}

	// The nemesis: a fixed number of events, each undone before the next.
	nemesisHold(ctx, 2*time.Second)
	events := []int{0, 1} // both a kill and a partition happen in every run
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	for len(events) < linEvents {
		events = append(events, rng.IntN(3))
	}
	for ev, kind := range events {
		victim := 1 + rng.IntN(len(e.nodes))
		if rng.IntN(2) == 0 {
			victim = e.waitServing(60 * time.Second) // the leader
		}
		at := time.Since(h.start).Seconds()
		switch kind {
		case 0:
			hold := time.Duration(1500+rng.IntN(2000)) * time.Millisecond
			t.Logf("nemesis %d at %.1fs: kill -9 server %d (modes %v), restart after %s", ev, at, victim, e.modes(), hold)
			e.kill(victim)
			nemesisHold(ctx, hold)
			e.start(victim)
		case 1:
			// Long enough for a partitioned leader to lose its followers
			// (syncLimit=5 ticks) and for the majority to elect another.
			hold := time.Duration(ensembleTickMs*5*3/2+rng.IntN(2000)) * time.Millisecond
			t.Logf("nemesis %d at %.1fs: partition server %d (modes %v), heal after %s", ev, at, victim, e.modes(), hold)
			e.partition(victim)
			nemesisHold(ctx, hold)
			e.heal(victim)
		case 2:
			hold := time.Duration(1500+rng.IntN(2000)) * time.Millisecond
			delay := time.Duration(50+rng.IntN(200)) * time.Millisecond
			resets := 0
			e.eachLink(victim, func(p *faultproxy.Proxy) { p.SetDelay(delay); resets += p.Reset() })
			t.Logf("nemesis %d at %.1fs: reset %d peer connections of server %d (modes %v), delay its links %s for %s", ev, at, resets, victim, e.modes(), delay, hold)
			nemesisHold(ctx, hold)
			e.eachLink(victim, func(p *faultproxy.Proxy) { p.SetDelay(0) })
		}
		e.waitServing(60 * time.Second)
		nemesisHold(ctx, time.Second)
	}

	stop()
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	select {
	case <-workersDone:
	case <-time.After(20 * time.Second):
		// Close fails whatever is still pending; those answers are lost.
		for _, c := range conns {
			c.Close()
		}
		<-workersDone
	}
	for _, c := range conns {
		c.Close()
	}

	// Every server holds every acknowledged create and the same registers;
	// the final reads join the history.
	e.healAll()
	e.waitServing(90 * time.Second)
	for _, n := range e.nodes {
		requireHasAll(t, n.clientAddr(), linSeqParent, h.acked)
		c := ensembleConnect(t, []string{n.clientAddr()}, 6*time.Second)
		for r := 0; r < linRegisters; r++ {
			key := linRegister(r)
			call := h.now()
			_, err := c.Sync(key)
			require.NoError(t, err, "sync %s on %s", key, n.clientAddr())
			data, stat, err := c.Get(key)
			require.NoError(t, err, "get %s on %s", key, n.clientAddr())
			h.add(linOp(linClients, call, h.now(), linInput{kind: linRead, key: key}, linOutput{ver: stat.Version, val: string(data)}))
		}
		c.Close()
	}

	// The children nobody was told about are the lost creates that took
	// effect; their data names the operation.
	created := map[string]int64{}
	{
		c := ensembleConnect(t, e.clientAddrs()[:1], 6*time.Second)
		_, err := c.Sync(linSeqParent)
		require.NoError(t, err)
		kids, _, err := c.Children(linSeqParent)
		require.NoError(t, err)
		for _, k := range kids {
			if slices.Contains(h.acked, k) {
				continue
			}
			data, _, err := c.Get(linSeqParent + "/" + k)
			require.NoError(t, err)
			seq, err := strconv.ParseInt(k[strings.LastIndexByte(k, '-')+1:], 10, 64)
			require.NoError(t, err, "child %s/%s", linSeqParent, k)
			created[string(data)] = seq
		}
		c.Close()
	}
	ops, resolved, dropped := linResolve(h.ops, created)
	t.Logf("lost answers: %d settled by what was observed, %d dropped as never applied", resolved, dropped)

	unknown := 0
	kinds := map[linKind]int{}
	for _, op := range ops {
		kinds[op.Input.(linInput).kind]++
		if op.Output.(linOutput).unknown {
			unknown++
		}
	}
	t.Logf("history: %d operations (%d reads, %d sets, %d creates), %d still open, %d creates acknowledged",
		len(ops), kinds[linRead], kinds[linCAS], kinds[linCreateSeq], unknown, len(h.acked))
	require.Greater(t, kinds[linCAS], 20, "too few sets to say anything")

	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel, ops, linCheckLimit)
	t.Logf("porcupine: %s in %s", res, time.Since(checkStart).Round(time.Millisecond))
	if res != porcupine.Ok {
		dir, err := os.MkdirTemp("", "kzoo-linearizability-")
		require.NoError(t, err)
		path := filepath.Join(dir, "history.html")
		if verr := porcupine.VisualizePath(linModel, info, path); verr != nil {
			t.Logf("visualization failed: %v", verr)
		}
		require.Equal(t, porcupine.Ok, res, "%s ensemble history is not linearizable (seed %d); visualization: %s",
			e.target, seed, path)
	}
	slices.Sort(h.acked)
	require.Equal(t, len(h.acked), len(slices.Compact(slices.Clone(h.acked))), "a sequential name was handed out twice")
}
