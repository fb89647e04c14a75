package server

// Reads and session-local requests: ping, exists, getData, getChildren(2),
// getACL, getAllChildrenNumber, getEphemerals, whoAmI, multiRead,
// setWatches(2), addWatch, removeWatches, checkWatches, reconfig, auth.
//
// Behavior: each runs under the tree's read lock (or inside the applier)
// with the connection's lock held, answers with the tree's last applied
// zxid in the reply header, and registers watches in the same critical
// section, so a change applied later always finds the watch. A request
// record that does not decode is answered MarshallingError, as ZooKeeper's
// FinalRequestProcessor does.

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strings"

	"kzoo/coordinator/jute"
)

// execRead answers it on c. Lock should be held (c.mu and treeMu).
func (s *Server) execRead(c *conn, it *item, body []byte) {
	zxid := s.tree.LastZxid()
	if it.canned {
		if it.op == jute.OpAuth {
			zxid = 0
		}
		c.appendReply(it.xid, zxid, it.code, nil)
		if it.close {
			c.closeAfterFlushLocked()
		}
		if it.op != jute.OpAuth {
			c.noteReply(it, zxid)
		}
		return
	}
	code, rec := s.runRead(c, it.op, body)
	c.appendReply(it.xid, zxid, code, rec)
	c.noteReply(it, zxid)
}

// runRead does the work of one read. Lock should be held (c.mu, treeMu).
func (s *Server) runRead(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	t := s.tree
	auth := c.authIDs()
	switch op {
	case jute.OpPing:
		return jute.OK, nil
	case jute.OpExists:
		var req jute.PathWatchRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		st, code := t.ExistsAuth(req.Path, auth)
		if req.Watch && (code == jute.OK || code == jute.ErrNoNode) {
			s.watches.addData(req.Path, c)
		}
		return code, &jute.StatResponse{Stat: st}
	case jute.OpGetData:
		var req jute.PathWatchRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		data, st, code := t.GetData(req.Path, auth)
		if code == jute.OK && req.Watch {
			s.watches.addData(req.Path, c)
		}
		return code, &jute.GetDataResponse{Data: data, Stat: st}
	case jute.OpGetChildren, jute.OpGetChildren2:
		var req jute.PathWatchRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		kids, st, code := t.Children(req.Path, auth)
		if code == jute.OK && req.Watch {
			s.watches.addChild(req.Path, c)
		}
		if op == jute.OpGetChildren {
			return code, &jute.GetChildrenResponse{Children: kids}
		}
		return code, &jute.GetChildren2Response{Children: kids, Stat: st}
	case jute.OpGetACL:
		var req jute.PathRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		acl, st, code := t.GetACL(req.Path, auth)
		return code, &jute.GetACLResponse{ACL: acl, Stat: st}
	case jute.OpGetAllChildrenNumber:
		var req jute.PathRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		n, code := t.AllChildrenNumber(req.Path, auth)
		return code, &jute.GetAllChildrenNumberResponse{TotalNumber: n}
	case jute.OpGetEphemerals:
		var req jute.PathRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		return jute.OK, &jute.GetEphemeralsResponse{Ephemerals: t.Ephemerals(c.session(), req.Path)}
	case jute.OpWhoAmI:
		return jute.OK, &jute.WhoAmIResponse{ClientInfo: clientInfos(auth)}
	case jute.OpMultiRead:
		var req jute.MultiRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		resp := t.MultiRead(&req, auth)
		for i, op := range req.Ops {
			pw, ok := op.Req.(*jute.PathWatchRequest)
			if !ok || !pw.Watch || i >= len(resp.Results) || resp.Results[i].Type == jute.OpError {
				continue
			}
			if op.Type == jute.OpGetChildren {
				s.watches.addChild(pw.Path, c)
			} else {
				s.watches.addData(pw.Path, c)
			}
		}
		return jute.OK, resp
	case jute.OpSetWatches, jute.OpSetWatches2:
		req := jute.SetWatches{Two: op == jute.OpSetWatches2}
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		s.setWatches(c, &req)
		return jute.OK, nil
	case jute.OpAddWatch:
		var req jute.AddWatchRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		if code := t.CheckPath(req.Path); code != jute.OK {
			return code, nil
		}
		switch req.Mode {
		case jute.AddWatchPersistent:
			s.watches.addPersistent(req.Path, c, false)
		case jute.AddWatchPersistentRecursive:
			s.watches.addPersistent(req.Path, c, true)
		default:
			return jute.ErrMarshallingError, nil
		}
		return jute.OK, nil
	case jute.OpRemoveWatches, jute.OpCheckWatches:
		var req jute.WatchTypeRequest
		if jute.Unmarshal(body, &req).Err != nil {
			return jute.ErrMarshallingError, nil
		}
		if !s.watches.remove(req.Path, c, req.Type, op == jute.OpCheckWatches) {
			return jute.ErrNoWatcher, nil
		}
		return jute.OK, nil
	case jute.OpReconfig:
		s.log.Error("Reconfig operation requested but reconfig feature is disabled.")
		return jute.ErrReconfigDisabled, nil
	}
	return jute.ErrUnimplemented, nil
}

