package storagetool

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kzoo/broker/meta"
)

func TestStorageRandomUUID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		u := RandomUUID()
		require.Len(t, u, 22)
		require.False(t, strings.HasPrefix(u, "-"))
		b, err := base64.RawURLEncoding.DecodeString(u)
		require.NoError(t, err)
		require.Len(t, b, 16)
		require.NoError(t, ParseUUID(u))
		require.False(t, seen[u])
		seen[u] = true
	}
	require.Error(t, ParseUUID("not-a-uuid"))
}

func writeCfg(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestStorageFormatAndInfo(t *testing.T) {
	d1, d2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	cfg := writeCfg(t, "process.roles=broker,controller\nnode.id=3\ncontroller.quorum.voters=3@localhost:9093\n"+
		"listeners=PLAINTEXT://:9092,CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER\nlistener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\nlog.dirs="+d1+","+d2+"\n")
	id := RandomUUID()
	var out bytes.Buffer
	require.NoError(t, Format(&out, cfg, id, false, time.Unix(0, 0)))
	require.Equal(t, "Formatting "+d1+"\nFormatting "+d2+"\n", out.String())
	m, err := meta.Read(d1)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"node.id": "3", "version": "1", "cluster.id": id}, m)

	err = Format(&out, cfg, id, false, time.Now())
	require.ErrorContains(t, err, "Log directory "+d1+" is already formatted. Use --ignore-formatted")
	require.ErrorContains(t, Format(&out, cfg, id, true, time.Now()), "All of the log directories are already formatted.")

	out.Reset()
	require.NoError(t, Info(&out, cfg))
	require.Equal(t, "Found log directories:\n  "+d1+"\n  "+d2+"\n\nFound metadata: {cluster.id="+id+", node.id=3, version=1}\n\n", out.String())

	legacy := writeCfg(t, "broker.id=0\nlog.dirs="+d1+"\nzookeeper.connect=localhost:2181\n")
	require.ErrorIs(t, Format(&out, legacy, id, false, time.Now()), ErrLegacyConfig)
	require.ErrorContains(t, Format(&out, cfg, "bogus", true, time.Now()), "does not appear to be a valid UUID")
}

func TestStorageInfoProblems(t *testing.T) {
	d := filepath.Join(t.TempDir(), "missing")
	cfg := writeCfg(t, "broker.id=0\nlog.dirs="+d+"\nzookeeper.connect=localhost:2181\n")
	var out bytes.Buffer
	require.Error(t, Info(&out, cfg))
	require.Equal(t, "Found problem:\n  "+d+" does not exist\n\n", out.String())
}
