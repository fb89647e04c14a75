// Package config owns the broker's configuration: it reads a Kafka
// server.properties file plus --override k=v pairs, applies Kafka 3.x
// defaults, and validates every value before the broker touches disk. It
// also owns the table of topic-level config names with their broker-level
// defaults. It must never open a log dir, a socket or a ZooKeeper session.
package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// ErrMissing is returned (wrapped, naming the key) when a required key is absent.
var ErrMissing = errors.New("config: missing required key")

// Listener is one entry of listeners or advertised.listeners.
type Listener struct {
	Name     string // PLAINTEXT, INTERNAL, …
	Host     string // "" means every interface (listen) / the host name (advertise)
	Port     int32
	Protocol string // security protocol from listener.security.protocol.map
}

// String renders the listener as Kafka writes it: NAME://host:port.
func (l Listener) String() string { return fmt.Sprintf("%s://%s:%d", l.Name, l.Host, l.Port) }

// Config is a validated server.properties.
type Config struct {
	BrokerID                int32 // -1: generated at startup (broker.id.generation.enable)
	Listeners               []Listener
	AdvertisedListeners     []Listener
	SecurityProtocolMap     map[string]string
	InterBrokerListenerName string
	LogDirs                 []string
	ZKConnect               string
	ZKSessionTimeoutMs      int64
	ZKConnectionTimeoutMs   int64

	NumPartitions                       int32
	DefaultReplicationFactor            int16
	MinInsyncReplicas                   int32
	UncleanLeaderElection               bool
	AutoCreateTopics                    bool
	DeleteTopicEnable                   bool
	AutoLeaderRebalance                 bool
	LeaderImbalanceCheckIntervalSeconds int64
	ReplicaLagTimeMaxMs                 int64
	ReplicaFetchMaxBytes                int32
	ReplicaFetchWaitMaxMs               int32
	ReplicaFetchMinBytes                int32
	NumReplicaFetchers                  int32
	LogRetentionCheckIntervalMs         int64
	MessageMaxBytes                     int32
	SocketRequestMaxBytes               int32
	SocketSendBufferBytes               int32 // SO_SNDBUF of client connections; -1: the OS's
	SocketReceiveBufferBytes            int32 // SO_RCVBUF of client connections; -1: the OS's
	LogCleanerEnable                    bool  // false: compacted topics are not cleaned
	LogFlushSchedulerIntervalMs         int64 // how often the log flusher runs; MaxInt64: never
	OffsetsTopicReplicationFactor       int16
	OffsetsTopicNumPartitions           int32
	GroupInitialRebalanceDelayMs        int64
	ControlledShutdownEnable            bool
	Rack                                string
	KRaft                               bool // process.roles was set

	// Values holds every known key with its effective value (defaults
	// included), as DescribeConfigs reports them.
	Values map[string]string
	// Explicit lists keys set in the file or by an override.
	Explicit map[string]bool
	// Warnings names every unknown key (file:line: key).
	Warnings []string
}

type kind int

const (
	kString kind = iota
	kInt
	kLong
	kShort
	kBool
	kDouble // a ratio: a number from 0 to 1 (the only doubles Kafka's keys here take)
	kList
)

type def struct {
	kind kind
	dflt string
	min  int64
}

