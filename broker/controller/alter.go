package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterPartition: v0-3
//
// Behavior:
//   - Sent by a partition leader to the controller to change its ISR; the
//     leader epoch stays, the partition epoch (the state znode's version)
//     moves on. Answered with NOT_CONTROLLER when this broker is not the
//     controller and STALE_BROKER_EPOCH when the sender's epoch is old.
//   - Per partition, as Kafka's controller checks: not the leader →
//     NOT_LEADER_OR_FOLLOWER; other leader epoch → FENCED_LEADER_EPOCH; the
//     same ISR → the current state, nothing written; other partition epoch
//     → INVALID_UPDATE_VERSION; an ISR naming a replica that is not assigned
//     or not alive → INELIGIBLE_REPLICA (OPERATION_NOT_ATTEMPTED for v0).
//   - Accepted changes are written to ZooKeeper, then every live broker
//     gets UpdateMetadata for them.
func (c *Controller) AlterPartition(req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = req.Version
	if !c.do(func(l *leader) { l.alterPartition(req, resp) }) {
		resp.ErrorCode = kerr.NotController.Code
	}
	return resp
}

func (l *leader) topicByID(id [16]byte) string {
	for name, t := range l.topics {
		if t.assign.TopicID == id {
			return name
		}
	}
	return ""
}

func (l *leader) alterPartition(req *kmsg.AlterPartitionRequest, resp *kmsg.AlterPartitionResponse) {
	b, ok := l.live[req.BrokerID]
	if !ok || (req.BrokerEpoch != -1 && req.BrokerEpoch != b.Epoch) {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return
	}
	var changed []tp
	for _, rt := range req.Topics {
		name := rt.Topic
		if req.Version >= 2 {
			name = l.topicByID(rt.TopicID)
		}
		t := l.topics[name]
		out := kmsg.NewAlterPartitionResponseTopic()
		out.Topic, out.TopidID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			pr := kmsg.NewAlterPartitionResponseTopicPartition()
			pr.Partition = rp.Partition
			newISR := rp.NewISR
			if req.Version >= 3 {
				newISR = nil
				for _, e := range rp.NewEpochISR {
					newISR = append(newISR, e.BrokerID)
				}
			}
			var part *partition
			if t != nil && !t.deleting {
				part = t.parts[rp.Partition]
			}
			switch {
			case t == nil && req.Version >= 2:
				pr.ErrorCode = kerr.UnknownTopicID.Code
			case part == nil || !part.created:
				pr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case part.state.Leader != req.BrokerID:
				pr.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.LeaderEpoch != part.state.LeaderEpoch:
				pr.ErrorCode = kerr.FencedLeaderEpoch.Code
			case slices.Equal(newISR, part.state.ISR):
				// Already applied (a retried request): answer with the state.
			case rp.PartitionEpoch != part.state.ZkVersion:
				pr.ErrorCode = kerr.InvalidUpdateVersion.Code
			case !l.eligibleISR(t.assign.Partitions[rp.Partition], newISR, req, rp):
				if req.Version >= 1 {
					pr.ErrorCode = kerr.IneligibleReplica.Code
				} else {
					pr.ErrorCode = kerr.OperationNotAttempted.Code
				}
			case !slices.Contains(newISR, req.BrokerID):
				pr.ErrorCode = kerr.InvalidRequest.Code
			default:
				st := part.state
				st.ISR, st.ControllerEpoch = slices.Clone(newISR), l.epoch
				v, err := l.zk.UpdatePartitionState(name, rp.Partition, st)
				if err != nil {
					if !l.check("writing ISR of "+name, err) && l.lost {
						resp.ErrorCode = kerr.NotController.Code
						return
					}
					if fresh, rerr := l.zk.PartitionState(name, rp.Partition); rerr == nil {
						part.state = fresh
					}
					pr.ErrorCode = kerr.InvalidUpdateVersion.Code
					break
				}
				st.ZkVersion = v
				part.state = st
				changed = append(changed, tp{name, rp.Partition})
			}
			if pr.ErrorCode == 0 {
				pr.LeaderID, pr.LeaderEpoch = part.state.Leader, part.state.LeaderEpoch
				pr.ISR, pr.PartitionEpoch = slices.Clone(part.state.ISR), part.state.ZkVersion
			}
			out.Partitions = append(out.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, out)
	}
	if len(changed) > 0 {
		l.sendUpdateMetadata(SortedIDs(l.live), changed)
		l.maybeCompleteReassignments(changed)
	}
}

// eligibleISR: every member assigned, alive and not shutting down (and,
// from v3, registered with the epoch the leader names).
func (l *leader) eligibleISR(assigned, isr []int32, req *kmsg.AlterPartitionRequest, rp kmsg.AlterPartitionRequestTopicPartition) bool {
	alive := l.aliveFn()
	for _, r := range isr {
		if !slices.Contains(assigned, r) || !alive(r) {
			return false
		}
	}
	if req.Version >= 3 {
		for _, e := range rp.NewEpochISR {
			if e.BrokerEpoch != -1 && l.live[e.BrokerID].Epoch != e.BrokerEpoch {
				return false
			}
		}
	}
	return len(isr) > 0
}

