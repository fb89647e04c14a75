package group

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestGroupPartitionForMatchesJava(t *testing.T) {
	require.EqualValues(t, 0, JavaHash(""))
	require.EqualValues(t, 99162322, JavaHash("hello"))
	require.Equal(t, JavaHash("Aa"), JavaHash("BB"))
	require.EqualValues(t, -1<<31, JavaHash("polygenelubricants")) // Utils.abs maps it to 0
	require.EqualValues(t, 0, PartitionFor("polygenelubricants", 50))
	require.EqualValues(t, 99162322%50, PartitionFor("hello", 50))
	require.EqualValues(t, 2112%50, PartitionFor("Aa", 50))
	require.EqualValues(t, int32(-JavaHash("zzzzzzzz"))%50, PartitionFor("zzzzzzzz", 50)) // negative hash
	require.Less(t, JavaHash("zzzzzzzz"), int32(0))
	require.EqualValues(t, 55357*31+56832, JavaHash("\U0001F600")) // surrogate pair, as Java sees it
}

func TestGroupRecordsRoundTrip(t *testing.T) {
	ok, ov := OffsetRecord("g", "t", 3, &OffsetValue{Offset: 42, LeaderEpoch: 7, Metadata: "m", CommitMs: 1000})
	gk, gv := GroupRecord("g", &kmsg.GroupMetadataValue{ProtocolType: "consumer", Generation: 5, Protocol: kmsg.StringPtr("range"),
		Leader: kmsg.StringPtr("m1"), Members: []kmsg.GroupMetadataValueMember{{MemberID: "m1", ClientID: "c", ClientHost: "/h", SessionTimeoutMillis: 10, RebalanceTimeoutMillis: 20, Subscription: []byte{1}, Assignment: []byte{2}}}})
	tk, _ := OffsetRecord("g", "t", 4, nil)
	batch := EncodeBatch([]KV{{ok, ov}, {gk, gv}, {Key: tk}}, 1234)
	var got []Record
	var offs []int64
	next, err := DecodeBatches(append(batch, batch[:30]...), func(o int64, r Record) error {
		got, offs = append(got, r), append(offs, o)
		return nil
	})
	require.NoError(t, err)
	require.EqualValues(t, 3, next)
	require.Equal(t, []int64{0, 1, 2}, offs)
	require.Len(t, got, 3)
	require.Equal(t, "t", got[0].OffsetKey.Topic)
	require.EqualValues(t, 3, got[0].OffsetKey.Partition)
	require.EqualValues(t, 1, got[0].OffsetKey.Version)
	require.EqualValues(t, 3, got[0].Offset.Version)
	require.EqualValues(t, 42, got[0].Offset.Offset)
	require.EqualValues(t, 7, got[0].Offset.LeaderEpoch)
	require.Equal(t, "g", got[1].GroupKey.Group)
	require.EqualValues(t, 5, got[1].Group.Generation)
	require.Equal(t, []byte{2}, got[1].Group.Members[0].Assignment)
	require.True(t, got[2].Tombstone)
	require.EqualValues(t, 4, got[2].OffsetKey.Partition)

	// The batch is a valid v2 batch: kmsg validates length; check the CRC.
	var b kmsg.RecordBatch
	require.NoError(t, b.ReadFrom(batch))
	require.EqualValues(t, 3, b.NumRecords)
	bad := append([]byte(nil), batch...)
	bad[len(bad)-1] ^= 0xff
	_, err = DecodeBatches(bad, func(int64, Record) error { return nil })
	require.Error(t, err)
}

func FuzzGroupRecords(f *testing.F) {
	ok, ov := OffsetRecord("g", "t", 3, &OffsetValue{Offset: 42, LeaderEpoch: 7, Metadata: "m", CommitMs: 1000})
	gk, gv := GroupRecord("g", &kmsg.GroupMetadataValue{ProtocolType: "consumer", Generation: 1})
	f.Add(ok, ov)
	f.Add(gk, gv)
	f.Add(gk, []byte(nil))
	f.Add([]byte{0, 9}, []byte{1})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := DecodeRecord(key, value)
		if err != nil {
			return
		}
		// What decodes re-encodes to a record that decodes the same way.
		var k2, v2 []byte
		switch {
		case r.OffsetKey != nil && r.Tombstone:
			k2, v2 = OffsetRecord(r.OffsetKey.Group, r.OffsetKey.Topic, r.OffsetKey.Partition, nil)
		case r.OffsetKey != nil:
			k2, v2 = OffsetRecord(r.OffsetKey.Group, r.OffsetKey.Topic, r.OffsetKey.Partition,
				&OffsetValue{Offset: r.Offset.Offset, LeaderEpoch: r.Offset.LeaderEpoch, Metadata: r.Offset.Metadata, CommitMs: r.Offset.CommitTimestamp})
		case r.Tombstone:
			k2, v2 = GroupRecord(r.GroupKey.Group, nil)
		default:
			return // group values keep version-dependent fields; skip
		}
		r2, err := DecodeRecord(k2, v2)
		require.NoError(t, err)
		require.Equal(t, r.Tombstone, r2.Tombstone)
		if r.OffsetKey != nil {
			require.Equal(t, r.OffsetKey.Topic, r2.OffsetKey.Topic)
			require.Equal(t, r.OffsetKey.Partition, r2.OffsetKey.Partition)
		}
		// And every decoded record survives a batch round trip.
		_, err = DecodeBatches(EncodeBatch([]KV{{k2, v2}}, 1), func(int64, Record) error { return nil })
		require.NoError(t, err)
	})
}

func FuzzGroupBatches(f *testing.F) {
	ok, ov := OffsetRecord("g", "t", 3, &OffsetValue{Offset: 42})
	f.Add(EncodeBatch([]KV{{ok, ov}}, 5))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodeBatches(data, func(int64, Record) error { return nil })
	})
}
