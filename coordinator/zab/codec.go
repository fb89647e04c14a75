package zab

import (
	"encoding/binary"
	"errors"
)

// ErrBadMessage reports bytes that are not a whole message.
var ErrBadMessage = errors.New("zab: malformed message")

const codecVersion = 1

// AppendMessage appends m's wire form (without a length prefix) to b.
func AppendMessage(b []byte, m *Message) []byte {
	b = append(b, codecVersion, byte(m.Type), byte(m.State))
	var flags byte
	if m.Observer {
		flags |= 1
	}
	if m.Trunc {
		flags |= 2
	}
	if m.Snapshot != nil {
		flags |= 4
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(m.From))
	b = binary.BigEndian.AppendUint64(b, uint64(m.To))
	b = binary.BigEndian.AppendUint32(b, m.Epoch)
	b = binary.BigEndian.AppendUint64(b, m.Round)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Vote.Leader))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Vote.Zxid))
	b = binary.BigEndian.AppendUint32(b, m.Vote.Epoch)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Zxid))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Commit))
	b = binary.BigEndian.AppendUint64(b, uint64(m.TruncZxid))
	if m.Snapshot != nil {
		b = binary.BigEndian.AppendUint64(b, uint64(m.Snapshot.Zxid))
		b = appendBytes(b, m.Snapshot.Data)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Entries)))
	for _, e := range m.Entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Zxid))
		b = appendBytes(b, e.Data)
	}
	return appendBytes(b, m.Data)
}

func appendBytes(b, d []byte) []byte {
	if d == nil {
		return binary.BigEndian.AppendUint32(b, 0xffffffff)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(d)))
	return append(b, d...)
}

type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) u32() uint32 {
	v := r.take(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) u64() uint64 {
	v := r.take(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (r *reader) bytes() []byte {
	n := r.u32()
	if r.bad || n == 0xffffffff {
		return nil
	}
	return append([]byte{}, r.take(int(n))...)
}

// UnmarshalMessage decodes one message; it never panics on bad input.
func UnmarshalMessage(b []byte) (*Message, error) {
	r := &reader{b: b}
	if r.u8() != codecVersion {
		return nil, ErrBadMessage
	}
	m := &Message{Type: MsgType(r.u8()), State: Role(r.u8())}
	flags := r.u8()
	m.Observer, m.Trunc = flags&1 != 0, flags&2 != 0
	m.From = int64(r.u64())
	m.To = int64(r.u64())
	m.Epoch = r.u32()
	m.Round = r.u64()
	m.Vote.Leader = int64(r.u64())
	m.Vote.Zxid = int64(r.u64())
	m.Vote.Epoch = r.u32()
	m.Zxid = int64(r.u64())
	m.Commit = int64(r.u64())
	m.TruncZxid = int64(r.u64())
	if flags&4 != 0 {
		m.Snapshot = &Snapshot{Zxid: int64(r.u64())}
		m.Snapshot.Data = r.bytes()
	}
	n := r.u32()
	if uint64(n) > uint64(len(r.b))/12 {
		return nil, ErrBadMessage
	}
	for i := uint32(0); i < n && !r.bad; i++ {
		z := int64(r.u64())
		m.Entries = append(m.Entries, Entry{Zxid: z, Data: r.bytes()})
	}
	m.Data = r.bytes()
	if r.bad || len(r.b) != 0 || m.Type > MsgTouch || m.Type == MsgDisconnected {
		return nil, ErrBadMessage
	}
	return m, nil
}
