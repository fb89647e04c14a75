package jute

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJuteRoundTrip(t *testing.T) {
	stat := Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7,
		EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}
	cases := []struct {
		name string
		in   Record
		out  Record
	}{
		{"connect-ro", &ConnectRequest{TimeOut: 30000, SessionID: 7, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true}, &ConnectRequest{}},
		{"connect-old", &ConnectRequest{TimeOut: 30000, Passwd: []byte{}}, &ConnectRequest{}},
		{"create", &CreateRequest{Path: "/a", Data: []byte("x"), ACL: WorldAnyone, Flags: ModeEphemeralSequential}, &CreateRequest{}},
		{"create-nil-data", &CreateRequest{Path: "/a", ACL: WorldAnyone}, &CreateRequest{}},
		{"create-ttl", &CreateTTLRequest{Path: "/t", Data: []byte{}, ACL: WorldAnyone, Flags: ModePersistentWithTTL, TTL: 500}, &CreateTTLRequest{}},
		{"getdata-resp", &GetDataResponse{Data: []byte("v"), Stat: stat}, &GetDataResponse{}},
		{"children2", &GetChildren2Response{Children: []string{"a", "b"}, Stat: stat}, &GetChildren2Response{}},
		{"setwatches2", &SetWatches{RelativeZxid: 9, DataWatches: []string{"/a"}, PersistentRecursiveWatches: []string{"/"}, Two: true}, &SetWatches{Two: true}},
		{"whoami", &WhoAmIResponse{ClientInfo: []ClientInfo{{"ip", "127.0.0.1"}}}, &WhoAmIResponse{}},
		{"multi", &MultiRequest{Ops: []MultiOp{
			{Type: OpCreate, Req: &CreateRequest{Path: "/m", ACL: WorldAnyone}},
			{Type: OpCheck, Req: &CheckVersionRequest{Path: "/m", Version: 0}},
			{Type: OpSetData, Req: &SetDataRequest{Path: "/m", Data: []byte("d"), Version: -1}},
			{Type: OpDelete, Req: &DeleteRequest{Path: "/m", Version: -1}},
		}}, &MultiRequest{}},
		{"multi-resp", &MultiResponse{Results: []MultiResult{
			{Type: OpCreate, Resp: &CreateResponse{Path: "/m"}},
			{Type: OpError, Err: ErrNodeExists},
			{Type: OpSetData, Resp: &StatResponse{Stat: stat}},
			{Type: OpDelete},
		}}, &MultiResponse{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Marshal(c.in)
			d := Unmarshal(b, c.out)
			require.NoError(t, d.Err)
			require.Zero(t, d.Remaining())
			require.Equal(t, c.in, c.out)
		})
	}
}

func TestJuteNullVersusEmpty(t *testing.T) {
	var e Encoder
	e.Buffer(nil)
	e.Buffer([]byte{})
	d := NewDecoder(e.B)
	require.Nil(t, d.Buffer())
	b := d.Buffer()
	require.NotNil(t, b)
	require.Empty(t, b)
	require.NoError(t, d.Err)
}

func TestJuteHostileLengths(t *testing.T) {
	// A vector claiming 2^31-1 strings in 8 bytes must fail, not allocate.
	d := NewDecoder([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1})
	require.Nil(t, d.Strings())
	require.ErrorIs(t, d.Err, ErrLength)

	d = NewDecoder([]byte{0xff, 0xff, 0xff, 0xfe})
	_ = d.String()
	require.ErrorIs(t, d.Err, ErrLength)

	d = NewDecoder([]byte{0, 0, 0, 9, 'a'})
	d.Buffer()
	require.ErrorIs(t, d.Err, ErrShort)
}

func TestJuteFrameLimit(t *testing.T) {
	big := AppendFrame(nil, make([]byte, 2000))
	_, err := ReadFrame(bytes.NewReader(big), 1000, nil)
	var tl *ErrFrameTooLarge
	require.ErrorAs(t, err, &tl)
	require.Equal(t, 2000, tl.Len)

	f := FrameRecords(&RequestHeader{Xid: 1, Type: OpPing})
	body, err := ReadFrame(bytes.NewReader(f), 1000, nil)
	require.NoError(t, err)
	var h RequestHeader
	require.NoError(t, Unmarshal(body, &h).Err)
	require.Equal(t, OpPing, h.Type)
	require.Equal(t, MaxBufferDefault+1024, MaxFrame(0))
}

func TestJuteCodeMessages(t *testing.T) {
	require.Equal(t, "KeeperErrorCode = NoNode", ErrNoNode.Error())
	require.Equal(t, "KeeperErrorCode = NodeExists", ErrNodeExists.Error())
	require.Equal(t, "multi", OpMulti.String())
}

// FuzzJutePacket decodes arbitrary bytes as every request record a server
// reads: it must never panic, and whatever decodes cleanly re-encodes to a
// prefix-equal form.
func FuzzJutePacket(f *testing.F) {
	f.Add(Marshal(&RequestHeader{Xid: 1, Type: OpCreate}, &CreateRequest{Path: "/a", Data: []byte("x"), ACL: WorldAnyone}))
	f.Add(Marshal(&MultiRequest{Ops: []MultiOp{{Type: OpDelete, Req: &DeleteRequest{Path: "/x", Version: -1}}}}))
	f.Add(Marshal(&ConnectRequest{TimeOut: 1, Passwd: make([]byte, 16), HasReadOnly: true}))
	f.Add(Marshal(&SetWatches{DataWatches: []string{"/a"}, Two: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs := []func() Record{
			func() Record { return &ConnectRequest{} },
			func() Record { return &CreateRequest{} },
			func() Record { return &CreateTTLRequest{} },
			func() Record { return &SetDataRequest{} },
			func() Record { return &SetACLRequest{} },
			func() Record { return &SetWatches{Two: true} },
			func() Record { return &MultiRequest{} },
			func() Record { return &MultiResponse{} },
			func() Record { return &AuthPacket{} },
			func() Record { return &WhoAmIResponse{} },
		}
		for _, mk := range recs {
			r := mk()
			d := Unmarshal(b, r)
			if d.Err != nil {
				continue
			}
			again := mk()
			d2 := Unmarshal(Marshal(r), again)
			require.NoError(t, d2.Err)
			require.Equal(t, r, again)
		}
	})
}
