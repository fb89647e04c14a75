package server

// Four-letter words on the client port: a connection whose first four
// bytes are a known word gets that command's text and is closed.
//
// Behavior: a known word that is not in 4lw.commands.whitelist answers
// "<cmd> is not executed because it is not in the whitelist." (srvr is
// always allowed, isro too with readonlymode.enabled, "*" allows all);
// ruok, srvr, stat, mntr, conf, cons, envi, wchs, wchc, wchp, dump and isro
// print ZooKeeper 3.8's formats; the rest of ZooKeeper's words answer with
// the whitelist message's sibling text below.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// fourLetterWords are every word ZooKeeper 3.8 recognises.
var fourLetterWords = map[string]bool{
	"conf": true, "cons": true, "crst": true, "dump": true, "envi": true, "gtmk": true,
	"ruok": true, "stmk": true, "srst": true, "srvr": true, "stat": true, "wchc": true,
	"wchp": true, "wchs": true, "mntr": true, "isro": true, "hash": true, "dirs": true,
}

func (s *Server) fourLetterEnabled(cmd string) bool {
	wl := s.cfg.FourLetterWords
	if cmd == "srvr" || wl["*"] || wl[cmd] {
		return true
	}
	return cmd == "isro" && s.cfg.ReadOnlyModeEnabled
}

// fourLetter writes the command's answer and closes the connection.
func (s *Server) fourLetter(c *conn, cmd string) {
	var b bytes.Buffer
	if !s.fourLetterEnabled(cmd) {
		fmt.Fprintf(&b, "%s is not executed because it is not in the whitelist.\n", cmd)
	} else {
		s.log.Info(fmt.Sprintf("Processing %s command from %s", cmd, c.remote))
		s.runFourLetter(&b, cmd, c)
	}
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.nc.Write(b.Bytes())
}

// sumLine is one summary mntr prints: BASIC (avg/min/max/cnt/sum) or
// ADVANCED (plus p50/p95/p99/p999), as in ZooKeeper's ServerMetrics.
type sumLine struct {
	name     string
	s        *summary
	advanced bool
}

