package jute

// This file holds the records of zookeeper.jute that the client protocol
// uses, field for field in the order they are on the wire.

// ConnectRequest opens or resumes a session. ReadOnly is the optional
// trailing byte newer clients send; HasReadOnly says whether it was there.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectRequest) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Long(r.LastZxidSeen)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectRequest) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.Err == nil && d.Remaining() >= 1 {
		r.ReadOnly = d.Bool()
		r.HasReadOnly = true
	}
}

// ConnectResponse answers a ConnectRequest. ReadOnly is written only when
// the request carried it (old clients would misread a trailing byte).
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectResponse) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectResponse) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.Err == nil && d.Remaining() >= 1 {
		r.ReadOnly = d.Bool()
		r.HasReadOnly = true
	}
}

// RequestHeader precedes every request after the connect.
type RequestHeader struct {
	Xid  int32
	Type Op
}

func (r *RequestHeader) Encode(e *Encoder) { e.Int(r.Xid); e.Int(int32(r.Type)) }
func (r *RequestHeader) Decode(d *Decoder) { r.Xid = d.Int(); r.Type = Op(d.Int()) }

// ReplyHeader precedes every response and notification.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  Code
}

func (r *ReplyHeader) Encode(e *Encoder) { e.Int(r.Xid); e.Long(r.Zxid); e.Int(int32(r.Err)) }
func (r *ReplyHeader) Decode(d *Decoder) { r.Xid = d.Int(); r.Zxid = d.Long(); r.Err = Code(d.Int()) }

// Stat is a znode's metadata, exactly ZooKeeper's eleven fields.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

func (s *Stat) Encode(e *Encoder) {
	e.Long(s.Czxid)
	e.Long(s.Mzxid)
	e.Long(s.Ctime)
	e.Long(s.Mtime)
	e.Int(s.Version)
	e.Int(s.Cversion)
	e.Int(s.Aversion)
	e.Long(s.EphemeralOwner)
	e.Int(s.DataLength)
	e.Int(s.NumChildren)
	e.Long(s.Pzxid)
}

func (s *Stat) Decode(d *Decoder) {
	s.Czxid = d.Long()
	s.Mzxid = d.Long()
	s.Ctime = d.Long()
	s.Mtime = d.Long()
	s.Version = d.Int()
	s.Cversion = d.Int()
	s.Aversion = d.Int()
	s.EphemeralOwner = d.Long()
	s.DataLength = d.Int()
	s.NumChildren = d.Int()
	s.Pzxid = d.Long()
}

// ID names an identity in a scheme ("world"/"anyone", "digest"/"u:hash").
type ID struct {
	Scheme string
	ID     string
}

func (i *ID) Encode(e *Encoder) { e.String(i.Scheme); e.String(i.ID) }
func (i *ID) Decode(d *Decoder) { i.Scheme = d.String(); i.ID = d.String() }

// ACL grants Perms to ID.
type ACL struct {
	Perms int32
	ID    ID
}

func (a *ACL) Encode(e *Encoder) { e.Int(a.Perms); a.ID.Encode(e) }
func (a *ACL) Decode(d *Decoder) { a.Perms = d.Int(); a.ID.Decode(d) }

// WorldAnyone is ZooDefs.Ids.OPEN_ACL_UNSAFE.
var WorldAnyone = []ACL{{Perms: PermAll, ID: ID{Scheme: "world", ID: "anyone"}}}

// EncodeACLs writes a vector of ACLs.
func EncodeACLs(e *Encoder, v []ACL) {
	e.Int(int32(len(v)))
	for i := range v {
		v[i].Encode(e)
	}
}

// DecodeACLs reads a vector of ACLs.
func DecodeACLs(d *Decoder) []ACL {
	n := d.count(12)
	if n == 0 {
		return nil
	}
	v := make([]ACL, n)
	for i := 0; i < n && d.Err == nil; i++ {
		v[i].Decode(d)
	}
	return v
}

// CreateRequest is create, create2 and createContainer.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
}

func (r *CreateRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.Flags)
}

func (r *CreateRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Flags = d.Int()
}

// CreateTTLRequest is createTTL.
type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

