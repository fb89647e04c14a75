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

// TestConsoleConsumerSignals: SIGINT and SIGTERM end the consumer cleanly,
// with the count on stderr and exit status 0.
func TestConsoleConsumerSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			bs := startKfake(t, 1, kfake.SeedTopics(1, "sig"))
			var out, errb syncBuffer
			cmd := exec.Command(os.Args[0], "console-consumer", "--bootstrap-server", bs, "--topic", "sig")
			cmd.Env = append(os.Environ(), "KAFKATOOLS_MAIN=1")
			cmd.Stdout, cmd.Stderr = &out, &errb
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					<-done
				}
			})
			require.Eventually(t, func() bool {
				produce(t, bs, &kgo.Record{Topic: "sig", Value: []byte("hello")})
				return strings.Contains(out.String(), "hello\n")
			}, 20*time.Second, 300*time.Millisecond)
			require.NoError(t, cmd.Process.Signal(sig))
			select {
			case err := <-done:
				require.NoError(t, err, errb.String())
			case <-time.After(10 * time.Second):
				t.Fatal("consumer did not stop on " + sig.String())
			}
			require.Regexp(t, `^Processed a total of [1-9]\d* messages\n$`, errb.String())
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
	var out, errb syncBuffer
	cmd := exec.Command(os.Args[0], "console-producer", "--bootstrap-server", bs, "--topic", "ps", "--timeout", "60000")
	cmd.Env = append(os.Environ(), "KAFKATOOLS_MAIN=1")
	cmd.Stdout, cmd.Stderr = &out, &errb
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	_, err = stdin.Write([]byte("held1\nheld2\n"))
	require.NoError(t, err)
	pipe := stdin.(*os.File)
	require.Eventually(t, func() bool { return unreadBytes(t, pipe) == 0 }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, errb.String())
	case <-time.After(20 * time.Second):
		t.Fatal("producer did not stop on SIGTERM")
	}
	r := runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "ps", "--from-beginning", "--max-messages", "2", "--timeout-ms", "5000")
	require.Equal(t, "held1\nheld2\n", r.out, r.err)
}
