package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"kzoo/coordinator/jute"
)

// ErrInvalidPath reports a path ZooKeeper's client would refuse to send
// (PathUtils.validatePath); the wrapped text is ZooKeeper's reason.
var ErrInvalidPath = errors.New("client: invalid path")

// ErrTTL reports a TTL create that ZooKeeper refuses before sending: a
// TTL mode without a positive TTL, or a TTL on another mode.
var ErrTTL = errors.New("client: bad ttl")

// serverPath validates p and prefixes the chroot. sequential allows the
// trailing "/" a sequential create may end with.
func (c *Client) serverPath(p string, sequential bool) (string, error) {
	check := p
	if sequential {
		check = p + "1"
	}
	if err := ValidatePath(check); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidPath, p, err)
	}
	if c.opts.Chroot == "" {
		return p, nil
	}
	if p == "/" {
		return c.opts.Chroot, nil
	}
	return c.opts.Chroot + p, nil
}

// stripChroot turns a server-side path back into the client's view.
func (c *Client) stripChroot(p string) string {
	ch := c.opts.Chroot
	if ch == "" || p == "" {
		return p
	}
	if p == ch {
		return "/"
	}
	if strings.HasPrefix(p, ch+"/") {
		return p[len(ch):]
	}
	return p
}

// isSequential reports whether a create mode appends a sequence number.
func isSequential(mode int32) bool {
	return mode == jute.ModePersistentSequential || mode == jute.ModeEphemeralSequential ||
		mode == jute.ModePersistentSequentialWithTTL
}

// Create makes a znode with mode (jute.Mode*) and returns its path (with
// the sequence suffix, if any) and Stat (create2). An empty acl means
// world:anyone:cdrwa. ttlMs is required for the TTL modes and refused for
// the others; container and TTL modes use createContainer and createTTL.
func (c *Client) Create(ctx context.Context, path string, data []byte, acl []jute.ACL, mode int32, ttlMs int64) (string, jute.Stat, error) {
	var stat jute.Stat
	sp, err := c.serverPath(path, isSequential(mode))
	if err != nil {
		return "", stat, err
	}
	if len(acl) == 0 {
		acl = jute.WorldAnyone
	}
	ttlMode := mode == jute.ModePersistentWithTTL || mode == jute.ModePersistentSequentialWithTTL
	if ttlMode && ttlMs <= 0 {
		return "", stat, fmt.Errorf("%w: %d for %s: must be positive", ErrTTL, ttlMs, path)
	}
	if !ttlMode && ttlMs != 0 {
		return "", stat, fmt.Errorf("%w: %d for %s: mode %d takes no TTL", ErrTTL, ttlMs, path, mode)
	}
	var resp jute.Create2Response
	switch {
	case ttlMode:
		err = c.do(ctx, jute.OpCreateTTL, &jute.CreateTTLRequest{Path: sp, Data: data, ACL: acl, Flags: mode, TTL: ttlMs}, &resp, nil)
	case mode == jute.ModeContainer:
		err = c.do(ctx, jute.OpCreateContainer, &jute.CreateRequest{Path: sp, Data: data, ACL: acl, Flags: mode}, &resp, nil)
	default:
		err = c.do(ctx, jute.OpCreate2, &jute.CreateRequest{Path: sp, Data: data, ACL: acl, Flags: mode}, &resp, nil)
	}
	if err != nil {
		return "", stat, err
	}
	return c.stripChroot(resp.Path), resp.Stat, nil
}

// Delete removes path if its version matches (-1 matches any).
func (c *Client) Delete(ctx context.Context, path string, version int32) error {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return err
	}
	return c.do(ctx, jute.OpDelete, &jute.DeleteRequest{Path: sp, Version: version}, nil, nil)
}

// Exists returns path's Stat and whether it exists; with watch it leaves
// a data watch (or an exist watch when the node is missing).
func (c *Client) Exists(ctx context.Context, path string, watch bool) (jute.Stat, bool, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return jute.Stat{}, false, err
	}
	var resp jute.StatResponse
	err = c.do(ctx, jute.OpExists, &jute.PathWatchRequest{Path: sp, Watch: watch}, &resp, func(code jute.Code) {
		if !watch {
			return
		}
		switch code {
		case jute.OK:
			c.watches.data[sp] = true
		case jute.ErrNoNode:
			c.watches.exist[sp] = true
		}
	})
	if errors.Is(err, jute.ErrNoNode) {
		return jute.Stat{}, false, nil
	}
	if err != nil {
		return jute.Stat{}, false, err
	}
	return resp.Stat, true, nil
}