// brokerDefs are the server.properties keys kzoo knows, with Kafka 3.x defaults.
var brokerDefs = map[string]def{
	"broker.id":                                {kInt, "-1", -1},
	"node.id":                                  {kInt, "-1", -1},
	"listeners":                                {kList, "PLAINTEXT://:9092", 0},
	"advertised.listeners":                     {kList, "", 0},
	"listener.security.protocol.map":           {kList, "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", 0},
	"inter.broker.listener.name":               {kString, "", 0},
	"security.inter.broker.protocol":           {kString, "PLAINTEXT", 0},
	"log.dirs":                                 {kList, "", 0},
	"log.dir":                                  {kString, "/tmp/kafka-logs", 0},
	"zookeeper.connect":                        {kString, "", 0},
	"zookeeper.session.timeout.ms":             {kInt, "18000", 1},
	"zookeeper.connection.timeout.ms":          {kInt, "", 1},
	"num.partitions":                           {kInt, "1", 1},
	"default.replication.factor":               {kInt, "1", 1},
	"min.insync.replicas":                      {kInt, "1", 1},
	"unclean.leader.election.enable":           {kBool, "false", 0},
	"auto.create.topics.enable":                {kBool, "true", 0},
	"delete.topic.enable":                      {kBool, "true", 0},
	"auto.leader.rebalance.enable":             {kBool, "true", 0},
	"leader.imbalance.check.interval.seconds":  {kLong, "300", 1},
	"leader.imbalance.per.broker.percentage":   {kInt, "10", 0},
	"replica.lag.time.max.ms":                  {kLong, "30000", 1},
	"replica.fetch.max.bytes":                  {kInt, "1048576", 0},
	"replica.fetch.wait.max.ms":                {kInt, "500", 0},
	"replica.fetch.min.bytes":                  {kInt, "1", 0},
	"num.replica.fetchers":                     {kInt, "1", 1},
	"log.segment.bytes":                        {kInt, "1073741824", 14},
	"log.roll.ms":                              {kLong, "", 1},
	"log.roll.hours":                           {kInt, "168", 1},
	"log.retention.hours":                      {kInt, "168", -1},
	"log.retention.minutes":                    {kInt, "", -1},
	"log.retention.ms":                         {kLong, "", -1},
	"log.retention.bytes":                      {kLong, "-1", -1},
	"log.retention.check.interval.ms":          {kLong, "300000", 1},
	"log.cleanup.policy":                       {kList, "delete", 0},
	"log.cleaner.enable":                       {kBool, "true", 0},
	"log.cleaner.delete.retention.ms":          {kLong, "86400000", 0},
	"log.cleaner.min.compaction.lag.ms":        {kLong, "0", 0},
	"log.cleaner.max.compaction.lag.ms":        {kLong, "9223372036854775807", 1},
	"log.cleaner.min.cleanable.ratio":          {kDouble, "0.5", 0},
	"log.index.size.max.bytes":                 {kInt, "10485760", 4},
	"log.index.interval.bytes":                 {kInt, "4096", 0},
	"log.flush.interval.messages":              {kLong, "9223372036854775807", 1},
	"log.flush.interval.ms":                    {kLong, "", 0},
	"log.flush.scheduler.interval.ms":          {kLong, "9223372036854775807", 1},
	"log.message.timestamp.type":               {kString, "CreateTime", 0},
	"log.message.timestamp.difference.max.ms":  {kLong, "9223372036854775807", 0},
	"log.message.downconversion.enable":        {kBool, "true", 0},
	"log.preallocate":                          {kBool, "false", 0},
	"log.segment.delete.delay.ms":              {kLong, "60000", 0},
	"compression.type":                         {kString, "producer", 0},
	"message.max.bytes":                        {kInt, "1048588", 0},
	"socket.request.max.bytes":                 {kInt, "104857600", 1},
	"socket.send.buffer.bytes":                 {kInt, "102400", -1},
	"socket.receive.buffer.bytes":              {kInt, "102400", -1},
	"num.network.threads":                      {kInt, "3", 1},
	"num.io.threads":                           {kInt, "8", 1},
	"num.recovery.threads.per.data.dir":        {kInt, "1", 1},
	"offsets.topic.replication.factor":         {kShort, "3", 1},
	"offsets.topic.num.partitions":             {kInt, "50", 1},
	"offsets.retention.minutes":                {kInt, "10080", 1},
	"transaction.state.log.replication.factor": {kShort, "3", 1},
	"transaction.state.log.min.isr":            {kInt, "2", 1},
	"transaction.state.log.num.partitions":     {kInt, "50", 1},
	"group.initial.rebalance.delay.ms":         {kInt, "3000", 0},
	"group.min.session.timeout.ms":             {kInt, "6000", 0},
	"group.max.session.timeout.ms":             {kInt, "1800000", 0},
	"controlled.shutdown.enable":               {kBool, "true", 0},
	"controlled.shutdown.max.retries":          {kInt, "3", 0},
	"controlled.shutdown.retry.backoff.ms":     {kLong, "5000", 0},
	"broker.rack":                              {kString, "", 0},
	"reserved.broker.max.id":                   {kInt, "1000", 0},
	"broker.id.generation.enable":              {kBool, "true", 0},
	"request.timeout.ms":                       {kInt, "30000", 0},
	"zookeeper.set.acl":                        {kBool, "false", 0},
	"process.roles":                            {kList, "", 0},
	"controller.quorum.voters":                 {kList, "", 0},
	"controller.listener.names":                {kList, "", 0},
	"metadata.log.dir":                         {kString, "", 0},
	"inter.broker.protocol.version":            {kString, "3.7-IV4", 0},
}

