package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
	"kzoo/broker/config"
	"kzoo/broker/meta"
	"kzoo/broker/storage"
)

// standaloneHandler is a handler with real storage and no ZooKeeper.
func standaloneHandler(t testing.TB, extra ...string) *api.Handler {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse("server.properties", []byte("broker.id=0\nzookeeper.connect=127.0.0.1:1\nlog.dirs="+filepath.Join(dir, "logs")+"\nsocket.request.max.bytes=65536\n"), extra)
	require.NoError(t, err)
	h := api.New(api.Options{Config: cfg, ClusterID: "test", OpenLog: openLog(nil, func() int64 { return time.Now().UnixMilli() }, cfg.LogCleanerEnable),
		ConvertToV2: func(set []byte, _ int64) ([]byte, error) { return storage.ConvertToV2(set) }, DownConvert: storage.DownConvert})
	t.Cleanup(h.Close)
	return h
}

// pipeConn serves one side of a pipe and returns the client side.
func pipeConn(t *testing.T, h *api.Handler, maxBytes int32) net.Conn {
	t.Helper()
	srv, cli := net.Pipe()
	cs := &connServer{h: h, c: srv, listener: "PLAINTEXT", maxBytes: maxBytes, logf: t.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cs.serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); cli.Close(); <-done })
	return cli
}

func writeFrame(t *testing.T, c net.Conn, key, version int16, corr int32, flexible bool, body []byte) {
	t.Helper()
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if flexible {
		b = append(b, 0)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Write(b)
	require.NoError(t, err)
}

func readFrame(t *testing.T, r io.Reader) (int32, []byte) {
	t.Helper()
	var sz [4]byte
	_, err := io.ReadFull(r, sz[:])
	require.NoError(t, err)
	b := make([]byte, binary.BigEndian.Uint32(sz[:]))
	_, err = io.ReadFull(r, b)
	require.NoError(t, err)
	return int32(binary.BigEndian.Uint32(b)), b[4:]
}

func TestBrokerFrameApiVersions(t *testing.T) {
	h := standaloneHandler(t)
	c := pipeConn(t, h, 65536)
	r := bufio.NewReader(c)

	// v3 (flexible request header); the response header stays v0.
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "t", "1"
	writeFrame(t, c, 18, 3, 7, true, req.AppendTo(nil))
	corr, body := readFrame(t, r)
	require.Equal(t, int32(7), corr)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	require.NoError(t, resp.ReadFrom(body))
	require.Equal(t, int16(0), resp.ErrorCode)
	got := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	require.Equal(t, [2]int16{0, 9}, got[0])
	require.Equal(t, [2]int16{0, 13}, got[1])
	require.Equal(t, [2]int16{0, 12}, got[3])

	// An ApiVersions version from the future gets a v0 answer with
	// UNSUPPORTED_VERSION and the key list, as Kafka sends.
	writeFrame(t, c, 18, 99, 8, false, []byte{1, 2, 3})
	corr, body = readFrame(t, r)
	require.Equal(t, int32(8), corr)
	v0 := kmsg.NewPtrApiVersionsResponse()
	v0.Version = 0
	require.NoError(t, v0.ReadFrom(body))
	require.Equal(t, kerr.UnsupportedVersion.Code, v0.ErrorCode)
	require.NotEmpty(t, v0.ApiKeys)

	// Responses come back in request order. The requests are written
	// while the responses are read, as over a socket's buffers: a pipe has
	// none, and the broker reads the next request of a connection once it
	// has answered the one before, as Kafka does.
	var frames []byte
	for i := range 5 {
		mr := kmsg.NewPtrMetadataRequest()
		mr.Version = 1
		frames = append(frames, kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, mr, int32(100+i))...)
	}
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(frames); wrote <- err }()
	for i := range 5 {
		corr, _ := readFrame(t, r)
		require.Equal(t, int32(100+i), corr)
	}
	require.NoError(t, <-wrote)
}

