package testnet

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestPortBelowEphemeralRangeDistinctAndBindable: every port handed out
// lies below the kernel's ephemeral range, none twice, and each can be
// listened on.
func TestPortBelowEphemeralRangeDistinctAndBindable(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skipf("no ephemeral port range to check against: %v", err)
	}
	lo, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil || lo < 11000 {
		t.Skipf("ephemeral range %q: ports are taken above it instead", strings.TrimSpace(string(b)))
	}
	seen := map[int]bool{}
	for range 100 {
		p := FreePort(t)
		if p < 10000 || p >= lo {
			t.Fatalf("port %d outside 10000-%d", p, lo-1)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	for p := range seen {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		ln.Close()
	}
}
