package server

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"kzoo/coordinator/jute"
)

// watchMode is how a connection watches one path, as ZooKeeper 3.8's
// WatcherMode: one mode per (connection, path), the last one set wins.
type watchMode uint8

const (
	modeStandard watchMode = iota
	modePersistent
	modeRecursive
)

// watchTable is one of ZooKeeper's two watch managers: data watches
// (getData, exists, addWatch) or child watches (getChildren, addWatch
// persistent).
type watchTable struct {
	byPath    map[string]map[*conn]watchMode
	byConn    map[*conn]map[string]struct{}
	recursive int // watches in modeRecursive; parents are searched only when > 0
}

func newWatchTable() *watchTable {
	return &watchTable{byPath: map[string]map[*conn]watchMode{}, byConn: map[*conn]map[string]struct{}{}}
}

func (t *watchTable) add(path string, c *conn, m watchMode) {
	ws := t.byPath[path]
	if ws == nil {
		ws = make(map[*conn]watchMode, 2)
		t.byPath[path] = ws
	}
	if old, ok := ws[c]; ok && old == modeRecursive {
		t.recursive--
	}
	ws[c] = m
	if m == modeRecursive {
		t.recursive++
	}
	ps := t.byConn[c]
	if ps == nil {
		ps = make(map[string]struct{})
		t.byConn[c] = ps
	}
	ps[path] = struct{}{}
}

// remove drops c's watch on path whatever its mode; false if there was none.
func (t *watchTable) remove(path string, c *conn) bool {
	ws := t.byPath[path]
	m, ok := ws[c]
	if !ok {
		return false
	}
	t.drop(path, ws, c, m)
	return true
}

func (t *watchTable) drop(path string, ws map[*conn]watchMode, c *conn, m watchMode) {
	delete(ws, c)
	if len(ws) == 0 {
		delete(t.byPath, path)
	}
	if m == modeRecursive {
		t.recursive--
	}
	if ps := t.byConn[c]; ps != nil {
		delete(ps, path)
		if len(ps) == 0 {
			delete(t.byConn, c)
		}
	}
}

func (t *watchTable) contains(path string, c *conn) bool {
	_, ok := t.byPath[path][c]
	return ok
}

func (t *watchTable) removeConn(c *conn) {
	for p := range t.byConn[c] {
		if ws := t.byPath[p]; ws != nil {
			if ws[c] == modeRecursive {
				t.recursive--
			}
			delete(ws, c)
			if len(ws) == 0 {
				delete(t.byPath, p)
			}
		}
	}
	delete(t.byConn, c)
}

func (t *watchTable) count() int {
	n := 0
	for _, ws := range t.byPath {
		n += len(ws)
	}
	return n
}

