package ztest

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/config"
	"kzoo/coordinator/server"
)

// init makes kzoo's own coordinator the default server; set
// KZOO_TEST_SERVER=apache to test against Apache ZooKeeper instead.
func init() {
	starter = startKzoo
}

// startKzoo runs kzoo's standalone coordinator in process on 127.0.0.1:0
// with a temporary dataDir, TTL nodes enabled and tickTime 2000 (as the
// Apache server started here), closed when the test ends.
func startKzoo(t testing.TB) (string, bool) {
	t.Helper()
	if os.Getenv("KZOO_TEST_SERVER") == "apache" {
		return "", false
	}
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=2181\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nmaxSessionTimeout=60000\n", t.TempDir())
	cfg, err := config.Parse("zoo.cfg", []byte(text), map[string]string{"zookeeper.extendedTypesEnabled": "true"})
	require.NoError(t, err)
	cfg.ClientPort = 0
	var logOut io.Writer = io.Discard
	if os.Getenv("KZOO_TEST_SERVER_LOG") != "" {
		logOut = os.Stderr
	}
	s, err := server.New(server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logOut, nil))})
	require.NoError(t, err)
	require.NoError(t, s.Start(), "start kzoo coordinator")
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr().String(), true
}