// Load reads path and applies overrides ("k=v"). Errors name the file,
// line and key; unknown keys become warnings.
func Load(path string, overrides []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, overrides)
}

type setting struct {
	val   string
	where string // "file:line" or "--override k=v"
}

// Parse reads properties text (name is used in messages) and overrides.
func Parse(name string, data []byte, overrides []string) (*Config, error) {
	c := &Config{Values: map[string]string{}, Explicit: map[string]bool{}}
	set := map[string]setting{}
	props, err := parseProperties(name, string(data))
	if err != nil {
		return nil, err
	}
	for _, p := range props {
		set[p.key] = setting{p.val, fmt.Sprintf("%s:%d", name, p.line)}
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("config: --override %q: expected key=value", o)
		}
		set[k] = setting{strings.TrimSpace(v), fmt.Sprintf("--override %s", o)}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := set[k]
		d, ok := brokerDefs[k]
		if !ok {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: unknown configuration key %s is ignored", s.where, k))
			c.Values[k] = s.val
			c.Explicit[k] = true
			continue
		}
		if err := checkValue(k, d, s.val); err != nil {
			return nil, fmt.Errorf("%s: %w", s.where, err)
		}
		c.Values[k] = s.val
		c.Explicit[k] = true
	}
	for k, d := range brokerDefs {
		if _, ok := c.Values[k]; !ok {
			c.Values[k] = d.dflt
		}
	}
	if err := c.resolve(name, set); err != nil {
		return nil, err
	}
	return c, nil
}

func where(set map[string]setting, k, fallback string) string {
	if s, ok := set[k]; ok {
		return s.where
	}
	return fallback
}

func checkValue(k string, d def, v string) error {
	switch d.kind {
	case kInt, kShort, kLong:
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", k, v)
		}
		maxV := int64(math.MaxInt32)
		if d.kind == kShort {
			maxV = math.MaxInt16
		} else if d.kind == kLong {
			maxV = math.MaxInt64
		}
		if n > maxV {
			return fmt.Errorf("%s: %q is out of range (max %d)", k, v, maxV)
		}
		if n < d.min {
			return fmt.Errorf("%s: %q is out of range (min %d)", k, v, d.min)
		}
	case kBool:
		if v != "true" && v != "false" {
			return fmt.Errorf("%s: %q is not a boolean (true or false)", k, v)
		}
	case kDouble:
		if f, err := strconv.ParseFloat(v, 64); err != nil || !(f >= 0 && f <= 1) {
			return fmt.Errorf("%s: %q is not a number from 0 to 1", k, v)
		}
	}
	return nil
}

func (c *Config) int64(k string) int64 {
	n, _ := strconv.ParseInt(c.Values[k], 10, 64)
	return n
}

func (c *Config) bool(k string) bool { return c.Values[k] == "true" }

