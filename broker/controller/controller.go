package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/controller/clock"
	"kzoo/broker/controller/sender"
	"kzoo/broker/zkstate"
)

// Versions of the inter-broker requests the controller sends: those of an
// Apache Kafka 3.3 controller in ZooKeeper mode (inter.broker.protocol 3.3).
const (
	LeaderAndISRVersion   int16 = 6
	UpdateMetadataVersion int16 = 7
	StopReplicaVersion    int16 = 3
)

// Kafka's sentinel leader values.
const (
	// LeaderDuringDelete marks a partition of a topic being deleted in
	// UpdateMetadata.
	LeaderDuringDelete int32 = -2
	// EpochDuringDelete is the leader epoch StopReplica carries for deletion.
	EpochDuringDelete int32 = -2
)

// ErrNotActive is returned by calls that need the active controller when
// this broker is not it (turned into NOT_CONTROLLER at the edge).
var ErrNotActive = kerr.NotController

// Config wires a Controller to its broker.
type Config struct {
	BrokerID int32
	ZK       *zkstate.Client
	// Send delivers requests to brokers; nil means a TCPSender over the
	// inter-broker listener of each broker's registration.
	Send Sender
	// InterBrokerListener names the listener Send connects to (PLAINTEXT).
	InterBrokerListener string
	Logf                func(string, ...any)
	// UncleanLeaderElection is unclean.leader.election.enable.
	UncleanLeaderElection bool
	// TopicDeletionDisabled is delete.topic.enable=false: marked topics
	// are unmarked instead of deleted.
	TopicDeletionDisabled bool
	// Clock is the source of time (clock.Wall when nil).
	Clock Clock
	// RetryBackoffMs spaces retries of failed ZooKeeper calls and sends (100).
	RetryBackoffMs int64
	// RequestTimeoutMs bounds one request to a broker (30000).
	RequestTimeoutMs int64
	// AutoLeaderRebalance is auto.leader.rebalance.enable: every
	// LeaderImbalanceCheckIntervalMs (leader.imbalance.check.interval.seconds,
	// 300 s) preferred replicas are elected for brokers whose share of
	// partitions led elsewhere exceeds LeaderImbalancePerBrokerPercentage (10).
	AutoLeaderRebalance                bool
	LeaderImbalanceCheckIntervalMs     int64
	LeaderImbalancePerBrokerPercentage int
}

// Clock is the controller's view of time, injected so that this package
// stays free of the time package (clock.Wall is the real one).
type Clock interface {
	// After receives once ms milliseconds have passed.
	After(ms int64) <-chan struct{}
	// Ticker receives every ms milliseconds until stop is called.
	Ticker(ms int64) (c <-chan struct{}, stop func())
	// WithTimeout is context.WithTimeout for ms milliseconds.
	WithTimeout(ctx context.Context, ms int64) (context.Context, context.CancelFunc)
}

// Sender delivers one request to a broker and returns its response. The
// controller sends to each broker from one goroutine at a time, in order,
// and retries on error while the broker stays alive (sender.TCP is the
// real one).
type Sender interface {
	Send(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error)
}

// forgetter is implemented by senders that cache a connection per broker;
// the controller calls Forget when a broker dies or re-registers.
type forgetter interface{ Forget(broker int32) }

// Controller runs the controller election for one broker and, while it holds
// /controller, the controller itself. Exported methods are safe for
// concurrent use; all cluster state is owned by the goroutine running Run.
type Controller struct {
	cfg      Config
	send     Sender
	ownSend  *sender.TCP
	active   atomic.Bool
	epoch    atomic.Int32
	holder   atomic.Int32 // broker id in /controller, -1 when unknown
	calls    chan call
	leading  atomic.Pointer[context.Context] // the current term's context while active
	runGuard sync.Mutex
}

type call struct {
	fn   func(*leader)
	done chan struct{}
}