// ElectLeaders: v0-2
//
// Behavior:
//   - Preferred (type 0): the first assigned replica becomes leader when it
//     is alive and in the ISR (PREFERRED_LEADER_NOT_AVAILABLE otherwise);
//     a partition it already leads answers ELECTION_NOT_NEEDED.
//   - Unclean (type 1): only a partition without a live leader is elected,
//     from the ISR first, else from any live replica
//     (ELIGIBLE_LEADERS_NOT_AVAILABLE when none is alive).
//   - No topics listed means every partition. Unknown partitions answer
//     UNKNOWN_TOPIC_OR_PARTITION; NOT_CONTROLLER when not active.
func (c *Controller) ElectLeaders(req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp := kmsg.NewPtrElectLeadersResponse()
	resp.Version = req.Version
	if !c.do(func(l *leader) { l.electLeaders(req, resp) }) {
		resp.ErrorCode = kerr.NotController.Code
	}
	return resp
}

func (l *leader) electLeaders(req *kmsg.ElectLeadersRequest, resp *kmsg.ElectLeadersResponse) {
	want := req.Topics
	if want == nil {
		for _, name := range sortedTopics(l.topics) {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = name, sortedParts(l.topics[name].parts)
			want = append(want, rt)
		}
	}
	alive := l.aliveFn()
	var changed []tp
	for _, rt := range want {
		out := kmsg.NewElectLeadersResponseTopic()
		out.Topic = rt.Topic
		t := l.topics[rt.Topic]
		for _, p := range rt.Partitions {
			pr := kmsg.NewElectLeadersResponseTopicPartition()
			pr.Partition = p
			var part *partition
			if t != nil && !t.deleting {
				part = t.parts[p]
			}
			if part == nil || !part.created {
				pr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				out.Partitions = append(out.Partitions, pr)
				continue
			}
			assigned := t.assign.Partitions[p]
			cur := LeaderAndISR{Leader: part.state.Leader, LeaderEpoch: part.state.LeaderEpoch, ISR: part.state.ISR}
			var code int16
			var decide func(LeaderAndISR) (LeaderAndISR, bool)
			if req.ElectionType == 1 {
				if cur.Leader != NoLeader && alive(cur.Leader) {
					code = kerr.ElectionNotNeeded.Code
				} else if _, ok := ElectLeader(assigned, cur.ISR, alive, true); !ok {
					code = kerr.EligibleLeadersNotAvailable.Code
				} else {
					decide = func(c LeaderAndISR) (LeaderAndISR, bool) { return Reconcile(assigned, c, alive, true) }
				}
			} else {
				if len(assigned) > 0 && cur.Leader == assigned[0] {
					code = kerr.ElectionNotNeeded.Code
				} else if _, ok := PreferredLeader(assigned, cur, alive); !ok {
					code = kerr.PreferredLeaderNotAvailable.Code
				} else {
					decide = func(c LeaderAndISR) (LeaderAndISR, bool) { return PreferredLeader(assigned, c, alive) }
				}
			}
			if decide != nil {
				if l.update(rt.Topic, p, decide) {
					changed = append(changed, tp{rt.Topic, p})
				} else if l.lost {
					resp.ErrorCode = kerr.NotController.Code
					return
				} else {
					code = kerr.ElectionNotNeeded.Code
				}
			}
			pr.ErrorCode = code
			if code != 0 {
				msg := kerr.ErrorForCode(code).Error()
				pr.ErrorMessage = &msg
			}
			out.Partitions = append(out.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, out)
	}
	l.announce(changed, false)
}

// checkImbalance is Kafka's automatic preferred-leader rebalance: for every
// broker whose share of partitions led by someone else, among those it is
// the preferred replica of, exceeds ratio, the preferred replica is elected
// where it can be.
func (l *leader) checkImbalance(ratio float64) {
	alive := l.aliveFn()
	type count struct{ total, notLed int }
	per := map[int32]*count{}
	var candidates []tp
	for _, name := range sortedTopics(l.topics) {
		t := l.topics[name]
		if t.deleting || len(t.assign.AddingReplicas) > 0 || len(t.assign.RemovingReplicas) > 0 {
			continue
		}
		for _, p := range sortedParts(t.parts) {
			part := t.parts[p]
			assigned := t.assign.Partitions[p]
			if !part.created || len(assigned) == 0 {
				continue
			}
			pref := assigned[0]
			if per[pref] == nil {
				per[pref] = &count{}
			}
			per[pref].total++
			if part.state.Leader != pref {
				per[pref].notLed++
				candidates = append(candidates, tp{name, p})
			}
		}
	}
	var changed []tp
	for _, x := range candidates {
		assigned := l.topics[x.topic].assign.Partitions[x.part]
		c := per[assigned[0]]
		if float64(c.notLed)/float64(c.total) <= ratio {
			continue
		}
		if l.update(x.topic, x.part, func(cur LeaderAndISR) (LeaderAndISR, bool) { return PreferredLeader(assigned, cur, alive) }) {
			changed = append(changed, x)
		}
	}
	if len(changed) > 0 {
		l.c.logf("preferred leader rebalance moved %d partitions", len(changed))
	}
	l.announce(changed, false)
}

// rebalanceTicker returns the channel of the automatic rebalance (nil
// when disabled).
func (c *Controller) rebalanceTicker() (<-chan struct{}, func()) {
	if !c.cfg.AutoLeaderRebalance {
		return nil, func() {}
	}
	return c.cfg.Clock.Ticker(c.cfg.LeaderImbalanceCheckIntervalMs)
}
