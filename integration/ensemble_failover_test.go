//go:build integration

package integration

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/cli/zkbench"
)

// TestEnsembleFailoverMeasured runs zk-bench's failover measurement against
// a 3-process ensemble: three rounds of kill -9 on the leader while a
// session writes, each ending with a write acknowledged by the new leader.
func TestEnsembleFailoverMeasured(t *testing.T) {
	e := newEnsemble(t)
	e.waitServing(90 * time.Second)
	var out bytes.Buffer
	res, err := zkbench.Failover(context.Background(), zkbench.FailoverConfig{
		Servers:        e.clientAddrs(),
		Rounds:         3,
		Root:           "/failover",
		SessionTimeout: 6 * time.Second,
		SettleTimeout:  60 * time.Second,
		Kill:           func(_ context.Context, i int) error { e.kill(i + 1); return nil },
		Start:          func(_ context.Context, i int) error { e.start(i + 1); return nil },
	}, &out)
	t.Logf("%s ensemble (tickTime=%dms):\n%s", e.target, ensembleTickMs, out.String())
	require.NoError(t, err)
	require.Len(t, res.Rounds, 3)
	for _, r := range res.Rounds {
		require.NotEqual(t, r.Killed, r.NewLeader, "round %d", r.Round)
		require.Positive(t, r.Failover)
	}
	require.LessOrEqual(t, res.Min, res.Median)
	require.LessOrEqual(t, res.Median, res.Max)
}
