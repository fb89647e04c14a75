package zkstate_test

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/broker/zkstate"
	"kzoo/broker/zkstate/zktest"
)

func TestMain(m *testing.M) { os.Exit(zktest.Main(m)) }

func dial(t *testing.T, connect string) *zkstate.Client {
	t.Helper()
	c, err := zkstate.Dial(connect, 4*time.Second, 10*time.Second, t.Logf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func raw(t *testing.T, c *zkstate.Client, path string) string {
	t.Helper()
	data, _, err := c.Conn().Get(c.Chroot() + path)
	require.NoError(t, err, path)
	return string(data)
}

func TestZkStateDialCreatesChrootAndPersistentPaths(t *testing.T) {
	connect := zktest.Connect(t)
	c := dial(t, connect)
	require.NotEmpty(t, c.Chroot())
	require.True(t, strings.HasPrefix(connect, zktest.Addr(t)+c.Chroot()))
	for _, p := range append([]string{""}, zkstate.PersistentPaths...) {
		ok, _, err := c.Conn().Exists(c.Chroot() + p)
		require.NoError(t, err)
		require.True(t, ok, "missing %s%s", c.Chroot(), p)
	}
	// Dialing again is idempotent.
	dial(t, connect)
}

func TestZkStateDialUnreachableNamesAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = zkstate.Dial(addr+"/kafka", time.Second, 500*time.Millisecond, t.Logf)
	require.ErrorIs(t, err, zkstate.ErrUnreachable)
	require.Contains(t, err.Error(), addr)
}

func TestZkStateSplitConnect(t *testing.T) {
	for _, tc := range []struct {
		in     string
		addrs  []string
		chroot string
		bad    bool
	}{
		{in: "h1:2181,h2:2182/kafka", addrs: []string{"h1:2181", "h2:2182"}, chroot: "/kafka"},
		{in: "localhost:2181", addrs: []string{"localhost:2181"}},
		{in: "h1/a/b/", addrs: []string{"h1:2181"}, chroot: "/a/b"},
		{in: "/kafka", bad: true},
		{in: "h1:2181/a//b", bad: true},
	} {
		addrs, chroot, err := zkstate.SplitConnect(tc.in)
		if tc.bad {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.addrs, addrs, tc.in)
		require.Equal(t, tc.chroot, chroot, tc.in)
	}
}

func TestZkStateBrokerRegistrationJSON(t *testing.T) {
	c := dial(t, zktest.Connect(t))
	rack := "r1"
	b := zkstate.BrokerInfo{ID: 3, Host: "h3", Port: 9092, Endpoints: []string{"PLAINTEXT://h3:9092", "INTERNAL://h3:9093"},
		SecurityProtocolMap: map[string]string{"PLAINTEXT": "PLAINTEXT", "INTERNAL": "PLAINTEXT"}, Rack: &rack, TimestampMs: 1700000000123}
	epoch, err := c.RegisterBroker(b)
	require.NoError(t, err)
	require.Equal(t, `{"version":5,"host":"h3","port":9092,"endpoints":["PLAINTEXT://h3:9092","INTERNAL://h3:9093"],`+
		`"listener_security_protocol_map":{"INTERNAL":"PLAINTEXT","PLAINTEXT":"PLAINTEXT"},"jmx_port":-1,"rack":"r1",`+
		`"timestamp":"1700000000123","features":{}}`, raw(t, c, "/brokers/ids/3"))
	_, st, err := c.Conn().Get(c.Chroot() + "/brokers/ids/3")
	require.NoError(t, err)
	require.Equal(t, st.Czxid, epoch, "broker epoch is the czxid")
	require.Equal(t, c.Conn().SessionID(), st.EphemeralOwner, "registration is ephemeral")
	require.Equal(t, epoch, c.BrokerEpoch())

	bs, ev, err := c.Brokers()
	require.NoError(t, err)
	require.Len(t, bs, 1)
	b.Epoch = epoch
	require.Equal(t, b, bs[0])
	ep, ok := bs[0].Endpoint("INTERNAL")
	require.True(t, ok)
	require.Equal(t, "h3:9093", ep)

	// Without a rack Kafka's layout has "rack":null.
	other := dial(t, zktest.Connect(t))
	_, err = other.RegisterBroker(zkstate.BrokerInfo{ID: 0, Host: "localhost", Port: 9092, Endpoints: []string{"PLAINTEXT://localhost:9092"},
		SecurityProtocolMap: map[string]string{"PLAINTEXT": "PLAINTEXT"}, TimestampMs: 5})
	require.NoError(t, err)
	require.Equal(t, `{"version":5,"host":"localhost","port":9092,"endpoints":["PLAINTEXT://localhost:9092"],`+
		`"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"jmx_port":-1,"rack":null,"timestamp":"5","features":{}}`,
		raw(t, other, "/brokers/ids/0"))

	// A second broker joining fires the children watch.
	c2 := dial(t, "127.0.0.1:1,"+zktest.Addr(t)+c.Chroot())
	_, err = c2.RegisterBroker(zkstate.BrokerInfo{ID: 4, Host: "h4", Port: 1, Endpoints: []string{"PLAINTEXT://h4:1"}})
	require.NoError(t, err)
	select {
	case e := <-ev:
		require.Equal(t, zk.EventNodeChildrenChanged, e.Type)
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for a new broker")
	}
}

func TestZkStateBrokerIDInUse(t *testing.T) {
	connect := zktest.Connect(t)
	a, b := dial(t, connect), dial(t, connect)
	info := zkstate.BrokerInfo{ID: 7, Host: "h", Port: 1, Endpoints: []string{"PLAINTEXT://h:1"}}
	_, err := a.RegisterBroker(info)
	require.NoError(t, err)
	_, err = b.RegisterBroker(info)
	require.ErrorIs(t, err, zkstate.ErrBrokerIDInUse)
	require.Contains(t, err.Error(), "7")
	// Registering again from the owning session is harmless.
	_, err = a.RegisterBroker(info)
	require.NoError(t, err)
	// Once the owner is gone the id is free.
	require.NoError(t, a.Close())
	require.Eventually(t, func() bool { _, err := b.RegisterBroker(info); return err == nil }, 10*time.Second, 50*time.Millisecond)
}

func TestZkStateSessionExpiryReregistersBroker(t *testing.T) {
	connect := zktest.Connect(t)
	var sess zktest.Sessions
	c, err := zkstate.DialOptions(zkstate.Options{Connect: connect, SessionTimeout: 4 * time.Second, ConnectTimeout: 10 * time.Second,
		Logf: t.Logf, Dialer: sess.Dial})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	renewed := make(chan struct{}, 1)
	c.OnSessionExpired(func() { renewed <- struct{}{} })
	epoch1, err := c.RegisterBroker(zkstate.BrokerInfo{ID: 1, Host: "h", Port: 1, Endpoints: []string{"PLAINTEXT://h:1"}})
	require.NoError(t, err)
	old := c.Conn().SessionID()
	require.Equal(t, old, sess.Current())

	watcher := dial(t, connect)
	require.NoError(t, sess.Kill(zktest.Addr(t)))
	select {
	case <-renewed:
	case <-time.After(20 * time.Second):
		t.Fatal("no new session after the old one was closed")
	}
	require.NotEqual(t, old, c.Conn().SessionID())
	bs, _, err := watcher.Brokers()
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.Greater(t, bs[0].Epoch, epoch1, "re-registration gives a new broker epoch")
	require.Equal(t, bs[0].Epoch, c.BrokerEpoch())
	_, st, err := watcher.Conn().Get(watcher.Chroot() + "/brokers/ids/1")
	require.NoError(t, err)
	require.Equal(t, c.Conn().SessionID(), st.EphemeralOwner)
}

func TestZkStateTopicLayout(t *testing.T) {
	c := dial(t, zktest.Connect(t))
	id := [16]byte{0x8f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}
	a := zkstate.TopicAssignment{Name: "orders", TopicID: id, Partitions: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 10: {3, 1, 2}}}
	topics, tev, err := c.Topics()
	require.NoError(t, err)
	require.Empty(t, topics)
	require.NoError(t, c.CreateTopic(a, map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}))
	require.ErrorIs(t, c.CreateTopic(a, nil), zkstate.ErrTopicExists)
	idStr := zkstate.EncodeTopicID(id)
	require.Len(t, idStr, 22)
	require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`), idStr)
	require.Equal(t, `{"version":2,"partitions":{"0":[1,2,3],"1":[2,3,1],"10":[3,1,2]},"adding_replicas":{},"removing_replicas":{},"topic_id":"`+idStr+`"}`,
		raw(t, c, "/brokers/topics/orders"))
	require.Equal(t, `{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"1000"}}`, raw(t, c, "/config/topics/orders"))
	select {
	case <-tev:
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for a new topic")
	}
	got, aev, err := c.Topic("orders")
	require.NoError(t, err)
	a.AddingReplicas, a.RemovingReplicas = map[int32][]int32{}, map[int32][]int32{}
	require.Equal(t, a, got)
	_, _, err = c.Topic("nope")
	require.ErrorIs(t, err, zkstate.ErrTopicNotFound)

	a.Partitions[11] = []int32{1, 2, 3}
	require.NoError(t, c.SetTopicAssignment(a))
	select {
	case e := <-aev:
		require.Equal(t, zk.EventNodeDataChanged, e.Type)
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for a new partition")
	}

	cfg, err := c.TopicConfig("orders")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}, cfg)
	require.NoError(t, c.SetTopicConfig("orders", map[string]string{"retention.ms": "5"}))
	changes, _, err := c.ConfigChanges()
	require.NoError(t, err)
	require.Equal(t, []string{"config_change_0000000000"}, changes)
	require.Equal(t, `{"version":2,"entity_path":"topics/orders"}`, raw(t, c, "/config/changes/config_change_0000000000"))
	ent, err := c.ConfigChange(changes[0])
	require.NoError(t, err)
	require.Equal(t, "topics/orders", ent)
	cfg, err = c.TopicConfig("none")
	require.NoError(t, err)
	require.Empty(t, cfg)

	// Deletion: mark, list, delete everything.
	require.ErrorIs(t, c.MarkTopicForDeletion("none"), zkstate.ErrTopicNotFound)
	require.NoError(t, c.CreatePartitionState("orders", 0, zkstate.PartitionState{ControllerEpoch: 1, Leader: 1, ISR: []int32{1}}))
	require.NoError(t, c.MarkTopicForDeletion("orders"))
	require.NoError(t, c.MarkTopicForDeletion("orders"))
	marked, _, err := c.TopicsMarkedForDeletion()
	require.NoError(t, err)
	require.Equal(t, []string{"orders"}, marked)
	require.NoError(t, c.DeleteTopic("orders"))
	for _, p := range []string{"/brokers/topics/orders", "/config/topics/orders", "/admin/delete_topics/orders"} {
		ok, _, err := c.Conn().Exists(c.Chroot() + p)
		require.NoError(t, err)
		require.False(t, ok, p)
	}
	require.NoError(t, c.DeleteTopic("orders"), "deleting twice is harmless")
}

func TestZkStatePartitionStateConditionalUpdate(t *testing.T) {
	c := dial(t, zktest.Connect(t))
	require.NoError(t, c.CreateTopic(zkstate.TopicAssignment{Name: "t", Partitions: map[int32][]int32{0: {1, 2}}}, nil))
	_, err := c.PartitionState("t", 0)
	require.ErrorIs(t, err, zkstate.ErrPartitionStateNotFound)
	s := zkstate.PartitionState{ControllerEpoch: 4, Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}}
	require.NoError(t, c.CreatePartitionState("t", 0, s))
	require.ErrorIs(t, c.CreatePartitionState("t", 0, s), zkstate.ErrBadVersion)
	require.Equal(t, `{"controller_epoch":4,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`, raw(t, c, "/brokers/topics/t/partitions/0/state"))
	got, err := c.PartitionState("t", 0)
	require.NoError(t, err)
	require.Equal(t, s, got)

	next := got
	next.Leader, next.LeaderEpoch, next.ISR = 2, 1, []int32{2}
	v, err := c.UpdatePartitionState("t", 0, next)
	require.NoError(t, err)
	require.Equal(t, int32(1), v)
	// A writer holding the old version loses.
	_, err = c.UpdatePartitionState("t", 0, got)
	require.ErrorIs(t, err, zkstate.ErrBadVersion)
	require.Contains(t, err.Error(), "t-0")
	got, err = c.PartitionState("t", 0)
	require.NoError(t, err)
	require.Equal(t, int32(2), got.Leader)
	require.Equal(t, []int32{2}, got.ISR)
	_, err = c.UpdatePartitionState("t", 9, got)
	require.ErrorIs(t, err, zkstate.ErrPartitionStateNotFound)
	require.ErrorIs(t, c.CreatePartitionState("missing", 0, s), zkstate.ErrTopicNotFound)
}

func TestZkStateControllerElectionAndFencing(t *testing.T) {
	connect := zktest.Connect(t)
	a, b := dial(t, connect), dial(t, connect)
	_, ok, ev, err := b.Controller()
	require.NoError(t, err)
	require.False(t, ok)
	e0, v0, err := a.ControllerEpoch()
	require.NoError(t, err)
	require.Equal(t, int32(0), e0)
	require.Equal(t, int32(-1), v0)

	claim, err := a.Elect(1)
	require.NoError(t, err)
	require.Equal(t, zkstate.Claim{Won: true, Epoch: 1, EpochZkVersion: 1}, claim)
	require.Equal(t, "1", raw(t, a, "/controller_epoch"))
	require.Regexp(t, `^\{"version":1,"brokerid":1,"timestamp":"\d+"\}$`, raw(t, a, "/controller"))
	select {
	case <-ev:
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event for /controller")
	}
	epoch, won, err := b.TryBecomeController(2)
	require.NoError(t, err)
	require.False(t, won)
	require.Zero(t, epoch)
	id, ok, _, err := b.Controller()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int32(1), id)
	// Electing again from the winning session is idempotent.
	again, err := a.Elect(1)
	require.NoError(t, err)
	require.Equal(t, claim, again)

	require.NoError(t, a.CreateTopic(zkstate.TopicAssignment{Name: "t", Partitions: map[int32][]int32{0: {1}}}, nil))
	fa := a.Fenced(claim.EpochZkVersion)
	require.NoError(t, fa.CreatePartitionState("t", 0, zkstate.PartitionState{ControllerEpoch: 1, Leader: 1, ISR: []int32{1}}))

	// a's session ends; b takes over and bumps the epoch; a's fenced view is stale.
	stale := dial(t, connect).Fenced(claim.EpochZkVersion)
	require.NoError(t, a.Close())
	require.Eventually(t, func() bool {
		_, won, err := b.TryBecomeController(2)
		return err == nil && won
	}, 10*time.Second, 50*time.Millisecond)
	e, v, err := b.ControllerEpoch()
	require.NoError(t, err)
	require.Equal(t, int32(2), e)
	require.Equal(t, int32(2), v)
	st, err := stale.PartitionState("t", 0)
	require.NoError(t, err)
	_, err = stale.UpdatePartitionState("t", 0, st)
	require.ErrorIs(t, err, zkstate.ErrStaleController)
	_, err = b.Fenced(v).UpdatePartitionState("t", 0, st)
	require.NoError(t, err)
	require.NoError(t, b.Resign())
	_, ok, _, err = b.Controller()
	require.NoError(t, err)
	require.False(t, ok)
}

func TestZkStateClusterID(t *testing.T) {
	connect := zktest.Connect(t)
	a := dial(t, connect)
	id, err := a.ClusterID()
	require.NoError(t, err)
	require.Regexp(t, `^[A-Za-z0-9_-]{22}$`, id)
	require.Equal(t, fmt.Sprintf(`{"version":"1","id":"%s"}`, id), raw(t, a, "/cluster/id"))
	id2, err := dial(t, connect).ClusterID()
	require.NoError(t, err)
	require.Equal(t, id, id2)
}

func TestZkStateISRChangeNotification(t *testing.T) {
	c := dial(t, zktest.Connect(t))
	require.NoError(t, c.NotifyISRChange([]zkstate.TopicPartition{{Topic: "a", Partition: 1}}))
	kids, _, err := c.Conn().Children(c.Chroot() + "/isr_change_notification")
	require.NoError(t, err)
	require.Equal(t, []string{"isr_change_0000000000"}, kids)
	require.Equal(t, `{"version":1,"partitions":[{"topic":"a","partition":1}]}`, raw(t, c, "/isr_change_notification/isr_change_0000000000"))
}

func TestZkStateProducerIDBlocks(t *testing.T) {
	connect := zktest.Connect(t)
	a, b := dial(t, connect), dial(t, connect)
	blk, err := a.AllocateProducerIDs(1)
	require.NoError(t, err)
	require.Equal(t, zkstate.ProducerIDBlock{Broker: 1, Start: 0, End: 999}, blk)
	require.Equal(t, `{"version":1,"broker":1,"block_start":"0","block_end":"999"}`, raw(t, a, "/latest_producer_id_block"))
	// Concurrent claims never overlap.
	const n = 8
	got := make(chan zkstate.ProducerIDBlock, 2*n)
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		for j, c := range []*zkstate.Client{a, b} {
			go func() {
				blk, err := c.AllocateProducerIDs(int32(j))
				got <- blk
				errs <- err
			}()
		}
	}
	starts := map[int64]bool{}
	for i := 0; i < 2*n; i++ {
		require.NoError(t, <-errs)
		blk := <-got
		require.Equal(t, blk.Start+999, blk.End)
		require.Zero(t, blk.Start%1000)
		require.False(t, starts[blk.Start], "block %d handed out twice", blk.Start)
		starts[blk.Start] = true
	}
	require.Len(t, starts, 2*n)
	require.True(t, starts[int64(2*n)*1000], "blocks are consecutive")

	s1, err := a.NextBrokerSequenceID()
	require.NoError(t, err)
	s2, err := b.NextBrokerSequenceID()
	require.NoError(t, err)
	require.Equal(t, s1+1, s2)
}
