// Package clitest is what the command-line tools' tests share: running a
// kzoo subcommand in-process with captured output, and an in-process kzoo
// coordinator with brokers to run it against. Only tests import it.
package clitest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	ucli "github.com/urfave/cli/v2"

	"kzoo/broker/config"
	"kzoo/broker/server"
	zkconfig "kzoo/coordinator/config"
	zkserver "kzoo/coordinator/server"
)

// SyncBuffer is a buffer the tools' goroutines may write to at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Result is what one run printed and its exit code.
type Result struct {
	Out, Err string
	Code     int
}

// Run runs `kzoo <args…>` with cmds, stdin and captured output; a failing
// command's exit message is appended to Err as the binary would print it.
func Run(t *testing.T, cmds []*ucli.Command, stdin string, args ...string) Result {
	t.Helper()
	var out, errb SyncBuffer
	app := &ucli.App{
		Name:           "kzoo",
		Commands:       cmds,
		Reader:         strings.NewReader(stdin),
		Writer:         &out,
		ErrWriter:      &errb,
		ExitErrHandler: func(*ucli.Context, error) {},
	}
	code := 0
	if err := app.Run(append([]string{"kzoo"}, args...)); err != nil {
		ec, ok := err.(ucli.ExitCoder)
		require.True(t, ok, "kzoo %v: %v", args, err)
		code = ec.ExitCode()
		if code != 0 && err.Error() != "" {
			fmt.Fprintln(&errb, err)
		}
	}
	return Result{Out: out.String(), Err: errb.String(), Code: code}
}

// StartCluster runs one kzoo coordinator and n brokers in this process on
// loopback ports from :0, each broker with extraProps appended to its
// server.properties, and returns the bootstrap list and the brokers.
func StartCluster(t *testing.T, n int, extraProps string) (string, []*server.Server) {
	t.Helper()
	text := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=2181\nclientPortAddress=127.0.0.1\n", t.TempDir())
	zcfg, err := zkconfig.Parse("zoo.cfg", []byte(text), nil)
	require.NoError(t, err)
	zcfg.ClientPort = 0
	zk, err := zkserver.New(zkserver.Options{Config: zcfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	require.NoError(t, zk.Start())
	t.Cleanup(func() { zk.Close() })

	var addrs []string
	var brokers []*server.Server
	for i := range n {
		props := fmt.Sprintf("broker.id=%d\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s\nzookeeper.connect=%s/kafka\nzookeeper.session.timeout.ms=6000\n%s",
			i, filepath.Join(t.TempDir(), fmt.Sprintf("broker-%d", i)), zk.Addr().String(), extraProps)
		cfg, err := config.Parse(fmt.Sprintf("server-%d.properties", i), []byte(props), nil)
		require.NoError(t, err)
		b := server.New(cfg, server.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		require.NoError(t, b.Start(ctx))
		cancel()
		t.Cleanup(func() { b.Stop() })
		addrs = append(addrs, b.Addr("PLAINTEXT").String())
		brokers = append(brokers, b)
	}
	return strings.Join(addrs, ","), brokers
}
