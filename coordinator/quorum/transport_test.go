package quorum

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/zab"
)

func mesh(t *testing.T, n int) []*Transport {
	t.Helper()
	ts := make([]*Transport, n)
	addrs := map[int64]string{}
	for i := range ts {
		id := int64(i + 1)
		ts[i] = New(Options{Self: id, Listen: []string{"127.0.0.1:0"}, Logf: t.Logf})
		ts[i].opts.Peers = map[int64]string{}
		require.NoError(t, ts[i].Start())
		addrs[id] = ts[i].Addrs()[0].String()
		t.Cleanup(func() { ts[i].Close() })
	}
	// Now that every port is known, start dialling.
	for i, tr := range ts {
		for id, a := range addrs {
			if id != int64(i+1) {
				tr.opts.Peers[id] = a
			}
		}
		for id, a := range tr.opts.Peers {
			if id < tr.opts.Self {
				tr.wg.Add(1)
				go tr.dialLoop(id, a)
			}
		}
	}
	return ts
}

func next(t *testing.T, tr *Transport, skipDisconnects bool) zab.Message {
	t.Helper()
	for {
		select {
		case m := <-tr.Recv():
			if skipDisconnects && m.Type == zab.MsgDisconnected {
				continue
			}
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("no message within 5s")
		}
	}
}

func TestQuorumMeshDeliversInOrder(t *testing.T) {
	ts := mesh(t, 3)
	require.Eventually(t, func() bool {
		return ts[0].Connected(2) && ts[0].Connected(3) && ts[1].Connected(3) && ts[2].Connected(1)
	}, 5*time.Second, 10*time.Millisecond)
	for i := 0; i < 100; i++ {
		ts[2].Send(zab.Message{Type: zab.MsgProposal, To: 1, Entries: []zab.Entry{{Zxid: int64(i + 1), Data: []byte("x")}}})
	}
	for i := 0; i < 100; i++ {
		m := next(t, ts[0], true)
		require.Equal(t, int64(3), m.From)
		require.Equal(t, int64(i+1), m.Entries[0].Zxid)
	}
}

func TestQuorumDisconnectIsAnnounced(t *testing.T) {
	ts := mesh(t, 2)
	require.Eventually(t, func() bool { return ts[0].Connected(2) && ts[1].Connected(1) }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, ts[1].Close())
	for {
		m := next(t, ts[0], false)
		if m.Type == zab.MsgDisconnected && !ts[0].Connected(2) {
			require.Equal(t, int64(2), m.From)
			return
		}
	}
}