// New returns a Controller; start it with Run.
func New(cfg Config) *Controller {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.InterBrokerListener == "" {
		cfg.InterBrokerListener = "PLAINTEXT"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.RetryBackoffMs <= 0 {
		cfg.RetryBackoffMs = 100
	}
	if cfg.RequestTimeoutMs <= 0 {
		cfg.RequestTimeoutMs = 30000
	}
	if cfg.LeaderImbalanceCheckIntervalMs <= 0 {
		cfg.LeaderImbalanceCheckIntervalMs = 300000
	}
	if cfg.LeaderImbalancePerBrokerPercentage <= 0 {
		cfg.LeaderImbalancePerBrokerPercentage = 10
	}
	c := &Controller{cfg: cfg, send: cfg.Send, calls: make(chan call)}
	if c.send == nil {
		c.ownSend = sender.New(cfg.ZK, cfg.InterBrokerListener, fmt.Sprintf("controller-%d", cfg.BrokerID))
		c.send = c.ownSend
	}
	c.holder.Store(-1)
	return c
}

// IsActive reports whether this broker is the active controller.
func (c *Controller) IsActive() bool { return c.active.Load() }

// ID is the broker id of the active controller as last seen in /controller
// (-1 when none is known).
func (c *Controller) ID() int32 { return c.holder.Load() }

// Epoch is the controller epoch this broker won, or the last one it saw.
func (c *Controller) Epoch() int32 { return c.epoch.Load() }

func (c *Controller) logf(format string, args ...any) {
	c.cfg.Logf("[Controller id=%d] "+format, append([]any{c.cfg.BrokerID}, args...)...)
}

func (c *Controller) sleep(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-c.cfg.Clock.After(c.cfg.RetryBackoffMs):
	}
}

// Run races for /controller until ctx ends, acting as the controller while
// it holds it. On return it gives /controller up if it held it.
func (c *Controller) Run(ctx context.Context) error {
	if !c.runGuard.TryLock() {
		return errors.New("controller: Run called twice")
	}
	defer c.runGuard.Unlock()
	if c.ownSend != nil {
		defer c.ownSend.Close()
	}
	for ctx.Err() == nil {
		claim, err := c.cfg.ZK.Elect(c.cfg.BrokerID)
		if err != nil {
			c.logf("controller election failed, retrying: %v", err)
			c.sleep(ctx)
			continue
		}
		if claim.Won {
			c.lead(ctx, claim)
			if ctx.Err() != nil {
				if err := c.cfg.ZK.Resign(); err != nil {
					c.logf("giving up /controller: %v", err)
				}
			}
			continue
		}
		id, ok, ev, err := c.cfg.ZK.Controller()
		if err != nil {
			c.logf("reading /controller: %v", err)
			c.sleep(ctx)
			continue
		}
		if !ok {
			continue
		}
		c.holder.Store(id)
		if e, _, err := c.cfg.ZK.ControllerEpoch(); err == nil {
			c.epoch.Store(e)
		}
		select {
		case <-ctx.Done():
		case <-ev:
		}
	}
	return nil
}

// ControlledShutdown moves leadership off broker id before it stops, as
// Kafka's controller does for a ControlledShutdown request: partitions it
// leads get a new leader from the ISR, it leaves the ISR of the others and
// is told to stop those replicas. It returns the partitions (with more than
// one replica) it still leads; the broker retries until none remain.
// Errors: kerr.NotController, kerr.BrokerNotAvailable, kerr.StaleBrokerEpoch.
func (c *Controller) ControlledShutdown(id int32, brokerEpoch int64) ([]kmsg.ControlledShutdownResponsePartitionsRemaining, error) {
	var out []kmsg.ControlledShutdownResponsePartitionsRemaining
	var err error
	ok := c.do(func(l *leader) { out, err = l.controlledShutdown(id, brokerEpoch) })
	if !ok {
		return nil, ErrNotActive
	}
	return out, err
}

// do runs fn on the controller's goroutine; false when not active.
func (c *Controller) do(fn func(*leader)) bool {
	term := c.leading.Load()
	if term == nil {
		return false
	}
	cl := call{fn: fn, done: make(chan struct{})}
	select {
	case c.calls <- cl:
	case <-(*term).Done():
		return false
	}
	<-cl.done // the loop runs fn to completion once it took it
	return true
}

// tp names a partition.
type tp struct {
	topic string
	part  int32
}

type partition struct {
	state   zkstate.PartitionState
	created bool // state znode exists
}

type topic struct {
	assign zkstate.TopicAssignment
	parts  map[int32]*partition
	// deleting: marked for deletion and being removed.
	deleting  bool
	announced bool // brokers were told (leader -2) that it is going
	// Per replica broker: StopReplica(delete) answered without error, or
	// in flight.
	stopped  map[int32]bool
	stopping map[int32]bool
}

