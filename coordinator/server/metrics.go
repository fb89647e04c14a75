package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stats are the server-wide counters srvr, mntr and /metrics report.
type stats struct {
	received    atomic.Int64
	sent        atomic.Int64
	connections atomic.Int64
	authFailed  atomic.Int64

	mu                 sync.Mutex
	latMin, latMax     int64 // ms, ZooKeeper's "Latency min/avg/max"
	latTotal, latCount int64

	fsync  summary
	update summary
	read   summary
}

func (st *stats) latency(d time.Duration) {
	ms := d.Milliseconds()
	st.mu.Lock()
	if st.latCount == 0 || ms < st.latMin {
		st.latMin = ms
	}
	st.latMax = max(st.latMax, ms)
	st.latTotal += ms
	st.latCount++
	st.mu.Unlock()
}

func (st *stats) latencies() (minMs int64, avg float64, maxMs int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.latCount == 0 {
		return 0, 0, 0
	}
	return st.latMin, float64(st.latTotal) / float64(st.latCount), st.latMax
}

// summary keeps a count, a sum, the extremes and the last samples for
// quantiles, in milliseconds like ZooKeeper's summaries.
type summary struct {
	mu       sync.Mutex
	count    int64
	sum      float64
	min, max float64
	samples  [1024]float64
	n        int
}

func (s *summary) observe(d time.Duration) {
	ms := float64(d.Microseconds()) / 1000
	s.mu.Lock()
	if s.count == 0 || ms < s.min {
		s.min = ms
	}
	s.max = max(s.max, ms)
	s.samples[s.count%int64(len(s.samples))] = ms
	s.count++
	s.sum += ms
	s.n = min(s.n+1, len(s.samples))
	s.mu.Unlock()
}

// summaryStat is a summary read at one moment.
type summaryStat struct {
	count                    int64
	sum, avg, min, max       float64
	p50, p90, p95, p99, p999 float64
}

func (s *summary) stat() summaryStat {
	s.mu.Lock()
	xs := slices.Clone(s.samples[:s.n])
	st := summaryStat{count: s.count, sum: s.sum, min: s.min, max: s.max}
	s.mu.Unlock()
	if st.count > 0 {
		st.avg = st.sum / float64(st.count)
	}
	if len(xs) == 0 {
		return st
	}
	slices.Sort(xs)
	q := func(f float64) float64 { return xs[min(int(f*float64(len(xs))), len(xs)-1)] }
	st.p50, st.p90, st.p95, st.p99, st.p999 = q(0.5), q(0.9), q(0.95), q(0.99), q(0.999)
	return st
}

// javaDouble formats a float as Java's Double.toString does for ordinary
// values ("0.0", "1.5").
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s
		}
	}
	return s + ".0"
}

// gauge is one named value for mntr and /metrics.
type gauge struct {
	name  string
	value string
}

// gauges are ZooKeeper's registered gauges, in the order mntr prints them.
func (s *Server) gauges() []gauge {
	s.treeMu.RLock()
	nodes, data, ephem := s.tree.NodeCount(), s.tree.DataSize(), s.tree.EphemeralCount()
	s.treeMu.RUnlock()
	minL, avgL, maxL := s.stats.latencies()
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	gs := []gauge{
		{"avg_latency", javaDouble(avgL)},
		{"max_latency", i(maxL)},
		{"min_latency", i(minL)},
		{"packets_received", i(s.stats.received.Load())},
		{"packets_sent", i(s.stats.sent.Load())},
		{"num_alive_connections", i(s.stats.connections.Load())},
		{"outstanding_requests", i(s.pipe.pending.Load())},
		{"uptime", i(time.Since(s.started).Milliseconds())},
		{"znode_count", i(int64(nodes))},
		{"watch_count", i(int64(s.watches.count()))},
		{"ephemerals_count", i(int64(ephem))},
		{"approximate_data_size", i(data)},
		{"global_sessions", i(int64(s.tracker.count()))},
		{"local_sessions", "0"},
		{"open_file_descriptor_count", i(openFDs())},
		{"max_file_descriptor_count", i(maxFDs())},
		{"connection_drop_probability", "0.0"},
		{"auth_failed_count", i(s.stats.authFailed.Load())},
	}
	if e := s.ens; e != nil {
		gs = append(gs, gauge{"peer_state", e.peerState()}, gauge{"quorum_size", i(int64(len(e.voters)))},
			gauge{"election_count", i(e.elections.Load())})
		if e.leading() {
			// ZooKeeper 3.8's leader-only lines.
			gs = append(gs,
				gauge{"learners", i(e.learners.Load())},
				gauge{"synced_followers", i(e.syncedFollowers.Load())},
				gauge{"synced_non_voting_followers", "0"},
				gauge{"synced_observers", i(e.syncedObservers.Load())},
				gauge{"pending_syncs", i(e.pendingSyncs())},
				gauge{"max_follower_lag", i(e.maxLag.Load())},
			)
		}
	}
	return gs
}

func (s *Server) startMetrics() error {
	addr := net.JoinHostPort(s.cfg.MetricsHTTPHost, strconv.Itoa(s.cfg.MetricsHTTPPort))
	ln, err := s.listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.writeMetrics(w)
	})
	s.metricsLn = ln
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.metrics.Serve(ln); err != nil && err != http.ErrServerClosed {
			s.log.Error(fmt.Sprintf("metrics endpoint on %s stopped: %v", ln.Addr(), err))
		}
	}()
	s.log.Info(fmt.Sprintf("Started Prometheus metrics exporter on http://%s/metrics", ln.Addr()))
	return nil
}

// writeMetrics writes the Prometheus text exposition format.
func (s *Server) writeMetrics(out io.Writer) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	counters := map[string]bool{"packets_received": true, "packets_sent": true}
	for _, g := range s.gauges() {
		typ := "gauge"
		if counters[g.name] {
			typ = "counter"
		}
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", g.name, g.name, g.name, typ, g.name, g.value)
	}
	for _, sm := range []struct {
		name string
		s    *summary
	}{{"fsynctime", &s.stats.fsync}, {"updatelatency", &s.stats.update}, {"readlatency", &s.stats.read}} {
		st := sm.s.stat()
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s summary\n", sm.name, sm.name, sm.name)
		for _, q := range []struct {
			label string
			v     float64
		}{{"0.5", st.p50}, {"0.9", st.p90}, {"0.99", st.p99}} {
			fmt.Fprintf(w, "%s{quantile=%q} %s\n", sm.name, q.label, javaDouble(q.v))
		}
		fmt.Fprintf(w, "%s_count %d\n%s_sum %s\n", sm.name, st.count, sm.name, javaDouble(st.sum))
	}
}