func TestBrokerFrameOversizedClosesConnection(t *testing.T) {
	h := standaloneHandler(t)
	c := pipeConn(t, h, 1024)
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	// Only the size prefix is sent: the server must refuse before the body.
	_, err := c.Write([]byte{0, 1, 0, 0})
	require.NoError(t, err)
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}

// TestBrokerFramePipelinedThenBadFrame: requests read together with a bad
// frame behind them are answered, coalesced, before the connection closes.
func TestBrokerFramePipelinedThenBadFrame(t *testing.T) {
	h := standaloneHandler(t)
	c := pipeConn(t, h, 1024)
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	var frames []byte
	for i := range 3 {
		pr := produce(7, "none", 0, v2Batch(1, "x", 1)) // acks=1: quick, answered with an error code
		frames = append(frames, kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, pr, int32(10+i))...)
	}
	// a whole frame over socket.request.max.bytes (1024), body included
	frames = binary.BigEndian.AppendUint32(frames, 1100)
	frames = append(frames, make([]byte, 1100)...)
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(frames); wrote <- err }()
	r := bufio.NewReader(c)
	for i := range 3 {
		corr, body := readFrame(t, r)
		require.Equal(t, int32(10+i), corr)
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 7
		require.NoError(t, resp.ReadFrom(body))
		require.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].Partitions[0].ErrorCode)
	}
	require.NoError(t, <-wrote)
	_, err := r.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

func TestBrokerFrameUnsupportedVersionCloses(t *testing.T) {
	h := standaloneHandler(t)
	c := pipeConn(t, h, 65536)
	writeFrame(t, c, 0, 42, 1, false, nil) // Produce v42
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}

// A body that ends before its fields is refused naming the request and
// its size; this one also claims about 2.3 billion tagged fields, which
// a decoder must not walk past the end of the data.
func TestBrokerFrameTruncatedBody(t *testing.T) {
	frame := []byte("\x00\x02\x00\x07000?\xff0\x0000000\x00\xcb\xcb\xcb\xcb\b00")
	_, err := parseRequest(frame, "PLAINTEXT")
	require.ErrorIs(t, err, ErrBadRequest)
	require.EqualError(t, err, "server: malformed request: api key 2 v7: its 13-byte body ends before its fields do")
}

// FuzzBrokerRequestFrame feeds arbitrary request bodies through header
// parsing, kmsg decoding and the handler: nothing may panic.
func FuzzBrokerRequestFrame(f *testing.F) {
	seed := func(req kmsg.Request, v int16) {
		req.SetVersion(v)
		b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
		b = binary.BigEndian.AppendUint16(b, uint16(v))
		b = binary.BigEndian.AppendUint32(b, 1)
		b = binary.BigEndian.AppendUint16(b, 0xffff)
		if req.IsFlexible() {
			b = append(b, 0)
		}
		f.Add(req.AppendTo(b))
	}
	seed(kmsg.NewPtrApiVersionsRequest(), 3)
	seed(kmsg.NewPtrMetadataRequest(), 12)
	mr := kmsg.NewPtrMetadataRequest()
	mr.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	seed(mr, 4)
	pr := kmsg.NewPtrProduceRequest()
	pr.Acks = 1
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: make([]byte, 70)}}}}
	seed(pr, 9)
	fr := kmsg.NewPtrFetchRequest()
	fr.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 100}}}}
	seed(fr, 11)
	li := kmsg.NewPtrLeaderAndISRRequest()
	li.ControllerEpoch = 1
	li.TopicStates = []kmsg.LeaderAndISRRequestTopicState{{Topic: "t", PartitionStates: []kmsg.LeaderAndISRRequestTopicPartition{{Partition: 0, Leader: 0, ISR: []int32{0}, Replicas: []int32{0}}}}}
	seed(li, 5)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{{ID: 0, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "h", Port: 1, ListenerName: "PLAINTEXT"}}}}
	seed(um, 7)
	seed(kmsg.NewPtrListOffsetsRequest(), 7)
	seed(kmsg.NewPtrCreateTopicsRequest(), 7)
	seed(kmsg.NewPtrDescribeConfigsRequest(), 4)
	seed(kmsg.NewPtrStopReplicaRequest(), 4)
	h := standaloneHandler(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		rq, err := parseRequest(frame, "PLAINTEXT")
		if err != nil {
			return
		}
		if rq.resp != nil {
			_ = appendResponse(nil, rq, rq.resp)
			return
		}
		if f, ok := rq.req.(*kmsg.FetchRequest); ok {
			f.MaxWaitMillis = 0 // never long-poll inside the fuzzer
		}
		if p, ok := rq.req.(*kmsg.ProduceRequest); ok {
			p.TimeoutMillis = 0
		}
		for _, setTimeout := range []func(){
			func() {
				if c, ok := rq.req.(*kmsg.CreateTopicsRequest); ok {
					c.TimeoutMillis = 0
				}
			},
		} {
			setTimeout()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := h.Handle(ctx, &rq.hdr, rq.req)
		if err == nil && resp != nil {
			_ = appendResponse(nil, rq, resp)
		}
	})
}

