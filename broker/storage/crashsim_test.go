package storage

import (
	"fmt"
	"math/rand"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageCrashSimulation is a seeded simulation of kill -9: random
// appends (every codec, random sizes, rolls), flushes at random points, then
// a crash that loses a random part of the unflushed tail of the active
// segment. After every reopen the log must hold exactly a prefix of what was
// appended, at least everything flushed, and accept appends again. A failure
// names the seed that replays it.
func TestStorageCrashSimulation(t *testing.T) {
	for seed := int64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := testDir(t)
			cfg := Config{SegmentBytes: int64(800 + rng.Intn(3000)), IndexIntervalBytes: 1 + rng.Intn(500)}
			var values []string // value of every appended record, by offset
			for round := 0; round < 6; round++ {
				l, err := Open(dir, cfg, 0, nil)
				require.NoError(t, err, "seed %d round %d", seed, round)
				// what survived is a prefix of what was appended
				got := readAll(t, l)
				require.LessOrEqual(t, len(got), len(values), "seed %d", seed)
				for i, r := range got {
					require.Equal(t, int64(i), r.offset, "seed %d", seed)
					require.Equal(t, values[i], r.value, "seed %d offset %d", seed, i)
				}
				values = values[:len(got)]
				flushed := l.EndOffset()
				for n := 5 + rng.Intn(20); n > 0; n-- {
					recs := make([]testRec, 1+rng.Intn(8))
					for i := range recs {
						v := fmt.Sprintf("s%d-o%d-%s", seed, len(values)+i, string(make([]byte, rng.Intn(60))))
						recs[i] = testRec{key: []byte("k"), value: []byte(v), ts: int64(len(values) + i)}
					}
					_, err := l.AppendLeader(mkBatch(t, codecs[rng.Intn(len(codecs))].codec, recs), int32(round), 0)
					require.NoError(t, err, "seed %d", seed)
					for _, r := range recs {
						values = append(values, string(r.value))
					}
					if rng.Intn(4) == 0 {
						require.NoError(t, l.Flush())
						flushed = l.EndOffset()
					}
				}
				if rng.Intn(3) == 0 {
					require.NoError(t, l.Close())
					continue
				}
				// crash: the unflushed tail of the active segment is partly lost
				l.mu.RLock()
				act := l.active()
				name, size := act.log.Name(), act.size
				var keep int64
				if act.next > flushed && act.base < flushed {
					keep, _ = act.findBatch(flushed)
				} else if act.base >= flushed {
					keep = 0
				} else {
					keep = size
				}
				l.mu.RUnlock()
				crash(l)
				if size > keep {
					cut := keep + rng.Int63n(size-keep+1)
					require.NoError(t, os.Truncate(name, cut))
					if rng.Intn(2) == 0 && cut > keep {
						flip(t, name, keep+rng.Int63n(cut-keep)) // and what remains of it is damaged
					}
				}
				l2, err := Open(dir, cfg, 0, nil)
				require.NoError(t, err, "seed %d", seed)
				require.GreaterOrEqual(t, l2.EndOffset(), flushed, "seed %d: flushed data lost", seed)
				require.NoError(t, l2.Close())
			}
		})
	}
}
