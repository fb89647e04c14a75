package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic is the internal topic holding commits and group metadata.
const Topic = "__consumer_offsets"

// ErrBadRecord is returned for a __consumer_offsets record that cannot be decoded.
var ErrBadRecord = errors.New("group: bad __consumer_offsets record")

// JavaHash is Java's String.hashCode over the UTF-16 code units of s.
func JavaHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// PartitionFor is Kafka's partitionFor: Utils.abs(groupId.hashCode) % n.
func PartitionFor(groupID string, n int32) int32 {
	h := JavaHash(groupID)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// Record is one decoded __consumer_offsets record. Exactly one of Offset
// or Group keys is set; a nil value (Tombstone) deletes the key.
type Record struct {
	OffsetKey *kmsg.OffsetCommitKey
	GroupKey  *kmsg.GroupMetadataKey
	Offset    *kmsg.OffsetCommitValue
	Group     *kmsg.GroupMetadataValue
	Tombstone bool
}

// OffsetRecord encodes an offset commit (key v1, value v3); a nil value
// encodes a tombstone.
func OffsetRecord(group, topic string, partition int32, v *OffsetValue) (key, value []byte) {
	k := kmsg.NewOffsetCommitKey()
	k.Version = 1
	k.Group, k.Topic, k.Partition = group, topic, partition
	key = k.AppendTo(nil)
	if v == nil {
		return key, nil
	}
	val := kmsg.NewOffsetCommitValue()
	val.Version = 3
	val.Offset, val.LeaderEpoch, val.Metadata, val.CommitTimestamp = v.Offset, v.LeaderEpoch, v.Metadata, v.CommitMs
	return key, val.AppendTo(nil)
}

// GroupRecord encodes group metadata (key v2, value v3); a nil value encodes
// a tombstone.
func GroupRecord(group string, v *kmsg.GroupMetadataValue) (key, value []byte) {
	k := kmsg.NewGroupMetadataKey()
	k.Version = 2
	k.Group = group
	key = k.AppendTo(nil)
	if v == nil {
		return key, nil
	}
	v.Version = 3
	return key, v.AppendTo(nil)
}

// DecodeRecord decodes one record's key and value.
func DecodeRecord(key, value []byte) (Record, error) {
	if len(key) < 2 {
		return Record{}, fmt.Errorf("%w: key of %d bytes", ErrBadRecord, len(key))
	}
	var r Record
	ver := int16(binary.BigEndian.Uint16(key))
	switch ver {
	case 0, 1:
		k := kmsg.NewOffsetCommitKey()
		if err := k.ReadFrom(key); err != nil {
			return Record{}, fmt.Errorf("%w: offset key: %v", ErrBadRecord, err)
		}
		r.OffsetKey = &k
		if value == nil {
			r.Tombstone = true
			return r, nil
		}
		v := kmsg.NewOffsetCommitValue()
		if err := v.ReadFrom(value); err != nil {
			return Record{}, fmt.Errorf("%w: offset value of %s/%s-%d: %v", ErrBadRecord, k.Group, k.Topic, k.Partition, err)
		}
		r.Offset = &v
	case 2:
		k := kmsg.NewGroupMetadataKey()
		if err := k.ReadFrom(key); err != nil {
			return Record{}, fmt.Errorf("%w: group key: %v", ErrBadRecord, err)
		}
		r.GroupKey = &k
		if value == nil {
			r.Tombstone = true
			return r, nil
		}
		v := kmsg.NewGroupMetadataValue()
		if err := v.ReadFrom(value); err != nil {
			return Record{}, fmt.Errorf("%w: group value of %s: %v", ErrBadRecord, k.Group, err)
		}
		r.Group = &v
	default:
		return Record{}, fmt.Errorf("%w: unknown key version %d", ErrBadRecord, ver)
	}
	return r, nil
}

// KV is one record to append.
type KV struct{ Key, Value []byte }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeBatch builds one uncompressed v2 record batch (base offset 0, no
// producer id) holding kvs, timestamped nowMs; a nil Value is a tombstone.
func EncodeBatch(kvs []KV, nowMs int64) []byte {
	var recs []byte
	for i, kv := range kvs {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.Key, r.Value = kv.Key, kv.Value
		body := r.AppendTo(nil)[1:] // drop the zero Length varint
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := kmsg.NewRecordBatch()
	b.FirstOffset = 0
	b.PartitionLeaderEpoch = -1
	b.Magic = 2
	b.LastOffsetDelta = int32(len(kvs) - 1)
	b.FirstTimestamp, b.MaxTimestamp = nowMs, nowMs
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.NumRecords = int32(len(kvs))
	b.Records = recs
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// DecodeBatches walks v2 batches read from the offsets partition and calls
// fn for every record with its offset. Control batches are skipped;
// compressed batches are refused (the coordinator writes none).
func DecodeBatches(data []byte, fn func(offset int64, r Record) error) (next int64, err error) {
	next = -1
	for len(data) >= 61 {
		n := int(int32(binary.BigEndian.Uint32(data[8:]))) + 12
		if n < 61 || n > len(data) {
			break // partial batch at the end of a read
		}
		if got, want := crc32.Checksum(data[21:n], castagnoli), binary.BigEndian.Uint32(data[17:]); got != want {
			return next, fmt.Errorf("%w: batch at offset %d: crc %08x, want %08x", ErrBadRecord, int64(binary.BigEndian.Uint64(data)), got, want)
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:n]); err != nil {
			return next, fmt.Errorf("%w: batch at offset %d: %v", ErrBadRecord, int64(binary.BigEndian.Uint64(data)), err)
		}
		data = data[n:]
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		if b.Magic != 2 {
			return next, fmt.Errorf("%w: batch at offset %d has magic %d", ErrBadRecord, b.FirstOffset, b.Magic)
		}
		if b.Attributes&0x20 != 0 {
			continue // control batch
		}
		if b.Attributes&0x7 != 0 {
			return next, fmt.Errorf("%w: compressed batch at offset %d", ErrBadRecord, b.FirstOffset)
		}
		recs := b.Records
		for i := int32(0); i < b.NumRecords; i++ {
			var r kmsg.Record
			l, sz := binary.Varint(recs)
			if sz <= 0 || l < 0 || int(l) > len(recs)-sz {
				return next, fmt.Errorf("%w: record %d of batch at offset %d", ErrBadRecord, i, b.FirstOffset)
			}
			if err := r.ReadFrom(recs[:sz+int(l)]); err != nil {
				return next, fmt.Errorf("%w: record %d of batch at offset %d: %v", ErrBadRecord, i, b.FirstOffset, err)
			}
			recs = recs[sz+int(l):]
			dec, err := DecodeRecord(r.Key, r.Value)
			if err != nil {
				return next, err
			}
			if err := fn(b.FirstOffset+int64(r.OffsetDelta), dec); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}
