package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kzoo/coordinator/jute"
)

// benchClient pipelines requests on one raw connection: it keeps window
// requests in flight and counts the replies.
func benchClients(b *testing.B, addrs []string, conns, window int, mk func(conn, i int) (jute.Op, jute.Record)) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for ci := 0; ci < conns; ci++ {
		nc, err := net.Dial("tcp", addrs[ci%len(addrs)])
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write(jute.FrameRecords(&jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})); err != nil {
			b.Fatal(err)
		}
		if _, err := jute.ReadFrame(nc, 1<<20, nil); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func(ci int) {
			defer wg.Done()
			sent := make(chan struct{}, window)
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 0, 4096)
				for range sent {
					var err error
					buf, err = jute.ReadFrame(nc, 1<<20, buf)
					if err != nil {
						return
					}
					var h jute.ReplyHeader
					jute.Unmarshal(buf, &h)
					if h.Err != jute.OK {
						panic(fmt.Sprintf("bench: reply error %v", h.Err))
					}
				}
			}()
			xid := int32(0)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					break
				}
				op, rec := mk(ci, int(i))
				xid++
				h := jute.RequestHeader{Xid: xid, Type: op}
				sent <- struct{}{}
				if _, err := nc.Write(jute.FrameRecords(&h, rec)); err != nil {
					return
				}
			}
			close(sent)
			<-done
		}(ci)
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

func benchServer(b *testing.B) *Server {
	cfg := testConfig(b, "preAllocSize=65536")
	cfg.MaxClientCnxns = 0
	cfg.MaxSessionTimeoutMs = 60000
	return startServer(b, cfg, quiet)
}

// BenchmarkServerCreate measures creates per second with fsync on.
func BenchmarkServerCreate(b *testing.B) {
	s := benchServer(b)
	benchClients(b, []string{s.Addr().String()}, 32, 16, func(c, i int) (jute.Op, jute.Record) {
		return jute.OpCreate, &jute.CreateRequest{Path: fmt.Sprintf("/c%d", i), Data: make([]byte, 100), ACL: jute.WorldAnyone}
	})
	reportBatching(b, s)
}

// reportBatching reports the group commit: writes per fsync.
func reportBatching(b *testing.B, s *Server) {
	if n := s.stats.fsync.stat().count; n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "writes/fsync")
	}
}

// BenchmarkServerSet measures setData per second with fsync on.
func BenchmarkServerSet(b *testing.B) {
	s := benchServer(b)
	r := dialRaw(b, s)
	r.session(10000)
	if code, _ := r.call(jute.OpCreate, &jute.CreateRequest{Path: "/s", ACL: jute.WorldAnyone}, nil); code != jute.OK {
		b.Fatal(code)
	}
	benchClients(b, []string{s.Addr().String()}, 32, 16, func(c, i int) (jute.Op, jute.Record) {
		return jute.OpSetData, &jute.SetDataRequest{Path: "/s", Data: make([]byte, 100), Version: -1}
	})
}

// BenchmarkServerGet measures getData per second.
func BenchmarkServerGet(b *testing.B) {
	s := benchServer(b)
	r := dialRaw(b, s)
	r.session(10000)
	if code, _ := r.call(jute.OpCreate, &jute.CreateRequest{Path: "/g", Data: make([]byte, 100), ACL: jute.WorldAnyone}, nil); code != jute.OK {
		b.Fatal(code)
	}
	benchClients(b, []string{s.Addr().String()}, 32, 16, func(c, i int) (jute.Op, jute.Record) {
		return jute.OpGetData, &jute.PathWatchRequest{Path: "/g"}
	})
}

// BenchmarkEnsembleCreate is BenchmarkServerCreate against an in-process
// 3-server ensemble, the connections spread over the servers.
func BenchmarkEnsembleCreate(b *testing.B) {
	cfgs := ensembleConfigs(b, 3)
	var addrs []string
	ss := make([]*Server, 3)
	for i, c := range cfgs {
		s, err := New(Options{Config: c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		ss[i] = s
		addrs = append(addrs, s.Addr().String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for leaderOf(ss) < 0 || !ss[0].ens.isServing.Load() || !ss[1].ens.isServing.Load() || !ss[2].ens.isServing.Load() {
		if time.Now().After(deadline) {
			b.Fatal("no serving ensemble within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	benchClients(b, addrs, 48, 4, func(c, i int) (jute.Op, jute.Record) {
		return jute.OpCreate, &jute.CreateRequest{Path: fmt.Sprintf("/c%d", i), Data: make([]byte, 100), ACL: jute.WorldAnyone}
	})
}