// resolve fills the typed fields and checks cross-key rules.
func (c *Config) resolve(file string, set map[string]setting) error {
	c.KRaft = c.Values["process.roles"] != ""
	id := c.int64("broker.id")
	if nid := c.int64("node.id"); id < 0 && nid >= 0 {
		id = nid
	}
	if id < 0 {
		if c.KRaft {
			return fmt.Errorf("%s: node.id: %w", where(set, "process.roles", file), ErrMissing)
		}
		if !c.bool("broker.id.generation.enable") {
			return fmt.Errorf("%s: broker.id: %w (broker.id.generation.enable=false)", file, ErrMissing)
		}
		// Generated at startup from meta.properties or /brokers/seqid.
		id = -1
	} else if maxID := c.int64("reserved.broker.max.id"); c.bool("broker.id.generation.enable") && id > maxID && !c.KRaft {
		return fmt.Errorf("%s: broker.id: %d is above reserved.broker.max.id=%d", where(set, "broker.id", file), id, maxID)
	}
	if id > math.MaxInt32 {
		return fmt.Errorf("%s: broker.id: %d is out of range", where(set, "broker.id", file), id)
	}
	c.BrokerID = int32(id)

	c.SecurityProtocolMap = map[string]string{}
	for _, e := range splitList(c.Values["listener.security.protocol.map"]) {
		n, p, ok := strings.Cut(e, ":")
		if !ok || n == "" || p == "" {
			return fmt.Errorf("%s: listener.security.protocol.map: %q is not NAME:PROTOCOL", where(set, "listener.security.protocol.map", file), e)
		}
		c.SecurityProtocolMap[strings.ToUpper(n)] = strings.ToUpper(p)
	}
	var err error
	if c.Listeners, err = c.parseListeners(c.Values["listeners"], "listeners", where(set, "listeners", file)); err != nil {
		return err
	}
	if len(c.Listeners) == 0 {
		return fmt.Errorf("%s: listeners: %w", where(set, "listeners", file), ErrMissing)
	}
	adv := c.Values["advertised.listeners"]
	if adv == "" {
		c.AdvertisedListeners = append([]Listener(nil), c.Listeners...)
	} else if c.AdvertisedListeners, err = c.parseListeners(adv, "advertised.listeners", where(set, "advertised.listeners", file)); err != nil {
		return err
	}
	for i, l := range c.AdvertisedListeners {
		if l.Host == "" || l.Host == "0.0.0.0" {
			h, herr := os.Hostname()
			if herr != nil || h == "" {
				h = "localhost"
			}
			c.AdvertisedListeners[i].Host = h
		}
	}
	ib := strings.ToUpper(c.Values["inter.broker.listener.name"])
	if ib == "" {
		proto := strings.ToUpper(c.Values["security.inter.broker.protocol"])
		for _, l := range c.Listeners {
			if l.Protocol == proto {
				ib = l.Name
				break
			}
		}
		if ib == "" {
			ib = c.Listeners[0].Name
		}
	}
	found := false
	for _, l := range c.AdvertisedListeners {
		found = found || l.Name == ib
	}
	if !found {
		return fmt.Errorf("%s: inter.broker.listener.name: %q is not a listener in advertised.listeners", where(set, "inter.broker.listener.name", file), ib)
	}
	c.InterBrokerListenerName = ib

	if dirs := splitList(c.Values["log.dirs"]); len(dirs) > 0 {
		c.LogDirs = dirs
	} else {
		c.LogDirs = []string{c.Values["log.dir"]}
	}
	c.ZKConnect = strings.TrimSpace(c.Values["zookeeper.connect"])
	if c.ZKConnect == "" && !c.KRaft {
		return fmt.Errorf("%s: zookeeper.connect: %w", file, ErrMissing)
	}
	c.ZKSessionTimeoutMs = c.int64("zookeeper.session.timeout.ms")
	c.ZKConnectionTimeoutMs = c.ZKSessionTimeoutMs
	if c.Values["zookeeper.connection.timeout.ms"] != "" {
		c.ZKConnectionTimeoutMs = c.int64("zookeeper.connection.timeout.ms")
	}
	c.NumPartitions = int32(c.int64("num.partitions"))
	c.DefaultReplicationFactor = int16(min(c.int64("default.replication.factor"), math.MaxInt16))
	c.MinInsyncReplicas = int32(c.int64("min.insync.replicas"))
	c.UncleanLeaderElection = c.bool("unclean.leader.election.enable")
	c.AutoCreateTopics = c.bool("auto.create.topics.enable")
	c.DeleteTopicEnable = c.bool("delete.topic.enable")
	c.AutoLeaderRebalance = c.bool("auto.leader.rebalance.enable")
	c.LeaderImbalanceCheckIntervalSeconds = c.int64("leader.imbalance.check.interval.seconds")
	c.ReplicaLagTimeMaxMs = c.int64("replica.lag.time.max.ms")
	c.ReplicaFetchMaxBytes = int32(c.int64("replica.fetch.max.bytes"))
	c.ReplicaFetchWaitMaxMs = int32(c.int64("replica.fetch.wait.max.ms"))
	c.ReplicaFetchMinBytes = int32(c.int64("replica.fetch.min.bytes"))
	if int64(c.ReplicaFetchWaitMaxMs) > c.ReplicaLagTimeMaxMs {
		return fmt.Errorf("%s: replica.fetch.wait.max.ms: %d is above replica.lag.time.max.ms=%d; it should always be less than or equal to it, to prevent frequent changes in ISR",
			where(set, "replica.fetch.wait.max.ms", file), c.ReplicaFetchWaitMaxMs, c.ReplicaLagTimeMaxMs)
	}
	c.NumReplicaFetchers = int32(c.int64("num.replica.fetchers"))
	c.LogRetentionCheckIntervalMs = c.int64("log.retention.check.interval.ms")
	c.MessageMaxBytes = int32(c.int64("message.max.bytes"))
	c.SocketRequestMaxBytes = int32(c.int64("socket.request.max.bytes"))
	for _, k := range []string{"socket.send.buffer.bytes", "socket.receive.buffer.bytes"} {
		if c.int64(k) == 0 {
			return fmt.Errorf("%s: %s: 0 is not a buffer size; use -1 for the OS default", where(set, k, file), k)
		}
	}
	c.SocketSendBufferBytes = int32(c.int64("socket.send.buffer.bytes"))
	c.SocketReceiveBufferBytes = int32(c.int64("socket.receive.buffer.bytes"))
	c.LogCleanerEnable = c.bool("log.cleaner.enable")
	c.LogFlushSchedulerIntervalMs = c.int64("log.flush.scheduler.interval.ms")
	if c.bool("zookeeper.set.acl") {
		// Kafka refuses it too without a JAAS login or ZooKeeper TLS client
		// certificates, and kzoo's ZooKeeper client has neither.
		return fmt.Errorf("%s: zookeeper.set.acl: true needs SASL (JAAS) or TLS authentication to ZooKeeper, which kzoo does not support", where(set, "zookeeper.set.acl", file))
	}
	c.OffsetsTopicReplicationFactor = int16(c.int64("offsets.topic.replication.factor"))
	c.OffsetsTopicNumPartitions = int32(c.int64("offsets.topic.num.partitions"))
	c.GroupInitialRebalanceDelayMs = c.int64("group.initial.rebalance.delay.ms")
	c.ControlledShutdownEnable = c.bool("controlled.shutdown.enable")
	c.Rack = c.Values["broker.rack"]
	for _, p := range splitList(c.Values["log.cleanup.policy"]) {
		if p != "delete" && p != "compact" {
			return fmt.Errorf("%s: log.cleanup.policy: %q is not delete or compact", where(set, "log.cleanup.policy", file), p)
		}
	}
	if tt := c.Values["log.message.timestamp.type"]; tt != "CreateTime" && tt != "LogAppendTime" {
		return fmt.Errorf("%s: log.message.timestamp.type: %q is not CreateTime or LogAppendTime", where(set, "log.message.timestamp.type", file), tt)
	}
	if !validCompression(c.Values["compression.type"]) {
		return fmt.Errorf("%s: compression.type: %q is not one of uncompressed, gzip, snappy, lz4, zstd, producer", where(set, "compression.type", file), c.Values["compression.type"])
	}
	return nil
}

