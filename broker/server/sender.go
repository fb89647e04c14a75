package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/api"
)

// sender delivers the controller's requests to brokers over their
// inter-broker listener: one cached connection per broker, one request at
// a time on it, the address looked up in /brokers/ids and forgotten on error.
type sender struct {
	s  *Server
	mu sync.Mutex
	by map[int32]*senderConn
}

type senderConn struct {
	mu   sync.Mutex // held for a whole exchange
	conn *api.Conn
}

func newSender(s *Server) *sender { return &sender{s: s, by: map[int32]*senderConn{}} }

func (sd *sender) get(broker int32) *senderConn {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	sc := sd.by[broker]
	if sc == nil {
		sc = &senderConn{}
		sd.by[broker] = sc
	}
	return sc
}

// Send implements controller.Sender.
func (sd *sender) Send(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error) {
	sc := sd.get(broker)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.conn == nil {
		addr, err := sd.s.brokerAddr(broker)
		if err != nil {
			return nil, err
		}
		c, err := api.DialConn(sd.s.o.Dial, addr, fmt.Sprintf("controller-%d", sd.s.cfg.BrokerID))
		if err != nil {
			return nil, err
		}
		sc.conn = c
	}
	conn := sc.conn
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	resp, err := conn.RoundTrip(req, timeout)
	stop()
	if err != nil {
		conn.Close()
		sc.conn = nil
		return nil, fmt.Errorf("%s to broker %d: %w", strings.TrimSuffix(fmt.Sprintf("%T", req), "Request"), broker, err)
	}
	return resp, nil
}

// Forget drops the cached connection of a broker that died or re-registered.
func (sd *sender) Forget(broker int32) {
	sc := sd.get(broker)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.conn != nil {
		sc.conn.Close()
		sc.conn = nil
	}
}

// closeAll closes every connection; called once the controller has
// stopped, so an exchange still running ends with its context.
func (sd *sender) closeAll() {
	sd.mu.Lock()
	scs := make([]*senderConn, 0, len(sd.by))
	for _, sc := range sd.by {
		scs = append(scs, sc)
	}
	sd.mu.Unlock()
	for _, sc := range scs {
		sc.mu.Lock()
		if sc.conn != nil {
			sc.conn.Close()
			sc.conn = nil
		}
		sc.mu.Unlock()
	}
}
