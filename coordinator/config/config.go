// Package config owns zoo.cfg: it reads the file (and the `-D` system
// properties ZooKeeper takes from SERVER_JVMFLAGS), fills in ZooKeeper 3.8's
// defaults, validates every value and, for an ensemble, reads `myid` from
// dataDir to find this server's line.
//
// It never creates, writes or locks anything on disk and never opens a
// socket: every error is returned before the server touches its dataDir.
// The only file it reads besides the config itself is dataDir/myid (Load).
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every *Error: errors.Is(err, config.ErrInvalid)
// tells a bad configuration apart from an unreadable file.
var ErrInvalid = errors.New("config: invalid")

// PrometheusProvider is the metricsProvider.className that turns on the
// Prometheus endpoint, as in ZooKeeper.
const PrometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

// FourLetterWordsAll lists every four-letter word kzoo answers; it is what
// `4lw.commands.whitelist=*` enables.
var FourLetterWordsAll = []string{
	"conf", "cons", "crst", "dump", "envi", "isro", "mntr", "ruok", "srst", "srvr", "stat", "wchs",
}

// Error is a configuration error about one key, on one line of one file.
// Line is 0 when the problem is a key that is missing altogether.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// Server is one `server.N=` line.
type Server struct {
	ID           int64
	Host         string
	QuorumPort   int
	ElectionPort int
	Observer     bool
	ClientAddr   string // from ";[addr:]port", "" if absent
	ClientPort   int    // 0 if absent
	Line         int    // line number in the file, for errors
}

// Config is a parsed and validated zoo.cfg.
type Config struct {
	Path                 string
	TickTimeMs           int // tickTime, default 2000
	InitLimit, SyncLimit int // default 10, 5
	DataDir, DataLogDir  string
	ClientPort           int    // required unless a server.N line gives it
	ClientPortAddress    string // default "" = all interfaces
	MaxClientCnxns       int    // default 60 (per client IP; 0 = unlimited)
	MinSessionTimeoutMs  int    // default 2*tickTime
	MaxSessionTimeoutMs  int    // default 20*tickTime
	SnapRetainCount      int    // autopurge.snapRetainCount, default 3 (min 3)
	PurgeIntervalHours   int    // autopurge.purgeInterval, default 0 = off
	Servers              []Server
	MyID                 int64           // from dataDir/myid when Servers is non-empty
	FourLetterWords      map[string]bool // 4lw.commands.whitelist; default {"srvr"}
	AdminEnableServer    bool            // admin.enableServer (accepted, there is no admin server)
	StandaloneEnabled    bool            // default true
	MetricsProviderClass string          // metricsProvider.className
	MetricsHTTPHost      string          // default "0.0.0.0"
	MetricsHTTPPort      int             // default 7000
	MetricsExportJVMInfo bool            // default true
	SnapCount            int             // default 100000
	PreAllocSizeKB       int             // default 65536
	ForceSync            bool            // default true ("yes"/"no")

	// From SERVER_JVMFLAGS -D system properties (or the matching zoo.cfg keys,
	// which ZooKeeper turns into "zookeeper."-prefixed system properties).
	JuteMaxBuffer        int    // jute.maxbuffer, default 0xfffff
	SuperDigest          string // zookeeper.DigestAuthenticationProvider.superDigest
	ExtendedTypesEnabled bool   // zookeeper.extendedTypesEnabled
	ReadOnlyModeEnabled  bool   // readonlymode.enabled

	Warnings []string // "file:line: unknown key 'x' ignored", ...
}

