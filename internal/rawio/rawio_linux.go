//go:build linux

package rawio

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Conn returns c reading and writing with raw system calls when it is a
// TCP connection, else c itself.
func Conn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &conn{TCPConn: tc, rc: rc}
}

type conn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// pollError names a poller failure (closed, deadline), which the raw
// connection reports as "raw-read"/"raw-write", by the call it failed, as
// the net package's Read and Write do.
func (c *conn) pollError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		return c.opError(op, oe.Err)
	}
	return c.opError(op, err)
}

func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n uintptr
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, _, errno = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait on the poller
			}
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.pollError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

func (c *conn) Write(p []byte) (int, error) {
	var done int
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done))
			switch e {
			case 0:
				done += int(n)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the send buffer is full: wait on the poller
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return done, c.pollError("write", err)
	case errno != 0:
		return done, c.opError("write", os.NewSyscallError("write", errno))
	}
	return done, nil
}

// A raw page-cache write slower than slowBase plus slowPerByte for each
// byte counts as stalled: memory copies run at gigabytes per second, so
// anything near these figures waited in the kernel. slowBase is well above
// a scheduler time slice: on a busy machine a write is often preempted
// for 1-2 ms (the time is wall-clock time), which is no reason to give up
// raw writes for a second, while the kernel's dirty-page throttling
// sleeps for 10-200 ms at a time.
const (
	slowBase    = 10 * time.Millisecond
	slowPerByte = 2 * time.Nanosecond // 500 MB/s
	backoffMin  = time.Second
	backoffMax  = time.Minute
)

// stallGuard decides when raw page-cache writes are allowed: not for a
// fallback period after one was slow, the period doubling while tries
// keep stalling and resetting once raw writes were fast for a whole
// period. Its state is the process's: a stalled disk stalls every file.
type stallGuard struct {
	rawAfter atomic.Int64 // monotonic ns before which writes use ordinary calls
	backoff  atomic.Int64 // the current fallback period, ns; 0 when none
}

var (
	stalls stallGuard
	epoch  = time.Now()
)

func monoNow() int64 { return int64(time.Since(epoch)) }

func (g *stallGuard) rawOK(now int64) bool { return now >= g.rawAfter.Load() }

// observe records a raw write of n bytes that ran from start to now.
func (g *stallGuard) observe(start, now int64, n int) {
	if took := time.Duration(now - start); took > slowBase+time.Duration(n)*slowPerByte {
		b := min(max(2*time.Duration(g.backoff.Load()), backoffMin), backoffMax)
		g.backoff.Store(int64(b))
		g.rawAfter.Store(now + int64(b))
	} else if b := g.backoff.Load(); b != 0 && now > g.rawAfter.Load()+b {
		g.backoff.Store(0) // raw writes were fast for a whole period again
	}
}

// File is an *os.File whose WriteAt uses raw system calls.
type File struct {
	*os.File
	rc syscall.RawConn
}

// NewFile wraps f; f stays usable through the embedded *os.File.
func NewFile(f *os.File) *File {
	rc, _ := f.SyscallConn() // nil for a closed file: WriteAt then uses the ordinary call
	return &File{File: f, rc: rc}
}

// rwfNowait is preadv2's RWF_NOWAIT flag: fail with EAGAIN rather than
// wait for the disk.
const rwfNowait = 0x8

// noNowait is set once a kernel refuses RWF_NOWAIT reads (before Linux
// 4.14, or a filesystem without it); ReadAt then makes ordinary calls.
var noNowait atomic.Bool

// ReadAt reads len(p) bytes at off, as (*os.File).ReadAt does. What the
// page cache holds is copied with raw preadv2(RWF_NOWAIT) calls, which
// never wait; the rest (bytes not cached, which the disk must supply) is
// read with ordinary calls, which may.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 || f.rc == nil || sysPreadv2 == 0 || noNowait.Load() || off < 0 {
		return f.File.ReadAt(p, off)
	}
	var done int
	var eof bool
	err := f.rc.Control(func(fd uintptr) {
		for done < len(p) {
			iov := syscall.Iovec{Base: &p[done]}
			iov.SetLen(len(p) - done)
			n, _, e := syscall.RawSyscall6(sysPreadv2, fd, uintptr(unsafe.Pointer(&iov)), 1, uintptr(off+int64(done)), 0, rwfNowait)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EOPNOTSUPP || e == syscall.EINVAL || e == syscall.ENOSYS:
				noNowait.Store(true)
				return
			case e != 0: // EAGAIN: not cached; other errors: the ordinary call reports them
				return
			case n == 0:
				eof = true
				return
			}
			done += int(n)
		}
	})
	switch {
	case err != nil:
		return done, &os.PathError{Op: "read", Path: f.Name(), Err: os.ErrClosed}
	case eof:
		return done, io.EOF
	case done < len(p):
		n, err := f.File.ReadAt(p[done:], off+int64(done))
		return done + n, err
	}
	return done, nil
}

// WriteAt writes p at off, as (*os.File).WriteAt does.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	start := monoNow()
	if len(p) == 0 || f.rc == nil || !stalls.rawOK(start) {
		return f.File.WriteAt(p, off)
	}
	var done int
	var werr error
	err := f.rc.Control(func(fd uintptr) {
		for done < len(p) {
			n, _, e := syscall.RawSyscall6(syscall.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done), uintptr(off+int64(done)), 0, 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e != 0:
				werr = e
			case n == 0:
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return
			}
			done += int(n)
		}
	})
	stalls.observe(start, monoNow(), len(p))
	if err != nil {
		err = os.ErrClosed // Control fails only on a closed file; say it as the os package does
	} else {
		err = werr
	}
	if err != nil {
		return done, &os.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	return done, nil
}
