package zab

import (
	"sort"
	"testing"
)

// deliverLink delivers everything queued from a to b, in order.
func (s *sim) deliverLink(a, b int64) {
	l := s.links[[2]int64{a, b}]
	for l != nil && len(l.q) > 0 {
		m := l.q[0]
		l.q = l.q[1:]
		if n := s.nodes[b]; n.up {
			n.peer.Step(m)
			s.process(n)
		}
	}
}

// deliverAll delivers until nothing is in flight; no peer ticks.
func (s *sim) deliverAll() {
	for i := 0; s.deliver(); i++ {
		if i > 10000 {
			s.fail("messages still in flight after 10000 deliveries")
		}
	}
}

// TestZabElectionWithoutTicksAfterLeaderLoss: the two followers of a dead
// leader notice its loss one after the other. The first one's vote reaches
// the second while that one still follows the dead leader, which answers it
// but does not keep it. The second then looks with its own, worse vote.
// The election must finish on the messages alone, without waiting for a
// tick to repeat the lost vote (a tick is tickTime, 2 s by default, so
// that wait was most of a failover).
func TestZabElectionWithoutTicksAfterLeaderLoss(t *testing.T) {
	s := newSim(t, 7, 3, 0)
	s.settle()
	s.deliverAll()
	var leader *simNode
	var followers []*simNode
	for _, n := range s.upNodes() {
		if n.peer.Established() {
			leader = n
		} else {
			followers = append(followers, n)
		}
	}
	if leader == nil || len(followers) != 2 {
		t.Fatalf("no settled ensemble: leader %v, %d followers", leader, len(followers))
	}
	// Equal logs: the larger id has the better vote; it notices first.
	sort.Slice(followers, func(i, j int) bool { return followers[i].id > followers[j].id })
	better, worse := followers[0], followers[1]
	if better.peer.LastZxid() != worse.peer.LastZxid() {
		t.Fatalf("followers' logs differ after settling: %#x and %#x", better.peer.LastZxid(), worse.peer.LastZxid())
	}

	// The leader dies; nothing reaches it any more.
	leader.up, leader.peer = false, nil
	for _, o := range s.ids {
		delete(s.links, [2]int64{leader.id, o})
		delete(s.links, [2]int64{o, leader.id})
	}
	better.peer.Step(Message{Type: MsgDisconnected, From: leader.id, To: better.id})
	s.process(better)
	if better.peer.Role() != Looking {
		t.Fatalf("node %d is %v after losing its leader, want looking", better.id, better.peer.Role())
	}
	s.deliverLink(better.id, worse.id) // worse still follows
	if worse.peer.Role() != Following {
		t.Fatalf("node %d is %v before it noticed the loss, want following", worse.id, worse.peer.Role())
	}
	worse.peer.Step(Message{Type: MsgDisconnected, From: leader.id, To: worse.id})
	s.process(worse)
	s.deliverAll()

	if !better.peer.Established() || worse.peer.Role() != Following || worse.peer.Leader() != better.id || !worse.peer.Serving() {
		t.Fatalf("without ticks: node %d is %v (established %v), node %d is %v of %d (serving %v); want %d leading both",
			better.id, better.peer.Role(), better.peer.Established(), worse.id, worse.peer.Role(), worse.peer.Leader(), worse.peer.Serving(), better.id)
	}
}
