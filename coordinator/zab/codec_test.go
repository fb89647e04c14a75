package zab

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestZabCodecRoundTrip(t *testing.T) {
	msgs := []Message{
		{Type: MsgVote, From: 1, To: 2, Round: 7, Vote: Vote{Leader: 3, Zxid: Zxid(2, 9), Epoch: 2}, State: Looking},
		{Type: MsgFollowerInfo, From: 4, To: 1, Epoch: 3, Observer: true},
		{Type: MsgSync, From: 1, To: 2, Epoch: 5, Trunc: true, TruncZxid: 77, Snapshot: &Snapshot{Zxid: 70, Data: []byte("state")},
			Entries: []Entry{{Zxid: 71, Data: []byte("a")}, {Zxid: 72, Data: nil}, {Zxid: 73, Data: []byte{}}}},
		{Type: MsgForward, From: 2, To: 1, Epoch: 5, Data: []byte("write")},
	}
	for _, m := range msgs {
		got, err := UnmarshalMessage(AppendMessage(nil, &m))
		require.NoError(t, err)
		require.Equal(t, m, *got)
	}
	_, err := UnmarshalMessage([]byte{codecVersion, 0})
	require.ErrorIs(t, err, ErrBadMessage)
	local := Message{Type: MsgDisconnected, From: 1}
	_, err = UnmarshalMessage(AppendMessage(nil, &local))
	require.ErrorIs(t, err, ErrBadMessage, "a peer must not be able to forge a local disconnect")
}

func FuzzZabMessage(f *testing.F) {
	f.Add(AppendMessage(nil, &Message{Type: MsgProposal, Entries: []Entry{{Zxid: 1, Data: []byte("x")}}}))
	f.Add(AppendMessage(nil, &Message{Type: MsgSync, Snapshot: &Snapshot{Zxid: 2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalMessage(b)
		if err != nil {
			return
		}
		again, err := UnmarshalMessage(AppendMessage(nil, m))
		require.NoError(t, err)
		require.Equal(t, m, again)
	})
}