// event kinds posted by watches and send completions into the loop.
type eventKind int

const (
	evController eventKind = iota
	evBrokers
	evTopics
	evTopic
	evDeletions
	evISRChanges
	evAdminReassign
	evAdminPreferred
	evResync
	evFunc
)

type event struct {
	kind  eventKind
	topic string
	lost  bool // the watch was dropped (session expired or closed)
	prune bool // evAdminReassign not from a watch
	fn    func(*leader)
}

// leader is the state of an active controller. It is owned by the
// goroutine in Controller.lead; nothing else touches it.
type leader struct {
	c            *Controller
	zk           *zkstate.Client // fenced on the controller epoch
	epoch        int32
	ctx          context.Context
	events       chan event
	live         map[int32]zkstate.BrokerInfo
	topics       map[string]*topic
	queues       map[int32]*queue
	shuttingDown map[int32]bool
	lost         bool
	// reassignWatched: a watch on /admin/reassign_partitions is armed.
	reassignWatched bool
	// resyncPending: a resync is scheduled.
	resyncPending bool
}

func (c *Controller) lead(ctx context.Context, claim zkstate.Claim) {
	lctx, cancel := context.WithCancel(ctx)
	l := &leader{
		c: c, zk: c.cfg.ZK.Fenced(claim.EpochZkVersion), epoch: claim.Epoch, ctx: lctx,
		events: make(chan event, 256), live: map[int32]zkstate.BrokerInfo{}, topics: map[string]*topic{},
		queues: map[int32]*queue{}, shuttingDown: map[int32]bool{},
	}
	c.epoch.Store(claim.Epoch)
	c.holder.Store(c.cfg.BrokerID)
	c.active.Store(true)
	c.leading.Store(&lctx)
	c.logf("became the controller with epoch %d", claim.Epoch)
	defer func() {
		c.active.Store(false)
		c.leading.Store(nil)
		c.holder.Store(-1)
		cancel()
		for id, q := range l.queues {
			q.stop()
			delete(l.queues, id)
		}
		c.logf("resigned as controller (epoch %d)", claim.Epoch)
	}()
	if !l.failover() {
		return
	}
	tick, stopTick := c.rebalanceTicker()
	defer stopTick()
	for !l.lost {
		select {
		case <-lctx.Done():
			return
		case <-tick:
			l.checkImbalance(float64(c.cfg.LeaderImbalancePerBrokerPercentage) / 100)
		case cl := <-c.calls:
			cl.fn(l)
			close(cl.done)
		case ev := <-l.events:
			l.handle(ev)
		}
	}
}

// watch forwards the firing of a ZooKeeper watch into the loop.
func (l *leader) watch(ch <-chan zk.Event, e event) {
	if ch == nil {
		return
	}
	go func() {
		select {
		case <-l.ctx.Done():
			return
		case zev, ok := <-ch:
			if !ok || zev.Type == zk.EventNotWatching {
				e.lost = true
			}
		}
		select {
		case <-l.ctx.Done():
		case l.events <- e:
		}
	}()
}

// post queues fn to run on the loop (used by send completions).
func (l *leader) post(fn func(*leader)) {
	select {
	case <-l.ctx.Done():
	case l.events <- event{kind: evFunc, fn: fn}:
	}
}

// check turns a ZooKeeper error into the controller's reaction: a stale
// epoch ends the controllership; anything else is logged.
func (l *leader) check(what string, err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, zkstate.ErrStaleController) {
		l.c.logf("%s: another controller was elected; resigning: %v", what, err)
		l.lost = true
		return false
	}
	l.c.logf("%s: %v", what, err)
	return false
}

// failover loads the cluster's state and brings it in line (Kafka's
// onControllerFailover). False when the controllership was lost meanwhile.
func (l *leader) failover() bool {
	if !l.checkStillController() {
		return false
	}
	// Retry the initial reads until they succeed or we lose the election.
	for {
		if l.ctx.Err() != nil || l.lost {
			return false
		}
		if l.loadAll() {
			break
		}
		l.c.sleep(l.ctx)
		if !l.checkStillController() {
			return false
		}
	}
	for _, id := range SortedIDs(l.live) {
		l.startQueue(id)
	}
	// Partitions without state are new; the others are reconciled with the
	// live brokers.
	all := l.allPartitions()
	l.initAll(all)
	l.reconcileAll(all)
	if l.lost {
		return false
	}
	// Every live broker gets the full picture.
	brokers := SortedIDs(l.live)
	l.sendUpdateMetadata(brokers, nil)
	for _, b := range brokers {
		l.sendLeaderAndISRNew([]int32{b}, l.partitionsOn(b), false)
	}
	l.onDeletions()
	l.onISRChanges()
	l.maybeCompleteReassignments(l.allReassigning())
	l.onAdminReassign(false)
	l.onAdminPreferred()
	return !l.lost
}