// setWatches re-arms a reconnecting client's watches, firing at once those
// whose change it missed since relativeZxid, exactly as DataTree.setWatches
// does. Lock should be held (c.mu, treeMu).
func (s *Server) setWatches(c *conn, req *jute.SetWatches) {
	t := s.tree
	rel := req.RelativeZxid
	for _, p := range req.DataWatches {
		st, code := t.Exists(p)
		switch {
		case code != jute.OK:
			c.appendNotify(jute.EventNodeDeleted, p)
		case st.Mzxid > rel:
			c.appendNotify(jute.EventNodeDataChanged, p)
		default:
			s.watches.addData(p, c)
		}
	}
	for _, p := range req.ExistWatches {
		if _, code := t.Exists(p); code == jute.OK {
			c.appendNotify(jute.EventNodeCreated, p)
		} else {
			s.watches.addData(p, c)
		}
	}
	for _, p := range req.ChildWatches {
		st, code := t.Exists(p)
		switch {
		case code != jute.OK:
			c.appendNotify(jute.EventNodeDeleted, p)
		case st.Pzxid > rel:
			c.appendNotify(jute.EventNodeChildrenChanged, p)
		default:
			s.watches.addChild(p, c)
		}
	}
	for _, p := range req.PersistentWatches {
		s.watches.addPersistent(p, c, false)
	}
	for _, p := range req.PersistentRecursiveWatches {
		s.watches.addPersistent(p, c, true)
	}
}

// authenticate handles an auth packet on arrival (ZooKeeper does not
// queue them either): it returns the reply code and whether the
// connection must close (an unknown scheme or a bad packet).
func (c *conn) authenticate(body []byte) (jute.Code, bool) {
	var p jute.AuthPacket
	if jute.Unmarshal(body, &p).Err != nil {
		c.malformed("auth packet", fmt.Errorf("does not decode"))
		return jute.ErrAuthFailed, true
	}
	ids := c.authIDs()
	next := append(ids[:len(ids):len(ids)], jute.ID{})[:len(ids)]
	switch p.Scheme {
	case "digest":
		id := digestOf(string(p.Auth))
		if sd := c.s.cfg.SuperDigest; sd != "" && id == sd {
			next = append(next, jute.ID{Scheme: "super", ID: ""})
		}
		next = append(next, jute.ID{Scheme: "digest", ID: id})
	case "ip":
		next = append(next, jute.ID{Scheme: "ip", ID: c.ip})
	default:
		c.s.log.Warn(fmt.Sprintf("Authentication failed for scheme: %s", p.Scheme))
		c.s.stats.authFailed.Add(1)
		return jute.ErrAuthFailed, true
	}
	c.setAuthIDs(next)
	return jute.OK, false
}

// digestOf is DigestAuthenticationProvider.generateDigest: "user:" plus
// the base64 SHA-1 of the whole "user:password".
func digestOf(idPassword string) string {
	user, _, _ := strings.Cut(idPassword, ":")
	sum := sha1.Sum([]byte(idPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// clientInfos is whoAmI's answer: each identity's scheme and user name.
func clientInfos(ids []jute.ID) []jute.ClientInfo {
	out := make([]jute.ClientInfo, 0, len(ids))
	for _, id := range ids {
		user := id.ID
		if id.Scheme == "digest" {
			user, _, _ = strings.Cut(id.ID, ":")
		}
		out = append(out, jute.ClientInfo{AuthScheme: id.Scheme, User: user})
	}
	return out
}

// lastOpName is the short name cons prints as lop (FinalRequestProcessor's).
func lastOpName(op jute.Op) string {
	switch op {
	case jute.OpPing:
		return "PING"
	case jute.OpCreateSession:
		return "SESS"
	case jute.OpMulti:
		return "MULT"
	case jute.OpMultiRead:
		return "MLTR"
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		return "CREA"
	case jute.OpDelete, jute.OpDeleteContainer:
		return "DELE"
	case jute.OpSetData:
		return "SETD"
	case jute.OpReconfig:
		return "RECO"
	case jute.OpSetACL:
		return "SETA"
	case jute.OpCloseSession:
		return "CLOS"
	case jute.OpSync:
		return "SYNC"
	case jute.OpCheck:
		return "CHEC"
	case jute.OpExists:
		return "EXIS"
	case jute.OpGetData:
		return "GETD"
	case jute.OpSetWatches:
		return "SETW"
	case jute.OpSetWatches2:
		return "STW2"
	case jute.OpAddWatch:
		return "ADDW"
	case jute.OpGetACL:
		return "GETA"
	case jute.OpGetChildren, jute.OpGetChildren2:
		return "GETC"
	case jute.OpGetAllChildrenNumber:
		return "GETACN"
	case jute.OpCheckWatches:
		return "CHKW"
	case jute.OpRemoveWatches:
		return "REMW"
	case jute.OpWhoAmI:
		return "HOMI"
	case jute.OpGetEphemerals:
		return "GETE"
	}
	return "NA"
}
