//go:build integration

package integration

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerRoundTrip sends req at version on a raw connection and decodes the
// answer into resp (the same version).
func brokerRoundTrip(t *testing.T, conn net.Conn, corr int32, req kmsg.Request, resp kmsg.Response) {
	t.Helper()
	body := req.AppendTo(nil)
	if req.IsFlexible() {
		body = append([]byte{0}, body...) // the request header's tagged fields
	}
	_, err := conn.Write(brokerRequest(req.Key(), req.GetVersion(), corr, body))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	var size [4]byte
	_, err = io.ReadFull(conn, size[:])
	require.NoError(t, err, "%s v%d: no answer", kmsg.NameForKey(req.Key()), req.GetVersion())
	raw := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err = io.ReadFull(conn, raw)
	require.NoError(t, err)
	require.Equal(t, corr, int32(binary.BigEndian.Uint32(raw)))
	raw = raw[4:]
	if resp.IsFlexible() {
		raw = raw[1:] // the response header's tagged fields (none)
	}
	require.NoError(t, resp.ReadFrom(raw), "%s v%d answer %x", kmsg.NameForKey(req.Key()), req.GetVersion(), raw)
}

// TestBrokerFetchEmptyRecordSet: a Fetch with nothing to return (at the
// log end, or past it) answers an empty record set, zero bytes, as Kafka
// does (MemoryRecords.EMPTY), never a null one: librdkafka rejects a null
// set as "invalid MessageSetSize -1" and so never sees a partition's end.
func TestBrokerFetchEmptyRecordSet(t *testing.T) {
	c := newBrokerCluster(t, 1, "")
	c.createTopic("empty", 1, 1, nil)
	conn := brokerRawDial(t, c.brokers[0].addr())
	for i, version := range []int16{4, 11, 12} {
		for _, offset := range []int64{0, 5} {
			t.Run(fmt.Sprintf("v%d/offset%d", version, offset), func(t *testing.T) {
				req := kmsg.NewPtrFetchRequest()
				req.SetVersion(version)
				req.ReplicaID = -1
				req.MaxWaitMillis = 10
				req.MaxBytes = 1 << 20
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic = "empty"
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.FetchOffset = offset
				rp.PartitionMaxBytes = 1 << 20
				rp.CurrentLeaderEpoch = -1
				rp.LogStartOffset = -1
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp := req.ResponseKind().(*kmsg.FetchResponse)
				brokerRoundTrip(t, conn, int32(100+i*10)+int32(offset), req, resp)
				require.Len(t, resp.Topics, 1)
				require.Len(t, resp.Topics[0].Partitions, 1)
				p := resp.Topics[0].Partitions[0]
				if offset == 0 {
					require.Zero(t, p.ErrorCode)
				} else {
					require.Equal(t, int16(1), p.ErrorCode, "OFFSET_OUT_OF_RANGE")
				}
				require.NotNil(t, p.RecordBatches, "Fetch v%d at %d: the record set is null, Kafka sends an empty one", version, offset)
				require.Empty(t, p.RecordBatches)
			})
		}
	}
}
