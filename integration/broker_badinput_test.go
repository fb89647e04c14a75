//go:build integration

package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/internal/testnet"
)

// brokerRawDial opens a plain TCP connection to a broker.
func brokerRawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// brokerRequest frames a request: size, api key, version, correlation id,
// client id, then body.
func brokerRequest(key, version int16, corr int32, body []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 2)
	b = append(b, "kc"...)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// brokerClosed waits until the broker closes c, failing if it answers
// with anything or keeps it open for 10s.
func brokerClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	require.Zero(t, n, "%s: the broker answered %x", what, buf[:n])
	// A close with unread data in the broker's buffer is a reset.
	if !errors.Is(err, syscall.ECONNRESET) {
		require.ErrorIs(t, err, io.EOF, "%s: the connection should be closed by the broker", what)
	}
}

// brokerStillServes produces and reads back a record through franz-go.
func brokerStillServes(t *testing.T, c *brokerCluster, topic, value string) {
	t.Helper()
	cl := c.client(kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(value)})
	require.NoError(t, res.FirstErr())
	r, _ := res.First()
	cons := c.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(r.Offset)}}))
	fs := cons.PollFetches(ctx)
	require.NoError(t, fs.Err())
	recs := fs.Records()
	require.NotEmpty(t, recs)
	require.Equal(t, value, string(recs[0].Value))
}

// TestBrokerBadInput sends what no client should to a real broker: a frame
// over socket.request.max.bytes, garbage, an unknown API key, unsupported
// versions and truncated requests. Each bad connection is closed (or, for
// ApiVersions, answered with UNSUPPORTED_VERSION as Kafka does) and the
// broker keeps serving others with flat memory.
func TestBrokerBadInput(t *testing.T) {
	c := newBrokerCluster(t, 1, "socket.request.max.bytes=1048576\n")
	c.createTopic("bad", 1, 1, nil)
	addr := c.brokers[0].addr()
	brokerStillServes(t, c, "bad", "before")
	pid := c.brokers[0].cmd.Process.Pid
	// kafka-server-start.sh execs kzoo, so the pid is the broker's.
	rss := (&coordProc{cmd: c.brokers[0].cmd}).rssKB(t)

	t.Run("oversized", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			conn := brokerRawDial(t, addr)
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], 1048576+1+uint32(i)*50<<20)
			_, err := conn.Write(hdr[:])
			require.NoError(t, err)
			// Keep sending 1 MiB: were the broker reading it, 20 of these
			// would show in its RSS.
			go func() {
				junk := make([]byte, 64<<10)
				for j := 0; j < 16; j++ {
					if _, err := conn.Write(junk); err != nil {
						return
					}
				}
			}()
			brokerClosed(t, conn, fmt.Sprintf("frame of %d bytes", binary.BigEndian.Uint32(hdr[:])))
		}
		after := (&coordProc{cmd: c.brokers[0].cmd}).rssKB(t)
		t.Logf("broker %d RSS %d KiB before, %d KiB after 20 oversized frames", pid, rss, after)
		require.Less(t, after-rss, 8<<10, "RSS grew by %d KiB", after-rss)
	})

	t.Run("garbage", func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 7))
		for i := 0; i < 20; i++ {
			conn := brokerRawDial(t, addr)
			body := make([]byte, 2+r.IntN(200))
			for j := range body {
				body[j] = byte(r.Uint32())
			}
			// An api key no broker has, so random bytes are never a request.
			binary.BigEndian.PutUint16(body, uint16(0x7000+r.IntN(0x0fff)))
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
			_, err := conn.Write(append(frame, body...))
			require.NoError(t, err)
			brokerClosed(t, conn, fmt.Sprintf("garbage %x", body))
		}
	})

	t.Run("unknown-api-key", func(t *testing.T) {
		conn := brokerRawDial(t, addr)
		_, err := conn.Write(brokerRequest(999, 0, 1, nil))
		require.NoError(t, err)
		brokerClosed(t, conn, "api key 999")
	})

	t.Run("unsupported-version", func(t *testing.T) {
		conn := brokerRawDial(t, addr)
		_, err := conn.Write(brokerRequest(3, 99, 2, nil)) // Metadata v99
		require.NoError(t, err)
		brokerClosed(t, conn, "Metadata v99")
	})

	t.Run("apiversions-unsupported-version", func(t *testing.T) {
		// Kafka answers an ApiVersions of a version it does not know with
		// UNSUPPORTED_VERSION in the v0 layout, listing its versions.
		conn := brokerRawDial(t, addr)
		_, err := conn.Write(brokerRequest(18, 99, 77, nil))
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		var size [4]byte
		_, err = io.ReadFull(conn, size[:])
		require.NoError(t, err)
		resp := make([]byte, binary.BigEndian.Uint32(size[:]))
		_, err = io.ReadFull(conn, resp)
		require.NoError(t, err)
		require.Equal(t, int32(77), int32(binary.BigEndian.Uint32(resp)))
		v := kmsg.NewApiVersionsResponse()
		require.NoError(t, v.ReadFrom(resp[4:]))
		require.Equal(t, int16(35), v.ErrorCode, "UNSUPPORTED_VERSION")
		var produce bool
		for _, k := range v.ApiKeys {
			produce = produce || k.ApiKey == 0
		}
		require.True(t, produce, "the answer lists the supported versions: %+v", v.ApiKeys)
	})

	t.Run("truncated", func(t *testing.T) {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 4
		topic := kmsg.NewMetadataRequestTopic()
		topic.Topic = kmsg.StringPtr("bad")
		req.Topics = append(req.Topics, topic)
		body := req.AppendTo(nil)
		for cut := 1; cut < len(body); cut += 3 {
			conn := brokerRawDial(t, addr)
			_, err := conn.Write(brokerRequest(3, 4, 3, body[:cut]))
			require.NoError(t, err)
			brokerClosed(t, conn, fmt.Sprintf("Metadata v4 cut at %d of %d", cut, len(body)))
		}
		// A frame that never arrives whole: the client goes away mid-frame.
		conn := brokerRawDial(t, addr)
		frame := brokerRequest(3, 4, 4, body)
		_, err := conn.Write(frame[:len(frame)/2])
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	})

	brokerStillServes(t, c, "bad", "after")
	// A well-formed request on a fresh raw connection is still answered.
	conn := brokerRawDial(t, addr)
	_, err := conn.Write(brokerRequest(18, 0, 9, nil))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	var size [4]byte
	_, err = io.ReadFull(conn, size[:])
	require.NoError(t, err)
	select {
	case <-c.brokers[0].exited:
		t.Fatal("the broker exited")
	default:
	}
}

