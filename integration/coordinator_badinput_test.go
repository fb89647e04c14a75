//go:build integration

package integration

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
	"kzoo/internal/testnet"
)

// coordDial opens a raw TCP connection to the client port.
func coordDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(15*time.Second)))
	return c
}

// coordHandshake sends a valid ConnectRequest and reads the response.
func coordHandshake(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := c.Write(jute.FrameRecords(&jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), HasReadOnly: true}))
	require.NoError(t, err)
	frame, err := jute.ReadFrame(c, 1<<20, nil)
	require.NoError(t, err)
	var resp jute.ConnectResponse
	require.NoError(t, jute.Unmarshal(frame, &resp).Err)
	require.NotZero(t, resp.SessionID)
}

// coordClosedByServer waits for the server to close c (EOF or reset), after
// reading whatever it sent first.
func coordClosedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(15*time.Second)))
	data, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server did not close the connection from %s", c.LocalAddr())
	}
	return string(data)
}

func coordFrame(body []byte) []byte { return jute.AppendFrame(nil, body) }

// coordFalse is the watch flag of an exists request.
type coordFalse struct{}

func (coordFalse) Encode(e *jute.Encoder) { e.Bool(false) }
func (coordFalse) Decode(d *jute.Decoder) { d.Bool() }

// TestCoordinatorBadInput: malformed and hostile bytes from many
// connections against the real binary. Each bad connection is closed and
// logged in one line naming the client's address; the server keeps serving
// an established session and new ones, and a huge length prefix is refused
// before its body is read (the server's memory does not grow with it).
func TestCoordinatorBadInput(t *testing.T) {
	// No per-address connection limit: the storm below opens 64 at once
	// next to the bystander, past the default of 60, and a connection
	// refused at accept is logged by its IP alone ("Too many connections
	// from /127.0.0.1"), not by the address each bad one must be named by.
	cfg, _, port := keeperConfig(t, "4lw.commands.whitelist=ruok,srvr\nmaxClientCnxns=0\n")
	p := coordStart(t, cfg, port)
	bystander := coordConnect(t, p.addr, 10*time.Second)
	_, err := bystander.Create("/bystander", []byte("still here"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	rssBefore := p.rssKB(t)

	connect := jute.FrameRecords(&jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	cases := []struct {
		name string
		// send writes the bad input; it returns whatever the client expects
		// to read back before the close ("" when nothing).
		send func(t *testing.T, c net.Conn)
		want string
		// logs is a fragment of the one line the server logs ("" for none).
		logs string
	}{
		{name: "an HTTP request", logs: "Len error", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
			require.NoError(t, err)
		}},
		{name: "garbage with a small length", logs: "malformed ConnectRequest", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write(coordFrame([]byte("\x01\x02garbage garbage garbage!")))
			require.NoError(t, err)
		}},
		{name: "a huge length prefix", logs: "Len error", send: func(t *testing.T, c net.Conn) {
			hdr := binary.BigEndian.AppendUint32(nil, 0x7ffffff0)
			_, err := c.Write(hdr)
			require.NoError(t, err)
			// Keep sending: a server that believed the length would buffer it.
			junk := make([]byte, 1<<20)
			for i := 0; i < 64; i++ {
				if _, err := c.Write(junk); err != nil {
					break // closed by the server: refused
				}
			}
		}},
		{name: "a negative length prefix", logs: "Len error", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write([]byte{0xff, 0xff, 0xff, 0xfe, 1, 2, 3})
			require.NoError(t, err)
		}},
		{name: "a truncated ConnectRequest frame", logs: "malformed ConnectRequest", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write(coordFrame(connect[4:20]))
			require.NoError(t, err)
		}},
		{name: "a ConnectRequest cut by the client", logs: "unexpected EOF", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write(connect[:20])
			require.NoError(t, err)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
		}},
		{name: "a valid connect, then garbage", logs: "Close of session", send: func(t *testing.T, c net.Conn) {
			coordHandshake(t, c)
			_, err := c.Write([]byte("\x00\x00\x00\x05\x00garbage that is not a frame at all........"))
			require.NoError(t, err)
		}},
		{name: "a valid connect, then an unknown op", logs: "unknown type 9999", send: func(t *testing.T, c net.Conn) {
			coordHandshake(t, c)
			_, err := c.Write(jute.FrameRecords(&jute.RequestHeader{Xid: 1, Type: jute.Op(9999)}))
			require.NoError(t, err)
		}},
		{name: "a valid connect, then a huge length", logs: "Len error", send: func(t *testing.T, c net.Conn) {
			coordHandshake(t, c)
			_, err := c.Write([]byte{0x40, 0, 0, 0})
			require.NoError(t, err)
		}},
		{name: "four letters ZooKeeper does not know", logs: "Len error", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write([]byte("abcd"))
			require.NoError(t, err)
		}},
		// ZooKeeper logs a word outside the whitelist only at DEBUG: the
		// answer is all there is.
		{name: "stat, not in the whitelist", want: "stat is not executed because it is not in the whitelist.\n", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write([]byte("stat"))
			require.NoError(t, err)
		}},
		{name: "mntr, not in the whitelist", want: "mntr is not executed because it is not in the whitelist.\n", send: func(t *testing.T, c net.Conn) {
			_, err := c.Write([]byte("mntr"))
			require.NoError(t, err)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := coordDial(t, p.addr)
			remote := "/" + c.LocalAddr().String()
			tc.send(t, c)
			got := coordClosedByServer(t, c)
			if tc.want != "" {
				require.Equal(t, tc.want, got)
			}

			// The established session and a new one are served.
			data, _, err := bystander.Get("/bystander")
			require.NoError(t, err)
			require.Equal(t, "still here", string(data))
			fresh := coordConnect(t, p.addr, 10*time.Second)
			_, _, err = fresh.Exists("/bystander")
			require.NoError(t, err)
			fresh.Close()

			if tc.logs == "" {
				require.Empty(t, coordRemoteLines(p.log.String(), remote))
				return
			}
			// One line about the bad connection, naming the client.
			var lines []string
			require.Eventually(t, func() bool {
				lines = coordRemoteLines(p.log.String(), remote)
				return len(lines) > 0
			}, 10*time.Second, 10*time.Millisecond, "no log line names %s; log:\n%s", remote, p.log)
			require.Len(t, lines, 1, "one line per bad connection from %s", remote)
			require.Contains(t, lines[0], tc.logs)
		})
	}
	t.Run("a request whose body does not decode", func(t *testing.T) {
		// ZooKeeper answers MarshallingError and keeps the session.
		c := coordDial(t, p.addr)
		coordHandshake(t, c)
		body := jute.Marshal(&jute.RequestHeader{Xid: 7, Type: jute.OpGetData})
		body = append(body, 0, 0, 0, 50, '/', 'x')
		_, err := c.Write(coordFrame(body))
		require.NoError(t, err)
		frame, err := jute.ReadFrame(c, 1<<20, nil)
		require.NoError(t, err)
		var h jute.ReplyHeader
		require.NoError(t, jute.Unmarshal(frame[:16], &h).Err)
		require.Equal(t, int32(7), h.Xid)
		require.Equal(t, jute.ErrMarshallingError, h.Err)
		_, err = c.Write(jute.FrameRecords(&jute.RequestHeader{Xid: 8, Type: jute.OpExists}, &jute.PathRequest{Path: "/bystander"}, coordFalse{}))
		require.NoError(t, err)
		frame, err = jute.ReadFrame(c, 1<<20, nil)
		require.NoError(t, err)
		require.NoError(t, jute.Unmarshal(frame[:16], &h).Err)
		require.Equal(t, int32(8), h.Xid)
		require.Equal(t, jute.Code(0), h.Err, "the connection still serves")
	})

	t.Run("a storm of bad connections", func(t *testing.T) {
		// 64 bad clients at once while the bystander keeps writing.
		const n = 64
		remotes := make(chan string, n)
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func(i int) {
				c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				remotes <- "/" + c.LocalAddr().String()
				_ = c.SetDeadline(time.Now().Add(15 * time.Second))
				payload := [][]byte{[]byte("GET / HTTP/1.0\r\n\r\n"), coordFrame([]byte("garbage!")), {0x7f, 0xff, 0xff, 0xff}}[i%3]
				if _, err := c.Write(payload); err != nil {
					errs <- err
					return
				}
				// EOF or a reset: closed by the server; a timeout: not.
				if _, err = io.ReadAll(c); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						errs <- fmt.Errorf("%s: not closed by the server: %w", c.LocalAddr(), err)
						return
					}
				}
				errs <- nil
			}(i)
		}
		for i := 0; i < 50; i++ {
			_, err := bystander.Set("/bystander", []byte("still here"), -1)
			require.NoError(t, err)
		}
		for i := 0; i < n; i++ {
			require.NoError(t, <-errs, "each bad connection is closed by the server")
		}
		close(remotes)
		for remote := range remotes {
			require.Eventually(t, func() bool { return len(coordRemoteLines(p.log.String(), remote)) == 1 },
				10*time.Second, 10*time.Millisecond, "one line for %s", remote)
		}
	})

	rssAfter := p.rssKB(t)
	t.Logf("server RSS %d KiB before the bad input, %d KiB after", rssBefore, rssAfter)
	require.Less(t, rssAfter-rssBefore, 32<<10, "the server's memory grew by %d KiB", rssAfter-rssBefore)
}

