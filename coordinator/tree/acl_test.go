package tree

import (
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestTreeDigestID(t *testing.T) {
	// the digest zkCli users paste for super:admin
	require.Equal(t, "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=", DigestID("super", "admin"))
}

func TestTreeACLMatrix(t *testing.T) {
	bob := DigestID("bob", "pw")
	perms := []struct {
		name string
		perm int32
	}{{"read", jute.PermRead}, {"write", jute.PermWrite}, {"create", jute.PermCreate}, {"delete", jute.PermDelete}, {"admin", jute.PermAdmin}}
	identities := []struct {
		name string
		auth []jute.ID
	}{
		{"anonymous", nil},
		{"bob", []jute.ID{{Scheme: "digest", ID: bob}}},
		{"eve", digestAuth("eve", "pw")},
		{"bob wrong password", digestAuth("bob", "nope")},
		{"lan", []jute.ID{{Scheme: "ip", ID: "192.168.7.9"}}},
		{"wan", []jute.ID{{Scheme: "ip", ID: "8.8.8.8"}}},
		{"super", []jute.ID{{Scheme: "super"}}},
	}
	acls := []struct {
		name    string
		acl     []jute.ACL
		allow   map[string]bool
		creator []jute.ID
	}{
		{"auth by bob", []jute.ACL{acl(0, "auth", "")}, map[string]bool{"bob": true, "super": true}, []jute.ID{{Scheme: "digest", ID: bob}, {Scheme: "ip", ID: "192.168.7.9"}}},
		{"world", []jute.ACL{acl(0, "world", "anyone")}, map[string]bool{"anonymous": true, "bob": true, "eve": true, "bob wrong password": true, "lan": true, "wan": true, "super": true}, nil},
		{"digest bob", []jute.ACL{acl(0, "digest", bob)}, map[string]bool{"bob": true, "super": true}, nil},
		{"ip cidr", []jute.ACL{acl(0, "ip", "192.168.0.0/16")}, map[string]bool{"lan": true, "super": true}, nil},
		{"ip exact", []jute.ACL{acl(0, "ip", "8.8.8.8")}, map[string]bool{"wan": true, "super": true}, nil},
		{"ip /0", []jute.ACL{acl(0, "ip", "1.2.3.4/0")}, map[string]bool{"lan": true, "wan": true, "super": true}, nil},
	}
	for _, a := range acls {
		for _, p := range perms {
			for _, id := range identities {
				t.Run(a.name+"/"+p.name+"/"+id.name, func(t *testing.T) {
					h := newHarness(t, Options{})
					h.openSession(1, 30000)
					nodeACL := append([]jute.ACL(nil), a.acl...)
					nodeACL[0].Perms = p.perm
					// a second entry granting everything else to nobody who exists
					nodeACL = append(nodeACL, acl(jute.PermAll&^p.perm, "digest", "nobody:x"))
					require.Equal(t, jute.OK, h.create(1, a.creator, "/n", []byte("d"), nodeACL, 0).Err)
					require.Equal(t, jute.OK, h.create(1, []jute.ID{{Scheme: "super"}}, "/n/kid", nil, jute.WorldAnyone, 0).Err)
					want := jute.ErrNoAuth
					if a.allow[id.name] {
						want = jute.OK
					}
					var got jute.Code
					switch p.perm {
					case jute.PermRead:
						_, _, got = h.tr.GetData("/n", id.auth)
						_, _, c2 := h.tr.Children("/n", id.auth)
						require.Equal(t, got, c2)
						_, c3 := h.tr.AllChildrenNumber("/n", id.auth)
						require.Equal(t, got, c3)
						_, c4 := h.tr.ExistsAuth("/n", id.auth)
						require.Equal(t, got, c4)
						_, c5 := h.tr.Exists("/n")
						require.Equal(t, jute.OK, c5, "plain exists checks no permission")
						c6 := h.apply(1, jute.OpCheck, id.auth, &jute.CheckVersionRequest{Path: "/n", Version: -1}).Err
						require.Equal(t, got, c6)
					case jute.PermWrite:
						got = h.set(1, id.auth, "/n", []byte("x"), -1).Err
					case jute.PermCreate:
						got = h.create(1, id.auth, "/n/new", nil, jute.WorldAnyone, 0).Err
					case jute.PermDelete:
						got = h.del(1, id.auth, "/n/kid", -1).Err
					case jute.PermAdmin:
						got = h.apply(1, jute.OpSetACL, id.auth, &jute.SetACLRequest{Path: "/n", ACL: jute.WorldAnyone, Version: -1}).Err
					}
					require.Equal(t, want, got)
				})
			}
		}
	}
}

func TestTreeGetACLNeedsReadOrAdmin(t *testing.T) {
	h := newHarness(t, Options{})
	h.openSession(1, 30000)
	bob := DigestID("bob", "pw")
	full := []jute.ACL{acl(jute.PermRead, "world", "anyone"), acl(jute.PermAdmin, "digest", bob)}
	require.Equal(t, jute.OK, h.create(1, nil, "/r", nil, full, 0).Err)

	got, _, code := h.tr.GetACL("/r", digestAuth("bob", "pw"))
	require.Equal(t, jute.OK, code)
	require.Equal(t, full, got, "ADMIN sees digests")

	got, _, code = h.tr.GetACL("/r", nil)
	require.Equal(t, jute.OK, code)
	require.Equal(t, []jute.ACL{acl(jute.PermRead, "world", "anyone"), acl(jute.PermAdmin, "digest", "bob:x")}, got, "READ alone sees masked digests")

	adminOnly := []jute.ACL{acl(jute.PermAdmin, "ip", "10.0.0.0/8")}
	require.Equal(t, jute.OK, h.create(1, nil, "/a", nil, adminOnly, 0).Err)
	_, _, code = h.tr.GetACL("/a", []jute.ID{{Scheme: "ip", ID: "10.9.9.9"}})
	require.Equal(t, jute.OK, code)
	_, _, code = h.tr.GetACL("/a", []jute.ID{{Scheme: "ip", ID: "11.9.9.9"}})
	require.Equal(t, jute.ErrNoAuth, code)
	_, _, code = h.tr.GetACL("/missing", nil)
	require.Equal(t, jute.ErrNoNode, code)
}

func TestTreeIPExpressions(t *testing.T) {
	for _, tc := range []struct {
		id, expr string
		valid    bool
		match    bool
	}{
		{"127.0.0.1", "127.0.0.1", true, true},
		{"127.0.0.2", "127.0.0.1", true, false},
		{"10.1.2.3", "10.0.0.0/8", true, true},
		{"11.1.2.3", "10.0.0.0/8", true, false},
		{"10.1.2.3", "10.1.2.0/25", true, true},
		{"10.1.2.200", "10.1.2.0/25", true, false},
		{"10.1.2.3", "10.1.2.7/29", true, true},
		{"10.1.2.3", "+10.1.2.3", true, true},
		{"10.1.2.3", "10.1.2", false, false},
		{"10.1.2.3", "10.1.2.256", false, false},
		{"10.1.2.3", "10.1.2.3/", false, false},
		{"10.1.2.3", "10.1.2.3/-1", false, false},
		{"10.1.2.3", "::1", false, false},
		{"bogus", "10.1.2.3/0", true, false},
	} {
		require.Equal(t, tc.valid, ipValid(tc.expr), "valid %q", tc.expr)
		require.Equal(t, tc.match, ipMatches(tc.id, tc.expr), "%q matches %q", tc.id, tc.expr)
	}
	for _, tc := range []struct {
		id    string
		valid bool
	}{{"u:h", true}, {":h", true}, {"u:h:", true}, {"u:", false}, {"u", false}, {"", false}, {"a:b:c", false}} {
		require.Equal(t, tc.valid, digestValid(tc.id), "digest %q", tc.id)
	}
}

func TestTreeOptionsIsSuperDigest(t *testing.T) {
	opts := Options{SuperDigest: DigestID("super", "admin")}
	require.True(t, opts.IsSuperDigest(DigestID("super", "admin")))
	require.False(t, opts.IsSuperDigest(DigestID("super", "wrong")))
	require.False(t, Options{}.IsSuperDigest(""), "no super digest configured matches nobody")
}