func (r *CreateTTLRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	EncodeACLs(e, r.ACL)
	e.Int(r.Flags)
	e.Long(r.TTL)
}

func (r *CreateTTLRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = DecodeACLs(d)
	r.Flags = d.Int()
	r.TTL = d.Long()
}

// CreateResponse answers create.
type CreateResponse struct{ Path string }

func (r *CreateResponse) Encode(e *Encoder) { e.String(r.Path) }
func (r *CreateResponse) Decode(d *Decoder) { r.Path = d.String() }

// Create2Response answers create2, createContainer and createTTL.
type Create2Response struct {
	Path string
	Stat Stat
}

func (r *Create2Response) Encode(e *Encoder) { e.String(r.Path); r.Stat.Encode(e) }
func (r *Create2Response) Decode(d *Decoder) { r.Path = d.String(); r.Stat.Decode(d) }

// DeleteRequest is delete (and deleteContainer, which has only a path on
// the wire: use PathRequest for that).
type DeleteRequest struct {
	Path    string
	Version int32
}

func (r *DeleteRequest) Encode(e *Encoder) { e.String(r.Path); e.Int(r.Version) }
func (r *DeleteRequest) Decode(d *Decoder) { r.Path = d.String(); r.Version = d.Int() }

// CheckVersionRequest is check (inside multi).
type CheckVersionRequest = DeleteRequest

// PathWatchRequest is exists, getData, getChildren and getChildren2.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

func (r *PathWatchRequest) Encode(e *Encoder) { e.String(r.Path); e.Bool(r.Watch) }
func (r *PathWatchRequest) Decode(d *Decoder) { r.Path = d.String(); r.Watch = d.Bool() }

// PathRequest is a request that is only a path: getACL, sync,
// getAllChildrenNumber, getEphemerals (prefix), deleteContainer.
type PathRequest struct{ Path string }

func (r *PathRequest) Encode(e *Encoder) { e.String(r.Path) }
func (r *PathRequest) Decode(d *Decoder) { r.Path = d.String() }

// StatResponse is exists, setData and setACL's answer.
type StatResponse struct{ Stat Stat }

func (r *StatResponse) Encode(e *Encoder) { r.Stat.Encode(e) }
func (r *StatResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

// GetDataResponse answers getData.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

func (r *GetDataResponse) Encode(e *Encoder) { e.Buffer(r.Data); r.Stat.Encode(e) }
func (r *GetDataResponse) Decode(d *Decoder) { r.Data = d.Buffer(); r.Stat.Decode(d) }

// SetDataRequest is setData.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

func (r *SetDataRequest) Encode(e *Encoder) { e.String(r.Path); e.Buffer(r.Data); e.Int(r.Version) }
func (r *SetDataRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.Version = d.Int()
}

// GetACLResponse answers getACL.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

func (r *GetACLResponse) Encode(e *Encoder) { EncodeACLs(e, r.ACL); r.Stat.Encode(e) }
func (r *GetACLResponse) Decode(d *Decoder) { r.ACL = DecodeACLs(d); r.Stat.Decode(d) }

// SetACLRequest is setACL.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (r *SetACLRequest) Encode(e *Encoder) { e.String(r.Path); EncodeACLs(e, r.ACL); e.Int(r.Version) }
func (r *SetACLRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.ACL = DecodeACLs(d)
	r.Version = d.Int()
}

// GetChildrenResponse answers getChildren.
type GetChildrenResponse struct{ Children []string }

func (r *GetChildrenResponse) Encode(e *Encoder) { e.Strings(r.Children) }
func (r *GetChildrenResponse) Decode(d *Decoder) { r.Children = d.Strings() }

// GetChildren2Response answers getChildren2.
type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

func (r *GetChildren2Response) Encode(e *Encoder) { e.Strings(r.Children); r.Stat.Encode(e) }
func (r *GetChildren2Response) Decode(d *Decoder) { r.Children = d.Strings(); r.Stat.Decode(d) }

// SyncResponse answers sync (PathRequest's shape).
type SyncResponse = PathRequest

// GetAllChildrenNumberResponse answers getAllChildrenNumber.
type GetAllChildrenNumberResponse struct{ TotalNumber int32 }

func (r *GetAllChildrenNumberResponse) Encode(e *Encoder) { e.Int(r.TotalNumber) }
func (r *GetAllChildrenNumberResponse) Decode(d *Decoder) { r.TotalNumber = d.Int() }

// GetEphemeralsResponse answers getEphemerals.
type GetEphemeralsResponse struct{ Ephemerals []string }

func (r *GetEphemeralsResponse) Encode(e *Encoder) { e.Strings(r.Ephemerals) }
func (r *GetEphemeralsResponse) Decode(d *Decoder) { r.Ephemerals = d.Strings() }

// AuthPacket is auth (xid -4).
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

func (r *AuthPacket) Encode(e *Encoder) { e.Int(r.Type); e.String(r.Scheme); e.Buffer(r.Auth) }
func (r *AuthPacket) Decode(d *Decoder) {
	r.Type = d.Int()
	r.Scheme = d.String()
	r.Auth = d.Buffer()
}

// SetWatches is setWatches (op 101); SetWatches2 (op 105) adds the two
// persistent lists, so one struct serves both and Two selects the layout.
type SetWatches struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
	Two                        bool
}

