package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"

	"kzoo/coordinator/jute"
)

// DigestID is DigestAuthenticationProvider.generateDigest:
// "user:" + base64(sha1("user:password")). It is the id a digest ACL names
// and the identity an authenticated digest session carries.
func DigestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Identity schemes this tree understands.
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
	SchemeSuper  = "super"
)

// isSuper reports whether the identities include {"super", ...}, which
// bypasses every ACL check as ZooKeeperServer.checkACL does.
func isSuper(auth []jute.ID) bool {
	for _, id := range auth {
		if id.Scheme == SchemeSuper {
			return true
		}
	}
	return false
}

// checkACL is ZooKeeperServer.checkACL: OK when acl is empty, the caller
// is super, or some entry granting perm matches one of the identities.
func checkACL(acl []jute.ACL, perm int32, auth []jute.ID) jute.Code {
	if len(acl) == 0 || isSuper(auth) {
		return jute.OK
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == SchemeWorld && a.ID.ID == "anyone" {
			return jute.OK
		}
		for _, id := range auth {
			if id.Scheme != a.ID.Scheme {
				continue
			}
			switch a.ID.Scheme {
			case SchemeDigest:
				if id.ID == a.ID.ID {
					return jute.OK
				}
			case SchemeIP:
				if ipMatches(id.ID, a.ID.ID) {
					return jute.OK
				}
			}
		}
	}
	return jute.ErrNoAuth
}

// fixupACL is PrepRequestProcessor.fixupACL: duplicates dropped, an empty
// list, an unknown scheme, a world id other than "anyone" or a malformed
// digest or ip id is InvalidACL; "auth" expands to the session's
// authenticated identities (digest; ip is not an authenticating scheme) and
// is InvalidACL when there are none. The result is a fresh slice.
func fixupACL(acls []jute.ACL, auth []jute.ID) ([]jute.ACL, jute.Code) {
	var uniq []jute.ACL
	for _, a := range acls {
		dup := false
		for _, u := range uniq {
			if u == a {
				dup = true
				break
			}
		}
		if !dup {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, jute.ErrInvalidACL
	}
	out := make([]jute.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.ID.Scheme == SchemeWorld && a.ID.ID == "anyone":
			out = append(out, a)
		case a.ID.Scheme == SchemeAuth:
			valid := false
			for _, id := range auth {
				if id.Scheme == SchemeDigest {
					valid = true
					out = append(out, jute.ACL{Perms: a.Perms, ID: id})
				}
			}
			if !valid {
				return nil, jute.ErrInvalidACL
			}
		case a.ID.Scheme == SchemeDigest:
			if !digestValid(a.ID.ID) {
				return nil, jute.ErrInvalidACL
			}
			out = append(out, a)
		case a.ID.Scheme == SchemeIP:
			if !ipValid(a.ID.ID) {
				return nil, jute.ErrInvalidACL
			}
			out = append(out, a)
		default:
			return nil, jute.ErrInvalidACL
		}
	}
	if len(out) == 1 && out[0] == openACL[0] {
		return openACL, jute.OK // shared: ACL slices are replaced, never edited
	}
	return out, jute.OK
}

// javaSplit is Java's String.split with a literal separator and no limit:
// trailing empty strings are removed.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// digestValid is DigestAuthenticationProvider.isValid: "user:hash".
func digestValid(id string) bool { return len(javaSplit(id, ":")) == 2 }

// javaParseInt is Integer.parseInt in base 10: an optional sign, at least
// one digit, nothing else, within int32.
func javaParseInt(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
		if v > 1<<31 {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	if v > 1<<31-1 || v < -(1<<31) {
		return 0, false
	}
	return v, true
}

// ipv4Bytes is IPAuthenticationProvider.v4addr2Bytes (IPv6 is not
// supported by ZooKeeper 3.8's ip scheme either).
func ipv4Bytes(addr string) ([4]byte, bool) {
	var b [4]byte
	parts := strings.Split(addr, ".")
	if len(parts) != 4 {
		return b, false
	}
	for i, p := range parts {
		v, ok := javaParseInt(p)
		if !ok || v < 0 || v > 255 {
			return b, false
		}
		b[i] = byte(v)
	}
	return b, true
}

// ipExpr parses "a.b.c.d[/bits]".
func ipExpr(expr string) ([4]byte, int, bool) {
	addr, bitsStr, hasBits := strings.Cut(expr, "/")
	b, ok := ipv4Bytes(addr)
	if !ok {
		return b, 0, false
	}
	bits := 32
	if hasBits {
		v, ok := javaParseInt(bitsStr)
		if !ok || v < 0 || v > 32 {
			return b, 0, false
		}
		bits = v
	}
	return b, bits, true
}

func ipValid(expr string) bool {
	_, _, ok := ipExpr(expr)
	return ok
}

func maskIP(b [4]byte, bits int) [4]byte {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits <= 0:
			b[i] = 0
		default:
			b[i] &= ^byte(0xff >> bits)
			bits = 0
		}
	}
	return b
}

// ipMatches is IPAuthenticationProvider.matches: the client address id
// against the ACL expression with its CIDR mask.
func ipMatches(id, expr string) bool {
	acl, bits, ok := ipExpr(expr)
	if !ok {
		return false
	}
	remote, ok := ipv4Bytes(id)
	if !ok {
		return false
	}
	return maskIP(acl, bits) == maskIP(remote, bits)
}

// maskDigests is getACL's answer to a reader without ADMIN: digest ids
// show only the user ("user:x").
func maskDigests(acl []jute.ACL) []jute.ACL {
	out := make([]jute.ACL, len(acl))
	for i, a := range acl {
		if a.ID.Scheme == SchemeDigest {
			user, _, found := strings.Cut(a.ID.ID, ":")
			if found {
				a.ID.ID = user + ":x"
			}
		}
		out[i] = a
	}
	return out
}