// Get returns path's data (nil for a znode created without data) and
// Stat; with watch it leaves a data watch.
func (c *Client) Get(ctx context.Context, path string, watch bool) ([]byte, jute.Stat, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	var resp jute.GetDataResponse
	err = c.do(ctx, jute.OpGetData, &jute.PathWatchRequest{Path: sp, Watch: watch}, &resp, func(code jute.Code) {
		if watch && code == jute.OK {
			c.watches.data[sp] = true
		}
	})
	return resp.Data, resp.Stat, err
}

// Set replaces path's data if its version matches (-1 matches any).
func (c *Client) Set(ctx context.Context, path string, data []byte, version int32) (jute.Stat, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return jute.Stat{}, err
	}
	var resp jute.StatResponse
	err = c.do(ctx, jute.OpSetData, &jute.SetDataRequest{Path: sp, Data: data, Version: version}, &resp, nil)
	return resp.Stat, err
}

// Children returns path's children (unsorted, as the server sends them)
// and Stat (getChildren2); with watch it leaves a child watch.
func (c *Client) Children(ctx context.Context, path string, watch bool) ([]string, jute.Stat, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	var resp jute.GetChildren2Response
	err = c.do(ctx, jute.OpGetChildren2, &jute.PathWatchRequest{Path: sp, Watch: watch}, &resp, func(code jute.Code) {
		if watch && code == jute.OK {
			c.watches.child[sp] = true
		}
	})
	return resp.Children, resp.Stat, err
}

// GetACL returns path's ACL and Stat.
func (c *Client) GetACL(ctx context.Context, path string) ([]jute.ACL, jute.Stat, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	var resp jute.GetACLResponse
	err = c.do(ctx, jute.OpGetACL, &jute.PathRequest{Path: sp}, &resp, nil)
	return resp.ACL, resp.Stat, err
}

// SetACL replaces path's ACL if its aclVersion matches (-1 matches any).
// An empty acl is refused with jute.ErrInvalidACL without being sent, as
// ZooKeeper's client does.
func (c *Client) SetACL(ctx context.Context, path string, acl []jute.ACL, version int32) (jute.Stat, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return jute.Stat{}, err
	}
	if len(acl) == 0 {
		return jute.Stat{}, jute.ErrInvalidACL
	}
	var resp jute.StatResponse
	err = c.do(ctx, jute.OpSetACL, &jute.SetACLRequest{Path: sp, ACL: acl, Version: version}, &resp, nil)
	return resp.Stat, err
}

// AddAuth adds credentials to the session ("digest", "user:password");
// they are re-sent after every reconnect. A refused credential ends the
// session with jute.ErrAuthFailed, as on a ZooKeeper server.
func (c *Client) AddAuth(ctx context.Context, scheme string, auth []byte) error {
	pkt := jute.AuthPacket{Type: 0, Scheme: scheme, Auth: auth}
	err := c.enqueue(ctx, &request{xid: jute.XidAuth, op: jute.OpAuth, body: &pkt, done: make(chan error, 1),
		onReply: func(code jute.Code) {
			if code == jute.OK {
				c.auths = append(c.auths, pkt)
			}
		}})
	return err
}

// Sync makes the server this session is on catch up with the leader as
// of now; the next read sees every write committed before it.
func (c *Client) Sync(ctx context.Context, path string) (string, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return "", err
	}
	var resp jute.SyncResponse
	err = c.do(ctx, jute.OpSync, &jute.PathRequest{Path: sp}, &resp, nil)
	return c.stripChroot(resp.Path), err
}

// GetEphemerals lists the session's ephemeral znodes whose paths start
// with prefix ("/" for all).
func (c *Client) GetEphemerals(ctx context.Context, prefix string) ([]string, error) {
	sp, err := c.serverPath(prefix, false)
	if err != nil {
		return nil, err
	}
	var resp jute.GetEphemeralsResponse
	if err := c.do(ctx, jute.OpGetEphemerals, &jute.PathRequest{Path: sp}, &resp, nil); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(resp.Ephemerals))
	for _, p := range resp.Ephemerals {
		out = append(out, c.stripChroot(p))
	}
	return out, nil
}

// GetAllChildrenNumber counts every descendant of path.
func (c *Client) GetAllChildrenNumber(ctx context.Context, path string) (int32, error) {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return 0, err
	}
	var resp jute.GetAllChildrenNumberResponse
	err = c.do(ctx, jute.OpGetAllChildrenNumber, &jute.PathRequest{Path: sp}, &resp, nil)
	return resp.TotalNumber, err
}

// AddWatch sets a persistent (jute.AddWatchPersistent) or persistent
// recursive (jute.AddWatchPersistentRecursive) watch on path; it stays
// until removed and is re-sent after reconnects.
func (c *Client) AddWatch(ctx context.Context, path string, mode int32) error {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return err
	}
	return c.do(ctx, jute.OpAddWatch, &jute.AddWatchRequest{Path: sp, Mode: mode}, nil, func(code jute.Code) {
		if code != jute.OK {
			return
		}
		if mode == jute.AddWatchPersistentRecursive {
			c.watches.recursive[sp] = true
		} else {
			c.watches.persistent[sp] = true
		}
	})
}

