package server

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
	"kzoo/broker/config"
)

// Two listeners: brokers replicate over INTERNAL, clients on EXTERNAL see
// only EXTERNAL endpoints in Metadata.
func TestBrokerSeveralListeners(t *testing.T) {
	c := newCluster(t, 2)
	extra := "listeners=INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0\nlistener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT\ninter.broker.listener.name=INTERNAL\n"
	for i := range 2 {
		cfg, err := config.Parse("server.properties", []byte(fmt.Sprintf("broker.id=%d\nlog.dirs=%s\nzookeeper.connect=%s\n%s", i, c.dirs[i], c.zk, extra)), nil)
		require.NoError(t, err)
		s := New(cfg, Options{})
		require.NoError(t, s.Start(context.Background()))
		c.brokers[i] = s
	}
	ext := c.brokers[0].Addr("EXTERNAL").String()
	in := c.brokers[0].Addr("INTERNAL").String()
	metaOn := func(addr string) *kmsg.MetadataResponse {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		resp, err := api.Request(nil, addr, "test", req, 2*time.Second)
		require.NoError(t, err)
		return resp.(*kmsg.MetadataResponse)
	}
	require.Eventually(t, func() bool { return len(metaOn(ext).Brokers) == 2 }, 20*time.Second, 20*time.Millisecond)
	for _, b := range metaOn(ext).Brokers {
		require.Equal(t, c.brokers[b.NodeID].Addr("EXTERNAL").String(), fmt.Sprintf("%s:%d", b.Host, b.Port))
	}
	for _, b := range metaOn(in).Brokers {
		require.Equal(t, c.brokers[b.NodeID].Addr("INTERNAL").String(), fmt.Sprintf("%s:%d", b.Host, b.Port))
	}

	// Replication runs over INTERNAL; clients use EXTERNAL end to end.
	cl, err := kgo.NewClient(kgo.SeedBrokers(ext), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("two"))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10_000
	tt := kmsg.NewCreateTopicsRequestTopic()
	tt.Topic, tt.NumPartitions, tt.ReplicationFactor = "two", 2, 2
	req.Topics = append(req.Topics, tt)
	cr, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, int16(0), cr.Topics[0].ErrorCode)
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte("a")}, &kgo.Record{Value: []byte("b")}).FirstErr())
}

// socket.send.buffer.bytes and socket.receive.buffer.bytes size accepted
// connections' buffers (Linux reports twice the size asked for); -1 leaves
// the OS's.
func TestBrokerSocketBufferSizes(t *testing.T) {
	sizes := func(t *testing.T, extra ...string) (snd, rcv int) {
		c := startCluster2(t, 1, extra...)
		cl, err := net.Dial("tcp", c.addrs()[0])
		require.NoError(t, err)
		defer cl.Close()
		// An answered request: the connection was set up before it was served.
		writeFrame(t, cl, 18, 0, 1, false, nil)
		readFrame(t, cl)
		s := c.brokers[0]
		s.mu.Lock()
		defer s.mu.Unlock()
		for sc := range s.conns {
			if sc.RemoteAddr().String() != cl.LocalAddr().String() {
				continue
			}
			raw, err := sc.(*net.TCPConn).SyscallConn()
			require.NoError(t, err)
			require.NoError(t, raw.Control(func(fd uintptr) {
				snd, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
				require.NoError(t, err)
				rcv, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
				require.NoError(t, err)
			}))
			return snd, rcv
		}
		t.Fatalf("no server side for %s", cl.LocalAddr())
		return 0, 0
	}
	snd, rcv := sizes(t)
	require.Equal(t, 2*102400, snd, "Kafka's default socket.send.buffer.bytes")
	require.Equal(t, 2*102400, rcv, "Kafka's default socket.receive.buffer.bytes")
	snd, rcv = sizes(t, "socket.send.buffer.bytes=65536", "socket.receive.buffer.bytes=-1")
	require.Equal(t, 2*65536, snd)
	require.NotEqual(t, 2*102400, rcv, "-1: the OS's size")
}
