package kafkatools

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	ucli "github.com/urfave/cli/v2"
)

// TestMain lets a test run the tools as a real process: with
// KAFKATOOLS_MAIN=1 the test binary is `kzoo` itself.
func TestMain(m *testing.M) {
	if os.Getenv("KAFKATOOLS_MAIN") == "1" {
		app := &ucli.App{Name: "kzoo", Commands: Commands()}
		if err := app.Run(append([]string{"kzoo"}, os.Args[1:]...)); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// toolProcess is a tool running as its own process: the test binary with
// KAFKATOOLS_MAIN=1.
type toolProcess struct {
	cmd       *exec.Cmd
	done      chan error
	out, errb syncBuffer
}

// startTool starts `kzoo args...` with stdin (nil: none) and kills it at
// the end of the test if it is still running.
func startTool(t *testing.T, stdin *os.File, args ...string) *toolProcess {
	t.Helper()
	p := &toolProcess{done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), "KAFKATOOLS_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if stdin != nil {
		p.cmd.Stdin = stdin
	}
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exited waits up to limit for the tool to exit with status 0.
func (p *toolProcess) exited(t *testing.T, limit time.Duration, what string) {
	t.Helper()
	select {
	case err := <-p.done:
		require.NoError(t, err, p.errb.String())
	case <-time.After(limit):
		t.Fatal(what)
	}
}

// TestConsoleConsumerSignals: SIGINT and SIGTERM end the consumer cleanly,
// with the count on stderr and exit status 0.
func TestConsoleConsumerSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			bs := startKfake(t, 1, kfake.SeedTopics(1, "sig"))
			p := startTool(t, nil, "console-consumer", "--bootstrap-server", bs, "--topic", "sig")
			require.Eventually(t, func() bool {
				produce(t, bs, &kgo.Record{Topic: "sig", Value: []byte("hello")})
				return strings.Contains(p.out.String(), "hello\n")
			}, 20*time.Second, 300*time.Millisecond)
			require.NoError(t, p.cmd.Process.Signal(sig))
			p.exited(t, 10*time.Second, "consumer did not stop on "+sig.String())
			require.Regexp(t, `^Processed a total of [1-9]\d* messages\n$`, p.errb.String())
		})
	}
}

// unreadBytes is how many bytes wait in a pipe (FIONREAD works on either end).
func unreadBytes(t *testing.T, f *os.File) int {
	t.Helper()
	var n int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	require.Zero(t, errno)
	return int(n)
}

// TestConsoleProducerSignalFlushes: SIGTERM while records wait out a long
// linger still delivers them, and the producer exits 0.
func TestConsoleProducerSignalFlushes(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(1, "ps"))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close(); w.Close() })
	p := startTool(t, r, "console-producer", "--bootstrap-server", bs, "--topic", "ps", "--timeout", "60000")
	_, err = w.Write([]byte("held1\nheld2\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return unreadBytes(t, w) == 0 }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.exited(t, 20*time.Second, "producer did not stop on SIGTERM")
	rr := runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "ps", "--from-beginning", "--max-messages", "2", "--timeout-ms", "5000")
	require.Equal(t, "held1\nheld2\n", rr.out, rr.err)
}
