package proc

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProcState(t *testing.T) {
	require.Equal(t, byte('S'), state([]byte("12 (sleep) S 1 2 3")))
	require.Equal(t, byte('Z'), state([]byte("12 (a) b) (c) Z 1 2 3")), "a name holding ') '")
	require.Equal(t, byte(0), state([]byte("12 (sleep")))
	require.Equal(t, byte(0), state([]byte("12 (sleep)")))
}

func TestProcAliveAndArgs(t *testing.T) {
	require.True(t, Alive(os.Getpid()))
	args, err := Args(os.Getpid())
	require.NoError(t, err)
	require.Equal(t, os.Args, args)

	// Read at once after Start, as a stop right after a start does: the
	// arguments are the new program's, never the empty in-between.
	for range 50 {
		cmd := exec.Command("/bin/sh", "-c", "read x || :", "broker", "start")
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		args, err := Args(cmd.Process.Pid)
		require.NoError(t, err)
		require.Equal(t, []string{"/bin/sh", "-c", "read x || :", "broker", "start"}, args)
		stdin.Close()
		require.NoError(t, cmd.Wait())
	}

	self := func(a []string) bool { return slices.Equal(a, os.Args) }
	require.True(t, Runs(os.Getpid(), self))
	require.False(t, Runs(os.Getpid(), func([]string) bool { return false }), "alive, but not what the pid file was written for")

	// Exited and not yet reaped: not alive, no arguments.
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	require.Eventually(t, func() bool { return !Alive(pid) }, 10*time.Second, time.Millisecond, "a zombie is not alive")
	args, err = Args(pid)
	require.NoError(t, err)
	require.Empty(t, args)
	require.False(t, Runs(pid, func([]string) bool { return true }))
	require.NoError(t, cmd.Wait())
	_, err = Args(pid)
	require.Error(t, err, "reaped: no /proc entry")
}
