package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
)

// groupConsumer is one kgo consumer group member that records what it owns.
type groupConsumer struct {
	cl     *kgo.Client
	mu     sync.Mutex
	owned  map[int32]bool
	done   chan struct{}
	cancel context.CancelFunc
}

func startGroupConsumer(t *testing.T, c *testCluster, group, topic string, bal kgo.GroupBalancer) *groupConsumer {
	t.Helper()
	gcn := &groupConsumer{owned: map[int32]bool{}, done: make(chan struct{})}
	drop := func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
		gcn.mu.Lock()
		defer gcn.mu.Unlock()
		for _, p := range m[topic] {
			delete(gcn.owned, p)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(bal), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			gcn.mu.Lock()
			defer gcn.mu.Unlock()
			for _, p := range m[topic] {
				gcn.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(drop), kgo.OnPartitionsLost(drop))
	require.NoError(t, err)
	gcn.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	gcn.cancel = cancel
	go func() {
		defer close(gcn.done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	t.Cleanup(gcn.close)
	return gcn
}

func (g *groupConsumer) close() {
	if g.cancel == nil {
		return
	}
	g.cancel()
	<-g.done
	g.cl.Close()
	g.cancel = nil
}

func (g *groupConsumer) ownedCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.owned)
}

// at reports whether the member's position in every partition of topic it
// owns is end: read up to there in this assignment, or committed there by
// an earlier owner (a member's earlier reads count for nothing once a
// rebalance moved the partition away before they were committed).
func (g *groupConsumer) at(topic string, end int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	uncommitted, committed := g.cl.UncommittedOffsets()[topic], g.cl.CommittedOffsets()[topic]
	for p := range g.owned {
		pos, ok := uncommitted[p]
		if !ok {
			pos = committed[p]
		}
		if pos.Offset != end {
			return false
		}
	}
	return true
}

// coordinatorOf asks a broker for group's coordinator.
func coordinatorOf(addr, group string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 3
	req.CoordinatorKey = group
	resp, err := api.Request(nil, addr, "test", req, 5*time.Second)
	if err != nil {
		return -1, err
	}
	r := resp.(*kmsg.FindCoordinatorResponse)
	if r.ErrorCode != 0 {
		return -1, fmt.Errorf("FindCoordinator %s: error %d", group, r.ErrorCode)
	}
	return r.NodeID, nil
}

func TestGroupConsumersRebalanceCommitAndReload(t *testing.T) {
	c := startCluster(t, 3, "offsets.topic.num.partitions=5", "group.initial.rebalance.delay.ms=200")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adm := c.admin()
	_, err := adm.CreateTopic(ctx, 6, 3, nil, "orders")
	require.NoError(t, err)
	p := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := range 60 {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 6), Value: []byte(fmt.Sprint(i))})
	}
	require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())

	for _, tc := range []struct {
		group string
		bal   kgo.GroupBalancer
	}{{"eager", kgo.RangeBalancer()}, {"cooperative", kgo.CooperativeStickyBalancer()}} {
		t.Run(tc.group, func(t *testing.T) {
			var cs []*groupConsumer
			// shares: members own want partitions each, all 6 in all, and
			// (read) have each read what they own to its end.
			shares := func(read bool, members []*groupConsumer, want int) func() bool {
				return func() bool {
					total := 0
					for _, m := range members {
						o := m.ownedCount()
						if o != want || read && !m.at("orders", 10) {
							return false
						}
						total += o
					}
					return total == 6
				}
			}
			// One member reads everything first; two more joining then
			// move partitions whose reads it has not committed.
			cs = append(cs, startGroupConsumer(t, c, tc.group, "orders", tc.bal))
			require.Eventually(t, shares(true, cs, 6), 40*time.Second, 50*time.Millisecond, "1 consumer owns and reads 6 partitions")
			for range 2 {
				cs = append(cs, startGroupConsumer(t, c, tc.group, "orders", tc.bal))
			}
			require.Eventually(t, shares(true, cs, 2), 40*time.Second, 50*time.Millisecond, "3 consumers share 6 partitions")
			for _, m := range cs {
				require.NoError(t, m.cl.CommitUncommittedOffsets(ctx))
			}
			offs, err := adm.FetchOffsets(ctx, tc.group)
			require.NoError(t, err)
			for part := range int32(6) {
				o, ok := offs.Lookup("orders", part)
				require.True(t, ok, "partition %d committed", part)
				require.EqualValues(t, 10, o.At)
			}

			cs[2].close()
			require.Eventually(t, shares(false, cs[:2], 3), 40*time.Second, 50*time.Millisecond, "a member left: 2 consumers share 6 partitions")
			described, err := adm.DescribeGroups(ctx, tc.group)
			require.NoError(t, err)
			require.Equal(t, "Stable", described[tc.group].State)
			require.Len(t, described[tc.group].Members, 2)
			assigned := 0
			for _, m := range described[tc.group].Members {
				ca, ok := m.Assigned.AsConsumer()
				require.True(t, ok)
				for _, tp := range ca.Topics {
					require.Equal(t, "orders", tp.Topic)
					assigned += len(tp.Partitions)
				}
			}
			require.Equal(t, 6, assigned, "the described assignments cover every partition once")

			cs[0].close()
			cs[1].close()
			require.Eventually(t, func() bool {
				d, err := adm.DescribeGroups(ctx, tc.group)
				return err == nil && d[tc.group].State == "Empty"
			}, 20*time.Second, 50*time.Millisecond)
			listed, err := adm.ListGroups(ctx)
			require.NoError(t, err)
			require.Contains(t, listed.Groups(), tc.group)
		})
	}

	// The coordinator of "eager" goes away: its offsets partition's new
	// leader loads the commits from __consumer_offsets.
	id, err := coordinatorOf(c.addrs()[0], "eager")
	require.NoError(t, err)
	c.stop(int(id))
	adm2 := c.admin()
	require.Eventually(t, func() bool {
		offs, err := adm2.FetchOffsets(ctx, "eager")
		if err != nil {
			return false
		}
		for part := range int32(6) {
			if o, ok := offs.Lookup("orders", part); !ok || o.At != 10 {
				return false
			}
		}
		return true
	}, 40*time.Second, 100*time.Millisecond, "commits reloaded after coordinator %d stopped", id)
	c.start(int(id))

	dr, err := adm2.DeleteGroups(ctx, "eager")
	require.NoError(t, err)
	require.NoError(t, dr["eager"].Err)
	listed, err := adm2.ListGroups(ctx)
	require.NoError(t, err)
	require.NotContains(t, listed.Groups(), "eager")
	require.Contains(t, listed.Groups(), "cooperative")
}
