package server

import (
	"crypto/rand"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// tracker is ZooKeeper's session tracker: sessions sit in expiry buckets
// one tick wide (ExpiryQueue), a touch moves a session to the bucket of
// now+timeout rounded up to the next tick, and every tick the due buckets
// expire. It only decides who expired; the server turns that into
// closeSession log entries.
type tracker struct {
	mu       sync.Mutex
	interval int64 // ms, tickTime
	sessions map[int64]*tracked
	buckets  map[int64]map[int64]struct{}
	next     int64              // next bucket to expire
	touched  map[int64]struct{} // recorded once drainTouched was called
}

type tracked struct {
	id        int64
	timeoutMs int32
	expireAt  int64
	closing   bool
}

func newTracker(intervalMs int64, nowMs int64) *tracker {
	if intervalMs <= 0 {
		intervalMs = 2000
	}
	t := &tracker{interval: intervalMs, sessions: map[int64]*tracked{}, buckets: map[int64]map[int64]struct{}{}}
	t.next = t.round(nowMs)
	return t
}

func (t *tracker) round(ms int64) int64 { return (ms/t.interval + 1) * t.interval }

// add starts tracking a session (new, or recovered from the tree).
func (t *tracker) add(id int64, timeoutMs int32, nowMs int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil {
		s = &tracked{id: id}
		t.sessions[id] = s
	}
	s.timeoutMs = timeoutMs
	s.closing = false
	t.move(s, nowMs)
}

// Lock should be held.
func (t *tracker) move(s *tracked, nowMs int64) {
	exp := t.round(nowMs + int64(s.timeoutMs))
	if exp == s.expireAt {
		return
	}
	if b := t.buckets[s.expireAt]; b != nil {
		delete(b, s.id)
		if len(b) == 0 {
			delete(t.buckets, s.expireAt)
		}
	}
	s.expireAt = exp
	b := t.buckets[exp]
	if b == nil {
		b = make(map[int64]struct{})
		t.buckets[exp] = b
	}
	b[s.id] = struct{}{}
}

// touch refreshes a live session; false if it is unknown or closing.
// timeoutMs > 0 also replaces its timeout (a reconnect negotiates anew).
func (t *tracker) touch(id int64, timeoutMs int32, nowMs int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil || s.closing {
		return false
	}
	if timeoutMs > 0 {
		s.timeoutMs = timeoutMs
	}
	t.move(s, nowMs)
	if t.touched != nil {
		t.touched[id] = struct{}{}
	}
	return true
}

// drainTouched returns the sessions touched since the last call (an
// ensemble server reports them to its leader) and starts recording.
func (t *tracker) drainTouched() []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]int64, 0, len(t.touched))
	for id := range t.touched {
		ids = append(ids, id)
	}
	t.touched = map[int64]struct{}{}
	return ids
}

// setClosing marks a session as being closed so that no request of it is
// accepted any more; false if it was unknown or already closing.
func (t *tracker) setClosing(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil || s.closing {
		return false
	}
	s.closing = true
	return true
}

func (t *tracker) remove(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil {
		return
	}
	if b := t.buckets[s.expireAt]; b != nil {
		delete(b, id)
		if len(b) == 0 {
			delete(t.buckets, s.expireAt)
		}
	}
	delete(t.sessions, id)
}

// expire returns the sessions whose bucket is due at nowMs and marks them
// closing.
func (t *tracker) expire(nowMs int64) []*tracked {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*tracked
	for t.next <= nowMs {
		for id := range t.buckets[t.next] {
			s := t.sessions[id]
			if s != nil && !s.closing {
				s.closing = true
				out = append(out, s)
			}
		}
		delete(t.buckets, t.next)
		t.next += t.interval
	}
	return out
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

func (t *tracker) timeout(id int64) int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sessions[id]; s != nil {
		return s.timeoutMs
	}
	return 0
}

// dump writes the dump command's "Session Sets" part, as ExpiryQueue.dump.
func (t *tracker) dump(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "Session Sets (%d)/(%d):\n", len(t.buckets), len(t.sessions))
	keys := make([]int64, 0, len(t.buckets))
	for k := range t.buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		b := t.buckets[k]
		fmt.Fprintf(w, "%d expire at %s:\n", len(b), javaDate(time.UnixMilli(k)))
		ids := make([]int64, 0, len(b))
		for id := range b {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			fmt.Fprintf(w, "\t0x%x\n", id)
		}
	}
}

// javaDate formats like java.util.Date.toString.
func javaDate(t time.Time) string { return t.Format("Mon Jan 02 15:04:05 MST 2006") }

// sessionIDs hands out session ids as ZooKeeper's standalone server does:
// the first is ((now ms << 24) >>> 8) | serverID << 56, the rest count up.
type sessionIDs struct {
	mu   sync.Mutex
	next int64
}

func newSessionIDs(serverID int64, nowMs int64) *sessionIDs {
	id := int64(uint64(nowMs<<24)>>8) | serverID<<56
	if id == containerOwner {
		id++
	}
	return &sessionIDs{next: id}
}

// containerOwner is the ephemeralOwner ZooKeeper reserves for containers.
const containerOwner = int64(-9223372036854775808) // 0x8000000000000000

func (g *sessionIDs) take() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := g.next
	g.next++
	return id
}

// newPasswd is a fresh random 16-byte session password.
func newPasswd() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("server: no randomness for a session password: %v", err))
	}
	return b
}
