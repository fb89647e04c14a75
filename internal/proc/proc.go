// Package proc owns what the stop commands learn about a process from
// Linux's /proc: whether a pid names a live process (not a zombie) and its
// command line, so that `kafka-server-stop.sh` and `zkServer.sh stop`
// signal only the process a pid file was written for.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Alive reports whether pid exists and has not exited: a zombie (exited,
// not yet reaped by its parent) is not alive.
func Alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: the signal check is all there is
	}
	return state(stat) != 'Z'
}

// state is the state letter of a /proc/PID/stat line: the field after the
// parenthesised command name, which may itself hold spaces and ')'.
func state(stat []byte) byte {
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2]
	}
	return 0
}

// execSettle bounds how long Args waits for a process in the middle of
// exec to show its new arguments.
const execSettle = 200 * time.Millisecond

// Args returns the arguments pid was started with (its argv), or an error
// naming /proc/PID/cmdline when it cannot be read (the process is gone, or
// there is no /proc).
//
// A process that has just been started can read as an empty command line:
// its parent's exec call returns (close-on-exec files are closed) before
// the kernel has mapped the new arguments. Args re-reads a live process's
// empty command line until it appears, for at most execSettle; a kernel
// thread, whose command line stays empty, then yields none.
func Args(pid int) ([]string, error) {
	path := fmt.Sprintf("/proc/%d/cmdline", pid)
	deadline := time.Now().Add(execSettle)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"), nil
		}
		if !Alive(pid) || time.Now().After(deadline) {
			return nil, nil
		}
		time.Sleep(time.Millisecond)
	}
}

// Runs reports whether the process a pid file names is still the one it
// was written for: alive, with arguments that match. Where there is no
// /proc to read them from, a live pid is trusted.
func Runs(pid int, match func(args []string) bool) bool {
	if !Alive(pid) {
		return false
	}
	args, err := Args(pid)
	if err != nil {
		st, serr := os.Stat("/proc/self")
		return serr != nil || !st.IsDir() // no /proc; else it exited meanwhile
	}
	return match(args)
}