// Load reads and parses the zoo.cfg at path; when the config names servers
// and does not run standalone it reads dataDir/myid and checks that a
// server line carries that id. sysProps are the -D system properties
// (ParseJVMFlags); nil means none.
func Load(path string, sysProps map[string]string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	c, err := Parse(path, data, sysProps)
	if err != nil {
		return nil, err
	}
	if c.Standalone() {
		return c, nil
	}
	myidPath := filepath.Join(c.DataDir, "myid")
	raw, err := os.ReadFile(myidPath)
	if err != nil {
		return nil, fmt.Errorf("config: %s: server.N lines need a myid file in dataDir: %w", path, err)
	}
	text := strings.TrimSpace(string(raw))
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, &Error{File: myidPath, Line: 1, Key: "myid", Msg: fmt.Sprintf("%q is not a number", text)}
	}
	if err := c.setMyID(id); err != nil {
		return nil, err
	}
	return c, nil
}

// setMyID selects this server's line and checks what depends on it.
func (c *Config) setMyID(id int64) error {
	c.MyID = id
	self := c.Self()
	if self == nil {
		return &Error{File: filepath.Join(c.DataDir, "myid"), Line: 1, Key: "myid",
			Msg: fmt.Sprintf("%d has no server.%d line in %s", id, id, c.Path)}
	}
	if self.ClientPort == 0 && c.ClientPort == 0 {
		return &Error{File: c.Path, Line: self.Line, Key: fmt.Sprintf("server.%d", id),
			Msg: "no client port: set clientPort or end the server line with ;[address:]port"}
	}
	if self.ClientPort != 0 && c.ClientPort != 0 && self.ClientPort != c.ClientPort {
		return &Error{File: c.Path, Line: self.Line, Key: fmt.Sprintf("server.%d", id),
			Msg: fmt.Sprintf("client port %d differs from clientPort=%d", self.ClientPort, c.ClientPort)}
	}
	port := c.ClientPort
	if self.ClientPort != 0 {
		port = self.ClientPort
	}
	if port == self.QuorumPort || port == self.ElectionPort {
		return &Error{File: c.Path, Line: self.Line, Key: fmt.Sprintf("server.%d", id),
			Msg: fmt.Sprintf("client port %d is also this server's quorum or election port", port)}
	}
	return nil
}

// Standalone reports whether this server runs alone: no server lines, or a
// single participant line with standaloneEnabled=true (as ZooKeeper does).
func (c *Config) Standalone() bool {
	if len(c.Servers) == 0 {
		return true
	}
	return len(c.Servers) == 1 && c.StandaloneEnabled
}

// MetricsEnabled reports whether metricsProvider.className names the
// Prometheus provider.
func (c *Config) MetricsEnabled() bool {
	return c.MetricsProviderClass == PrometheusProvider ||
		strings.HasSuffix(c.MetricsProviderClass, ".PrometheusMetricsProvider")
}

// ClientAddr is the "addr:port" the client listener binds; an empty addr
// means every interface.
func (c *Config) ClientAddr() string {
	if s := c.Self(); s != nil && s.ClientPort != 0 {
		addr := s.ClientAddr
		if addr == "" {
			addr = c.ClientPortAddress
		}
		return net.JoinHostPort(addr, strconv.Itoa(s.ClientPort))
	}
	return net.JoinHostPort(c.ClientPortAddress, strconv.Itoa(c.ClientPort))
}

// Self is this server's line, chosen by MyID; nil in standalone mode.
func (c *Config) Self() *Server {
	if c.Standalone() {
		return nil
	}
	for i := range c.Servers {
		if c.Servers[i].ID == c.MyID {
			return &c.Servers[i]
		}
	}
	return nil
}

// ParseJVMFlags extracts the -D system properties from a JVM command line
// such as SERVER_JVMFLAGS: "-Dk=v -Xmx1g -Dx" gives {k: v, x: ""}. Other
// options are ignored. Single or double quotes group a word, as a shell
// would have done.
func ParseJVMFlags(flags string) map[string]string {
	props := map[string]string{}
	for _, w := range splitWords(flags) {
		if !strings.HasPrefix(w, "-D") || len(w) == 2 {
			continue
		}
		k, v, _ := strings.Cut(w[2:], "=")
		props[k] = v
	}
	return props
}

// splitWords splits s on blanks, honouring '...' and "..." quoting.
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// entry is one key=value line of a properties file.
type entry struct {
	key, value string
	line       int
}

