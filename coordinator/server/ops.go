package server

// Reads and session-local requests: the dispatch, ping, whoAmI, reconfig
// and auth here; the other reads in op_<name>.go.
//
// Behavior: each read runs under the tree's read lock (or inside the applier)
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
		switch {
		case it.op == jute.OpAuth:
			zxid = 0
		case it.code == jute.ErrUnimplemented:
			zxid = -1 // UnimplementedRequestProcessor answers with the request's zxid, -1
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
	c.execAuth = it.auth
	code, rec := s.runRead(c, it.op, body)
	c.execAuth = nil
	c.appendReply(it.xid, zxid, code, rec)
	c.noteReply(it, zxid)
}

// runRead does the work of one read. Lock should be held (c.mu, treeMu).
func (s *Server) runRead(c *conn, op jute.Op, body []byte) (jute.Code, jute.Record) {
	switch op {
	case jute.OpPing:
		return jute.OK, nil
	case jute.OpExists:
		return s.opExists(c, op, body)
	case jute.OpGetData:
		return s.opGetData(c, op, body)
	case jute.OpGetChildren, jute.OpGetChildren2:
		return s.opGetChildren(c, op, body)
	case jute.OpGetACL:
		return s.opGetACL(c, op, body)
	case jute.OpGetAllChildrenNumber:
		return s.opGetAllChildrenNumber(c, op, body)
	case jute.OpGetEphemerals:
		return s.opGetEphemerals(c, op, body)
	case jute.OpWhoAmI:
		return jute.OK, &jute.WhoAmIResponse{ClientInfo: clientInfos(c.authIDs())}
	case jute.OpMultiRead:
		return s.opMultiRead(c, op, body)
	case jute.OpSetWatches, jute.OpSetWatches2:
		return s.opSetWatches(c, op, body)
	case jute.OpAddWatch:
		return s.opAddWatch(c, op, body)
	case jute.OpRemoveWatches, jute.OpCheckWatches:
		return s.opRemoveWatches(c, op, body)
	case jute.OpReconfig:
		s.log.Error("Reconfig operation requested but reconfig feature is disabled.")
		return jute.ErrReconfigDisabled, nil
	}
	return jute.ErrUnimplemented, nil
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