func (l *leader) checkStillController() bool {
	id, ok, ev, err := l.c.cfg.ZK.Controller()
	if err != nil {
		l.c.logf("reading /controller: %v", err)
		l.lost = true
		return false
	}
	if !ok || id != l.c.cfg.BrokerID {
		l.lost = true
		return false
	}
	l.watch(ev, event{kind: evController})
	return true
}

func (l *leader) loadAll() bool {
	brokers, bev, err := l.zk.Brokers()
	if !l.check("loading brokers", err) {
		return false
	}
	names, tev, err := l.zk.Topics()
	if !l.check("loading topics", err) {
		return false
	}
	l.live = map[int32]zkstate.BrokerInfo{}
	for _, b := range brokers {
		l.live[b.ID] = b
	}
	l.topics = map[string]*topic{}
	for _, name := range names {
		if !l.loadTopic(name) {
			return false
		}
	}
	l.watch(bev, event{kind: evBrokers})
	l.watch(tev, event{kind: evTopics})
	return true
}

// loadTopic reads a topic's assignment (with a watch) and the state of its
// partitions. A topic whose znode vanished is dropped.
func (l *leader) loadTopic(name string) bool {
	a, ev, err := l.zk.Topic(name)
	if errors.Is(err, zkstate.ErrTopicNotFound) {
		delete(l.topics, name)
		return true
	}
	if !l.check("loading topic "+name, err) {
		return false
	}
	t := l.topics[name]
	if t == nil {
		t = &topic{parts: map[int32]*partition{}}
		l.topics[name] = t
	}
	t.assign = a
	var missing []int32
	for p := range a.Partitions {
		if t.parts[p] == nil {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	states := make([]zkstate.PartitionState, len(missing))
	errs := make([]error, len(missing))
	parallel(len(missing), func(i int) { states[i], errs[i] = l.zk.PartitionState(name, missing[i]) })
	for i, p := range missing {
		switch err := errs[i]; {
		case err == nil:
			t.parts[p] = &partition{state: states[i], created: true}
		case errors.Is(err, zkstate.ErrPartitionStateNotFound):
			t.parts[p] = &partition{}
		default:
			l.check(fmt.Sprintf("loading state of %s-%d", name, p), err)
			return false
		}
	}
	l.watch(ev, event{kind: evTopic, topic: name})
	return true
}

func (l *leader) aliveFn() func(int32) bool {
	return func(id int32) bool {
		_, ok := l.live[id]
		return ok && !l.shuttingDown[id]
	}
}

func (l *leader) handle(ev event) {
	if ev.lost {
		// A dropped watch means the session went away; /controller went
		// with it. Confirm and resign.
		if !l.checkStillController() {
			return
		}
	}
	switch ev.kind {
	case evController:
		if !ev.lost {
			l.checkStillController()
		}
	case evBrokers:
		l.onBrokerChange()
	case evTopics:
		l.onTopicsChange()
	case evTopic:
		l.onTopicChange(ev.topic)
	case evDeletions:
		l.onDeletions()
	case evISRChanges:
		l.onISRChanges()
	case evAdminReassign:
		l.onAdminReassign(!ev.prune)
	case evAdminPreferred:
		l.onAdminPreferred()
	case evResync:
		l.resync()
	case evFunc:
		ev.fn(l)
	}
}

// onBrokerChange diffs /brokers/ids against the live set: brokers that went
// away (or came back with a new epoch) fail, new ones start.
func (l *leader) onBrokerChange() {
	brokers, ev, err := l.zk.Brokers()
	if !l.check("reading brokers", err) {
		l.retryLater(event{kind: evBrokers})
		return
	}
	l.watch(ev, event{kind: evBrokers})
	now := map[int32]zkstate.BrokerInfo{}
	for _, b := range brokers {
		now[b.ID] = b
	}
	var dead, born []int32
	for _, id := range SortedIDs(l.live) {
		nb, ok := now[id]
		if !ok || nb.Epoch != l.live[id].Epoch {
			dead = append(dead, id)
		}
	}
	for _, id := range SortedIDs(now) {
		old, ok := l.live[id]
		if !ok || old.Epoch != now[id].Epoch {
			born = append(born, id)
		}
	}
	if len(dead) > 0 {
		l.c.logf("brokers %v failed", dead)
		for _, id := range dead {
			delete(l.live, id)
			delete(l.shuttingDown, id)
			l.stopQueue(id)
		}
		l.onBrokerFailure()
	}
	if len(born) > 0 {
		l.c.logf("brokers %v started", born)
		for _, id := range born {
			l.live[id] = now[id]
			l.startQueue(id)
		}
		l.onBrokerStartup(born)
	}
}

// soon queues e for the loop without blocking it.
func (l *leader) soon(e event) {
	go func() {
		select {
		case <-l.ctx.Done():
		case l.events <- e:
		}
	}()
}

func (l *leader) retryLater(e event) {
	if l.lost {
		return
	}
	go func() {
		l.c.sleep(l.ctx)
		select {
		case <-l.ctx.Done():
		case l.events <- e:
		}
	}()
}

// onBrokerFailure re-elects leaders of partitions whose leader died and
// drops dead replicas from ISRs.
func (l *leader) onBrokerFailure() {
	l.announce(l.reconcileAll(l.allPartitions()), false)
	l.onDeletions() // a deletion waiting on a dead replica may now resend later
}

// onBrokerStartup tells new brokers everything, then elects leaders for
// partitions that were offline or never started.
func (l *leader) onBrokerStartup(born []int32) {
	others := slices.DeleteFunc(SortedIDs(l.live), func(id int32) bool { return slices.Contains(born, id) })
	l.sendUpdateMetadata(others, []tp{}) // live broker list only
	l.sendUpdateMetadata(born, nil)
	for _, b := range born {
		l.sendLeaderAndISRNew([]int32{b}, l.partitionsOn(b), false)
	}
	all := l.allPartitions()
	l.announce(l.initAll(all), true)
	l.announce(l.reconcileAll(all), false)
	l.onDeletions()
}

// update runs decide on a partition's state and writes the result
// conditionally; after a lost race (a leader changed the ISR) it re-reads
// and decides again.
func (l *leader) update(name string, p int32, decide func(LeaderAndISR) (LeaderAndISR, bool)) bool {
	part := l.topics[name].parts[p]
	for attempt := 0; attempt < 5 && !l.lost; attempt++ {
		cur := LeaderAndISR{Leader: part.state.Leader, LeaderEpoch: part.state.LeaderEpoch, ISR: part.state.ISR}
		next, changed := decide(cur)
		if !changed {
			return false
		}
		st := zkstate.PartitionState{ControllerEpoch: l.epoch, Leader: next.Leader, LeaderEpoch: next.LeaderEpoch,
			ISR: next.ISR, ZkVersion: part.state.ZkVersion}
		v, err := l.zk.UpdatePartitionState(name, p, st)
		if err == nil {
			st.ZkVersion = v
			part.state = st
			l.noteOffline(tp{name, p}, st)
			return true
		}
		if errors.Is(err, zkstate.ErrBadVersion) {
			fresh, rerr := l.zk.PartitionState(name, p)
			if !l.check(fmt.Sprintf("re-reading state of %s-%d", name, p), rerr) {
				return false
			}
			part.state = fresh
			continue
		}
		l.check(fmt.Sprintf("writing state of %s-%d", name, p), err)
		l.resyncLater()
		return false
	}
	return false
}

// announce sends LeaderAndIsr for the partitions to their live replicas and
// UpdateMetadata to every live broker. State is already in ZooKeeper.
func (l *leader) announce(parts []tp, isNew bool) {
	if len(parts) == 0 || l.lost {
		return
	}
	byBroker := map[int32][]tp{}
	for _, x := range parts {
		for _, r := range l.topics[x.topic].assign.Partitions[x.part] {
			if _, ok := l.live[r]; ok {
				byBroker[r] = append(byBroker[r], x)
			}
		}
	}
	for _, b := range SortedIDs(byBroker) {
		l.sendLeaderAndISRNew([]int32{b}, byBroker[b], isNew)
	}
	l.sendUpdateMetadata(SortedIDs(l.live), parts)
}

// partitionsOn lists the created partitions with a replica on broker b.
func (l *leader) partitionsOn(b int32) []tp {
	var out []tp
	for _, name := range sortedTopics(l.topics) {
		t := l.topics[name]
		if t.deleting {
			continue
		}
		for _, p := range sortedParts(t.parts) {
			if t.parts[p].created && slices.Contains(t.assign.Partitions[p], b) {
				out = append(out, tp{name, p})
			}
		}
	}
	return out
}

// onTopicsChange picks up new topics and forgets deleted ones.
func (l *leader) onTopicsChange() {
	names, ev, err := l.zk.Topics()
	if !l.check("reading topics", err) {
		l.retryLater(event{kind: evTopics})
		return
	}
	l.watch(ev, event{kind: evTopics})
	for _, name := range sortedTopics(l.topics) {
		if !slices.Contains(names, name) {
			delete(l.topics, name)
		}
	}
	for _, name := range names {
		if _, ok := l.topics[name]; ok {
			continue
		}
		l.c.logf("new topic %s", name)
		if !l.loadTopic(name) {
			l.retryLater(event{kind: evTopic, topic: name})
			continue
		}
		l.startNewPartitions(name)
	}
}

// onTopicChange handles a changed /brokers/topics/T: partitions that are
// new (CreatePartitions) are started. As in Kafka, replica lists of existing
// partitions change only through a reassignment, so other edits are ignored.
func (l *leader) onTopicChange(name string) {
	t := l.topics[name]
	if t == nil {
		return
	}
	known := t.assign
	if !l.loadTopic(name) {
		l.retryLater(event{kind: evTopic, topic: name})
		return
	}
	t = l.topics[name]
	if t == nil {
		return
	}
	merged := t.assign
	merged.Partitions = maps.Clone(merged.Partitions)
	for p, rs := range known.Partitions {
		if !slices.Equal(merged.Partitions[p], rs) {
			l.c.logf("ignoring a changed replica list of %s-%d (%v, kept %v): use a reassignment", name, p, merged.Partitions[p], rs)
		}
		merged.Partitions[p] = rs
	}
	merged.AddingReplicas, merged.RemovingReplicas = known.AddingReplicas, known.RemovingReplicas
	t.assign = merged
	l.startNewPartitions(name)
}

func (l *leader) startNewPartitions(name string) {
	t := l.topics[name]
	if t == nil || t.deleting {
		return
	}
	var xs []tp
	for _, p := range sortedParts(t.parts) {
		xs = append(xs, tp{name, p})
	}
	l.announce(l.initAll(xs), true)
}

// onDeletions handles /admin/delete_topics: each marked topic's replicas
// are told to stop and delete, brokers learn it is gone (leader -2), and
// once every replica confirmed, its znodes are removed.
func (l *leader) onDeletions() {
	marked, ev, err := l.zk.TopicsMarkedForDeletion()
	if !l.check("reading topics marked for deletion", err) {
		l.retryLater(event{kind: evDeletions})
		return
	}
	l.watch(ev, event{kind: evDeletions})
	for _, name := range marked {
		t := l.topics[name]
		if t == nil {
			// Not a topic (any more): drop the mark.
			l.check("unmarking "+name, l.zk.DeleteTopic(name))
			continue
		}
		if l.c.cfg.TopicDeletionDisabled {
			l.c.logf("ignoring deletion of topic %s: delete.topic.enable is false", name)
			l.check("unmarking "+name, l.zk.DeleteTopicMark(name))
			continue
		}
		l.startDeletion(name)
	}
}

func (l *leader) startDeletion(name string) {
	t := l.topics[name]
	replicas := map[int32][]tp{}
	var all []tp
	for _, p := range sortedParts(t.parts) {
		all = append(all, tp{name, p})
		for _, r := range t.assign.Partitions[p] {
			replicas[r] = append(replicas[r], tp{name, p})
		}
	}
	if !t.deleting {
		l.c.logf("deleting topic %s", name)
		t.deleting = true
		t.stopped, t.stopping = map[int32]bool{}, map[int32]bool{}
	}
	if !t.announced {
		t.announced = true
		l.sendUpdateMetadata(SortedIDs(l.live), all)
	}
	pending := false
	for _, r := range SortedIDs(replicas) {
		if t.stopped[r] {
			continue
		}
		pending = true
		if t.stopping[r] {
			continue
		}
		if _, ok := l.live[r]; !ok {
			l.c.logf("deletion of topic %s waits for replica %d to come back", name, r)
			continue
		}
		t.stopping[r] = true
		l.sendStopReplica(r, replicas[r], true, func(l *leader, err error) {
			t := l.topics[name]
			if t == nil || !t.deleting {
				return
			}
			delete(t.stopping, r)
			if err != nil {
				l.c.logf("deletion of topic %s: replica %d did not confirm (%v); retrying", name, r, err)
				l.retryLater(event{kind: evDeletions})
				return
			}
			t.stopped[r] = true
			l.startDeletion(name)
		})
	}
	if !pending {
		l.finishDeletion(name)
	}
}

func (l *leader) finishDeletion(name string) {
	if !l.check("deleting topic "+name, l.zk.DeleteTopic(name)) {
		return
	}
	delete(l.topics, name)
	l.c.logf("deleted topic %s", name)
}

// onISRChanges processes /isr_change_notification: partition leaders that
// changed an ISR in ZooKeeper announce it there; brokers then get fresh
// metadata for those partitions.
func (l *leader) onISRChanges() {
	names, ev, err := l.zk.ISRChangeNotifications()
	if !l.check("reading isr change notifications", err) {
		l.retryLater(event{kind: evISRChanges})
		return
	}
	l.watch(ev, event{kind: evISRChanges})
	var changed []tp
	for _, n := range names {
		parts, err := l.zk.ISRChange(n)
		if !l.check("reading isr change "+n, err) {
			continue
		}
		for _, x := range parts {
			t := l.topics[x.Topic]
			if t == nil || t.parts[x.Partition] == nil {
				continue
			}
			st, err := l.zk.PartitionState(x.Topic, x.Partition)
			if !l.check(fmt.Sprintf("reading state of %s-%d", x.Topic, x.Partition), err) {
				continue
			}
			t.parts[x.Partition].state, t.parts[x.Partition].created = st, true
			changed = append(changed, tp{x.Topic, x.Partition})
		}
		l.check("deleting isr change "+n, l.zk.DeleteISRChange(n))
	}
	if len(changed) > 0 {
		l.sendUpdateMetadata(SortedIDs(l.live), changed)
		l.maybeCompleteReassignments(changed)
	}
}

// controlledShutdown runs on the loop; see Controller.ControlledShutdown.
func (l *leader) controlledShutdown(id int32, brokerEpoch int64) ([]kmsg.ControlledShutdownResponsePartitionsRemaining, error) {
	b, ok := l.live[id]
	if !ok {
		return nil, kerr.BrokerNotAvailable
	}
	if brokerEpoch != -1 && brokerEpoch != b.Epoch {
		return nil, kerr.StaleBrokerEpoch
	}
	l.c.logf("controlled shutdown of broker %d", id)
	l.shuttingDown[id] = true
	alive := l.aliveFn()
	var changed []tp
	stops := []tp{}
	var remaining []kmsg.ControlledShutdownResponsePartitionsRemaining
	for _, x := range l.partitionsOn(id) {
		t := l.topics[x.topic]
		assigned := t.assign.Partitions[x.part]
		if len(assigned) <= 1 {
			continue
		}
		wasLeader := t.parts[x.part].state.Leader == id
		if l.update(x.topic, x.part, func(cur LeaderAndISR) (LeaderAndISR, bool) {
			next, ch, _ := ShutdownMove(assigned, cur, id, alive)
			return next, ch
		}) {
			changed = append(changed, x)
		}
		if l.lost {
			return nil, ErrNotActive
		}
		if t.parts[x.part].state.Leader == id {
			r := kmsg.NewControlledShutdownResponsePartitionsRemaining()
			r.Topic, r.Partition = x.topic, x.part
			remaining = append(remaining, r)
		} else if !wasLeader {
			stops = append(stops, x)
		}
	}
	l.announce(changed, false)
	if len(stops) > 0 {
		l.sendStopReplica(id, stops, false, nil)
	}
	return remaining, nil
}

func sortedTopics(m map[string]*topic) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedParts(m map[int32]*partition) []int32 { return SortedIDs(m) }