func (s *Server) runFourLetter(b *bytes.Buffer, cmd string, self *conn) {
	if (!s.running.Load() || s.ens != nil && !s.ens.isServing.Load()) && cmd != "ruok" && cmd != "envi" && cmd != "conf" {
		if cmd == "isro" {
			b.WriteString("null")
		} else {
			b.WriteString("This ZooKeeper instance is not currently serving requests\n")
		}
		return
	}
	switch cmd {
	case "ruok":
		b.WriteString("imok")
	case "isro":
		b.WriteString("rw")
	case "srvr", "stat":
		fmt.Fprintf(b, "Zookeeper version: %s\n", Version)
		if cmd == "stat" {
			b.WriteString("Clients:\n")
			for _, c := range s.sortedConns() {
				c.dumpInfo(b, true)
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
		minL, avgL, maxL := s.stats.latencies()
		s.treeMu.RLock()
		zxid, nodes := s.tree.LastZxid(), s.tree.NodeCount()
		s.treeMu.RUnlock()
		fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", minL, javaDouble(avgL), maxL)
		fmt.Fprintf(b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\nZxid: 0x%x\nMode: %s\nNode count: %d\n",
			s.stats.received.Load(), s.stats.sent.Load(), s.stats.connections.Load(), s.pipe.pending.Load(),
			zxid, s.mode(), nodes)
	case "mntr":
		fmt.Fprintf(b, "zk_version\t%s\nzk_server_state\t%s\n", Version, s.mode())
		for _, g := range s.gauges() {
			fmt.Fprintf(b, "zk_%s\t%s\n", g.name, g.value)
		}
		// fsynctime is a BASIC summary (avg/min/max/cnt/sum), the request
		// latencies ADVANCED ones (plus p50/p95/p99/p999), as in ServerMetrics.
		sums := []sumLine{{"fsynctime", &s.stats.fsync, false}, {"readlatency", &s.stats.read, true}, {"updatelatency", &s.stats.update, true}}
		if s.ens != nil {
			sums = append(sums, sumLine{"election_time", &s.ens.electionTime, false}, sumLine{"proposal_latency", &s.ens.proposalTime, true})
		}
		for _, sm := range sums {
			st := sm.s.stat()
			fmt.Fprintf(b, "zk_avg_%s\t%s\nzk_min_%s\t%s\nzk_max_%s\t%s\nzk_cnt_%s\t%d\nzk_sum_%s\t%s\n",
				sm.name, javaDouble(st.avg), sm.name, javaDouble(st.min), sm.name, javaDouble(st.max),
				sm.name, st.count, sm.name, javaDouble(st.sum))
			if sm.advanced {
				fmt.Fprintf(b, "zk_p50_%s\t%s\nzk_p95_%s\t%s\nzk_p99_%s\t%s\nzk_p999_%s\t%s\n",
					sm.name, javaDouble(st.p50), sm.name, javaDouble(st.p95), sm.name, javaDouble(st.p99), sm.name, javaDouble(st.p999))
			}
		}
	case "conf":
		cfg := s.cfg
		logDir := cfg.DataLogDir
		if logDir == "" {
			logDir = cfg.DataDir
		}
		port := 0
		if ta, ok := s.Addr().(*net.TCPAddr); ok {
			port = ta.Port
		}
		fmt.Fprintf(b, "clientPort=%d\nsecureClientPort=-1\ndataDir=%s\ndataDirSize=%d\ndataLogDir=%s\ndataLogSize=%d\n",
			port, abs(filepath.Join(cfg.DataDir, "version-2")), dirSize(filepath.Join(cfg.DataDir, "version-2")),
			abs(filepath.Join(logDir, "version-2")), dirSize(filepath.Join(logDir, "version-2")))
		fmt.Fprintf(b, "tickTime=%d\nmaxClientCnxns=%d\nminSessionTimeout=%d\nmaxSessionTimeout=%d\nclientPortListenBacklog=-1\nserverId=%d\n",
			cfg.TickTimeMs, cfg.MaxClientCnxns, cfg.MinSessionTimeoutMs, cfg.MaxSessionTimeoutMs, cfg.MyID)
	case "cons":
		for _, c := range s.sortedConns() {
			c.dumpInfo(b, false)
			b.WriteString("\n")
		}
		b.WriteString("\n")
	case "crst":
		for _, c := range s.connList() {
			c.resetStats()
		}
		b.WriteString("Connection stats reset.\n")
	case "srst":
		s.stats.mu.Lock()
		s.stats.latMin, s.stats.latMax, s.stats.latTotal, s.stats.latCount = 0, 0, 0, 0
		s.stats.mu.Unlock()
		s.stats.received.Store(0)
		s.stats.sent.Store(0)
		b.WriteString("Server stats reset.\n")
	case "envi":
		s.writeEnv(b)
	case "wchs":
		s.watches.summary(b)
		b.WriteString("\n")
	case "wchc", "wchp":
		s.watches.dump(b, cmd == "wchp")
		b.WriteString("\n")
	case "dump":
		b.WriteString("SessionTracker dump:\n")
		s.tracker.dump(b)
		b.WriteString("ephemeral nodes dump:\n")
		s.dumpEphemerals(b)
		b.WriteString("Connections dump:\n")
		cs := s.sortedConns()
		fmt.Fprintf(b, "Connections Sets (%d)/(%d):\n", min(len(cs), 1), len(cs))
		if len(cs) > 0 {
			fmt.Fprintf(b, "%d expire at %s:\n", len(cs), javaDate(s.now()))
			for _, c := range cs {
				b.WriteString("\t")
				c.dumpInfo(b, false)
				b.WriteString("\n")
			}
		}
	case "dirs":
		cfg := s.cfg
		logDir := cfg.DataLogDir
		if logDir == "" {
			logDir = cfg.DataDir
		}
		fmt.Fprintf(b, "datadir_size: %d\nlogdir_size: %d\n", dirSize(filepath.Join(cfg.DataDir, "version-2")), dirSize(filepath.Join(logDir, "version-2")))
	case "gtmk":
		b.WriteString("0\n")
	case "stmk":
		b.WriteString("0\n")
	case "hash":
		b.WriteString("Digest in use: none\n")
	}
}

func (s *Server) sortedConns() []*conn {
	cs := s.connList()
	sort.Slice(cs, func(i, j int) bool { return cs[i].remote < cs[j].remote })
	return cs
}

// dumpEphemerals is DataTree.dumpEphemerals.
func (s *Server) dumpEphemerals(b *bytes.Buffer) {
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	type se struct {
		id    int64
		paths []string
	}
	var list []se
	for _, si := range s.tree.Sessions() {
		if ps := s.tree.SessionEphemerals(si.ID); len(ps) > 0 {
			list = append(list, se{si.ID, ps})
		}
	}
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(list))
	for _, e := range list {
		fmt.Fprintf(b, "0x%x:\n", e.id)
		for _, p := range e.paths {
			fmt.Fprintf(b, "\t%s\n", p)
		}
	}
}

// writeEnv is envi: ZooKeeper's Environment.list with the Go runtime's
// values where Java's have no meaning.
func (s *Server) writeEnv(b *bytes.Buffer) {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	user := os.Getenv("USER")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	exe, _ := os.Executable()
	b.WriteString("Environment:\n")
	for _, kv := range [][2]string{
		{"zookeeper.version", Version},
		{"host.name", host},
		{"java.version", runtime.Version()},
		{"java.vendor", "kzoo"},
		{"java.home", filepath.Dir(exe)},
		{"java.class.path", exe},
		{"java.library.path", ""},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", "<NA>"},
		{"os.name", strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:]},
		{"os.arch", runtime.GOARCH},
		{"os.version", osVersion()},
		{"user.name", user},
		{"user.home", home},
		{"user.dir", wd},
		{"os.memory.free", fmt.Sprintf("%dMB", (ms.HeapIdle)>>20)},
		{"os.memory.max", fmt.Sprintf("%dMB", ms.Sys>>20)},
		{"os.memory.total", fmt.Sprintf("%dMB", ms.HeapSys>>20)},
	} {
		fmt.Fprintf(b, "%s=%s\n", kv[0], kv[1])
	}
}