func (r *SetWatches) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
	if r.Two {
		e.Strings(r.PersistentWatches)
		e.Strings(r.PersistentRecursiveWatches)
	}
}

func (r *SetWatches) Decode(d *Decoder) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	if r.Two {
		r.PersistentWatches = d.Strings()
		r.PersistentRecursiveWatches = d.Strings()
	}
}

// WatchTypeRequest is removeWatches and checkWatches.
type WatchTypeRequest struct {
	Path string
	Type int32
}

func (r *WatchTypeRequest) Encode(e *Encoder) { e.String(r.Path); e.Int(r.Type) }
func (r *WatchTypeRequest) Decode(d *Decoder) { r.Path = d.String(); r.Type = d.Int() }

// AddWatchRequest is addWatch.
type AddWatchRequest struct {
	Path string
	Mode int32
}

func (r *AddWatchRequest) Encode(e *Encoder) { e.String(r.Path); e.Int(r.Mode) }
func (r *AddWatchRequest) Decode(d *Decoder) { r.Path = d.String(); r.Mode = d.Int() }

// WatcherEvent is a notification body (xid -1).
type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

func (r *WatcherEvent) Encode(e *Encoder) { e.Int(r.Type); e.Int(r.State); e.String(r.Path) }
func (r *WatcherEvent) Decode(d *Decoder) { r.Type = d.Int(); r.State = d.Int(); r.Path = d.String() }

// ClientInfo is one entry of whoAmI's answer.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// WhoAmIResponse answers whoAmI.
type WhoAmIResponse struct{ ClientInfo []ClientInfo }

func (r *WhoAmIResponse) Encode(e *Encoder) {
	e.Int(int32(len(r.ClientInfo)))
	for _, c := range r.ClientInfo {
		e.String(c.AuthScheme)
		e.String(c.User)
	}
}

func (r *WhoAmIResponse) Decode(d *Decoder) {
	n := d.count(8)
	r.ClientInfo = nil
	for i := 0; i < n && d.Err == nil; i++ {
		r.ClientInfo = append(r.ClientInfo, ClientInfo{AuthScheme: d.String(), User: d.String()})
	}
}

// MultiHeader precedes each op of a multi and each result; a header with
// Done set (type -1, err -1) ends the list.
type MultiHeader struct {
	Type Op
	Done bool
	Err  Code
}

func (r *MultiHeader) Encode(e *Encoder) { e.Int(int32(r.Type)); e.Bool(r.Done); e.Int(int32(r.Err)) }
func (r *MultiHeader) Decode(d *Decoder) {
	r.Type = Op(d.Int())
	r.Done = d.Bool()
	r.Err = Code(d.Int())
}

// ErrorResponse is a failed op's body inside a multi answer.
type ErrorResponse struct{ Err Code }

func (r *ErrorResponse) Encode(e *Encoder) { e.Int(int32(r.Err)) }
func (r *ErrorResponse) Decode(d *Decoder) { r.Err = Code(d.Int()) }