func validCompression(v string) bool {
	switch v {
	case "uncompressed", "gzip", "snappy", "lz4", "zstd", "producer":
		return true
	}
	return false
}

func (c *Config) parseListeners(v, key, at string) ([]Listener, error) {
	var out []Listener
	seen := map[string]bool{}
	for _, e := range splitList(v) {
		name, rest, ok := strings.Cut(e, "://")
		if !ok {
			return nil, fmt.Errorf("%s: %s: %q is not NAME://host:port", at, key, e)
		}
		name = strings.ToUpper(name)
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return nil, fmt.Errorf("%s: %s: %q has no port", at, key, e)
		}
		host := strings.Trim(rest[:i], "[]")
		port, err := strconv.ParseInt(rest[i+1:], 10, 32)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("%s: %s: %q: port %q is not in 0..65535", at, key, e, rest[i+1:])
		}
		proto, ok := c.SecurityProtocolMap[name]
		if !ok {
			return nil, fmt.Errorf("%s: %s: listener %s has no entry in listener.security.protocol.map", at, key, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: %s: listener %s is listed twice", at, key, name)
		}
		seen[name] = true
		out = append(out, Listener{Name: name, Host: host, Port: int32(port), Protocol: proto})
	}
	return out, nil
}

// Listener returns the advertised listener named name.
func (c *Config) Advertised(name string) (Listener, bool) {
	for _, l := range c.AdvertisedListeners {
		if l.Name == name {
			return l, true
		}
	}
	return Listener{}, false
}

