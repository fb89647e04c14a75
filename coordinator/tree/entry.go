package tree

import (
	"errors"
	"fmt"

	"kzoo/coordinator/jute"
)

// ErrCorrupt reports bytes that are not a well-formed entry or snapshot.
var ErrCorrupt = errors.New("tree: corrupt")

// Entry is one write as logged and replicated. Validation happens at Apply
// time, so a failed write is an entry too and consumes its zxid (ZooKeeper
// logs error txns the same way).
type Entry struct {
	Zxid    int64
	Time    int64 // ms since the Unix epoch, chosen by whoever proposed it
	Session int64
	Cxid    int32
	// Type is one of OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL,
	// OpDelete, OpDeleteContainer, OpSetData, OpSetACL, OpCheck, OpMulti,
	// OpCreateSession, OpCloseSession.
	Type jute.Op
	// Auth is the session's identities when proposed: {"digest","u:hash"},
	// {"ip","127.0.0.1"}, {"super",""} for a super-digest session. ACL
	// checks at Apply use these.
	Auth []jute.ID
	// Body is the request record exactly as the client sent it (jute).
	// createSession: Int timeoutMs + Buffer passwd; closeSession: empty;
	// deleteContainer: a PathRequest.
	Body []byte
}

// entryVersion is the first byte of a marshalled entry.
const entryVersion = 1

// Marshal encodes the entry: a version byte, then zxid, time, session,
// cxid, type, the identities as a counted vector of (scheme, id) strings,
// and the body as a buffer, all in jute's encodings.
func (e *Entry) Marshal() []byte {
	enc := jute.Encoder{B: make([]byte, 0, 48+len(e.Body))}
	enc.B = append(enc.B, entryVersion)
	enc.Long(e.Zxid)
	enc.Long(e.Time)
	enc.Long(e.Session)
	enc.Int(e.Cxid)
	enc.Int(int32(e.Type))
	enc.Int(int32(len(e.Auth)))
	for i := range e.Auth {
		e.Auth[i].Encode(&enc)
	}
	enc.Buffer(e.Body)
	return enc.B
}

// UnmarshalEntry decodes what Marshal wrote. It never panics: a short,
// over-long or otherwise malformed input is an error wrapping ErrCorrupt.
func UnmarshalEntry(b []byte) (*Entry, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrCorrupt)
	}
	if b[0] != entryVersion {
		return nil, fmt.Errorf("%w: entry version %d, want %d", ErrCorrupt, b[0], entryVersion)
	}
	d := jute.NewDecoder(b[1:])
	e := &Entry{}
	e.Zxid = d.Long()
	e.Time = d.Long()
	e.Session = d.Long()
	e.Cxid = d.Int()
	e.Type = jute.Op(d.Int())
	n := d.Int()
	if d.Err == nil && (n < 0 || int(n) > d.Remaining()/8) {
		return nil, fmt.Errorf("%w: entry zxid 0x%x: %d identities in %d bytes", ErrCorrupt, e.Zxid, n, d.Remaining())
	}
	if n > 0 {
		e.Auth = make([]jute.ID, n)
		for i := range e.Auth {
			e.Auth[i].Decode(d)
		}
	}
	e.Body = d.Buffer()
	if d.Err != nil {
		return nil, fmt.Errorf("%w: entry zxid 0x%x: %v", ErrCorrupt, e.Zxid, d.Err)
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("%w: entry zxid 0x%x: %d trailing bytes", ErrCorrupt, e.Zxid, d.Remaining())
	}
	return e, nil
}