// TestBrokerBadConfig: a bad server.properties line stops the broker with
// exit status 1 and a message naming file:line and key.
func TestBrokerBadConfig(t *testing.T) {
	home := keeperHome(t)
	dir := t.TempDir()
	for _, tc := range []struct{ line, key string }{
		{"num.network.threads=abc", "num.network.threads"},
		{"log.retention.hours=-x", "log.retention.hours"},
		{"socket.request.max.bytes=99999999999999", "socket.request.max.bytes"},
		{"unclean.leader.election.enable=maybe", "unclean.leader.election.enable"},
	} {
		props := filepath.Join(dir, strings.ReplaceAll(tc.key, ".", "_")+".properties")
		text := fmt.Sprintf("broker.id=0\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s\nzookeeper.connect=127.0.0.1:1\n# comment\n%s\n",
			testnet.FreePort(t), filepath.Join(dir, "logs"), tc.line)
		require.NoError(t, os.WriteFile(props, []byte(text), 0o644))
		cmd := exec.Command(filepath.Join(home, "bin", "kafka-server-start.sh"), props)
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("%s: the broker did not exit on a bad line: %s", tc.line, out)
		}
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s: %s", tc.line, out)
		require.Equal(t, 1, ee.ExitCode(), "%s: %s", tc.line, out)
		require.Contains(t, string(out), props+":6: "+tc.key, "%s", tc.line)
	}
}
