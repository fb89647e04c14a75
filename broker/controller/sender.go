package controller

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

// Sender delivers one request to a broker and returns its response. The
// controller sends to each broker from one goroutine at a time, in order,
// and retries on error while the broker stays alive.
type Sender interface {
	Send(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error)
}

// forgetter is implemented by senders that cache a connection per broker;
// the controller calls Forget when a broker dies or re-registers.
type forgetter interface{ Forget(broker int32) }

// ErrResponseTooLarge is returned when a broker answers with a frame larger
// than TCPSender.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("controller: response frame too large")

// TCPSender is a small Kafka client for the controller's requests: one TCP
// connection per broker, request header v1 (v2 for flexible versions),
// kmsg encoding, one request in flight per connection.
type TCPSender struct {
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

// NewTCPSender resolves brokers through their /brokers/ids registration,
// using the endpoint of the named listener.
func NewTCPSender(zk *zkstate.Client, listener, clientID string) *TCPSender {
	return &TCPSender{
		ClientID: clientID,
		Resolve: func(broker int32) (string, error) {
			b, ok, err := zk.Broker(broker)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("controller: broker %d is not registered", broker)
			}
			addr, ok := b.Endpoint(listener)
			if !ok {
				return "", fmt.Errorf("controller: broker %d has no %s endpoint in %v", broker, listener, b.Endpoints)
			}
			return addr, nil
		},
	}
}

func (s *TCPSender) conn(broker int32) *brokerConn {
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
func (s *TCPSender) Send(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error) {
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
			return nil, fmt.Errorf("controller: connecting to broker %d at %s: %w", broker, addr, err)
		}
		bc.conn, bc.addr = c, addr
	}
	resp, err := s.exchange(ctx, bc, req)
	if err != nil {
		_ = bc.conn.Close()
		bc.conn = nil
		return nil, fmt.Errorf("controller: %s to broker %d at %s: %w", kmsg.NameForKey(req.Key()), broker, bc.addr, err)
	}
	return resp, nil
}

func (s *TCPSender) exchange(ctx context.Context, bc *brokerConn, req kmsg.Request) (kmsg.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = bc.conn.SetDeadline(dl)
	} else {
		_ = bc.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = bc.conn.SetDeadline(time.Unix(1, 0)) })
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
func (s *TCPSender) Forget(broker int32) {
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
func (s *TCPSender) Close() {
	s.mu.Lock()
	ids := SortedIDs(s.conns)
	s.mu.Unlock()
	for _, id := range ids {
		s.Forget(id)
	}
}
