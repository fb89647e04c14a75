package zkstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// Reassignment is one entry of /admin/reassign_partitions.
type Reassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// EncodeReassignments renders /admin/reassign_partitions as Kafka's
// ReassignPartitionsZNode does.
func EncodeReassignments(rs []Reassignment) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"version":1,"partitions":[`)
	for i, r := range rs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"topic":`)
		jsonString(&buf, r.Topic)
		buf.WriteString(`,"partition":` + strconv.FormatInt(int64(r.Partition), 10) + `,"replicas":`)
		jsonInts(&buf, r.Replicas)
		buf.WriteByte('}')
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// DecodeReassignments parses /admin/reassign_partitions (log_dirs ignored).
func DecodeReassignments(data []byte) ([]Reassignment, error) {
	var j struct {
		Partitions []struct {
			Topic     string  `json:"topic"`
			Partition *int32  `json:"partition"`
			Replicas  []int32 `json:"replicas"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: /admin/reassign_partitions: %v", ErrBadJSON, err)
	}
	out := make([]Reassignment, 0, len(j.Partitions))
	for _, p := range j.Partitions {
		if p.Topic == "" || p.Partition == nil {
			return nil, fmt.Errorf("%w: /admin/reassign_partitions: an entry lacks topic or partition", ErrBadJSON)
		}
		out = append(out, Reassignment{Topic: p.Topic, Partition: *p.Partition, Replicas: p.Replicas})
	}
	return out, nil
}

// DecodePartitionList parses /admin/preferred_replica_election.
func DecodePartitionList(data []byte) ([]TopicPartition, error) {
	var j struct {
		Partitions []TopicPartition `json:"partitions"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: /admin/preferred_replica_election: %v", ErrBadJSON, err)
	}
	return j.Partitions, nil
}

// EncodePartitionList renders /admin/preferred_replica_election.
func EncodePartitionList(parts []TopicPartition) []byte { return EncodeISRChange(parts) }

// adminWatch reads an /admin znode, with an exists watch when watch is
// set; ok is false when it does not exist.
func (c *Client) adminWatch(path string, watch bool) (data []byte, version int32, ok bool, ev <-chan zk.Event, err error) {
	full := c.p(path)
	if watch {
		exists, _, wev, err := c.conn.ExistsW(full)
		if err != nil {
			return nil, 0, false, nil, fmt.Errorf("zkstate: watching %s: %w", full, err)
		}
		if !exists {
			return nil, 0, false, wev, nil
		}
		ev = wev
	}
	data, st, err := c.conn.Get(full)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, 0, false, ev, nil
	}
	if err != nil {
		return nil, 0, false, nil, fmt.Errorf("zkstate: reading %s: %w", full, err)
	}
	return data, st.Version, true, ev, nil
}

// Reassignments reads /admin/reassign_partitions, with an exists watch
// (fires on creation, change and deletion) when watch is set. ok is false
// when absent.
func (c *Client) Reassignments(watch bool) (rs []Reassignment, version int32, ok bool, ev <-chan zk.Event, err error) {
	data, version, ok, ev, err := c.adminWatch("/admin/reassign_partitions", watch)
	if err != nil || !ok {
		return nil, 0, ok, ev, err
	}
	rs, err = DecodeReassignments(data)
	return rs, version, true, ev, err
}

// CreateReassignments writes /admin/reassign_partitions, as Kafka's old
// tool did; it exists already: ErrReassignmentInProgress.
func (c *Client) CreateReassignments(rs []Reassignment) error {
	if err := c.ensure("/admin"); err != nil {
		return err
	}
	_, err := c.conn.Create(c.p("/admin/reassign_partitions"), EncodeReassignments(rs), 0, openACL)
	if errors.Is(err, zk.ErrNodeExists) {
		return ErrReassignmentInProgress
	}
	if err != nil {
		return fmt.Errorf("zkstate: creating /admin/reassign_partitions: %w", err)
	}
	return nil
}

// SetReassignments rewrites /admin/reassign_partitions if still at version,
// deleting it when rs is empty.
func (c *Client) SetReassignments(rs []Reassignment, version int32) error {
	var err error
	if len(rs) == 0 {
		_, err = c.multi(&zk.DeleteRequest{Path: c.p("/admin/reassign_partitions"), Version: version})
	} else {
		_, err = c.multi(&zk.SetDataRequest{Path: c.p("/admin/reassign_partitions"), Data: EncodeReassignments(rs), Version: version})
	}
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case errors.Is(err, zk.ErrBadVersion):
		return fmt.Errorf("%w: /admin/reassign_partitions is no longer at version %d", ErrBadVersion, version)
	case err != nil:
		return fmt.Errorf("zkstate: writing /admin/reassign_partitions: %w", err)
	}
	return nil
}

// PreferredReplicaElection reads /admin/preferred_replica_election with an
// exists watch; ok is false when absent.
func (c *Client) PreferredReplicaElection() (parts []TopicPartition, ok bool, ev <-chan zk.Event, err error) {
	data, _, ok, ev, err := c.adminWatch("/admin/preferred_replica_election", true)
	if err != nil || !ok {
		return nil, ok, ev, err
	}
	parts, err = DecodePartitionList(data)
	return parts, true, ev, err
}

// CreatePreferredReplicaElection writes /admin/preferred_replica_election.
func (c *Client) CreatePreferredReplicaElection(parts []TopicPartition) error {
	if err := c.ensure("/admin"); err != nil {
		return err
	}
	_, err := c.conn.Create(c.p("/admin/preferred_replica_election"), EncodePartitionList(parts), 0, openACL)
	if errors.Is(err, zk.ErrNodeExists) {
		return ErrElectionInProgress
	}
	if err != nil {
		return fmt.Errorf("zkstate: creating /admin/preferred_replica_election: %w", err)
	}
	return nil
}

// DeletePreferredReplicaElection removes /admin/preferred_replica_election.
func (c *Client) DeletePreferredReplicaElection() error {
	_, err := c.multi(&zk.DeleteRequest{Path: c.p("/admin/preferred_replica_election"), Version: -1})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zkstate: deleting /admin/preferred_replica_election: %w", err)
	}
	return nil
}
