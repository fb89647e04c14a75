package zkbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"kzoo/coordinator/client"
	"kzoo/coordinator/jute"
)

// Clients lists the clients zk-bench can drive the load with.
//
// "pipelined" (pipeSession) speaks the wire protocol itself and keeps
// --inflight requests outstanding per session from one goroutine, writing
// replacements for all replies read in one write call. "kzoo" is kzoo's own coordinator/client: one reader and one writer
// goroutine per session, and requests queued while a write is in progress
// leave together in one write call. "go-zookeeper" is github.com/go-zookeeper/zk,
// which writes every request with its own write call and spends more CPU
// per request. On a small machine the load generator shares the cores with
// the server it measures, so the leaner client leaves more of the machine
// to the server; both clients speak the same protocol to both servers.
var Clients = []string{"pipelined", "kzoo", "go-zookeeper"}

// benchConn is one session as the phases use it.
type benchConn interface {
	create(path string, data []byte) error
	createSequential(prefix string) (string, error)
	set(path string, data []byte) error
	get(path string) ([]byte, error)
	delete(path string) error
	close()
}

// isNoNode and isNodeExists tell apart the two errors the phases expect,
// whichever client returned them.
func isNoNode(err error) bool {
	return errors.Is(err, zk.ErrNoNode) || errors.Is(err, jute.ErrNoNode)
}

func isNodeExists(err error) bool {
	return errors.Is(err, zk.ErrNodeExists) || errors.Is(err, jute.ErrNodeExists)
}

// connect opens the sessions and waits until each has one.
func connect(ctx context.Context, cfg Config) ([]benchConn, error) {
	switch cfg.Client {
	case "go-zookeeper":
		return connectGoZookeeper(ctx, cfg)
	case "pipelined":
		return connectPipelined(ctx, cfg)
	}
	return connectKzoo(ctx, cfg)
}

// kzooConn is a session of kzoo's own client.
type kzooConn struct{ c *client.Client }

// openSessions opens cfg.Sessions sessions with open, closing those already
// open when one fails.
func openSessions(cfg Config, open func(i int) (benchConn, error)) ([]benchConn, error) {
	conns := make([]benchConn, 0, cfg.Sessions)
	for i := 0; i < cfg.Sessions; i++ {
		c, err := open(i)
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(conns []benchConn) {
	for _, c := range conns {
		c.close()
	}
}

func connectKzoo(ctx context.Context, cfg Config) ([]benchConn, error) {
	conns, err := openSessions(cfg, func(i int) (benchConn, error) {
		c, err := client.Connect(client.Options{Servers: sessionServers(cfg, i), SessionTimeout: cfg.SessionTimeout})
		if err != nil {
			return nil, fmt.Errorf("zk-bench: connect to %s: %w", strings.Join(cfg.Servers, ","), err)
		}
		return kzooConn{c}, nil
	})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.SessionTimeout)
	defer cancel()
	for i, c := range conns {
		if err := c.(kzooConn).c.WaitConnected(wctx); err != nil {
			closeAll(conns)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("zk-bench: no session %d with %s within %s: %w", i, strings.Join(cfg.Servers, ","), cfg.SessionTimeout, err)
		}
	}
	return conns, nil
}

func (k kzooConn) create(path string, data []byte) error {
	_, _, err := k.c.Create(context.Background(), path, data, jute.WorldAnyone, jute.ModePersistent, 0)
	return err
}

func (k kzooConn) createSequential(prefix string) (string, error) {
	p, _, err := k.c.Create(context.Background(), prefix, nil, jute.WorldAnyone, jute.ModePersistentSequential, 0)
	return p, err
}

func (k kzooConn) set(path string, data []byte) error {
	_, err := k.c.Set(context.Background(), path, data, -1)
	return err
}

func (k kzooConn) get(path string) ([]byte, error) {
	b, _, err := k.c.Get(context.Background(), path, false)
	return b, err
}

func (k kzooConn) delete(path string) error { return k.c.Delete(context.Background(), path, -1) }

func (k kzooConn) close() { _ = k.c.Close() }

// goZkConn is a session of go-zookeeper/zk.
type goZkConn struct{ c *zk.Conn }

func connectGoZookeeper(ctx context.Context, cfg Config) ([]benchConn, error) {
	zcs, err := dialGoZookeeper(ctx, cfg)
	if err != nil {
		return nil, err
	}
	conns := make([]benchConn, len(zcs))
	for i, c := range zcs {
		conns[i] = goZkConn{c}
	}
	return conns, nil
}

// dialGoZookeeper opens cfg.Sessions go-zookeeper sessions and waits until
// each has one.
func dialGoZookeeper(ctx context.Context, cfg Config) ([]*zk.Conn, error) {
	quiet := zk.WithLogger(log.New(io.Discard, "", 0))
	conns := make([]*zk.Conn, 0, cfg.Sessions)
	fail := func(err error) ([]*zk.Conn, error) {
		for _, c := range conns {
			c.Close()
		}
		return nil, err
	}
	events := make([]<-chan zk.Event, 0, cfg.Sessions)
	for i := 0; i < cfg.Sessions; i++ {
		hosts := zk.WithHostProvider(&zk.DNSHostProvider{})
		if cfg.reconnectBackoff > 0 {
			hosts = zk.WithHostProvider(&backoffHostProvider{backoff: cfg.reconnectBackoff})
		}
		c, ev, err := zk.Connect(sessionServers(cfg, i), cfg.SessionTimeout, quiet, zk.WithLogInfo(false), hosts)
		if err != nil {
			return fail(fmt.Errorf("zk-bench: connect to %s: %w", strings.Join(cfg.Servers, ","), err))
		}
		conns = append(conns, c)
		events = append(events, ev)
	}
	deadline := time.NewTimer(cfg.SessionTimeout)
	defer deadline.Stop()
	for i, ev := range events {
	wait:
		for {
			select {
			case e := <-ev:
				if e.State == zk.StateHasSession {
					break wait
				}
				if e.State == zk.StateAuthFailed || e.State == zk.StateExpired {
					return fail(fmt.Errorf("zk-bench: session %d to %s: %s", i, strings.Join(cfg.Servers, ","), e.State))
				}
			case <-deadline.C:
				return fail(fmt.Errorf("zk-bench: no session with %s within %s", strings.Join(cfg.Servers, ","), cfg.SessionTimeout))
			case <-ctx.Done():
				return fail(ctx.Err())
			}
		}
		// Keep draining so the library never blocks on its event channel.
		go func() {
			for range ev {
			}
		}()
	}
	return conns, nil
}

func (g goZkConn) create(path string, data []byte) error {
	_, err := g.c.Create(path, data, 0, zk.WorldACL(zk.PermAll))
	return err
}

func (g goZkConn) createSequential(prefix string) (string, error) {
	return g.c.Create(prefix, nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
}

func (g goZkConn) set(path string, data []byte) error {
	_, err := g.c.Set(path, data, -1)
	return err
}

func (g goZkConn) get(path string) ([]byte, error) {
	b, _, err := g.c.Get(path)
	return b, err
}

func (g goZkConn) delete(path string) error { return g.c.Delete(path, -1) }

func (g goZkConn) close() { g.c.Close() }