// RemoveWatches removes this session's watches of watcherType
// (jute.Watcher*) on path, on the server too unless local, and emits the
// DataWatchRemoved / ChildWatchRemoved / PersistentWatchRemoved events
// ZooKeeper's client emits. With no such watch it returns
// jute.ErrNoWatcher without asking the server.
func (c *Client) RemoveWatches(ctx context.Context, path string, watcherType int32, local bool) error {
	sp, err := c.serverPath(path, false)
	if err != nil {
		return err
	}
	c.mu.Lock()
	held := c.watches.has(sp, watcherType)
	c.mu.Unlock()
	if !held {
		return jute.ErrNoWatcher
	}
	var removed []int32
	apply := func(code jute.Code) {
		if code == jute.OK {
			removed = c.watches.remove(sp, watcherType)
		}
	}
	if local {
		c.mu.Lock()
		apply(jute.OK)
		c.mu.Unlock()
	} else if err := c.do(ctx, jute.OpRemoveWatches, &jute.WatchTypeRequest{Path: sp, Type: watcherType}, nil, apply); err != nil {
		return err
	}
	for _, t := range removed {
		c.emit(Event{Type: t, State: jute.StateSyncConnected, Path: path, Server: c.Server()})
	}
	return nil
}

// WhoAmI returns the identities the session is authenticated as.
func (c *Client) WhoAmI(ctx context.Context) ([]jute.ClientInfo, error) {
	var resp jute.WhoAmIResponse
	err := c.do(ctx, jute.OpWhoAmI, nil, &resp, nil)
	return resp.ClientInfo, err
}

// Multi runs ops atomically (create, create2, createContainer, createTTL,
// delete, setData, check). It returns every op's result; when one failed
// the error is its code (the others carry jute.ErrRuntimeInconsistency,
// as ZooKeeper reports them). Paths in results are the client's view.
func (c *Client) Multi(ctx context.Context, ops ...jute.MultiOp) ([]jute.MultiResult, error) {
	req := jute.MultiRequest{Ops: make([]jute.MultiOp, 0, len(ops))}
	for _, op := range ops {
		rec, err := c.chrootOp(op)
		if err != nil {
			return nil, err
		}
		req.Ops = append(req.Ops, jute.MultiOp{Type: op.Type, Req: rec})
	}
	var resp jute.MultiResponse
	err := c.do(ctx, jute.OpMulti, &req, &resp, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range resp.Results {
		switch v := r.Resp.(type) {
		case *jute.CreateResponse:
			v.Path = c.stripChroot(v.Path)
		case *jute.Create2Response:
			v.Path = c.stripChroot(v.Path)
		}
	}
	for _, r := range resp.Results {
		if r.Type == jute.OpError && r.Err != jute.OK && r.Err != jute.ErrRuntimeInconsistency {
			return resp.Results, r.Err
		}
	}
	for _, r := range resp.Results {
		if r.Type == jute.OpError && r.Err != jute.OK {
			return resp.Results, r.Err
		}
	}
	return resp.Results, nil
}

// chrootOp copies a multi op's record with its path validated and
// prefixed.
func (c *Client) chrootOp(op jute.MultiOp) (jute.Record, error) {
	switch r := op.Req.(type) {
	case *jute.CreateRequest:
		sp, err := c.serverPath(r.Path, isSequential(r.Flags))
		if err != nil {
			return nil, err
		}
		cp := *r
		cp.Path = sp
		if len(cp.ACL) == 0 {
			cp.ACL = jute.WorldAnyone
		}
		return &cp, nil
	case *jute.CreateTTLRequest:
		sp, err := c.serverPath(r.Path, isSequential(r.Flags))
		if err != nil {
			return nil, err
		}
		cp := *r
		cp.Path = sp
		if len(cp.ACL) == 0 {
			cp.ACL = jute.WorldAnyone
		}
		return &cp, nil
	case *jute.DeleteRequest:
		sp, err := c.serverPath(r.Path, false)
		if err != nil {
			return nil, err
		}
		cp := *r
		cp.Path = sp
		return &cp, nil
	case *jute.SetDataRequest:
		sp, err := c.serverPath(r.Path, false)
		if err != nil {
			return nil, err
		}
		cp := *r
		cp.Path = sp
		return &cp, nil
	}
	return nil, fmt.Errorf("%w: op %v (%T) cannot be part of a multi", jute.ErrBadArguments, op.Type, op.Req)
}