// readProperties splits a Java-properties style file into entries in file
// order: '#' and '!' comments, key and value separated by '=', ':' or
// blanks, a trailing backslash continues the line. Values are trimmed, as
// ZooKeeper trims them.
func readProperties(data []byte) []entry {
	var out []entry
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		l := strings.TrimLeft(strings.TrimRight(lines[i], "\r"), " \t\f")
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		for strings.HasSuffix(l, "\\") && !strings.HasSuffix(l, "\\\\") && i+1 < len(lines) {
			i++
			l = l[:len(l)-1] + strings.TrimLeft(strings.TrimRight(lines[i], "\r"), " \t\f")
		}
		end := strings.IndexAny(l, "=: \t\f")
		if end < 0 {
			out = append(out, entry{key: l, line: lineNo})
			continue
		}
		key, rest := l[:end], strings.TrimLeft(l[end:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = rest[1:]
		}
		out = append(out, entry{key: key, value: strings.TrimSpace(rest), line: lineNo})
	}
	return out
}

// ignoredKeys are ZooKeeper 3.8 settings kzoo accepts but does not act on.
var ignoredKeys = map[string]bool{
	"secureClientPort": true, "secureClientPortAddress": true, "electionAlg": true,
	"quorumListenOnAllIPs": true, "peerType": true, "syncEnabled": true,
	"dynamicConfigFile": true, "reconfigEnabled": true, "localSessionsEnabled": true,
	"localSessionsUpgradingEnabled": true, "clientPortListenBacklog": true,
	"multiAddress.enabled": true, "multiAddress.reachabilityCheckEnabled": true,
	"multiAddress.reachabilityCheckTimeoutMs": true, "oraclePath": true,
	"sslQuorum": true, "portUnification": true, "sslQuorumReloadCertFiles": true,
	"connectToLearnerMasterLimit": true, "quorum.auth.enableSasl": true,
	"quorum.auth.learnerRequireSasl": true, "quorum.auth.serverRequireSasl": true,
	"quorum.cnxn.threads.size": true, "jvm.pause.monitor": true,
	"serverCnxnFactory": true, "authProvider.1": true, "globalOutstandingLimit": true,
	"commitLogCount": true, "snapSizeLimitInKb": true, "txnLogSizeLimitInKb": true,
	"admin.serverPort": true, "admin.serverAddress": true, "admin.commandURL": true,
	"admin.idleTimeout": true,
}