func TestBrokerFrameHeaderV0AndAcks0(t *testing.T) {
	h := standaloneHandler(t)
	c := pipeConn(t, h, 65536)
	r := bufio.NewReader(c)
	// ControlledShutdown v0 has no client id in its header.
	cs := kmsg.NewPtrControlledShutdownRequest()
	cs.Version, cs.BrokerID = 0, 1
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint16(b, 7)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, 42)
	b = cs.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Write(b)
	require.NoError(t, err)
	corr, body := readFrame(t, r)
	require.Equal(t, int32(42), corr)
	resp := kmsg.NewPtrControlledShutdownResponse()
	require.NoError(t, resp.ReadFrom(body))
	require.Equal(t, kerr.NotController.Code, resp.ErrorCode)

	// acks=0 to a partition nobody leads: no answer, the connection closes.
	pr := kmsg.NewPtrProduceRequest()
	pr.Version, pr.Acks, pr.TimeoutMillis = 7, 0, 1000
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "none", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: v2Batch(1, "x", 1)}}}}
	writeFrame(t, c, 0, 7, 43, false, pr.AppendTo(nil))
	_, err = r.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

func FuzzBrokerMetaProperties(f *testing.F) {
	f.Add([]byte("#\n#Tue Nov 24 06:41:15 UTC 2026\ncluster.id=abc\nversion=0\nbroker.id=1\n"))
	f.Add([]byte("broker.id=\n=x\n#c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := meta.Parse(b)
		for k := range m {
			require.NotContains(t, k, "\n")
		}
	})
}

// TestBrokerFrameClientIDShared: a connection's requests with the same
// client id share one string; another id, or none, is parsed as sent.
func TestBrokerFrameClientIDShared(t *testing.T) {
	frame := func(id *string) []byte {
		return kmsg.NewRequestFormatter(kmsg.FormatterClientID(*id)).AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)[4:]
	}
	a, b := "producer-1", "producer-2"
	first, err := parseRequestID(frame(&a), "PLAINTEXT", nil)
	require.NoError(t, err)
	require.Equal(t, a, *first.hdr.ClientID)
	again, err := parseRequestID(frame(&a), "PLAINTEXT", first.hdr.ClientID)
	require.NoError(t, err)
	require.Same(t, first.hdr.ClientID, again.hdr.ClientID)
	other, err := parseRequestID(frame(&b), "PLAINTEXT", first.hdr.ClientID)
	require.NoError(t, err)
	require.Equal(t, b, *other.hdr.ClientID)
	require.Equal(t, a, *first.hdr.ClientID)

	noID := kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 2)[4:]
	none, err := parseRequestID(noID, "PLAINTEXT", first.hdr.ClientID)
	require.NoError(t, err)
	require.Nil(t, none.hdr.ClientID)
}
