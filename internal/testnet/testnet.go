// Package testnet owns the throwaway TCP servers tests stand up on
// loopback: a listener on a free 127.0.0.1 port whose connections are each
// handed to a function, closed when the test ends. It is for tests only and
// never listens beyond 127.0.0.1.
package testnet

import (
	"net"
	"testing"
)

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
