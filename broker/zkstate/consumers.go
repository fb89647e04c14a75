package zkstate

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// ErrBadConsumerOffset is returned when a consumer offset znode holds
// something other than a decimal offset.
var ErrBadConsumerOffset = errors.New("zkstate: consumer offset is not a decimal number")

// ConsumerOffsetPath is where OffsetCommit v0 keeps group's offset of
// topic-partition: /consumers/<group>/offsets/<topic>/<partition> (Kafka's
// ConsumerOffset.path). The group goes in as it is, so an empty group or
// one with empty path segments makes an invalid path, which ZooKeeper
// refuses.
func ConsumerOffsetPath(group, topic string, partition int32) string {
	return "/consumers/" + group + "/offsets/" + topic + "/" + strconv.Itoa(int(partition))
}

// EncodeConsumerOffset renders an offset as Kafka stores it: a decimal string.
func EncodeConsumerOffset(offset int64) []byte {
	return strconv.AppendInt(nil, offset, 10)
}

// DecodeConsumerOffset parses a consumer offset znode's data, read at
// where. Like Kafka (a Java Long.parseLong), it accepts an optional sign
// and decimal digits only.
func DecodeConsumerOffset(where string, data []byte) (int64, error) {
	off, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s holds %q", ErrBadConsumerOffset, where, data)
	}
	return off, nil
}

// SetConsumerOffset stores group's committed offset of topic-partition at
// ConsumerOffsetPath, overwriting whatever is there and creating the
// znode, with its parents, when it is missing (Kafka's
// setOrCreateConsumerOffset). A commit racing another one to create the
// znode overwrites it instead of failing: the last write wins.
func (c *Client) SetConsumerOffset(group, topic string, partition int32, offset int64) error {
	path := c.p(ConsumerOffsetPath(group, topic, partition))
	data := EncodeConsumerOffset(offset)
	for attempt := 0; attempt < 3; attempt++ {
		_, err := c.conn.Set(path, data, -1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("zkstate: setting %s: %w", path, err)
		}
		_, err = c.conn.Create(path, data, 0, openACL)
		if errors.Is(err, zk.ErrNoNode) {
			if err := c.ensureRaw(parentOf(path)); err != nil {
				return fmt.Errorf("zkstate: creating the parents of %s: %w", path, err)
			}
			_, err = c.conn.Create(path, data, 0, openACL)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrNodeExists):
			continue // created meanwhile by another commit: set it
		default:
			return fmt.Errorf("zkstate: creating %s: %w", path, err)
		}
	}
	return fmt.Errorf("zkstate: setting %s: created and deleted again by others three times", path)
}

// ConsumerOffset reads group's committed offset of topic-partition from
// ConsumerOffsetPath. ok is false when the znode is missing or holds no
// data (Kafka's getConsumerOffset answers None for both).
func (c *Client) ConsumerOffset(group, topic string, partition int32) (offset int64, ok bool, err error) {
	path := c.p(ConsumerOffsetPath(group, topic, partition))
	data, _, err := c.conn.Get(path)
	if errors.Is(err, zk.ErrNoNode) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("zkstate: reading %s: %w", path, err)
	}
	if data == nil {
		return 0, false, nil
	}
	off, err := DecodeConsumerOffset(path, data)
	if err != nil {
		return 0, false, err
	}
	return off, true, nil
}

// parentOf is the path above an absolute path ("/" for a top-level one).
func parentOf(path string) string {
	for i := len(path) - 1; i > 0; i-- {
		if path[i] == '/' {
			return path[:i]
		}
	}
	return "/"
}
