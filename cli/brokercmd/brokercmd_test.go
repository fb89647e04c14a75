package brokercmd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	ucli "github.com/urfave/cli/v2"
)

func TestBrokerCmdParseStart(t *testing.T) {
	a, err := parseStart([]string{"-daemon", "config/server.properties", "--override", "broker.id=2", "--override=log.dirs=/x"})
	require.NoError(t, err)
	require.True(t, a.daemon)
	require.Equal(t, "config/server.properties", a.path)
	require.Equal(t, []string{"broker.id=2", "log.dirs=/x"}, a.overrides)

	for _, bad := range [][]string{{}, {"a", "b"}, {"a", "--override"}, {"a", "--override", "nokv"}, {"--bogus", "a"}} {
		_, err := parseStart(bad)
		require.Error(t, err, bad)
	}
}

func TestBrokerCmdBadConfigExits1(t *testing.T) {
	p := filepath.Join(t.TempDir(), "server.properties")
	require.NoError(t, os.WriteFile(p, []byte("broker.id=0\nzookeeper.connect=z:1\nnum.partitions=x\n"), 0o644))
	logs := t.TempDir()
	t.Setenv("LOG_DIR", logs)
	var out bytes.Buffer
	err := start([]string{p}, &out, &out)
	var ec ucli.ExitCoder
	require.ErrorAs(t, err, &ec)
	require.Equal(t, 1, ec.ExitCode())
	require.Contains(t, err.Error(), p+":3: num.partitions: \"x\" is not an integer")
	ents, _ := os.ReadDir(logs)
	require.Empty(t, ents, "nothing may be written before the config is valid")
}

func TestBrokerCmdStopWithoutBrokers(t *testing.T) {
	t.Setenv("LOG_DIR", t.TempDir())
	var out bytes.Buffer
	err := stop(&out)
	var ec ucli.ExitCoder
	require.ErrorAs(t, err, &ec)
	require.Contains(t, err.Error(), "No kafka server to stop")
}
