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

// setWatches builds the setWatches2 record for every watch held, or
// reports false when there is none.
func (w *watchSet) setWatches(relZxid int64) (*jute.SetWatches, bool) {
	keys := func(m map[string]bool) []string {
		v := make([]string, 0, len(m))
		for k := range m {
			v = append(v, k)
		}
		sort.Strings(v)
		return v
	}
	sw := &jute.SetWatches{
		RelativeZxid:               relZxid,
		DataWatches:                keys(w.data),
		ExistWatches:               keys(w.exist),
		ChildWatches:               keys(w.child),
		PersistentWatches:          keys(w.persistent),
		PersistentRecursiveWatches: keys(w.recursive),
		Two:                        true,
	}
	n := len(sw.DataWatches) + len(sw.ExistWatches) + len(sw.ChildWatches) +
		len(sw.PersistentWatches) + len(sw.PersistentRecursiveWatches)
	return sw, n > 0
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
