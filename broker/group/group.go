package group

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a group's state, named as Kafka names it on the wire.
type State int8

// The group states.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

func (s State) String() string {
	return [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}[s]
}

// OffsetValue is one committed offset.
type OffsetValue struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitMs    int64
}

// Protocol is one protocol a joining member supports.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request as the state machine sees it.
type JoinRequest struct {
	Group, MemberID      string
	InstanceID           *string
	ClientID, ClientHost string
	SessionTimeoutMs     int32
	RebalanceTimeoutMs   int32
	ProtocolType         string
	Protocols            []Protocol
	RequireKnownMemberID bool // JoinGroup v4+
}

// JoinMember is one member as the leader sees it in its JoinGroup answer.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult answers a JoinGroup.
type JoinResult struct {
	Err          *kerr.Error
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	MemberID     string
	Members      []JoinMember // the leader's answer only
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Err          *kerr.Error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// Member is one group member.
type Member struct {
	ID                   string
	InstanceID           *string
	ClientID, ClientHost string
	SessionTimeoutMs     int32
	RebalanceTimeoutMs   int32
	ProtocolType         string
	Protocols            []Protocol
	Assignment           []byte

	lastHeartbeatMs int64
	joinCB          func(JoinResult)
	syncCB          func(SyncResult)
}

func (m *Member) metadataFor(protocol string) []byte {
	for _, p := range m.Protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// Group is one consumer group.
//
// Invariants: Leader is a member whenever the group has members and is not
// PreparingRebalance; a member holds a join callback only while the group is
// PreparingRebalance and a sync callback only while it is
// CompletingRebalance.
type Group struct {
	ID           string
	State        State
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	StateMs      int64

	members     map[string]*Member
	pending     map[string]int64 // member ids handed out with MEMBER_ID_REQUIRED, by expiry
	joinDueMs   int64            // PreparingRebalance: when the join phase ends anyway
	initialMax  int64            // initial delayed join: the latest joinDueMs may move to
	initialDue  bool             // joinDueMs is an initial delay (do not complete early)
	persisting  bool             // the leader's assignment is being persisted
	offsets     map[TopicPartition]OffsetValue
	partitionOf int32
}

// TopicPartition names a committed offset.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Members returns the members sorted by id.
func (g *Group) Members() []*Member {
	out := make([]*Member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Config holds Kafka's group settings.
type Config struct {
	Partitions            int32 // offsets.topic.num.partitions
	InitialRebalanceDelay int64 // group.initial.rebalance.delay.ms
	MinSessionTimeoutMs   int32 // group.min.session.timeout.ms
	MaxSessionTimeoutMs   int32 // group.max.session.timeout.ms
	Rand                  *rand.Rand
}

// Persist asks the driver to append kvs to the group's offsets partition
// and, once they are replicated (or failed), call done with the error code
// to answer with (nil on success). done must be called with the
// Coordinator's caller lock held, as every other method.
type Persist func(partition int32, kvs []KV, done func(*kerr.Error))

// Coordinator holds the groups of the offsets partitions this broker
// leads. It is not safe for concurrent use: the driver serializes every
// call, and callbacks are made from inside those calls.
type Coordinator struct {
	cfg     Config
	persist Persist
	groups  map[string]*Group
}

// New returns a Coordinator.
func New(cfg Config, persist Persist) *Coordinator {
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	return &Coordinator{cfg: cfg, persist: persist, groups: map[string]*Group{}}
}

// Partition is the offsets partition of groupID.
func (c *Coordinator) Partition(groupID string) int32 { return PartitionFor(groupID, c.cfg.Partitions) }

// Group returns a group, or nil.
func (c *Coordinator) Group(id string) *Group { return c.groups[id] }

// Groups returns every group sorted by id.
func (c *Coordinator) Groups() []*Group {
	out := make([]*Group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *Coordinator) getOrCreate(id string, nowMs int64) *Group {
	g := c.groups[id]
	if g == nil {
		g = &Group{ID: id, State: Empty, StateMs: nowMs, members: map[string]*Member{}, pending: map[string]int64{},
			offsets: map[TopicPartition]OffsetValue{}, partitionOf: c.Partition(id)}
		c.groups[id] = g
	}
	return g
}

func (c *Coordinator) newMemberID(clientID string) string {
	r := c.cfg.Rand
	var b [16]byte
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", clientID, b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (g *Group) setState(s State, nowMs int64) { g.State, g.StateMs = s, nowMs }

// supports reports whether every member supports one of protos.
func (g *Group) supportsAny(protocolType string, protos []Protocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protos) > 0
	}
	if protocolType != g.ProtocolType {
		return false
	}
	for _, p := range protos {
		all := true
		for _, m := range g.members {
			all = all && m.metadataFor(p.Name) != nil
		}
		if all {
			return true
		}
	}
	return false
}

// Join handles a JoinGroup; cb is called now or when the join phase ends.
func (c *Coordinator) Join(nowMs int64, r JoinRequest, cb func(JoinResult)) {
	fail := func(e *kerr.Error) { cb(JoinResult{Err: e, MemberID: r.MemberID, Generation: -1}) }
	if r.SessionTimeoutMs < c.cfg.MinSessionTimeoutMs || r.SessionTimeoutMs > c.cfg.MaxSessionTimeoutMs {
		fail(kerr.InvalidSessionTimeout)
		return
	}
	g := c.groups[r.Group]
	if g == nil && r.MemberID != "" {
		fail(kerr.UnknownMemberID)
		return
	}
	if g == nil {
		g = c.getOrCreate(r.Group, nowMs)
	}
	if g.State == Dead {
		fail(kerr.CoordinatorNotAvailable)
		return
	}
	if !g.supportsAny(r.ProtocolType, r.Protocols) {
		fail(kerr.InconsistentGroupProtocol)
		return
	}
	if r.InstanceID != nil {
		if done := c.joinStatic(nowMs, g, r, cb); done {
			return
		}
	}
	if r.MemberID == "" {
		id := c.newMemberID(r.ClientID)
		if r.RequireKnownMemberID && r.InstanceID == nil { // static members skip MEMBER_ID_REQUIRED
			g.pending[id] = nowMs + int64(r.SessionTimeoutMs)
			cb(JoinResult{Err: kerr.MemberIDRequired, MemberID: id, Generation: -1})
			return
		}
		c.addMember(nowMs, g, id, r, cb)
		return
	}
	if _, ok := g.pending[r.MemberID]; ok {
		delete(g.pending, r.MemberID)
		c.addMember(nowMs, g, r.MemberID, r, cb)
		return
	}
	m := g.members[r.MemberID]
	if m == nil {
		fail(kerr.UnknownMemberID)
		return
	}
	switch g.State {
	case PreparingRebalance:
		c.updateMember(g, m, r, cb)
		c.tryCompleteJoin(nowMs, g)
	case CompletingRebalance, Stable:
		if g.State == CompletingRebalance || m.ID != g.Leader {
			if sameProtocols(m.Protocols, r.Protocols) {
				m.lastHeartbeatMs = nowMs
				res := JoinResult{Generation: g.Generation, ProtocolType: g.ProtocolType, Protocol: g.Protocol, Leader: g.Leader, MemberID: m.ID}
				if m.ID == g.Leader {
					res.Members = g.joinMembers()
				}
				cb(res)
				return
			}
		}
		c.updateMember(g, m, r, cb)
		c.prepareRebalance(nowMs, g)
	default:
		fail(kerr.UnknownMemberID)
	}
}

// joinStatic handles a join carrying group.instance.id (KIP-345) when the
// instance is known: a join without a member id takes over the instance's
// membership under a new id (the old id is fenced), without a rebalance
// when the group is Stable, the protocols are unchanged and the instance
// did not lead; a join with another member id is FENCED_INSTANCE_ID. It
// reports whether it answered.
func (c *Coordinator) joinStatic(nowMs int64, g *Group, r JoinRequest, cb func(JoinResult)) bool {
	var old *Member
	for _, m := range g.members {
		if m.InstanceID != nil && *m.InstanceID == *r.InstanceID {
			old = m
		}
	}
	if old == nil {
		return false
	}
	if r.MemberID != "" {
		if r.MemberID != old.ID {
			cb(JoinResult{Err: kerr.FencedInstanceID, MemberID: r.MemberID, Generation: -1})
			return true
		}
		return false
	}
	id := c.newMemberID(r.ClientID)
	delete(g.members, old.ID)
	if old.joinCB != nil {
		old.joinCB(JoinResult{Err: kerr.FencedInstanceID, MemberID: old.ID, Generation: -1})
		old.joinCB = nil
	}
	if old.syncCB != nil {
		old.syncCB(SyncResult{Err: kerr.FencedInstanceID})
		old.syncCB = nil
	}
	wasLeader := g.Leader == old.ID
	if wasLeader {
		g.Leader = id
	}
	old.ID = id
	g.members[id] = old
	old.lastHeartbeatMs = nowMs
	if g.State == Stable && !wasLeader && sameProtocols(old.Protocols, r.Protocols) {
		old.ClientID, old.ClientHost = r.ClientID, r.ClientHost
		old.SessionTimeoutMs, old.RebalanceTimeoutMs = r.SessionTimeoutMs, r.RebalanceTimeoutMs
		cb(JoinResult{Generation: g.Generation, ProtocolType: g.ProtocolType, Protocol: g.Protocol, Leader: g.Leader, MemberID: id})
		return true
	}
	c.updateMember(g, old, r, cb)
	if g.State == PreparingRebalance {
		c.tryCompleteJoin(nowMs, g)
	} else {
		c.prepareRebalance(nowMs, g)
	}
	return true
}

func sameProtocols(a, b []Protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Metadata) != string(b[i].Metadata) {
			return false
		}
	}
	return true
}

func (c *Coordinator) addMember(nowMs int64, g *Group, id string, r JoinRequest, cb func(JoinResult)) {
	if len(g.members) == 0 {
		g.ProtocolType = r.ProtocolType
	}
	m := &Member{ID: id}
	g.members[id] = m
	if g.Leader == "" {
		g.Leader = id
	}
	c.updateMember(g, m, r, cb)
	m.lastHeartbeatMs = nowMs
	if g.State == PreparingRebalance {
		if g.initialDue {
			g.joinDueMs = min(nowMs+c.cfg.InitialRebalanceDelay, g.initialMax)
		}
		c.tryCompleteJoin(nowMs, g)
		return
	}
	c.prepareRebalance(nowMs, g)
}

func (c *Coordinator) updateMember(g *Group, m *Member, r JoinRequest, cb func(JoinResult)) {
	m.InstanceID, m.ClientID, m.ClientHost = r.InstanceID, r.ClientID, r.ClientHost
	m.SessionTimeoutMs, m.RebalanceTimeoutMs = r.SessionTimeoutMs, r.RebalanceTimeoutMs
	m.ProtocolType, m.Protocols = r.ProtocolType, r.Protocols
	if m.joinCB != nil {
		m.joinCB(JoinResult{Err: kerr.UnknownMemberID, MemberID: m.ID, Generation: -1})
	}
	m.joinCB = cb
}

// prepareRebalance moves the group to PreparingRebalance.
func (c *Coordinator) prepareRebalance(nowMs int64, g *Group) {
	if g.State == CompletingRebalance {
		for _, m := range g.members {
			m.Assignment = nil
			if m.syncCB != nil {
				m.syncCB(SyncResult{Err: kerr.RebalanceInProgress})
				m.syncCB = nil
			}
		}
	}
	var rebalanceMs int64
	for _, m := range g.members {
		rebalanceMs = max(rebalanceMs, int64(m.RebalanceTimeoutMs))
	}
	if g.State == Empty && c.cfg.InitialRebalanceDelay > 0 {
		g.initialDue = true
		g.joinDueMs = nowMs + c.cfg.InitialRebalanceDelay
		g.initialMax = nowMs + max(rebalanceMs, c.cfg.InitialRebalanceDelay)
	} else {
		g.initialDue = false
		g.joinDueMs = nowMs + rebalanceMs
	}
	g.persisting = false
	g.setState(PreparingRebalance, nowMs)
	c.tryCompleteJoin(nowMs, g)
}

func (g *Group) allJoined() bool {
	for _, m := range g.members {
		if m.joinCB == nil {
			return false
		}
	}
	return len(g.pending) == 0
}

func (c *Coordinator) tryCompleteJoin(nowMs int64, g *Group) {
	if g.State != PreparingRebalance {
		return
	}
	if (!g.initialDue && g.allJoined()) || nowMs >= g.joinDueMs {
		c.completeJoin(nowMs, g)
	}
}

func (g *Group) joinMembers() []JoinMember {
	var out []JoinMember
	for _, m := range g.Members() {
		out = append(out, JoinMember{MemberID: m.ID, InstanceID: m.InstanceID, Metadata: m.metadataFor(g.Protocol)})
	}
	return out
}

// selectProtocol lets every member vote for its most preferred protocol
// that all members support, as Kafka does.
func (g *Group) selectProtocol() string {
	var candidates []string
	ms := g.Members()
	for _, p := range ms[0].Protocols {
		all := true
		for _, m := range ms {
			all = all && m.metadataFor(p.Name) != nil
		}
		if all {
			candidates = append(candidates, p.Name)
		}
	}
	votes := map[string]int{}
	for _, m := range ms {
		for _, p := range m.Protocols {
			if contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, name := range candidates {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Coordinator) completeJoin(nowMs int64, g *Group) {
	for id, m := range g.members {
		if m.joinCB == nil {
			c.removeMember(g, id)
		}
	}
	for id := range g.pending {
		delete(g.pending, id)
	}
	g.initialDue = false
	g.Generation++
	if len(g.members) == 0 {
		g.Protocol, g.Leader = "", ""
		g.setState(Empty, nowMs)
		c.persistGroup(nowMs, g, nil)
		return
	}
	g.Protocol = g.selectProtocol()
	if g.members[g.Leader] == nil {
		g.Leader = g.Members()[0].ID
	}
	g.setState(CompletingRebalance, nowMs)
	for _, m := range g.Members() {
		res := JoinResult{Generation: g.Generation, ProtocolType: g.ProtocolType, Protocol: g.Protocol, Leader: g.Leader, MemberID: m.ID}
		if m.ID == g.Leader {
			res.Members = g.joinMembers()
		}
		cb := m.joinCB
		m.joinCB = nil
		m.lastHeartbeatMs = nowMs
		cb(res)
	}
}

func (c *Coordinator) removeMember(g *Group, id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	delete(g.members, id)
	if m.joinCB != nil {
		m.joinCB(JoinResult{Err: kerr.UnknownMemberID, MemberID: id, Generation: -1})
	}
	if m.syncCB != nil {
		m.syncCB(SyncResult{Err: kerr.UnknownMemberID})
	}
	if g.Leader == id {
		g.Leader = ""
		for _, o := range g.Members() {
			g.Leader = o.ID
			break
		}
	}
}

// GroupValue is the group metadata record value of g.
func (g *Group) GroupValue(nowMs int64) *kmsg.GroupMetadataValue {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType, v.Generation, v.CurrentStateTimestamp = g.ProtocolType, g.Generation, nowMs
	if g.Protocol != "" {
		v.Protocol = kmsg.StringPtr(g.Protocol)
	}
	if g.Leader != "" {
		v.Leader = kmsg.StringPtr(g.Leader)
	}
	for _, m := range g.Members() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.ID, m.InstanceID, m.ClientID, m.ClientHost
		vm.RebalanceTimeoutMillis, vm.SessionTimeoutMillis = m.RebalanceTimeoutMs, m.SessionTimeoutMs
		vm.Subscription, vm.Assignment = m.metadataFor(g.Protocol), m.Assignment
		v.Members = append(v.Members, vm)
	}
	return &v
}

func (c *Coordinator) persistGroup(nowMs int64, g *Group, done func(*kerr.Error)) {
	k, v := GroupRecord(g.ID, g.GroupValue(nowMs))
	if done == nil {
		done = func(*kerr.Error) {}
	}
	c.persist(g.partitionOf, []KV{{k, v}}, done)
}

// SyncRequest is a SyncGroup request as the state machine sees it.
type SyncRequest struct {
	Group, MemberID string
	InstanceID      *string
	Generation      int32
	ProtocolType    *string // v5+
	Protocol        *string // v5+
	Assignments     map[string][]byte
}

// Sync handles a SyncGroup; cb is called now or once the leader's
// assignment is persisted.
func (c *Coordinator) Sync(nowMs int64, r SyncRequest, cb func(SyncResult)) {
	g := c.groups[r.Group]
	if g == nil || g.State == Dead {
		cb(SyncResult{Err: kerr.UnknownMemberID})
		return
	}
	m := g.members[r.MemberID]
	switch {
	case m == nil:
		cb(SyncResult{Err: kerr.UnknownMemberID})
		return
	case r.Generation != g.Generation:
		cb(SyncResult{Err: kerr.IllegalGeneration})
		return
	case r.ProtocolType != nil && *r.ProtocolType != g.ProtocolType, r.Protocol != nil && *r.Protocol != g.Protocol:
		cb(SyncResult{Err: kerr.InconsistentGroupProtocol})
		return
	}
	switch g.State {
	case PreparingRebalance:
		cb(SyncResult{Err: kerr.RebalanceInProgress})
	case Stable:
		m.lastHeartbeatMs = nowMs
		cb(SyncResult{ProtocolType: g.ProtocolType, Protocol: g.Protocol, Assignment: m.Assignment})
	case CompletingRebalance:
		m.lastHeartbeatMs = nowMs
		if m.syncCB != nil {
			m.syncCB(SyncResult{Err: kerr.RebalanceInProgress})
		}
		m.syncCB = cb
		if m.ID != g.Leader || g.persisting {
			return
		}
		for _, o := range g.members {
			o.Assignment = r.Assignments[o.ID]
		}
		g.persisting = true
		gen := g.Generation
		c.persistGroup(nowMs, g, func(e *kerr.Error) {
			if g.State != CompletingRebalance || g.Generation != gen || !g.persisting {
				return
			}
			g.persisting = false
			if e != nil {
				for _, o := range g.members {
					o.Assignment = nil
				}
				c.prepareRebalance(nowMs, g)
				return
			}
			g.setState(Stable, nowMs)
			for _, o := range g.Members() {
				if o.syncCB != nil {
					cb := o.syncCB
					o.syncCB = nil
					cb(SyncResult{ProtocolType: g.ProtocolType, Protocol: g.Protocol, Assignment: o.Assignment})
				}
			}
		})
	default:
		cb(SyncResult{Err: kerr.UnknownMemberID})
	}
}

// Heartbeat handles a Heartbeat and returns its error (nil for none).
func (c *Coordinator) Heartbeat(nowMs int64, group, memberID string, generation int32) *kerr.Error {
	g := c.groups[group]
	if g == nil {
		return kerr.UnknownMemberID
	}
	if g.State == Dead {
		return kerr.CoordinatorNotAvailable
	}
	m := g.members[memberID]
	switch {
	case g.State == Empty, m == nil:
		return kerr.UnknownMemberID
	case generation != g.Generation:
		return kerr.IllegalGeneration
	}
	m.lastHeartbeatMs = nowMs
	if g.State == PreparingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

// Leave removes members (by member id, or by instance id when memberID is
// empty) and returns one error per member (nil for none).
func (c *Coordinator) Leave(nowMs int64, group string, memberIDs []string, instanceIDs []*string) []*kerr.Error {
	out := make([]*kerr.Error, len(memberIDs))
	g := c.groups[group]
	for i, id := range memberIDs {
		if g == nil || g.State == Dead {
			out[i] = kerr.UnknownMemberID
			continue
		}
		if id == "" && instanceIDs[i] != nil {
			for _, m := range g.members {
				if m.InstanceID != nil && *m.InstanceID == *instanceIDs[i] {
					id = m.ID
				}
			}
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			c.tryCompleteJoin(nowMs, g)
			continue
		}
		if g.members[id] == nil {
			out[i] = kerr.UnknownMemberID
			continue
		}
		c.removeMember(g, id)
		c.memberGone(nowMs, g)
	}
	return out
}

func (c *Coordinator) memberGone(nowMs int64, g *Group) {
	switch g.State {
	case Stable, CompletingRebalance:
		c.prepareRebalance(nowMs, g)
	case PreparingRebalance:
		c.tryCompleteJoin(nowMs, g)
	}
}

// Tick expires sessions, ends join phases whose time is up and drops
// expired pending member ids. Call it often (every 100ms or so).
func (c *Coordinator) Tick(nowMs int64) {
	for _, g := range c.Groups() {
		for id, due := range g.pending {
			if nowMs >= due {
				delete(g.pending, id)
			}
		}
		for _, m := range g.Members() {
			if m.joinCB != nil || m.syncCB != nil {
				continue // kept alive while waiting on the coordinator
			}
			if nowMs-m.lastHeartbeatMs > int64(m.SessionTimeoutMs) {
				c.removeMember(g, m.ID)
				c.memberGone(nowMs, g)
			}
		}
		c.tryCompleteJoin(nowMs, g)
	}
}

// CheckCommit validates an OffsetCommit for group (generation -1 and an
// empty member id commit as a simple consumer) and returns the error for
// every partition of it (nil to commit).
func (c *Coordinator) CheckCommit(group, memberID string, generation int32) *kerr.Error {
	g := c.groups[group]
	if g == nil {
		if generation < 0 {
			return nil
		}
		return kerr.IllegalGeneration
	}
	if g.State == Dead {
		return kerr.CoordinatorNotAvailable
	}
	if generation < 0 && g.State == Empty {
		return nil
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID
	}
	if generation != g.Generation {
		return kerr.IllegalGeneration
	}
	if g.State == CompletingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

// Commit applies persisted offsets to the cache.
func (c *Coordinator) Commit(nowMs int64, group string, offsets map[TopicPartition]OffsetValue) {
	g := c.getOrCreate(group, nowMs)
	for tp, v := range offsets {
		g.offsets[tp] = v
	}
}

// Offset returns a committed offset.
func (c *Coordinator) Offset(group string, tp TopicPartition) (OffsetValue, bool) {
	g := c.groups[group]
	if g == nil {
		return OffsetValue{}, false
	}
	v, ok := g.offsets[tp]
	return v, ok
}

// Offsets returns every committed offset of group.
func (c *Coordinator) Offsets(group string) map[TopicPartition]OffsetValue {
	g := c.groups[group]
	if g == nil {
		return nil
	}
	out := make(map[TopicPartition]OffsetValue, len(g.offsets))
	for k, v := range g.offsets {
		out[k] = v
	}
	return out
}

// CheckDelete reports whether group may be deleted.
func (c *Coordinator) CheckDelete(group string) *kerr.Error {
	g := c.groups[group]
	if g == nil || g.State == Dead {
		return kerr.GroupIDNotFound
	}
	if g.State != Empty {
		return kerr.NonEmptyGroup
	}
	return nil
}

// DeleteRecords are the tombstones deleting group and all its offsets.
func (c *Coordinator) DeleteRecords(group string) []KV {
	var kvs []KV
	for tp := range c.Offsets(group) {
		k, _ := OffsetRecord(group, tp.Topic, tp.Partition, nil)
		kvs = append(kvs, KV{Key: k})
	}
	k, _ := GroupRecord(group, nil)
	return append(kvs, KV{Key: k})
}

// Delete drops a group once its tombstones are persisted.
func (c *Coordinator) Delete(group string) {
	if g := c.groups[group]; g != nil {
		g.setState(Dead, g.StateMs)
		delete(c.groups, group)
	}
}

// Subscribed reports whether a member of a consumer group subscribes to topic.
func (g *Group) Subscribed(topic string) bool {
	if g.State == Empty || g.ProtocolType != "consumer" {
		return false
	}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if md.ReadFrom(m.metadataFor(g.Protocol)) != nil {
			return true // cannot tell: assume it does, as Kafka does
		}
		if contains(md.Topics, topic) {
			return true
		}
	}
	return false
}

// DeleteOffsets drops persisted offset tombstones from the cache.
func (c *Coordinator) DeleteOffsets(group string, tps []TopicPartition) {
	if g := c.groups[group]; g != nil {
		for _, tp := range tps {
			delete(g.offsets, tp)
		}
	}
}

// Replay applies one record read back from offsets partition p while
// loading it; later records win, tombstones delete.
func (c *Coordinator) Replay(nowMs int64, r Record) {
	switch {
	case r.OffsetKey != nil:
		tp := TopicPartition{r.OffsetKey.Topic, r.OffsetKey.Partition}
		if r.Tombstone {
			c.DeleteOffsets(r.OffsetKey.Group, []TopicPartition{tp})
			return
		}
		g := c.getOrCreate(r.OffsetKey.Group, nowMs)
		g.offsets[tp] = OffsetValue{Offset: r.Offset.Offset, LeaderEpoch: r.Offset.LeaderEpoch, Metadata: r.Offset.Metadata, CommitMs: r.Offset.CommitTimestamp}
	case r.GroupKey != nil:
		id := r.GroupKey.Group
		if r.Tombstone {
			delete(c.groups, id)
			return
		}
		g := c.getOrCreate(id, nowMs)
		v := r.Group
		g.ProtocolType, g.Generation = v.ProtocolType, v.Generation
		g.Protocol, g.Leader = deref(v.Protocol), deref(v.Leader)
		g.members = map[string]*Member{}
		for _, vm := range v.Members {
			g.members[vm.MemberID] = &Member{ID: vm.MemberID, InstanceID: vm.InstanceID, ClientID: vm.ClientID, ClientHost: vm.ClientHost,
				SessionTimeoutMs: vm.SessionTimeoutMillis, RebalanceTimeoutMs: vm.RebalanceTimeoutMillis, ProtocolType: v.ProtocolType,
				Protocols: []Protocol{{Name: g.Protocol, Metadata: vm.Subscription}}, Assignment: vm.Assignment, lastHeartbeatMs: nowMs}
		}
		if len(g.members) == 0 {
			g.setState(Empty, nowMs)
		} else {
			g.setState(Stable, nowMs)
		}
		if v.CurrentStateTimestamp > 0 {
			g.StateMs = v.CurrentStateTimestamp
		}
	}
}

// ExpireOffsets drops offsets older than retentionMs as Kafka does
// (offsets.retention.minutes): in an Empty group, once retentionMs passed
// since it became Empty and since the commit; in a consumer group with
// members, offsets of topics no member subscribes to, by commit time. An
// Empty group left without offsets is deleted. It returns the tombstones
// to append, by offsets partition; the cache forgets them at once.
func (c *Coordinator) ExpireOffsets(nowMs, retentionMs int64) map[int32][]KV {
	out := map[int32][]KV{}
	for _, g := range c.Groups() {
		if g.State != Empty && g.State != Stable {
			continue
		}
		for tp, v := range g.offsets {
			var expired bool
			if g.State == Empty {
				expired = nowMs-max(g.StateMs, v.CommitMs) >= retentionMs
			} else {
				expired = g.ProtocolType == "consumer" && !g.Subscribed(tp.Topic) && nowMs-v.CommitMs >= retentionMs
			}
			if expired {
				delete(g.offsets, tp)
				k, _ := OffsetRecord(g.ID, tp.Topic, tp.Partition, nil)
				out[g.partitionOf] = append(out[g.partitionOf], KV{Key: k})
			}
		}
		if g.State == Empty && len(g.offsets) == 0 && nowMs-g.StateMs >= retentionMs {
			k, _ := GroupRecord(g.ID, nil)
			out[g.partitionOf] = append(out[g.partitionOf], KV{Key: k})
			c.Delete(g.ID)
		}
	}
	return out
}

// Unload forgets every group of offsets partition p (leadership moved).
func (c *Coordinator) Unload(p int32) {
	for id, g := range c.groups {
		if g.partitionOf == p {
			for _, m := range g.members {
				if m.joinCB != nil {
					m.joinCB(JoinResult{Err: kerr.NotCoordinator, MemberID: m.ID, Generation: -1})
					m.joinCB = nil
				}
				if m.syncCB != nil {
					m.syncCB(SyncResult{Err: kerr.NotCoordinator})
					m.syncCB = nil
				}
			}
			delete(c.groups, id)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
