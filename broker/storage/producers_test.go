package storage

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// producerBatchOf makes an idempotent (or transactional) batch of n records.
func producerBatchOf(t testing.TB, pid int64, epoch int16, seq int32, n int, txn bool) []byte {
	t.Helper()
	b := simpleBatch(t, kgo.NoCompression(), n, 5, 100)
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(seq))
	if txn {
		b[offAttributes+1] |= attrTransactional
	}
	putCRC(b)
	return b
}

// markerBatch makes a transaction marker as WriteTxnMarkers writes it.
func markerBatch(t testing.TB, pid int64, epoch int16, commit bool) []byte {
	t.Helper()
	typ := []byte{0, 0, 0, 0}
	if commit {
		typ[3] = 1
	}
	b := mkBatch(t, kgo.NoCompression(), []testRec{{key: typ, value: []byte{0, 0, 0, 0, 0, 5}, ts: 100}})
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	b[offAttributes+1] |= attrTransactional | attrControl
	putCRC(b)
	return b
}

func TestStorageIdempotentProducer(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{}, 0)
	res, err := l.AppendLeader(producerBatchOf(t, 7, 0, 0, 3, false), 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(0), res.BaseOffset)
	res, err = l.AppendLeader(producerBatchOf(t, 7, 0, 3, 2, false), 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), res.BaseOffset)

	// a retry of the first batch gets its original offsets and is not stored again
	res, err = l.AppendLeader(producerBatchOf(t, 7, 0, 0, 3, false), 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(0), res.BaseOffset)
	require.Equal(t, int64(2), res.LastOffset)
	require.Equal(t, int64(5), l.EndOffset())

	tests := []struct {
		name  string
		batch []byte
		want  error
	}{
		{"gap", producerBatchOf(t, 7, 0, 9, 1, false), kerr.OutOfOrderSequenceNumber},
		{"old epoch", producerBatchOf(t, 7, -1, 5, 1, false), kerr.InvalidProducerEpoch},
		{"new epoch not at zero", producerBatchOf(t, 7, 1, 5, 1, false), kerr.OutOfOrderSequenceNumber},
	}
	for _, tc := range tests {
		_, err := l.AppendLeader(tc.batch, 0, 0)
		require.ErrorIs(t, err, tc.want, tc.name)
	}
	require.Equal(t, int64(5), l.EndOffset())
	_, err = l.AppendLeader(producerBatchOf(t, 8, 0, 42, 1, false), 0, 0)
	require.NoError(t, err, "an unknown producer may start at any sequence")

	// the state survives a clean restart and a crash (replayed from the batches)
	require.NoError(t, l.Close())
	l2, _ := openLog(t, dir, Config{}, 0)
	_, err = l2.AppendLeader(producerBatchOf(t, 7, 0, 9, 1, false), 0, 0)
	require.ErrorIs(t, err, kerr.OutOfOrderSequenceNumber)
	res, err = l2.AppendLeader(producerBatchOf(t, 7, 0, 5, 1, false), 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(6), res.BaseOffset)
	crash(l2)
	require.NoError(t, os.Remove(filepath.Join(dir, producerStateFile)))
	l3, _ := openLog(t, dir, Config{}, 0)
	res, err = l3.AppendLeader(producerBatchOf(t, 7, 0, 5, 1, false), 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(6), res.BaseOffset, "duplicate detected from replayed batches")
	require.Equal(t, int64(7), l3.EndOffset())
}

func TestStorageTransactions(t *testing.T) {
	dir := testDir(t)
	l, _ := openLog(t, dir, Config{}, 0)
	_, err := l.AppendLeader(simpleBatch(t, kgo.NoCompression(), 2, 5, 1), 0, 0) // 0-1
	require.NoError(t, err)
	require.Equal(t, int64(-1), l.FirstUnstableOffset())
	_, err = l.AppendLeader(producerBatchOf(t, 1, 0, 0, 2, true), 0, 0) // 2-3 txn A
	require.NoError(t, err)
	_, err = l.AppendLeader(producerBatchOf(t, 2, 0, 0, 2, true), 0, 0) // 4-5 txn B
	require.NoError(t, err)
	require.Equal(t, int64(2), l.FirstUnstableOffset())
	_, err = l.AppendLeader(markerBatch(t, 1, 0, false), 0, 0)
	require.ErrorIs(t, err, kerr.InvalidRecord, "clients cannot write markers")
	res, err := l.AppendCoordinator(markerBatch(t, 1, 0, false), 0, 0) // 6 abort A
	require.NoError(t, err)
	require.Equal(t, int64(6), res.BaseOffset)
	require.Equal(t, int64(4), l.FirstUnstableOffset())
	_, err = l.AppendCoordinator(markerBatch(t, 2, 0, true), 0, 0) // 7 commit B
	require.NoError(t, err)
	require.Equal(t, int64(-1), l.FirstUnstableOffset())
	require.Equal(t, []AbortedTxn{{ProducerID: 1, FirstOffset: 2, LastOffset: 6}}, l.AbortedTransactions(0, 8))
	require.Empty(t, l.AbortedTransactions(7, 8))
	require.Empty(t, l.AbortedTransactions(0, 2))
	_, err = l.AppendCoordinator(markerBatch(t, 2, -1, true), 0, 0)
	require.ErrorIs(t, err, kerr.InvalidProducerEpoch, "a marker from a fenced epoch")
	_, err = l.AppendLeader(producerBatchOf(t, 3, 0, 0, 1, true), 0, 0) // 8 txn C open
	require.NoError(t, err)

	require.NoError(t, l.Close())
	l2, _ := openLog(t, dir, Config{}, 0)
	require.Equal(t, int64(8), l2.FirstUnstableOffset())
	require.Len(t, l2.AbortedTransactions(0, 100), 1)

	// truncating away the open transaction closes it; below the abort marker forgets it
	require.NoError(t, l2.TruncateTo(8))
	require.Equal(t, int64(-1), l2.FirstUnstableOffset())
	require.NoError(t, l2.TruncateTo(6))
	require.Empty(t, l2.AbortedTransactions(0, 100))
	require.Equal(t, int64(2), l2.FirstUnstableOffset(), "both transactions are open again")

	// down-conversion leaves markers out; reads keep them
	got, err := l2.Read(0, 1<<20, 100, false)
	require.NoError(t, err)
	require.Len(t, decodeBatches(t, got), 6)
}

func TestStorageFollowerKeepsProducerState(t *testing.T) {
	leader, _ := openLog(t, testDir(t), Config{}, 0)
	follower, _ := openLog(t, testDir(t), Config{}, 0)
	_, err := leader.AppendLeader(producerBatchOf(t, 5, 0, 0, 2, true), 3, 0)
	require.NoError(t, err)
	_, err = leader.AppendCoordinator(markerBatch(t, 5, 0, false), 3, 0)
	require.NoError(t, err)
	got, err := leader.Read(0, 1<<20, leader.EndOffset(), false)
	require.NoError(t, err)
	require.NoError(t, follower.AppendFollower(got))
	require.Equal(t, leader.AbortedTransactions(0, 10), follower.AbortedTransactions(0, 10))
	require.Equal(t, int32(3), follower.LatestEpoch())
}
