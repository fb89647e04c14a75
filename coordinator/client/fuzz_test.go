package client

import (
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

// replyRecords are the answers the client decodes, indexed by the fuzz
// input's first byte.
func replyRecords() []jute.Record {
	return []jute.Record{
		&jute.ConnectResponse{}, &jute.Create2Response{}, &jute.StatResponse{}, &jute.GetDataResponse{},
		&jute.GetACLResponse{}, &jute.GetChildren2Response{}, &jute.SyncResponse{},
		&jute.GetAllChildrenNumberResponse{}, &jute.GetEphemeralsResponse{}, &jute.WhoAmIResponse{},
		&jute.MultiResponse{},
	}
}

// FuzzClientDecode feeds arbitrary reply frames through the client's
// decoding: it must never panic, and a body that decodes must survive a
// re-encode and decode unchanged.
func FuzzClientDecode(f *testing.F) {
	seed := func(sel byte, rs ...jute.Record) {
		f.Add(append([]byte{sel}, jute.Marshal(rs...)...))
	}
	hdr := &jute.ReplyHeader{Xid: 7, Zxid: 0x100000002}
	seed(1, hdr, &jute.Create2Response{Path: "/a", Stat: jute.Stat{Czxid: 2, DataLength: 1}})
	seed(3, hdr, &jute.GetDataResponse{Data: []byte("v"), Stat: jute.Stat{Version: 3}})
	seed(3, hdr, &jute.GetDataResponse{Data: nil})
	seed(4, hdr, &jute.GetACLResponse{ACL: jute.WorldAnyone})
	seed(5, hdr, &jute.GetChildren2Response{Children: []string{"a", "b"}})
	seed(8, hdr, &jute.GetEphemeralsResponse{Ephemerals: []string{"/e"}})
	seed(9, hdr, &jute.WhoAmIResponse{ClientInfo: []jute.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}}})
	seed(10, hdr, &jute.MultiResponse{Results: []jute.MultiResult{
		{Type: jute.OpCreate, Resp: &jute.CreateResponse{Path: "/m"}},
		{Type: jute.OpError, Err: jute.ErrNoNode},
	}})
	seed(0, &jute.ReplyHeader{Xid: jute.XidNotification, Zxid: -1},
		&jute.WatcherEvent{Type: jute.EventNodeDataChanged, State: jute.StateSyncConnected, Path: "/x"})
	seed(0, &jute.ReplyHeader{Xid: 9, Err: jute.ErrNoNode})
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		recs := replyRecords()
		resp := recs[int(in[0])%len(recs)]
		frame := in[1:]
		if _, ok := resp.(*jute.ConnectResponse); ok {
			d := jute.Unmarshal(frame, resp)
			_ = d.Err
			return
		}
		hdr, d, err := decodeHeader(frame)
		if err != nil {
			return
		}
		if hdr.Xid == jute.XidNotification {
			ev, err := decodeNotification(d)
			if err == nil && ev.Type != jute.EventNone {
				require.NotEmpty(t, ev.Path)
			}
			return
		}
		if hdr.Err != jute.OK {
			return
		}
		if err := decodeBody(d, resp); err != nil {
			return
		}
		// What decoded re-encodes to bytes that decode to the same thing
		// (null and empty strings and vectors both read as zero values).
		again := replyRecords()[int(in[0])%len(recs)]
		d2 := jute.Unmarshal(jute.Marshal(resp), again)
		require.NoError(t, d2.Err)
		require.Zero(t, d2.Remaining())
		if _, ok := resp.(*jute.MultiResponse); !ok {
			require.Equal(t, resp, again)
		}
	})
}
