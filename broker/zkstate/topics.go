package zkstate

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/go-zookeeper/zk"
)

func topicPath(t string) string       { return "/brokers/topics/" + t }
func topicConfigPath(t string) string { return "/config/topics/" + t }
func statePath(t string, p int32) string {
	return "/brokers/topics/" + t + "/partitions/" + strconv.Itoa(int(p)) + "/state"
}

// CreateTopic writes /config/topics/T and then /brokers/topics/T, as Kafka's
// AdminZkClient does, so a controller that sees the topic sees its config.
func (c *Client) CreateTopic(a TopicAssignment, configs map[string]string) error {
	if ok, _, err := c.conn.Exists(c.p(topicPath(a.Name))); err != nil {
		return fmt.Errorf("zkstate: checking topic %s: %w", a.Name, err)
	} else if ok {
		return fmt.Errorf("%w: topic '%s'", ErrTopicExists, a.Name)
	}
	if configs == nil {
		configs = map[string]string{}
	}
	if err := c.writeTopicConfig(a.Name, configs); err != nil {
		return err
	}
	_, err := c.conn.Create(c.p(topicPath(a.Name)), EncodeTopic(a), 0, openACL)
	if errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("%w: topic '%s'", ErrTopicExists, a.Name)
	}
	if err != nil {
		return fmt.Errorf("zkstate: creating topic %s: %w", a.Name, err)
	}
	return nil
}

func (c *Client) writeTopicConfig(topic string, cfg map[string]string) error {
	path := c.p(topicConfigPath(topic))
	data := EncodeTopicConfig(cfg)
	_, err := c.conn.Set(path, data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = c.conn.Create(path, data, 0, openACL)
		if errors.Is(err, zk.ErrNodeExists) {
			_, err = c.conn.Set(path, data, -1)
		}
	}
	if err != nil {
		return fmt.Errorf("zkstate: writing config of topic %s at %s: %w", topic, path, err)
	}
	return nil
}

// Topics lists /brokers/topics, sorted, with a children watch.
func (c *Client) Topics() ([]string, <-chan zk.Event, error) {
	kids, _, ev, err := c.conn.ChildrenW(c.p("/brokers/topics"))
	if err != nil {
		return nil, nil, fmt.Errorf("zkstate: listing %s/brokers/topics: %w", c.chroot, err)
	}
	sort.Strings(kids)
	return kids, ev, nil
}

// Topic reads /brokers/topics/T with a data watch (fires on a new assignment
// and on deletion). A missing topic is ErrTopicNotFound.
func (c *Client) Topic(name string) (TopicAssignment, <-chan zk.Event, error) {
	data, _, ev, err := c.conn.GetW(c.p(topicPath(name)))
	if errors.Is(err, zk.ErrNoNode) {
		return TopicAssignment{}, nil, fmt.Errorf("%w: topic '%s'", ErrTopicNotFound, name)
	}
	if err != nil {
		return TopicAssignment{}, nil, fmt.Errorf("zkstate: reading topic %s: %w", name, err)
	}
	a, err := DecodeTopic(name, data)
	return a, ev, err
}

// SetTopicAssignment overwrites /brokers/topics/T (CreatePartitions,
// reassignment). The topic must exist.
func (c *Client) SetTopicAssignment(a TopicAssignment) error {
	_, err := c.multi(&zk.SetDataRequest{Path: c.p(topicPath(a.Name)), Data: EncodeTopic(a), Version: -1})
	if errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("%w: topic '%s'", ErrTopicNotFound, a.Name)
	}
	if err != nil {
		return fmt.Errorf("zkstate: writing assignment of topic %s: %w", a.Name, err)
	}
	return nil
}

// TopicConfig reads /config/topics/T; a missing znode is an empty config.
func (c *Client) TopicConfig(name string) (map[string]string, error) {
	data, _, err := c.conn.Get(c.p(topicConfigPath(name)))
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zkstate: reading config of topic %s: %w", name, err)
	}
	return DecodeTopicConfig(name, data)
}

// SetTopicConfig replaces /config/topics/T and announces the change under
// /config/changes/config_change_<seq> as Kafka does.
func (c *Client) SetTopicConfig(name string, cfg map[string]string) error {
	if err := c.writeTopicConfig(name, cfg); err != nil {
		return err
	}
	_, err := c.conn.Create(c.p("/config/changes/config_change_"), EncodeConfigChange("topics/"+name), zk.FlagSequence, openACL)
	if err != nil {
		return fmt.Errorf("zkstate: announcing config change of topic %s: %w", name, err)
	}
	return nil
}

// ConfigChanges lists /config/changes (sorted) with a children watch.
func (c *Client) ConfigChanges() ([]string, <-chan zk.Event, error) {
	kids, _, ev, err := c.conn.ChildrenW(c.p("/config/changes"))
	if err != nil {
		return nil, nil, fmt.Errorf("zkstate: listing %s/config/changes: %w", c.chroot, err)
	}
	sort.Strings(kids)
	return kids, ev, nil
}

// ConfigChange reads one /config/changes entry and returns its entity path
// ("topics/T").
func (c *Client) ConfigChange(name string) (string, error) {
	data, _, err := c.conn.Get(c.p("/config/changes/" + name))
	if err != nil {
		return "", fmt.Errorf("zkstate: reading /config/changes/%s: %w", name, err)
	}
	return DecodeConfigChange(data)
}