// coordRemoteLines returns the log lines naming remote, except the one
// that says a session was established (a valid handshake is not bad input).
func coordRemoteLines(log, remote string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, remote+" ") || strings.HasSuffix(line, remote) || strings.Contains(line, remote+":") || strings.Contains(line, remote+",") {
			if !strings.Contains(line, "Established session") {
				out = append(out, line)
			}
		}
	}
	return out
}

// TestCoordinatorBadConfig: a bad zoo.cfg line stops start-foreground with
// exit code 1 and one message naming file:line:key, before dataDir is made;
// an unknown key is only a warning.
func TestCoordinatorBadConfig(t *testing.T) {
	bin := kzooBinary(t)
	for _, tc := range []struct{ line, msg string }{
		{"clientPort=abc", `clientPort: "abc" is not a number`},
		{"tickTime=-5", "tickTime: -5 must be greater than 0"},
		{"syncLimit=x", `syncLimit: "x" is not a number`},
		{"snapCount=", `snapCount: "" is not a number`},
		{"forceSync=maybe", `forceSync: "maybe"`},
		{"server.1=nonsense", `server.1: "nonsense"`},
		{"maxSessionTimeout=1e9", `maxSessionTimeout: "1e9" is not a number`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "zoo.cfg")
			dataDir := filepath.Join(dir, "data")
			require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("# a comment\ntickTime=2000\ndataDir=%s\nclientPort=%d\n%s\n",
				dataDir, testnet.FreePort(t), tc.line)), 0o644))
			stdout, stderr, code := coordRun(t, 30*time.Second, "", nil, bin, "keeper", "start-foreground", cfg)
			require.Equal(t, 1, code, "stdout %q stderr %q", stdout, stderr)
			require.Contains(t, stderr, cfg+":5: "+tc.msg)
			require.NotContains(t, stderr+stdout, "goroutine ", "no stack trace")
			require.NoDirExists(t, dataDir, "nothing written before the config is checked")
		})
	}

	cfg, _, port := keeperConfig(t, "frobnicate=1\n")
	p := coordStart(t, cfg, port)
	require.Contains(t, p.log.String(), cfg+":5: unknown key 'frobnicate' ignored")
}