// Parse parses zoo.cfg text; name is used in errors and warnings. It does
// not read myid: MyID stays 0 and Self is nil unless the caller sets up
// standalone mode. sysProps are the -D system properties; keys in the file
// override them, as ZooKeeper's file-to-system-property mapping does.
func Parse(name string, data []byte, sysProps map[string]string) (*Config, error) {
	c := &Config{
		Path:                 name,
		TickTimeMs:           2000,
		InitLimit:            10,
		SyncLimit:            5,
		MaxClientCnxns:       60,
		MinSessionTimeoutMs:  -1,
		MaxSessionTimeoutMs:  -1,
		SnapRetainCount:      3,
		FourLetterWords:      map[string]bool{"srvr": true},
		StandaloneEnabled:    true,
		MetricsHTTPHost:      "0.0.0.0",
		MetricsHTTPPort:      7000,
		MetricsExportJVMInfo: true,
		SnapCount:            100000,
		PreAllocSizeKB:       65536,
		ForceSync:            true,
		JuteMaxBuffer:        0xfffff,
	}
	p := parser{c: c, file: name, seen: map[string]int{}}
	if err := p.applySysProps(sysProps); err != nil {
		return nil, err
	}
	for _, e := range readProperties(data) {
		if prev, ok := p.seen[e.key]; ok {
			p.warn(e.line, fmt.Sprintf("key '%s' repeats line %d; the last value wins", e.key, prev))
		}
		p.seen[e.key] = e.line
		if err := p.set(e); err != nil {
			return nil, err
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

type parser struct {
	c    *Config
	file string
	seen map[string]int // key -> last line
}

func (p *parser) warn(line int, msg string) {
	p.c.Warnings = append(p.c.Warnings, fmt.Sprintf("%s:%d: %s", p.file, line, msg))
}

func (p *parser) errf(line int, key, format string, args ...any) error {
	return &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// applySysProps takes the -D properties ZooKeeper reads as system
// properties. Their errors name the property as given on SERVER_JVMFLAGS.
func (p *parser) applySysProps(props map[string]string) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(props[k])
		target := ""
		switch k {
		case "jute.maxbuffer", "zookeeper.DigestAuthenticationProvider.superDigest",
			"zookeeper.extendedTypesEnabled", "readonlymode.enabled":
			target = k
		case "zookeeper.snapCount", "zookeeper.preAllocSize", "zookeeper.forceSync",
			"zookeeper.4lw.commands.whitelist", "zookeeper.admin.enableServer":
			target = strings.TrimPrefix(k, "zookeeper.")
		default:
			continue
		}
		e := entry{key: target, value: v}
		if err := p.set(e); err != nil {
			msg := err.Error()
			var ce *Error
			if errors.As(err, &ce) {
				msg = ce.Msg
			}
			return &Error{File: "SERVER_JVMFLAGS", Key: "-D" + k, Msg: msg}
		}
	}
	return nil
}

func (p *parser) atoi(e entry) (int, error) {
	v := e.value
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, p.errf(e.line, e.key, "%q is not a number", v)
	}
	return int(n), nil
}

func (p *parser) positive(e entry) (int, error) {
	n, err := p.atoi(e)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, p.errf(e.line, e.key, "%d must be greater than 0", n)
	}
	return n, nil
}

func (p *parser) nonNegative(e entry) (int, error) {
	n, err := p.atoi(e)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, p.errf(e.line, e.key, "%d must not be negative", n)
	}
	return n, nil
}

func (p *parser) port(e entry, what string, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, p.errf(e.line, e.key, "%s %q is not a number", what, s)
	}
	if n < 1 || n > 65535 {
		return 0, p.errf(e.line, e.key, "%s %d is not in 1..65535", what, n)
	}
	return n, nil
}

// boolean accepts what ZooKeeper's own parsers accept for the key: Java's
// Boolean.parseBoolean treats anything but "true" as false, which would
// hide typos, so anything but true/false (and yes/no) is an error here.
func (p *parser) boolean(e entry) (bool, error) {
	switch strings.ToLower(e.value) {
	case "true", "yes":
		return true, nil
	case "false", "no":
		return false, nil
	}
	return false, p.errf(e.line, e.key, "%q is not true or false", e.value)
}

// javaInt parses like Integer.decode: decimal, 0x/# hex, leading 0 octal.
func (p *parser) javaInt(e entry) (int, error) {
	v := e.value
	neg := strings.HasPrefix(v, "-")
	s := strings.TrimPrefix(strings.TrimPrefix(v, "-"), "+")
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0X"):
		s, base = s[2:], 16
	case strings.HasPrefix(s, "#"):
		s, base = s[1:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	n, err := strconv.ParseInt(s, base, 32)
	if err != nil || s == "" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, p.errf(e.line, e.key, "%q is not a number", v)
	}
	if neg {
		n = -n
	}
	return int(n), nil
}

