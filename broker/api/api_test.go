package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/config"
)

func testHandler(t *testing.T) *Handler {
	t.Helper()
	cfg, err := config.Parse("server.properties", []byte("broker.id=0\nzookeeper.connect=z:1\nlog.dirs="+t.TempDir()+"\n"), nil)
	require.NoError(t, err)
	h := New(Options{Config: cfg, ClusterID: "c"})
	t.Cleanup(h.Close)
	return h
}

// Every advertised key and version is handled; nothing else is advertised.
func TestAPIVersionsAreHandled(t *testing.T) {
	h := testHandler(t)
	for key, r := range Versions {
		for v := r[0]; v <= r[1]; v++ {
			req := kmsg.RequestForKey(key)
			require.NotNil(t, req, "key %d", key)
			require.LessOrEqual(t, v, req.MaxVersion(), "key %d v%d beyond kmsg", key, v)
			req.SetVersion(v)
			// Decode an encoded default request: every version must round-trip.
			require.NoError(t, req.ReadFrom(req.AppendTo(nil)), "key %d v%d", key, v)
			_, err := h.Handle(context.Background(), &Header{Key: key, Version: v, Listener: "PLAINTEXT"}, req)
			require.False(t, errors.Is(err, ErrUnhandled), "key %d v%d advertised but not handled", key, v)
		}
	}
	resp := h.handleApiVersions(&kmsg.ApiVersionsRequest{Version: 3}).(*kmsg.ApiVersionsResponse)
	require.Len(t, resp.ApiKeys, len(Versions))
	for i := 1; i < len(resp.ApiKeys); i++ {
		require.Less(t, resp.ApiKeys[i-1].ApiKey, resp.ApiKeys[i].ApiKey)
	}
}

func TestAPITopicNames(t *testing.T) {
	for _, ok := range []string{"a", "A-b_c.d", "x123"} {
		require.NoError(t, validateTopicName(ok), ok)
	}
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "ä", string(long), "../etc"} {
		require.Error(t, validateTopicName(bad), bad)
	}
}

func TestAPIHighWatermarkRule(t *testing.T) {
	p := &partition{isLeader: true, isr: []int32{0, 1, 2}, log: fakeEnd(10)}
	p.resetFollowerState(0)
	require.False(t, p.maybeAdvanceHW(0), "followers unknown: HW stays")
	p.followerLEO[1], p.followerLEO[2] = 7, 4
	require.True(t, p.maybeAdvanceHW(0))
	require.Equal(t, int64(4), p.hw)
	p.followerLEO[2] = 12
	require.True(t, p.maybeAdvanceHW(0))
	require.Equal(t, int64(7), p.hw, "HW is the smallest ISR log end")
	p.isr = []int32{0}
	require.True(t, p.maybeAdvanceHW(0))
	require.Equal(t, int64(10), p.hw)
	p.isr = []int32{0, 1}
	p.followerLEO[1] = 3
	require.False(t, p.maybeAdvanceHW(0))
	require.Equal(t, int64(10), p.hw, "HW never moves back")
}

// fakeEnd is a Log whose only meaningful answer is its end offset; the
// high watermark rule reads nothing else.
type fakeEnd int64

func (f fakeEnd) EndOffset() int64 { return int64(f) }
func (fakeEnd) AppendLeader([]byte, int32, int64) (AppendResult, error) {
	panic("not used")
}
func (fakeEnd) AppendFollower([]byte) error                   { panic("not used") }
func (fakeEnd) Read(int64, int, int64, bool) ([]byte, error)  { panic("not used") }
func (fakeEnd) StartOffset() int64                            { return 0 }
func (fakeEnd) OffsetForTimestamp(int64) (int64, int64, bool) { panic("not used") }
func (fakeEnd) MaxTimestamp() (int64, int64)                  { panic("not used") }
func (fakeEnd) EndOffsetForEpoch(int32) (int32, int64)        { panic("not used") }
func (fakeEnd) LatestEpoch() int32                            { panic("not used") }
func (fakeEnd) TruncateTo(int64) error                        { panic("not used") }
func (fakeEnd) DeleteRecordsBefore(int64) (int64, error)      { panic("not used") }
func (fakeEnd) Flush() error                                  { return nil }
func (fakeEnd) MaybeFlush(int64) (bool, error)                { return false, nil }
func (fakeEnd) EnforceRetention(int64) (int, error)           { panic("not used") }
func (fakeEnd) SetConfig(map[string]string)                   {}
func (fakeEnd) Size() int64                                   { return 0 }
func (fakeEnd) Close() error                                  { return nil }
func (fakeEnd) Delete() error                                 { return nil }

func FuzzAPISkipTags(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 2, 'a', 'b', 9})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rest, err := skipTags(b)
		if err == nil {
			require.LessOrEqual(t, len(rest), len(b))
		}
	})
}

// A follower's fetch takes its limits from the replica.fetch.* keys.
func TestAPIFollowerFetchFromConfig(t *testing.T) {
	for _, tc := range []struct {
		text               string
		minBytes, maxBytes int32
	}{
		{"", 1, 1048576},
		{"replica.fetch.min.bytes=65536\nreplica.fetch.max.bytes=2097152\n", 65536, 2097152},
	} {
		cfg, err := config.Parse("server.properties", []byte("broker.id=3\nzookeeper.connect=z:1\nlog.dirs="+t.TempDir()+"\n"+tc.text), nil)
		require.NoError(t, err)
		h := New(Options{Config: cfg, ClusterID: "c"})
		req := h.followerFetch(500 * time.Millisecond)
		h.Close()
		require.Equal(t, int32(3), req.ReplicaID)
		require.Equal(t, int32(500), req.MaxWaitMillis)
		require.Equal(t, tc.minBytes, req.MinBytes, tc.text)
		require.Equal(t, tc.maxBytes, req.MaxBytes, tc.text)
		require.Equal(t, int32(-1), req.SessionEpoch)
	}
}

// flushLog records the times the log flusher offered it.
type flushLog struct {
	fakeEnd
	offered []int64
}

func (f *flushLog) MaybeFlush(nowMs int64) (bool, error) {
	f.offered = append(f.offered, nowMs)
	return true, nil
}

// The log flusher offers every hosted partition a flush at the handler's
// clock; the log decides by its flush.ms.
func TestAPIFlushDueOffersEveryPartition(t *testing.T) {
	h := testHandler(t)
	logs := []*flushLog{{}, {}}
	h.rm.mu.Lock()
	for i, l := range logs {
		h.rm.parts[tp{"t", int32(i)}] = &partition{tp: tp{"t", int32(i)}, log: l}
	}
	h.rm.mu.Unlock()
	before := time.Now().UnixMilli()
	h.FlushDue()
	for _, l := range logs {
		require.Len(t, l.offered, 1)
		require.GreaterOrEqual(t, l.offered[0], before)
	}
}
