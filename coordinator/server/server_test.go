package server

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/config"
)

func TestServerBasicOps(t *testing.T) {
	s := startServer(t, testConfig(t))
	c, _ := dialZK(t, s, 2*time.Second)
	acl := zk.WorldACL(zk.PermAll)

	p, err := c.Create("/a", []byte("one"), 0, acl)
	require.NoError(t, err)
	require.Equal(t, "/a", p)
	_, err = c.Create("/a", nil, 0, acl)
	require.ErrorIs(t, err, zk.ErrNodeExists)

	data, st, err := c.Get("/a")
	require.NoError(t, err)
	require.Equal(t, []byte("one"), data)
	require.EqualValues(t, 0, st.Version)
	require.EqualValues(t, 3, st.DataLength)
	require.Equal(t, st.Czxid, st.Mzxid)

	st2, err := c.Set("/a", []byte("two"), 0)
	require.NoError(t, err)
	require.EqualValues(t, 1, st2.Version)
	_, err = c.Set("/a", []byte("x"), 0)
	require.ErrorIs(t, err, zk.ErrBadVersion)

	// Without data a znode reads back as null.
	_, err = c.Create("/a/empty", nil, 0, acl)
	require.NoError(t, err)
	data, _, err = c.Get("/a/empty")
	require.NoError(t, err)
	require.Nil(t, data)

	for i := 0; i < 3; i++ {
		p, err := c.Create("/a/seq-", nil, zk.FlagSequence, acl)
		require.NoError(t, err)
		require.Regexp(t, `^/a/seq-\d{10}$`, p)
	}
	kids, st, err := c.Children("/a")
	require.NoError(t, err)
	require.Len(t, kids, 4)
	require.EqualValues(t, 4, st.NumChildren)

	ok, _, err := c.Exists("/nope")
	require.NoError(t, err)
	require.False(t, ok)

	_, err = c.Sync("/a")
	require.NoError(t, err)

	require.ErrorIs(t, c.Delete("/a", -1), zk.ErrNotEmpty)
	require.NoError(t, c.Delete("/a/empty", -1))
	_, _, err = c.Get("/a/empty")
	require.ErrorIs(t, err, zk.ErrNoNode)

	acls, _, err := c.GetACL("/a")
	require.NoError(t, err)
	require.Equal(t, acl, acls)
}

func TestServerLogLineFormat(t *testing.T) {
	var b strings.Builder
	l := slog.New(newZKHandler(&b, 3))
	l.Warn("Too many connections from /127.0.0.1 - max is 2")
	require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[myid:3\] - WARN  \[coordinator/server\] - Too many connections from /127\.0\.0\.1 - max is 2\n$`, b.String())
}

func TestServerNewChecksConfig(t *testing.T) {
	_, err := New(Options{})
	require.ErrorIs(t, err, ErrNoConfig)
	cfg := testConfig(t)
	cfg.Servers = []config.Server{{ID: 1, Host: "a"}, {ID: 2, Host: "b"}, {ID: 3, Host: "c"}}
	_, err = New(Options{Config: cfg})
	require.ErrorIs(t, err, ErrEnsemble)

	// Closed before Start: Start refuses.
	s, err := New(Options{Config: testConfig(t)})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Start(), ErrClosed)
}
