package client

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"kzoo/coordinator/jute"
)

func TestClientWatchSetFireAndRemove(t *testing.T) {
	w := newWatchSet()
	w.data["/a"], w.exist["/b"], w.child["/a"], w.persistent["/p"], w.recursive["/p"] = true, true, true, true, true
	w.fire(jute.EventNodeDataChanged, "/a")
	require.False(t, w.data["/a"])
	require.True(t, w.child["/a"], "a data change leaves the child watch")
	w.fire(jute.EventNodeCreated, "/b")
	require.False(t, w.exist["/b"])
	w.fire(jute.EventNodeDeleted, "/p")
	require.True(t, w.persistent["/p"] && w.recursive["/p"], "persistent watches survive events")

	require.True(t, w.has("/a", jute.WatcherChildren))
	require.False(t, w.has("/a", jute.WatcherData))
	require.Equal(t, []int32{jute.EventChildWatchRemoved}, w.remove("/a", jute.WatcherAny))
	require.Equal(t, []int32{jute.EventPersistentWatchRemoved}, w.remove("/p", jute.WatcherAny),
		"one event for both persistent kinds, as ZooKeeper reports to one watcher")
	require.Empty(t, w.setWatches(5))
}

func TestClientWatchSetBatches(t *testing.T) {
	w := newWatchSet()
	long := strings.Repeat("x", 1000)
	for i := 0; i < 300; i++ {
		w.data[fmt.Sprintf("/d%03d%s", i, long)] = true
		w.child[fmt.Sprintf("/c%03d%s", i, long)] = true
	}
	w.recursive["/r"] = true
	batches := w.setWatches(0x42)
	require.Greater(t, len(batches), 1)
	var data, child, rec int
	for _, b := range batches {
		require.Equal(t, int64(0x42), b.RelativeZxid)
		require.True(t, b.Two)
		n := 0
		for _, l := range [][]string{b.DataWatches, b.ExistWatches, b.ChildWatches, b.PersistentWatches, b.PersistentRecursiveWatches} {
			for _, p := range l {
				n += len(p)
			}
		}
		require.LessOrEqual(t, n, setWatchesMax)
		require.Less(t, len(jute.Marshal(b)), jute.MaxBufferDefault)
		data, child, rec = data+len(b.DataWatches), child+len(b.ChildWatches), rec+len(b.PersistentRecursiveWatches)
	}
	require.Equal(t, []int{300, 300, 1}, []int{data, child, rec})
}