// PartitionState reads the state znode of topic-p.
func (c *Client) PartitionState(topic string, p int32) (PartitionState, error) {
	path := c.p(statePath(topic, p))
	data, st, err := c.conn.Get(path)
	if errors.Is(err, zk.ErrNoNode) {
		return PartitionState{}, fmt.Errorf("%w: %s-%d", ErrPartitionStateNotFound, topic, p)
	}
	if err != nil {
		return PartitionState{}, fmt.Errorf("zkstate: reading state of %s-%d: %w", topic, p, err)
	}
	return DecodePartitionState(fmt.Sprintf("%s-%d", topic, p), st.Version, data)
}

// CreatePartitionState creates the state znode of topic-p (and its parents).
// It exists already: ErrBadVersion.
func (c *Client) CreatePartitionState(topic string, p int32, s PartitionState) error {
	parts := c.p(topicPath(topic) + "/partitions")
	for _, path := range []string{parts, parts + "/" + strconv.Itoa(int(p))} {
		_, err := c.conn.Create(path, nil, 0, openACL)
		if errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("%w: topic '%s' (creating state of partition %d)", ErrTopicNotFound, topic, p)
		}
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("zkstate: creating %s: %w", path, err)
		}
	}
	_, err := c.multi(&zk.CreateRequest{Path: c.p(statePath(topic, p)), Data: EncodePartitionState(s), Acl: openACL})
	if errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("%w: state of %s-%d exists", ErrBadVersion, topic, p)
	}
	if err != nil {
		return fmt.Errorf("zkstate: creating state of %s-%d: %w", topic, p, err)
	}
	return nil
}

// UpdatePartitionState writes the state of topic-p if its znode is still at
// s.ZkVersion, and returns the new version. A lost race is ErrBadVersion.
func (c *Client) UpdatePartitionState(topic string, p int32, s PartitionState) (newVersion int32, err error) {
	res, err := c.multi(&zk.SetDataRequest{Path: c.p(statePath(topic, p)), Data: EncodePartitionState(s), Version: s.ZkVersion})
	switch {
	case errors.Is(err, zk.ErrBadVersion):
		return 0, fmt.Errorf("%w: state of %s-%d is no longer at version %d", ErrBadVersion, topic, p, s.ZkVersion)
	case errors.Is(err, zk.ErrNoNode):
		return 0, fmt.Errorf("%w: %s-%d", ErrPartitionStateNotFound, topic, p)
	case err != nil:
		return 0, fmt.Errorf("zkstate: updating state of %s-%d: %w", topic, p, err)
	}
	if len(res) == 0 || res[0].Stat == nil {
		return 0, fmt.Errorf("zkstate: updating state of %s-%d: no stat in reply", topic, p)
	}
	return res[0].Stat.Version, nil
}

// MarkTopicForDeletion creates /admin/delete_topics/T. Marking twice is not
// an error (Kafka's handler swallows TopicAlreadyMarkedForDeletion).
func (c *Client) MarkTopicForDeletion(name string) error {
	if ok, _, err := c.conn.Exists(c.p(topicPath(name))); err != nil {
		return fmt.Errorf("zkstate: checking topic %s: %w", name, err)
	} else if !ok {
		return fmt.Errorf("%w: topic '%s'", ErrTopicNotFound, name)
	}
	_, err := c.conn.Create(c.p("/admin/delete_topics/"+name), nil, 0, openACL)
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("zkstate: marking topic %s for deletion: %w", name, err)
	}
	return nil
}

// TopicsMarkedForDeletion lists /admin/delete_topics with a children watch.
func (c *Client) TopicsMarkedForDeletion() ([]string, <-chan zk.Event, error) {
	kids, _, ev, err := c.conn.ChildrenW(c.p("/admin/delete_topics"))
	if err != nil {
		return nil, nil, fmt.Errorf("zkstate: listing %s/admin/delete_topics: %w", c.chroot, err)
	}
	sort.Strings(kids)
	return kids, ev, nil
}

// DeleteTopic removes /brokers/topics/T (recursively), /config/topics/T and
// /admin/delete_topics/T, in Kafka's order. Missing znodes are skipped.
func (c *Client) DeleteTopic(name string) error {
	if err := c.deleteRecursive(c.p(topicPath(name))); err != nil {
		return fmt.Errorf("zkstate: deleting topic %s: %w", name, err)
	}
	for _, p := range []string{topicConfigPath(name), "/admin/delete_topics/" + name} {
		_, err := c.multi(&zk.DeleteRequest{Path: c.p(p), Version: -1})
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("zkstate: deleting %s: %w", p, err)
		}
	}
	return nil
}

func (c *Client) deleteRecursive(path string) error {
	kids, _, err := c.conn.Children(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := c.deleteRecursive(path + "/" + k); err != nil {
			return err
		}
	}
	_, err = c.multi(&zk.DeleteRequest{Path: path, Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	return nil
}

// DeleteTopicMark removes /admin/delete_topics/T without deleting the topic
// (delete.topic.enable=false).
func (c *Client) DeleteTopicMark(name string) error {
	_, err := c.multi(&zk.DeleteRequest{Path: c.p("/admin/delete_topics/" + name), Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zkstate: unmarking topic %s for deletion: %w", name, err)
	}
	return nil
}