func (p *parser) set(e entry) error {
	c := p.c
	var err error
	switch e.key {
	case "tickTime":
		c.TickTimeMs, err = p.positive(e)
	case "initLimit":
		c.InitLimit, err = p.positive(e)
	case "syncLimit":
		c.SyncLimit, err = p.positive(e)
	case "dataDir":
		if e.value == "" {
			return p.errf(e.line, e.key, "is empty")
		}
		c.DataDir = e.value
	case "dataLogDir":
		if e.value == "" {
			return p.errf(e.line, e.key, "is empty")
		}
		c.DataLogDir = e.value
	case "clientPort":
		c.ClientPort, err = p.port(e, "port", e.value)
		if err != nil {
			return p.errf(e.line, e.key, "%q is not a number in 1..65535", e.value)
		}
	case "clientPortAddress":
		c.ClientPortAddress = strings.TrimSuffix(strings.TrimPrefix(e.value, "["), "]")
	case "maxClientCnxns":
		c.MaxClientCnxns, err = p.nonNegative(e)
	case "minSessionTimeout":
		c.MinSessionTimeoutMs, err = p.atoi(e)
	case "maxSessionTimeout":
		c.MaxSessionTimeoutMs, err = p.atoi(e)
	case "autopurge.snapRetainCount":
		c.SnapRetainCount, err = p.atoi(e)
		if err == nil && c.SnapRetainCount < 3 {
			p.warn(e.line, fmt.Sprintf("autopurge.snapRetainCount %d is below the minimum; using 3", c.SnapRetainCount))
			c.SnapRetainCount = 3
		}
	case "autopurge.purgeInterval":
		c.PurgeIntervalHours, err = p.atoi(e)
		if err == nil && c.PurgeIntervalHours < 0 {
			c.PurgeIntervalHours = 0 // ZooKeeper: <= 0 disables the purge task
		}
	case "4lw.commands.whitelist":
		c.FourLetterWords, err = p.fourLetterWords(e)
	case "admin.enableServer":
		c.AdminEnableServer, err = p.boolean(e)
		if err == nil && c.AdminEnableServer && e.line > 0 {
			p.warn(e.line, "admin.enableServer=true: kzoo has no admin HTTP server; use the four-letter words")
		}
	case "standaloneEnabled":
		c.StandaloneEnabled, err = p.boolean(e)
	case "metricsProvider.className":
		c.MetricsProviderClass = e.value
		if e.value != "" && !c.MetricsEnabled() &&
			e.value != "org.apache.zookeeper.metrics.impl.NullMetricsProvider" {
			p.warn(e.line, fmt.Sprintf("metricsProvider.className %q is not the Prometheus provider; metrics are off", e.value))
		}
	case "metricsProvider.httpHost":
		c.MetricsHTTPHost = e.value
	case "metricsProvider.httpPort":
		c.MetricsHTTPPort, err = p.port(e, "port", e.value)
		if err != nil {
			return p.errf(e.line, e.key, "%q is not a number in 1..65535", e.value)
		}
	case "metricsProvider.exportJvmInfo":
		c.MetricsExportJVMInfo, err = p.boolean(e)
	case "snapCount":
		c.SnapCount, err = p.positive(e)
		if err == nil && c.SnapCount < 2 {
			return p.errf(e.line, e.key, "%d must be at least 2", c.SnapCount)
		}
	case "preAllocSize":
		c.PreAllocSizeKB, err = p.positive(e)
	case "forceSync":
		c.ForceSync, err = p.boolean(e)
	case "jute.maxbuffer", "zookeeper.jute.maxbuffer":
		c.JuteMaxBuffer, err = p.javaInt(e)
		if err == nil && c.JuteMaxBuffer <= 0 {
			return p.errf(e.line, e.key, "%d must be greater than 0", c.JuteMaxBuffer)
		}
	case "zookeeper.DigestAuthenticationProvider.superDigest", "DigestAuthenticationProvider.superDigest":
		user, digest, ok := strings.Cut(e.value, ":")
		if !ok || user == "" || digest == "" {
			return p.errf(e.line, e.key, "%q is not user:base64(sha1(user:password))", e.value)
		}
		c.SuperDigest = e.value
	case "zookeeper.extendedTypesEnabled", "extendedTypesEnabled":
		c.ExtendedTypesEnabled, err = p.boolean(e)
	case "readonlymode.enabled":
		c.ReadOnlyModeEnabled, err = p.boolean(e)
	default:
		switch {
		case strings.HasPrefix(e.key, "server."):
			return p.server(e)
		case strings.HasPrefix(e.key, "metricsProvider."):
			p.warn(e.line, fmt.Sprintf("key '%s' is not used by kzoo's Prometheus provider; ignored", e.key))
		case strings.HasPrefix(e.key, "group.") || strings.HasPrefix(e.key, "weight."):
			p.warn(e.line, fmt.Sprintf("key '%s' (hierarchical quorums) is not supported; ignored", e.key))
		case ignoredKeys[e.key]:
			p.warn(e.line, fmt.Sprintf("key '%s' is not supported by kzoo; ignored", e.key))
		default:
			p.warn(e.line, fmt.Sprintf("unknown key '%s' ignored", e.key))
		}
	}
	return err
}

