package zkstate_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"kzoo/broker/zkstate"
	"kzoo/broker/zkstate/zktest"
)

func TestZkStateConsumerOffsetLayout(t *testing.T) {
	c := dial(t, zktest.Connect(t))
	require.Equal(t, "/consumers/g1/offsets/orders/3", zkstate.ConsumerOffsetPath("g1", "orders", 3))

	_, ok, err := c.ConsumerOffset("g1", "orders", 3)
	require.NoError(t, err)
	require.False(t, ok, "nothing committed yet")

	// The first commit creates the znode and its parents.
	require.NoError(t, c.SetConsumerOffset("g1", "orders", 3, 42))
	require.Equal(t, "42", raw(t, c, "/consumers/g1/offsets/orders/3"))
	for _, p := range []string{"/consumers/g1", "/consumers/g1/offsets", "/consumers/g1/offsets/orders"} {
		data, _, err := c.Conn().Get(c.Chroot() + p)
		require.NoError(t, err, p)
		require.Nil(t, data, "%s is created without data, as Kafka's createRecursive does", p)
	}
	off, ok, err := c.ConsumerOffset("g1", "orders", 3)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(42), off)

	// Committing again overwrites; the offset may go back and be negative.
	for _, want := range []int64{1 << 40, 7, -1} {
		require.NoError(t, c.SetConsumerOffset("g1", "orders", 3, want))
		require.Equal(t, strconv.FormatInt(want, 10), raw(t, c, "/consumers/g1/offsets/orders/3"))
		off, ok, err = c.ConsumerOffset("g1", "orders", 3)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want, off)
	}
	_, st, err := c.Conn().Get(c.Chroot() + "/consumers/g1/offsets/orders/3")
	require.NoError(t, err)
	require.Equal(t, int32(3), st.Version, "one znode, set three times")
	require.Zero(t, st.EphemeralOwner, "offsets are persistent")

	// Other partitions, topics and groups live side by side.
	require.NoError(t, c.SetConsumerOffset("g1", "orders", 0, 5))
	require.NoError(t, c.SetConsumerOffset("g2", "orders", 3, 9))
	kids, _, err := c.Conn().Children(c.Chroot() + "/consumers/g1/offsets/orders")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"0", "3"}, kids)
	off, _, err = c.ConsumerOffset("g2", "orders", 3)
	require.NoError(t, err)
	require.Equal(t, int64(9), off)
	off, _, err = c.ConsumerOffset("g1", "orders", 3)
	require.NoError(t, err)
	require.Equal(t, int64(-1), off)

	// The offsets are under the chroot, not at the server's root.
	ok, _, err = c.Conn().Exists("/consumers/g1/offsets/orders/3")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestZkStateConsumerOffsetWrittenByOthers(t *testing.T) {
	c := dial(t, zktest.Connect(t))
	path := c.Chroot() + "/consumers/g/offsets/t/0"
	require.NoError(t, c.SetConsumerOffset("g", "t", 1, 0)) // parents exist

	// A znode without data (created by hand, or by an old consumer's
	// mkdir) reads as nothing committed.
	_, err := c.Conn().Create(path, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, ok, err := c.ConsumerOffset("g", "t", 0)
	require.NoError(t, err)
	require.False(t, ok)

	// Data that is not a decimal offset is an error naming the path.
	for _, bad := range []string{"", "12x", " 12", "0x10", "9223372036854775808"} {
		_, err = c.Conn().Set(path, []byte(bad), -1)
		require.NoError(t, err)
		_, _, err = c.ConsumerOffset("g", "t", 0)
		require.ErrorIs(t, err, zkstate.ErrBadConsumerOffset, "%q", bad)
		require.Contains(t, err.Error(), path)
	}
	// A commit overwrites it.
	require.NoError(t, c.SetConsumerOffset("g", "t", 0, 11))
	off, ok, err := c.ConsumerOffset("g", "t", 0)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(11), off)
}

func TestZkStateConsumerOffsetInvalidGroup(t *testing.T) {
	c := dial(t, zktest.Connect(t))
	for _, g := range []string{"", "a/", "a//b", "..", "a/./b"} {
		err := c.SetConsumerOffset(g, "t", 0, 1)
		require.ErrorIs(t, err, zk.ErrInvalidPath, "group %q", g)
		require.Contains(t, err.Error(), "/consumers/"+g+"/offsets/t/0")
		_, _, err = c.ConsumerOffset(g, "t", 0)
		require.ErrorIs(t, err, zk.ErrInvalidPath, "group %q", g)
	}
	// A group with a slash is a deeper path, as in Kafka.
	require.NoError(t, c.SetConsumerOffset("a/b", "t", 0, 3))
	require.Equal(t, "3", raw(t, c, "/consumers/a/b/offsets/t/0"))
}

// Concurrent first commits of one partition all succeed; one of them is
// what stays.
func TestZkStateConsumerOffsetConcurrentCreate(t *testing.T) {
	connect := zktest.Connect(t)
	const n = 6
	clients := make([]*zkstate.Client, n)
	for i := range clients {
		clients[i] = dial(t, connect)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = clients[i].SetConsumerOffset("race", "t", 0, int64(100+i))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "client %d", i)
	}
	off, ok, err := clients[0].ConsumerOffset("race", "t", 0)
	require.NoError(t, err)
	require.True(t, ok)
	require.GreaterOrEqual(t, off, int64(100))
	require.Less(t, off, int64(100+n))
}

func FuzzZkStateDecodeConsumerOffset(f *testing.F) {
	for _, s := range []string{"0", "42", "-1", "+7", "9223372036854775807", "", "x", "1 "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		off, err := zkstate.DecodeConsumerOffset("/consumers/g/offsets/t/0", data)
		if err != nil {
			require.ErrorIs(t, err, zkstate.ErrBadConsumerOffset)
			return
		}
		// What decodes is a number, and re-encodes to the same number.
		back, err := zkstate.DecodeConsumerOffset("again", zkstate.EncodeConsumerOffset(off))
		require.NoError(t, err)
		require.Equal(t, off, back)
	})
}