// trigger finds the connections to notify of an event on path, as
// ZooKeeper's WatchManager.triggerWatch: watches on path itself fire (and
// standard ones are removed); recursive watches on path or any ancestor fire
// for everything but NodeChildrenChanged. Connections in suppress are left
// out of the result but their standard watches are still consumed.
func (t *watchTable) trigger(path string, typ int32, suppress map[*conn]struct{}) map[*conn]struct{} {
	var fired map[*conn]struct{}
	fire := func(c *conn) {
		if fired == nil {
			fired = make(map[*conn]struct{}, 4)
		}
		fired[c] = struct{}{}
	}
	p := path
	for {
		atParent := p != path
		if ws := t.byPath[p]; ws != nil {
			for c, m := range ws {
				switch {
				case m == modeRecursive:
					if typ != jute.EventNodeChildrenChanged {
						fire(c)
					}
				case !atParent:
					fire(c)
					if m == modeStandard {
						t.drop(p, ws, c, m)
					}
				}
			}
		}
		if t.recursive == 0 || p == "/" {
			break
		}
		p = parentPath(p)
	}
	for c := range suppress {
		delete(fired, c)
	}
	return fired
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// watches is the server's watch manager. Lock should be taken after
// treeMu and conn.mu (see the package doc).
type watches struct {
	mu    sync.Mutex
	data  *watchTable
	child *watchTable
}

func newWatches() *watches { return &watches{data: newWatchTable(), child: newWatchTable()} }

// notice is one notification to deliver.
type notice struct {
	c    *conn
	typ  int32
	path string
}

// fire maps one raw tree event to ZooKeeper's triggers and appends the
// notifications to out.
func (w *watches) fire(typ int32, path string, out []notice) []notice {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch typ {
	case jute.EventNodeDeleted:
		processed := w.data.trigger(path, typ, nil)
		for c := range processed {
			out = append(out, notice{c: c, typ: typ, path: path})
		}
		for c := range w.child.trigger(path, typ, processed) {
			out = append(out, notice{c: c, typ: typ, path: path})
		}
	case jute.EventNodeChildrenChanged:
		for c := range w.child.trigger(path, typ, nil) {
			out = append(out, notice{c: c, typ: typ, path: path})
		}
	default:
		for c := range w.data.trigger(path, typ, nil) {
			out = append(out, notice{c: c, typ: typ, path: path})
		}
	}
	return out
}

func (w *watches) addData(path string, c *conn) {
	w.mu.Lock()
	w.data.add(path, c, modeStandard)
	w.mu.Unlock()
}

func (w *watches) addChild(path string, c *conn) {
	w.mu.Lock()
	w.child.add(path, c, modeStandard)
	w.mu.Unlock()
}

// addPersistent is addWatch: a persistent watch lives in both tables, a
// recursive one only among the data watches (as DataTree.addWatch).
func (w *watches) addPersistent(path string, c *conn, recursive bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if recursive {
		w.data.add(path, c, modeRecursive)
		return
	}
	w.data.add(path, c, modePersistent)
	w.child.add(path, c, modePersistent)
}

// addRecursiveBoth is how setWatches2 re-arms a persistent-recursive
// watch: DataTree.setWatches puts it in both tables (addWatch only in the
// data table). Events come out the same; watch_count and removeWatches
// see the difference.
func (w *watches) addRecursiveBoth(path string, c *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.data.add(path, c, modeRecursive)
	w.child.add(path, c, modeRecursive)
}

// remove is removeWatches (check false) and checkWatches (check true) for
// one WatcherType; false means there was no such watch (NoWatcher).
func (w *watches) remove(path string, c *conn, typ int32, check bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	op := w.data.remove
	cop := w.child.remove
	if check {
		op = func(p string, c *conn) bool { return w.data.contains(p, c) }
		cop = func(p string, c *conn) bool { return w.child.contains(p, c) }
	}
	switch typ {
	case jute.WatcherChildren:
		return cop(path, c)
	case jute.WatcherData:
		return op(path, c)
	case jute.WatcherAny:
		a := cop(path, c)
		b := op(path, c)
		return a || b
	}
	return false
}

func (w *watches) removeConn(c *conn) {
	w.mu.Lock()
	w.data.removeConn(c)
	w.child.removeConn(c)
	w.mu.Unlock()
}

// count is ZooKeeper's watch_count: data plus child watches.
func (w *watches) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.data.count() + w.child.count()
}

// summary writes wchs's text (ZooKeeper reports the data watches only).
func (w *watches) summary(out io.Writer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	for _, ps := range w.data.byConn {
		total += len(ps)
	}
	fmt.Fprintf(out, "%d connections watching %d paths\nTotal watches:%d", len(w.data.byConn), len(w.data.byPath), total)
}

// dump writes wchc (by connection) or wchp (by path).
func (w *watches) dump(out io.Writer, byPath bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if byPath {
		paths := make([]string, 0, len(w.data.byPath))
		for p := range w.data.byPath {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintln(out, p)
			for c := range w.data.byPath[p] {
				fmt.Fprintf(out, "\t0x%x\n", c.session())
			}
		}
		return
	}
	for c, ps := range w.data.byConn {
		fmt.Fprintf(out, "0x%x\n", c.session())
		paths := make([]string, 0, len(ps))
		for p := range ps {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(out, "\t%s\n", p)
		}
	}
}
