package kafkatools

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// openPty opens a pseudo-terminal pair with plain syscalls.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock)))
	require.Zero(t, errno)
	var n uint32
	_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n)))
	require.Zero(t, errno)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestConsoleProducerPromptOnTerminal: with a terminal on stdin the
// producer prints `>` before each line, as Kafka's LineMessageReader does.
func TestConsoleProducerPromptOnTerminal(t *testing.T) {
	bs := startKfake(t, 1, kfake.SeedTopics(1, "tty"))
	master, slave := openPty(t)
	p := startTool(t, slave, "console-producer", "--bootstrap-server", bs, "--topic", "tty")
	require.Eventually(t, func() bool { return p.out.String() == ">" }, 10*time.Second, 20*time.Millisecond)
	_, err := master.Write([]byte("typed\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return p.out.String() == ">>" }, 10*time.Second, 20*time.Millisecond)
	_, err = master.Write([]byte{4}) // Ctrl-D: end of input
	require.NoError(t, err)
	p.exited(t, 20*time.Second, "producer did not stop at end of input")
	r := runTool(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "tty", "--from-beginning", "--max-messages", "1", "--timeout-ms", "5000")
	require.Equal(t, "typed\n", r.out, r.err)
}
