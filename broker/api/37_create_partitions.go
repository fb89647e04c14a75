package api

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/zkstate"
)

// CreatePartitions: v0-3
//
// Behavior:
// * The new count must exceed the current one (INVALID_PARTITIONS), a
//   topic being deleted or unknown → UNKNOWN_TOPIC_OR_PARTITION.
// * New partitions take the request's assignment (one replica list per new
//   partition, every broker alive, same factor as the topic) or the
//   controller's algorithm; the assignment znode is rewritten unless
//   ValidateOnly, then waits, bounded by the timeout, for their leaders.

func (h *Handler) handleCreatePartitions(ctx context.Context, r *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	type pending struct {
		i     int
		topic string
		count int
	}
	var waits []pending
	seen := map[string]int{}
	for _, t := range r.Topics {
		seen[t.Topic]++
	}
	for _, t := range r.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		err := func() error {
			if seen[t.Topic] > 1 {
				return kerrf(kerr.InvalidRequest, "Duplicate topic in request: %s", t.Topic)
			}
			if h.o.Store == nil {
				return kerrf(kerr.UnknownServerError, "no ZooKeeper connection")
			}
			a, _, err := h.o.Store.Topic(t.Topic)
			if err != nil {
				return kerrf(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", t.Topic)
			}
			cur := int32(len(a.Partitions))
			if t.Count <= cur {
				if t.Count == cur {
					return kerrf(kerr.InvalidPartitions, "Topic already has %d partitions.", cur)
				}
				return kerrf(kerr.InvalidPartitions, "Topic currently has %d partitions, which is higher than the requested %d.", cur, t.Count)
			}
			rf := len(a.Partitions[0])
			live := h.liveBrokerIDs()
			alive := map[int32]bool{}
			for _, b := range live {
				alive[b] = true
			}
			add := map[int32][]int32{}
			if len(t.Assignment) > 0 {
				if int32(len(t.Assignment)) != t.Count-cur {
					return kerrf(kerr.InvalidReplicaAssignment, "Increasing the number of partitions by %d but %d assignments provided.", t.Count-cur, len(t.Assignment))
				}
				for i, as := range t.Assignment {
					if len(as.Replicas) != rf {
						return kerrf(kerr.InvalidReplicaAssignment, "Inconsistent replication factor between partitions, partition 0 has %d while partition %d has replicas %v", rf, cur+int32(i), as.Replicas)
					}
					for _, b := range as.Replicas {
						if !alive[b] {
							return kerrf(kerr.InvalidReplicaAssignment, "Unknown broker(s) in replica assignment: %d", b)
						}
					}
					add[cur+int32(i)] = as.Replicas
				}
			} else {
				if rf > len(live) {
					return kerrf(kerr.InvalidReplicationFactor, "Replication factor: %d larger than available brokers: %d.", rf, len(live))
				}
				full, err := h.o.Assign(live, int(t.Count), rf, h.randIntn(len(live)), h.randIntn(len(live)))
				if err != nil {
					return kerrf(kerr.InvalidReplicaAssignment, "%v", err)
				}
				for p := cur; p < t.Count; p++ {
					add[p] = full[p]
				}
			}
			if r.ValidateOnly {
				return nil
			}
			na := zkstate.TopicAssignment{Name: a.Name, TopicID: a.TopicID, Partitions: map[int32][]int32{}, AddingReplicas: a.AddingReplicas, RemovingReplicas: a.RemovingReplicas}
			for p, rs := range a.Partitions {
				na.Partitions[p] = rs
			}
			for p, rs := range add {
				na.Partitions[p] = rs
			}
			if err := h.o.Store.SetTopicAssignment(na); err != nil {
				return kerrf(kerr.UnknownServerError, "writing assignment of topic %s: %v", t.Topic, err)
			}
			waits = append(waits, pending{len(resp.Topics), t.Topic, int(t.Count)})
			return nil
		}()
		rt.ErrorCode = errCode(err)
		rt.ErrorMessage = errMessage(err)
		resp.Topics = append(resp.Topics, rt)
	}
	if len(waits) > 0 && r.TimeoutMillis > 0 {
		ok := func(w pending) bool { return h.cache.allLeadersKnown(w.topic, w.count) }
		h.waitUntil(ctx, time.Duration(r.TimeoutMillis)*time.Millisecond, func() bool {
			for _, w := range waits {
				if !ok(w) {
					return false
				}
			}
			return true
		})
		for _, w := range waits {
			if !ok(w) {
				resp.Topics[w.i].ErrorCode = kerr.RequestTimedOut.Code
				resp.Topics[w.i].ErrorMessage = strp(fmt.Sprintf("Timed out waiting for leaders of the new partitions of %s", w.topic))
			}
		}
	}
	return resp
}