// LogRetentionMs is the effective log retention: ms, else minutes, else hours.
func (c *Config) LogRetentionMs() int64 {
	if v := c.Values["log.retention.ms"]; v != "" {
		return c.int64("log.retention.ms")
	}
	if v := c.Values["log.retention.minutes"]; v != "" {
		if n := c.int64("log.retention.minutes"); n < 0 {
			return -1
		} else {
			return n * 60_000
		}
	}
	n := c.int64("log.retention.hours")
	if n < 0 {
		return -1
	}
	return n * 3_600_000
}

// LogRollMs is log.roll.ms, else log.roll.hours.
func (c *Config) LogRollMs() int64 {
	if c.Values["log.roll.ms"] != "" {
		return c.int64("log.roll.ms")
	}
	return c.int64("log.roll.hours") * 3_600_000
}

func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

type prop struct {
	key, val string
	line     int
}

// parseProperties reads Java properties: '#' and '!' comments, key=value,
// key:value or key value, and backslash line continuations.
func parseProperties(name, text string) ([]prop, error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var out []prop
	for i := 0; i < len(lines); i++ {
		start := i + 1
		l := strings.TrimLeft(lines[i], " \t\f")
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		for strings.HasSuffix(l, "\\") && !strings.HasSuffix(l, "\\\\") && i+1 < len(lines) {
			i++
			l = l[:len(l)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		j := strings.IndexAny(l, "=: \t")
		var k, v string
		if j < 0 {
			k = l
		} else {
			k = l[:j]
			v = strings.TrimLeft(l[j:], " \t")
			if v != "" && (v[0] == '=' || v[0] == ':') {
				v = v[1:]
			}
			v = strings.TrimSpace(v)
		}
		if k == "" {
			return nil, fmt.Errorf("%s:%d: a line must be key=value", name, start)
		}
		out = append(out, prop{k, v, start})
	}
	return out, nil
}
