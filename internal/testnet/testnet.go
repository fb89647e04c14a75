// Package testnet owns the loopback addresses tests use: throwaway TCP
// servers (a listener on a free 127.0.0.1 port whose connections are each
// handed to a function, closed when the test ends) and free ports for
// servers a test configures before starting them. It is for tests only and
// never listens beyond 127.0.0.1.
package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var given struct {
	sync.Mutex
	ports map[int]bool
}

// portRange is where Port picks from: 10000 up to the kernel's ephemeral
// range, or above that range when too little lies below it.
var portRange = sync.OnceValues(func() (base, span int) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				lo = n
			}
		}
	}
	if lo-10000 < 1000 {
		return lo + 1000, 65535 - lo - 1000
	}
	return 10000, lo - 10000
})

// FreePort returns a 127.0.0.1 port that nothing was bound to a moment
// ago, for a server a test names in a config file or starts in another
// process, and fails t when there is none (see Port).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Port returns a 127.0.0.1 port that nothing was bound to a moment ago.
// The port lies below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range): a port from that range, even one the
// kernel just handed out and took back, can become the source port of any
// connection made before the server binds it, and the server then fails
// with "address already in use". No port is returned twice in a process.
func Port() (int, error) {
	base, span := portRange()
	given.Lock()
	defer given.Unlock()
	if given.ports == nil {
		given.ports = map[int]bool{}
	}
	for range 200 {
		p := base + rand.IntN(span)
		if given.ports[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			return 0, fmt.Errorf("testnet: closing the probe on 127.0.0.1:%d: %w", p, err)
		}
		given.ports[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("testnet: no free 127.0.0.1 port in %d-%d after 200 tries", base, base+span-1)
}

// Serve listens on a free loopback port, runs handle for every accepted
// connection in its own goroutine, closing the connection when handle
// returns, and stops listening at the end of the test. It returns the
// listener's host:port.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: listen on 127.0.0.1:0: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
