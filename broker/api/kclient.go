package api

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/internal/rawio"
)

// brokerConn is a minimal Kafka client connection used by the replica
// fetchers: one request in flight at a time.
type brokerConn struct {
	addr     string
	conn     net.Conn
	corr     int32
	clientID string
	buf      []byte
	// reuse, when set, reads every response into body, reused by the
	// next roundTrip: a response's byte fields (a fetch's record batches)
	// are then valid only until that next call. The replica fetcher sets
	// it, as it appends the batches before fetching again.
	reuse bool
	body  []byte

	mu          sync.Mutex
	interrupted bool // by interrupt: the request in flight is abandoned
}

func dialBroker(dial func(network, addr string) (net.Conn, error), addr, clientID string) (*brokerConn, error) {
	c, err := dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dialing broker %s: %w", addr, err)
	}
	return &brokerConn{addr: addr, conn: rawio.Conn(c), clientID: clientID}, nil
}

func (b *brokerConn) Close() error { return b.conn.Close() }

// errInterrupted is a roundTrip's error on a connection interrupted first.
var errInterrupted = errors.New("api: broker connection interrupted")

// interrupt makes the roundTrip under way (or the next) return at once
// with an error, leaving the connection unusable: its answer may still
// arrive.
func (b *brokerConn) interrupt() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.interrupted = true
	b.conn.SetDeadline(time.Now())
}

// roundTrip sends req at its set version and reads the response.
func (b *brokerConn) roundTrip(req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	b.corr++
	buf := b.buf[:0]
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.GetVersion()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(b.corr))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(b.clientID)))
	buf = append(buf, b.clientID...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	b.buf = buf
	b.mu.Lock()
	err := errInterrupted
	if !b.interrupted {
		err = b.conn.SetDeadline(time.Now().Add(timeout))
	}
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if _, err := b.conn.Write(buf); err != nil {
		return nil, fmt.Errorf("writing to broker %s: %w", b.addr, err)
	}
	var hdr [8]byte
	if _, err := io.ReadFull(b.conn, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading from broker %s: %w", b.addr, err)
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:4])))
	if n < 4 || n > 1<<30 {
		return nil, fmt.Errorf("broker %s: bad response size %d", b.addr, n)
	}
	if corr := int32(binary.BigEndian.Uint32(hdr[4:])); corr != b.corr {
		return nil, fmt.Errorf("broker %s: correlation id %d, expected %d", b.addr, corr, b.corr)
	}
	var body []byte
	if b.reuse {
		if cap(b.body) < n-4 {
			b.body = make([]byte, n-4)
		}
		body = b.body[:n-4]
	} else {
		body = make([]byte, n-4)
	}
	if _, err := io.ReadFull(b.conn, body); err != nil {
		return nil, fmt.Errorf("reading from broker %s: %w", b.addr, err)
	}
	if req.IsFlexible() && req.Key() != 18 {
		// Skip the response header's tagged fields.
		var skipErr error
		body, skipErr = skipTags(body)
		if skipErr != nil {
			return nil, fmt.Errorf("broker %s: %w", b.addr, skipErr)
		}
	}
	resp := req.ResponseKind()
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("broker %s: decoding %T: %w", b.addr, resp, err)
	}
	return resp, nil
}

// skipTags skips a tagged-field section (uvarint count, then uvarint tag,
// uvarint size, bytes each).
func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errBadTags
	}
	b = b[k:]
	for range n {
		_, k = binary.Uvarint(b)
		if k <= 0 {
			return nil, errBadTags
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			return nil, errBadTags
		}
		b = b[k+int(size):]
	}
	return b, nil
}

var errBadTags = fmt.Errorf("api: malformed tagged fields")

// SkipTags is skipTags for the request reader in broker/server.
func SkipTags(b []byte) ([]byte, error) { return skipTags(b) }

// Request sends one request to the broker at addr on a fresh connection
// and returns its response (controlled shutdown, tools).
func Request(dial func(network, addr string) (net.Conn, error), addr, clientID string, req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	if dial == nil {
		dial = net.Dial
	}
	c, err := dialBroker(dial, addr, clientID)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.roundTrip(req, timeout)
}

// Conn is one client connection to a broker, one request at a time.
type Conn struct{ c *brokerConn }

// DialConn connects to the broker at addr.
func DialConn(dial func(network, addr string) (net.Conn, error), addr, clientID string) (*Conn, error) {
	if dial == nil {
		dial = net.Dial
	}
	c, err := dialBroker(dial, addr, clientID)
	if err != nil {
		return nil, err
	}
	return &Conn{c}, nil
}

// RoundTrip sends req and reads its response within timeout.
func (c *Conn) RoundTrip(req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	return c.c.roundTrip(req, timeout)
}

// Close closes the connection (unblocking a RoundTrip in progress).
func (c *Conn) Close() error { return c.c.Close() }
