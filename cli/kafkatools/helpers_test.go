package kafkatools

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	ucli "github.com/urfave/cli/v2"

	"kzoo/cli/internal/clitest"
)

// startKfake runs franz-go's in-memory cluster on loopback ports and returns
// its bootstrap list.
func startKfake(t *testing.T, brokers int, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(brokers)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// syncBuffer is safe to read while a tool writes to it.
type syncBuffer = clitest.SyncBuffer

// result is what one tool run printed and returned.
type result struct {
	out, err string
	code     int
}

// runTool runs `kzoo <args…>` through the urfave app, with stdin.
func runTool(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	code := runToolCtx(context.Background(), t, strings.NewReader(stdin), &out, &errb, args...)
	return result{out: out.String(), err: errb.String(), code: code}
}

func runToolCtx(ctx context.Context, t *testing.T, stdin interface{ Read([]byte) (int, error) }, out, errw *syncBuffer, args ...string) int {
	t.Helper()
	app := &ucli.App{
		Name:           "kzoo",
		Commands:       Commands(),
		Reader:         stdin,
		Writer:         out,
		ErrWriter:      errw,
		ExitErrHandler: func(*ucli.Context, error) {},
	}
	err := app.RunContext(ctx, append([]string{"kzoo"}, args...))
	if err == nil {
		return 0
	}
	var ec ucli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	t.Fatalf("kzoo %v: unexpected error %v", args, err)
	return -1
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// produce writes records straight through kgo.
func produce(t *testing.T, bootstrap string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

// writeProps writes a properties file into the test's temp dir.
func writeProps(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.properties")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}
