package client

import (
	"sort"

	"kzoo/coordinator/jute"
)

// watchSet remembers which watches the server holds for this session, by
// server-side path (chroot included), so that they can be re-sent with
// setWatches2 after a reconnect and checked before removeWatches. It is
// guarded by Client.mu.
type watchSet struct {
	data, exist, child, persistent, recursive map[string]bool
}

func newWatchSet() watchSet {
	return watchSet{
		data: map[string]bool{}, exist: map[string]bool{}, child: map[string]bool{},
		persistent: map[string]bool{}, recursive: map[string]bool{},
	}
}

// fire drops the one-shot watches a notification has consumed, as the
// server does; persistent watches stay.
func (w *watchSet) fire(typ int32, path string) {
	switch typ {
	case jute.EventNodeCreated, jute.EventNodeDataChanged:
		delete(w.data, path)
		delete(w.exist, path)
	case jute.EventNodeChildrenChanged:
		delete(w.child, path)
	case jute.EventNodeDeleted:
		delete(w.data, path)
		delete(w.exist, path)
		delete(w.child, path)
	}
}

// setWatchesMax bounds the paths' bytes in one setWatches2 record, as
// ZooKeeper's client does (128 KiB), so that a session with many watches
// never sends a frame over jute.maxbuffer.
const setWatchesMax = 128 << 10

// setWatches builds the setWatches2 records, in order and each under
// setWatchesMax bytes of paths, that re-register every watch held; none
// when there is no watch.
func (w *watchSet) setWatches(relZxid int64) []*jute.SetWatches {
	keys := func(m map[string]bool) []string {
		v := make([]string, 0, len(m))
		for k := range m {
			v = append(v, k)
		}
		sort.Strings(v)
		return v
	}
	lists := [5][]string{keys(w.data), keys(w.exist), keys(w.child), keys(w.persistent), keys(w.recursive)}
	var out []*jute.SetWatches
	var cur *jute.SetWatches
	size := 0
	for kind, paths := range lists {
		for _, p := range paths {
			if cur == nil || size+len(p) > setWatchesMax {
				cur = &jute.SetWatches{RelativeZxid: relZxid, Two: true}
				out = append(out, cur)
				size = 0
			}
			size += len(p)
			switch kind {
			case 0:
				cur.DataWatches = append(cur.DataWatches, p)
			case 1:
				cur.ExistWatches = append(cur.ExistWatches, p)
			case 2:
				cur.ChildWatches = append(cur.ChildWatches, p)
			case 3:
				cur.PersistentWatches = append(cur.PersistentWatches, p)
			case 4:
				cur.PersistentRecursiveWatches = append(cur.PersistentRecursiveWatches, p)
			}
		}
	}
	return out
}

// has reports whether a watch of watcherType (jute.Watcher*) is held on
// path.
func (w *watchSet) has(path string, watcherType int32) bool {
	switch watcherType {
	case jute.WatcherChildren:
		return w.child[path]
	case jute.WatcherData:
		return w.data[path] || w.exist[path]
	case jute.WatcherPersistent:
		return w.persistent[path]
	case jute.WatcherPersistentRecursive:
		return w.recursive[path]
	case jute.WatcherAny:
		return w.child[path] || w.data[path] || w.exist[path] || w.persistent[path] || w.recursive[path]
	}
	return false
}

// remove drops the watches of watcherType on path and returns the
// removal event types to report, one per kind, as ZooKeeper's client
// reports them to its single default watcher.
func (w *watchSet) remove(path string, watcherType int32) []int32 {
	var evs []int32
	any := watcherType == jute.WatcherAny
	if any || watcherType == jute.WatcherData {
		if w.data[path] || w.exist[path] {
			evs = append(evs, jute.EventDataWatchRemoved)
		}
		delete(w.data, path)
		delete(w.exist, path)
	}
	if any || watcherType == jute.WatcherChildren {
		if w.child[path] {
			evs = append(evs, jute.EventChildWatchRemoved)
		}
		delete(w.child, path)
	}
	p := false
	if any || watcherType == jute.WatcherPersistent {
		p = p || w.persistent[path]
		delete(w.persistent, path)
	}
	if any || watcherType == jute.WatcherPersistentRecursive {
		p = p || w.recursive[path]
		delete(w.recursive, path)
	}
	if p {
		evs = append(evs, jute.EventPersistentWatchRemoved)
	}
	return evs
}