func (p *parser) fourLetterWords(e entry) (map[string]bool, error) {
	words := map[string]bool{}
	for _, w := range strings.Split(e.value, ",") {
		w = strings.TrimSpace(w)
		switch {
		case w == "":
		case w == "*":
			for _, a := range FourLetterWordsAll {
				words[a] = true
			}
		case len(w) != 4:
			return nil, p.errf(e.line, e.key, "%q is not a four-letter word", w)
		default:
			words[w] = true
		}
	}
	return words, nil
}

// server parses server.N=host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort].
func (p *parser) server(e entry) error {
	idText := strings.TrimPrefix(e.key, "server.")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 0 {
		return p.errf(e.line, e.key, "server id %q is not a number", idText)
	}
	form := "expected host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]"
	serverPart, clientPart, hasClient := strings.Cut(e.value, ";")
	if strings.Contains(clientPart, ";") {
		return p.errf(e.line, e.key, "%q has more than one ';': %s", e.value, form)
	}
	if strings.Contains(serverPart, "|") {
		return p.errf(e.line, e.key, "%q: multiple addresses per server are not supported", e.value)
	}
	parts, err := splitHostPorts(serverPart)
	if err != nil || len(parts) < 3 || len(parts) > 4 {
		return p.errf(e.line, e.key, "%q: %s", e.value, form)
	}
	s := Server{ID: id, Host: parts[0], Line: e.line}
	if s.Host == "" {
		return p.errf(e.line, e.key, "%q has no host: %s", e.value, form)
	}
	if s.QuorumPort, err = p.port(e, "quorum port", parts[1]); err != nil {
		return err
	}
	if s.ElectionPort, err = p.port(e, "election port", parts[2]); err != nil {
		return err
	}
	if len(parts) == 4 {
		switch strings.ToLower(parts[3]) {
		case "participant":
		case "observer":
			s.Observer = true
		default:
			return p.errf(e.line, e.key, "peer type %q is not participant or observer", parts[3])
		}
	}
	if hasClient {
		cp, err := splitHostPorts(strings.TrimSpace(clientPart))
		if err != nil || len(cp) > 2 || len(cp) == 0 {
			return p.errf(e.line, e.key, "client part %q: expected [clientAddr:]clientPort", clientPart)
		}
		if len(cp) == 2 {
			s.ClientAddr = cp[0]
			cp = cp[1:]
		}
		if s.ClientPort, err = p.port(e, "client port", cp[0]); err != nil {
			return err
		}
	}
	for i := range p.c.Servers {
		if p.c.Servers[i].ID == id {
			return p.errf(e.line, e.key, "server id %d is already used on line %d", id, p.c.Servers[i].Line)
		}
	}
	p.c.Servers = append(p.c.Servers, s)
	return nil
}

// splitHostPorts splits "host:p1:p2" where host may be a bracketed IPv6
// address; the brackets are removed.
func splitHostPorts(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return nil, errors.New("unclosed '['")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return []string{host}, nil
		}
		if rest[0] != ':' {
			return nil, errors.New("expected ':' after ']'")
		}
		return append([]string{host}, strings.Split(rest[1:], ":")...), nil
	}
	return strings.Split(s, ":"), nil
}

