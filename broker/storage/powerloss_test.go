package storage

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoragePowerLoss is a seeded simulation on a filesystem that loses
// every byte and directory entry not yet made durable: random appends of
// every codec across segment rolls, random flushes, clean closes and power
// losses. After every reopen the log is exactly a prefix of what was
// appended, holds everything a Flush or Close acknowledged, and takes
// appends again. A failure names the seed that replays it.
func TestStoragePowerLoss(t *testing.T) {
	for seed := int64(1); seed <= 16; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			mem := newMemFS()
			dir := "/data/orders-0"
			cfg := Config{SegmentBytes: int64(600 + rng.Intn(3000)), IndexIntervalBytes: 1 + rng.Intn(400)}
			if rng.Intn(3) == 0 {
				cfg.FlushMessages = 1 // every append durable before it returns
			}
			if rng.Intn(2) == 0 {
				cfg.RetentionBytes, cfg.RetentionMs = cfg.SegmentBytes*3, -1
			}
			var values []string // value of every record by offset
			durable := 0        // records acknowledged as durable
			ackStart := int64(0)
			for round := 0; round < 8; round++ {
				sink := &logSink{}
				l, err := OpenFS(mem, dir, cfg, 0, sink.logf)
				require.NoError(t, err, "seed %d round %d", seed, round)
				require.GreaterOrEqual(t, l.StartOffset(), ackStart, "seed %d: log start went back", seed)
				require.GreaterOrEqual(t, l.EndOffset(), int64(durable), "seed %d round %d: acknowledged records lost (log: %v)", seed, round, sink.all())
				require.LessOrEqual(t, l.EndOffset(), int64(len(values)), "seed %d", seed)
				got := readAll(t, l)
				require.Len(t, got, int(l.EndOffset()-l.StartOffset()), "seed %d", seed)
				for i, r := range got {
					require.Equal(t, l.StartOffset()+int64(i), r.offset, "seed %d", seed)
					require.Equal(t, values[r.offset], r.value, "seed %d offset %d", seed, r.offset)
				}
				values = values[:l.EndOffset()]
				durable = len(values)
				ackStart = l.StartOffset()
				// the epoch history names only offsets the log holds
				require.Less(t, l.LatestEpoch(), int32(round), "seed %d", seed)
				require.Equal(t, len(got) > 0, l.LatestEpoch() >= 0, "seed %d", seed)
				for e := int32(0); e < int32(round); e++ {
					_, end := l.EndOffsetForEpoch(e)
					require.LessOrEqual(t, end, l.EndOffset(), "seed %d epoch %d", seed, e)
				}
				for n := 3 + rng.Intn(25); n > 0; n-- {
					recs := make([]testRec, 1+rng.Intn(6))
					for i := range recs {
						recs[i] = testRec{key: []byte("k"), value: []byte(fmt.Sprintf("s%d-%d-%x", seed, len(values)+i, rng.Int63())), ts: int64(len(values) + i)}
					}
					_, err := l.AppendLeader(mkBatch(t, codecs[rng.Intn(len(codecs))].codec, recs), int32(round), 0)
					require.NoError(t, err, "seed %d", seed)
					for _, r := range recs {
						values = append(values, string(r.value))
					}
					if cfg.FlushMessages == 1 {
						durable = len(values)
					}
					switch rng.Intn(12) {
					case 0, 1:
						require.NoError(t, l.Flush())
						durable = len(values)
					case 2: // a follower truncating after a leader change
						to := l.StartOffset() + rng.Int63n(l.EndOffset()-l.StartOffset()+1)
						require.NoError(t, l.TruncateTo(to), "seed %d", seed)
						values = values[:l.EndOffset()]
						durable = min(durable, len(values))
						ackStart = min(ackStart, l.StartOffset())
					case 4:
						_, err := l.EnforceRetention(0)
						require.NoError(t, err, "seed %d", seed)
						ackStart = max(ackStart, l.StartOffset())
					case 3:
						to := l.StartOffset() + rng.Int63n(l.EndOffset()-l.StartOffset()+1)
						low, err := l.DeleteRecordsBefore(to)
						require.NoError(t, err, "seed %d", seed)
						ackStart = max(ackStart, low)
					}
				}
				if rng.Intn(3) == 0 {
					require.NoError(t, l.Close())
					durable = len(values)
					continue
				}
				mem.Crash()
			}
		})
	}
}

// TestStoragePowerLossAtEveryStep runs one workload of durable appends
// (flush.messages=1, segment rolls, epoch changes, a producer's
// idempotent batches) and cuts the power after each single change it makes
// in turn: every append that returned must be there after reopening, and a
// retry of the last acknowledged idempotent batch must be recognised.
func TestStoragePowerLossAtEveryStep(t *testing.T) {
	cfg := Config{SegmentBytes: 700, IndexIntervalBytes: 100, FlushMessages: 1}
	dir := "/data/orders-0"
	const appends = 16
	batch := func(i int) []byte {
		return producerBatchOf(t, 9, 0, int32(i*2), 2, false)
	}
	for step := 1; ; step++ {
		mem := newMemFS()
		l, err := OpenFS(mem, dir, cfg, 0, nil)
		require.NoError(t, err)
		mem.CutPowerAt(step)
		acked := 0
		for i := 0; i < appends; i++ {
			if _, err := l.AppendLeader(batch(i), int32(i/6), 0); err != nil {
				break
			}
			acked++
		}
		finished := !mem.PowerOut()
		if finished {
			require.Equal(t, appends, acked)
			require.Greater(t, step, 20)
			return
		}
		mem.Revive()
		l2, err := OpenFS(mem, dir, cfg, 0, nil)
		require.NoError(t, err, "step %d", step)
		require.GreaterOrEqual(t, l2.EndOffset(), int64(2*acked), "step %d: acknowledged appends lost", step)
		require.LessOrEqual(t, l2.EndOffset(), int64(2*(acked+1)), "step %d", step)
		if acked > 0 {
			res, err := l2.AppendLeader(batch(acked-1), int32((acked-1)/6), 0)
			require.NoError(t, err, "step %d", step)
			require.Equal(t, int64(2*(acked-1)), res.BaseOffset, "step %d: retry not recognised", step)
		}
		require.Len(t, readAll(t, l2), int(l2.EndOffset()), "step %d", step)
		require.NoError(t, l2.Close())
	}
}
