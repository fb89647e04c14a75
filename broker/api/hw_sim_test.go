package api

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// growLog is a Log whose end offset the simulation moves.
type growLog struct {
	fakeEnd
	end int64
}

func (g *growLog) EndOffset() int64 { return g.end }

// TestISRHighWatermarkSimulation drives a leader's partition state with
// random appends, follower fetches and ISR changes (one seed per run) and
// checks after every step that the high watermark never moves back, never
// passes the leader's log end, and never passes the log end any ISR member
// has acknowledged (its last fetch offset).
func TestISRHighWatermarkSimulation(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed*7919))
		lg := &growLog{}
		p := &partition{isLeader: true, isr: []int32{0, 1, 2}, replicas: []int32{0, 1, 2}, log: lg}
		p.resetFollowerState(0)
		followerEnd := map[int32]int64{1: 0, 2: 0} // what each follower really has
		now := int64(0)
		prevHW := int64(0)
		for step := range 500 {
			now += int64(rng.IntN(50))
			switch rng.IntN(4) {
			case 0: // leader append
				lg.end += int64(1 + rng.IntN(10))
			case 1, 2: // a follower fetches from what it has, then copies some
				r := int32(1 + rng.IntN(2))
				p.recordFollowerFetch(r, followerEnd[r], lg.end, now)
				followerEnd[r] += int64(rng.IntN(int(lg.end-followerEnd[r]) + 1))
			case 3: // the controller changes the ISR (never dropping the leader)
				isr := []int32{0}
				for _, r := range []int32{1, 2} {
					if rng.IntN(2) == 0 {
						isr = append(isr, r)
					}
				}
				p.isr = isr
			}
			p.maybeAdvanceHW(0)
			require.GreaterOrEqual(t, p.hw, prevHW, "seed %d step %d: HW moved back", seed, step)
			require.LessOrEqual(t, p.hw, lg.end, "seed %d step %d: HW past the leader's log end", seed, step)
			if p.hw > prevHW {
				for _, r := range p.isr {
					if r == 0 {
						continue
					}
					require.True(t, slices.Contains([]int32{1, 2}, r))
					require.LessOrEqual(t, p.hw, p.followerLEO[r], "seed %d step %d: HW %d past follower %d's acknowledged end", seed, step, p.hw, r)
				}
			}
			prevHW = p.hw
		}
	}
}

func TestISRProposal(t *testing.T) {
	lg := &growLog{end: 100}
	p := &partition{isLeader: true, isr: []int32{0, 1}, replicas: []int32{0, 1, 2}, log: lg, hw: 80}
	p.resetFollowerState(1000)
	// Follower 1 keeps up; follower 2 is not in the ISR and behind the HW.
	p.recordFollowerFetch(1, 100, 100, 1500)
	p.recordFollowerFetch(2, 50, 100, 1500)
	require.Equal(t, []int32{0, 1}, p.proposeISR(0, 2000, 30000))
	// Follower 2 reaches the HW: it joins.
	p.recordFollowerFetch(2, 90, 100, 1600)
	require.Equal(t, []int32{0, 1, 2}, p.proposeISR(0, 2000, 30000))
	// Follower 1 stops fetching for longer than the lag limit: it leaves.
	p.isr = []int32{0, 1, 2}
	p.recordFollowerFetch(2, 100, 100, 40000)
	require.Equal(t, []int32{0, 2}, p.proposeISR(0, 40000, 30000))
	// A follower that fetches steadily but never exactly at the log end
	// stays in while it asks for at least the previous fetch's log end.
	p.recordFollowerFetch(1, 100, 120, 40000)
	p.recordFollowerFetch(1, 120, 140, 70000)
	p.recordFollowerFetch(1, 140, 160, 90000)
	p.recordFollowerFetch(2, 160, 160, 90000)
	require.Equal(t, []int32{0, 1, 2}, p.proposeISR(0, 95000, 30000))
}