// finish applies cross-key defaults and checks.
func (p *parser) finish() error {
	c := p.c
	lineOf := func(key string) int { return p.seen[key] }
	if c.DataDir == "" {
		return &Error{File: p.file, Key: "dataDir", Msg: "is missing (it is required)"}
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if c.MinSessionTimeoutMs < 0 {
		c.MinSessionTimeoutMs = 2 * c.TickTimeMs
	}
	if c.MaxSessionTimeoutMs < 0 {
		c.MaxSessionTimeoutMs = 20 * c.TickTimeMs
	}
	if c.MinSessionTimeoutMs == 0 {
		return p.errf(lineOf("minSessionTimeout"), "minSessionTimeout", "0 must be greater than 0")
	}
	if c.MaxSessionTimeoutMs == 0 {
		return p.errf(lineOf("maxSessionTimeout"), "maxSessionTimeout", "0 must be greater than 0")
	}
	if c.MinSessionTimeoutMs > c.MaxSessionTimeoutMs {
		key := "minSessionTimeout"
		if lineOf(key) == 0 {
			key = "maxSessionTimeout"
		}
		return p.errf(lineOf(key), key, "minSessionTimeout %d must not be larger than maxSessionTimeout %d",
			c.MinSessionTimeoutMs, c.MaxSessionTimeoutMs)
	}
	if c.ClientPort == 0 {
		given := false
		for _, s := range c.Servers {
			given = given || s.ClientPort != 0
		}
		if !given {
			return &Error{File: p.file, Key: "clientPort", Msg: "is missing (set clientPort or end a server line with ;port)"}
		}
	}
	if c.ClientPort == 0 && c.ClientPortAddress != "" {
		return p.errf(lineOf("clientPortAddress"), "clientPortAddress", "is set but clientPort is not")
	}
	if c.ClientPort == 0 && len(c.Servers) == 1 && c.Standalone() {
		// A lone server line runs standalone; its client part is the listener.
		c.ClientPort = c.Servers[0].ClientPort
		if c.ClientPortAddress == "" {
			c.ClientPortAddress = c.Servers[0].ClientAddr
		}
	}
	participants, observers := 0, 0
	used := map[string]*Server{}
	for i := range c.Servers {
		s := &c.Servers[i]
		if s.Observer {
			observers++
		} else {
			participants++
		}
		key := fmt.Sprintf("server.%d", s.ID)
		ports := []int{s.QuorumPort, s.ElectionPort}
		if s.ClientPort != 0 {
			ports = append(ports, s.ClientPort)
		}
		for _, port := range ports {
			hp := net.JoinHostPort(s.Host, strconv.Itoa(port))
			if o, ok := used[hp]; ok {
				if o == s {
					return p.errf(s.Line, key, "port %d is used twice on this line", port)
				}
				return p.errf(s.Line, key, "%s is already used by server.%d on line %d", hp, o.ID, o.Line)
			}
			used[hp] = s
		}
	}
	if len(c.Servers) > 0 {
		last := c.Servers[len(c.Servers)-1]
		key := fmt.Sprintf("server.%d", last.ID)
		switch {
		case participants == 0 && !c.StandaloneEnabled:
			return p.errf(last.Line, key, "standaloneEnabled=false needs at least one participant")
		case participants == 0:
			return p.errf(last.Line, key, "observers without participants are not a valid ensemble")
		case participants == 1 && c.StandaloneEnabled && observers > 0:
			return p.errf(last.Line, key, "observers need standaloneEnabled=false with a single participant")
		case participants == 1 && c.StandaloneEnabled:
			p.warn(last.Line, "only one server line: running standalone")
		case participants == 2:
			p.warn(last.Line, "no server failure will be tolerated: you need at least 3 servers")
		case participants > 2 && participants%2 == 0:
			p.warn(last.Line, "an even number of servers tolerates no more failures than one fewer")
		}
	}
	return nil
}
