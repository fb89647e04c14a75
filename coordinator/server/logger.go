package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// zkHandler writes log records the way ZooKeeper's default log4j layout
// does: "2006-01-02 15:04:05,000 [myid:1] - INFO  [server] - message".
type zkHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	myid  int64
	attrs string
}

func newZKHandler(w io.Writer, myid int64) *zkHandler {
	return &zkHandler{mu: &sync.Mutex{}, w: w, myid: myid}
}

func (h *zkHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *zkHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("2006-01-02 15:04:05,000"))
	if h.myid != 0 {
		fmt.Fprintf(&b, " [myid:%d]", h.myid)
	} else {
		b.WriteString(" [myid:]")
	}
	fmt.Fprintf(&b, " - %-5s [coordinator/server] - %s%s", r.Level.String(), r.Message, h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *zkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	for _, a := range as {
		n.attrs += fmt.Sprintf(" %s=%v", a.Key, a.Value)
	}
	return &n
}

func (h *zkHandler) WithGroup(string) slog.Handler { return h }