func osVersion() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func dirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && !info.IsDir() {
			n += info.Size()
		}
	}
	return n
}

// dumpInfo is ServerCnxn.dumpConnectionInfo.
func (c *conn) dumpInfo(b *bytes.Buffer, brief bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(b, " %s[1](queued=%d,recved=%d,sent=%d", c.remote, len(c.queue)-c.head, c.recv, c.sent)
	if !brief {
		if sid := c.session(); sid != 0 {
			fmt.Fprintf(b, ",sid=0x%x,lop=%s,est=%d,to=%d", sid, c.lastOp, c.est.UnixMilli(), c.timeoutMs.Load())
			if c.lastCxid >= 0 {
				fmt.Fprintf(b, ",lcxid=0x%x", c.lastCxid)
			}
			avg := int64(0)
			if c.latCount > 0 {
				avg = c.latTotal / c.latCount
			}
			minLat := max(c.minLat, 0)
			fmt.Fprintf(b, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
				c.lastZxid, c.lastResp, c.lastLat, minLat, avg, c.maxLat)
		}
	}
	b.WriteString(")")
}

func (c *conn) resetStats() {
	c.mu.Lock()
	c.recv, c.sent = 0, 0
	c.lastOp, c.lastCxid, c.lastZxid, c.lastResp, c.lastLat = "NA", -1, -1, 0, 0
	c.minLat, c.maxLat, c.latTotal, c.latCount = -1, 0, 0, 0
	c.mu.Unlock()
}
