package sender

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/internal/testnet"
)

// serveFrames answers every size-prefixed request frame with reply(body)
// until reply returns nil, and returns the server's address.
func serveFrames(t *testing.T, reply func(body []byte) []byte) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) {
		for {
			var hdr [4]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(c, body); err != nil {
				return
			}
			out := reply(body)
			if out == nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
}

func frame(corr uint32, flexible bool, resp kmsg.Response) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 4), corr)
	if flexible {
		out = append(out, 0)
	}
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

func TestSenderTCPFraming(t *testing.T) {
	addr := serveFrames(t, func(body []byte) []byte {
		key := int16(binary.BigEndian.Uint16(body))
		ver := int16(binary.BigEndian.Uint16(body[2:]))
		corr := binary.BigEndian.Uint32(body[4:])
		resp := kmsg.ResponseForKey(key)
		resp.SetVersion(ver)
		if api, ok := resp.(*kmsg.ApiVersionsResponse); ok {
			k := kmsg.NewApiVersionsResponseApiKey()
			k.ApiKey, k.MaxVersion = 4, 7
			api.ApiKeys = append(api.ApiKeys, k)
		}
		if um, ok := resp.(*kmsg.UpdateMetadataResponse); ok {
			um.ErrorCode = 11
		}
		return frame(corr, resp.IsFlexible() && key != 18, resp)
	})
	s := &TCP{ClientID: "c", Resolve: func(int32) (string, error) { return addr, nil }}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	// ApiVersions v3 is flexible but its response header has no tags.
	api := kmsg.NewPtrApiVersionsRequest()
	api.Version = 3
	resp, err := s.Send(ctx, 1, api)
	require.NoError(t, err)
	require.Equal(t, int16(7), resp.(*kmsg.ApiVersionsResponse).ApiKeys[0].MaxVersion)
	// Flexible LeaderAndIsr v6 and a non-flexible StopReplica v1 on the same connection.
	lr := kmsg.NewPtrLeaderAndISRRequest()
	lr.Version = 6
	_, err = s.Send(ctx, 1, lr)
	require.NoError(t, err)
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.Version = 1
	_, err = s.Send(ctx, 1, sr)
	require.NoError(t, err)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version = 7
	resp, err = s.Send(ctx, 1, um)
	require.NoError(t, err)
	require.Equal(t, int16(11), resp.(*kmsg.UpdateMetadataResponse).ErrorCode)
}

func TestSenderBadResponses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(body []byte) []byte
	}{
		{"wrong correlation id", func(body []byte) []byte {
			return frame(binary.BigEndian.Uint32(body[4:])+1, true, kmsg.NewPtrLeaderAndISRResponse())
		}},
		{"frame too large", func([]byte) []byte { return binary.BigEndian.AppendUint32(nil, 1<<30) }},
		{"truncated body", func(body []byte) []byte {
			return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 4), binary.BigEndian.Uint32(body[4:]))
		}},
		{"connection closed", func([]byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveFrames(t, tc.reply)
			s := &TCP{Resolve: func(int32) (string, error) { return addr, nil }}
			t.Cleanup(s.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			t.Cleanup(cancel)
			lr := kmsg.NewPtrLeaderAndISRRequest()
			lr.Version = 6
			_, err := s.Send(ctx, 3, lr)
			require.Error(t, err)
			require.Contains(t, err.Error(), "broker 3 at "+addr)
		})
	}
}

func TestSenderUnreachableNamesAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	s := &TCP{Resolve: func(int32) (string, error) { return addr, nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	_, err = s.Send(ctx, 4, kmsg.NewPtrStopReplicaRequest())
	require.ErrorContains(t, err, "connecting to broker 4 at "+addr)
}

// FuzzSenderParseResponse feeds arbitrary response frames to the decoder
// of every request the controller sends: it must never panic.
func FuzzSenderParseResponse(f *testing.F) {
	f.Add(frame(1, true, kmsg.NewPtrLeaderAndISRResponse()))
	f.Add(frame(1, true, kmsg.NewPtrUpdateMetadataResponse()))
	f.Add(frame(1, true, kmsg.NewPtrStopReplicaResponse()))
	f.Add([]byte{0, 0, 0, 1, 0, 5, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		body := data[4:]
		for _, req := range []kmsg.Request{kmsg.NewPtrLeaderAndISRRequest(), kmsg.NewPtrUpdateMetadataRequest(), kmsg.NewPtrStopReplicaRequest(), kmsg.NewPtrApiVersionsRequest()} {
			for _, v := range []int16{0, 3, 6, 7} {
				if v > req.MaxVersion() {
					continue
				}
				req.SetVersion(v)
				_, _ = ParseResponse(req, 1, body)
			}
		}
		_, _ = skipTags(body)
	})
}
