// Package sender is the controller's Kafka client: it delivers the
// controller's requests (LeaderAndIsr, UpdateMetadata, StopReplica) and a
// broker's own inter-broker requests (ControlledShutdown, AlterPartition)
// to a broker over TCP, with request header v1/v2 and kmsg encoding, one
// connection per broker. It owns those connections and nothing else; it
// never decides what to send or retries on its own.
package sender

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/zkstate"
)

// ErrResponseTooLarge is returned when a broker answers with a frame larger
// than TCP.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("sender: response frame too large")

// TCP is a small Kafka client: one TCP connection per broker, request
// header v1 (v2 for flexible versions), kmsg encoding, one request in
// flight per connection. It is safe for concurrent use.
type TCP struct {
	// Resolve returns host:port of a broker's inter-broker listener.
	Resolve func(broker int32) (string, error)
	// Dial opens a connection (net.Dialer.DialContext when nil).
	Dial             func(ctx context.Context, network, addr string) (net.Conn, error)
	ClientID         string
	MaxResponseBytes int32

	mu    sync.Mutex
	conns map[int32]*brokerConn
}

type brokerConn struct {
	mu   sync.Mutex // held for a whole request/response exchange
	conn net.Conn
	addr string
	corr int32
}

// New returns a TCP client that resolves brokers through their
// /brokers/ids registration, using the endpoint of the named listener.
func New(zk *zkstate.Client, listener, clientID string) *TCP {
	return &TCP{
		ClientID: clientID,
		Resolve: func(broker int32) (string, error) {
			b, ok, err := zk.Broker(broker)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("sender: broker %d is not registered", broker)
			}
			addr, ok := b.Endpoint(listener)
			if !ok {
				return "", fmt.Errorf("sender: broker %d has no %s endpoint in %v", broker, listener, b.Endpoints)
			}
			return addr, nil
		},
	}
}

func (s *TCP) conn(broker int32) *brokerConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[int32]*brokerConn{}
	}
	bc := s.conns[broker]
	if bc == nil {
		bc = &brokerConn{}
		s.conns[broker] = bc
	}
	return bc
}

// Send writes req to broker and reads its response. On any error the
// connection is closed; the next Send dials again (resolving anew).
func (s *TCP) Send(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error) {
	bc := s.conn(broker)
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.conn == nil {
		addr, err := s.Resolve(broker)
		if err != nil {
			return nil, err
		}
		dial := s.Dial
		if dial == nil {
			var d net.Dialer
			dial = d.DialContext
		}
		c, err := dial(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("sender: connecting to broker %d at %s: %w", broker, addr, err)
		}
		bc.conn, bc.addr = c, addr
	}
	resp, err := s.exchange(ctx, bc, req)
	if err != nil {
		_ = bc.conn.Close()
		bc.conn = nil
		return nil, fmt.Errorf("sender: %s to broker %d at %s: %w", kmsg.NameForKey(req.Key()), broker, bc.addr, err)
	}
	return resp, nil
}

func (s *TCP) exchange(ctx context.Context, bc *brokerConn, req kmsg.Request) (kmsg.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = bc.conn.SetDeadline(dl)
	} else {
		_ = bc.conn.SetDeadline(time.Time{})
	}
	// The callback may still run after this exchange returned and Send
	// dropped bc.conn: it must use the connection it was made for.
	conn := bc.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	bc.corr++
	corr := bc.corr
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID(s.ClientID)).AppendRequest(nil, req, corr)
	if _, err := bc.conn.Write(frame); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(bc.conn, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	limit := s.MaxResponseBytes
	if limit <= 0 {
		limit = 100 << 20
	}
	if n < 4 || n > limit {
		return nil, fmt.Errorf("%w: %d bytes", ErrResponseTooLarge, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(bc.conn, body); err != nil {
		return nil, err
	}
	return ParseResponse(req, corr, body)
}

// ParseResponse decodes a response frame body (after the length prefix) to
// req: the correlation id must match, the header's tag section is skipped
// for flexible versions (except ApiVersions, whose response header is
// always v0), and the rest is decoded by kmsg at req's version.
func ParseResponse(req kmsg.Request, corr int32, body []byte) (kmsg.Response, error) {
	if len(body) < 4 {
		return nil, errors.New("response shorter than its header")
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	if req.IsFlexible() && req.Key() != 18 {
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, err
		}
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decoding response: %w", err)
	}
	return resp, nil
}

// skipTags drops a tagged-field section (KIP-482) from the front of b.
func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[l:]
	for i := uint64(0); i < n; i++ {
		_, l := binary.Uvarint(b)
		if l <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || uint64(len(b)-l) < size || size > uint64(len(b)) {
			return nil, errors.New("bad tag size")
		}
		b = b[l+int(size):]
	}
	return b, nil
}

// Forget closes the cached connection to broker.
func (s *TCP) Forget(broker int32) {
	s.mu.Lock()
	bc := s.conns[broker]
	delete(s.conns, broker)
	s.mu.Unlock()
	if bc == nil {
		return
	}
	go func() { // may wait for an exchange in flight
		bc.mu.Lock()
		defer bc.mu.Unlock()
		if bc.conn != nil {
			_ = bc.conn.Close()
			bc.conn = nil
		}
	}()
}

// Close closes every connection.
func (s *TCP) Close() {
	s.mu.Lock()
	ids := make([]int32, 0, len(s.conns))
	for id := range s.conns {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.Forget(id)
	}
}
