package zkstate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/google/uuid"
)

// This file holds the encoders and decoders of every znode's JSON. They are
// pure: bytes in, values out. Field order follows what Kafka 3.x writes
// (kafka.zk.ZkData) so that tools diffing znodes see the familiar layout.

// ErrBadJSON is returned (wrapped, naming the path) when a znode holds data
// that is not the JSON Kafka writes there.
var ErrBadJSON = errors.New("zkstate: malformed znode data")

// BrokerInfo is the content of /brokers/ids/N (version 5).
type BrokerInfo struct {
	ID                  int32
	Host                string
	Port                int32
	Endpoints           []string // "PLAINTEXT://h:p"
	SecurityProtocolMap map[string]string
	Rack                *string
	TimestampMs         int64
	// Epoch is the broker epoch: the czxid of its /brokers/ids/N znode.
	Epoch int64
}

// PartitionState is the content of /brokers/topics/T/partitions/P/state plus
// the znode version every conditional update is checked against.
type PartitionState struct {
	ControllerEpoch int32
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	ZkVersion       int32
}

// TopicAssignment is the content of /brokers/topics/T (version 2).
type TopicAssignment struct {
	Name             string
	TopicID          [16]byte
	Partitions       map[int32][]int32
	AddingReplicas   map[int32][]int32
	RemovingReplicas map[int32][]int32
}

// EncodeTopicID renders a topic id the way Kafka's Uuid.toString does:
// 22 characters of unpadded base64url.
func EncodeTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// DecodeTopicID accepts Kafka's 22-character base64url form and, leniently,
// the 36-character RFC 4122 form.
func DecodeTopicID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) == 22 {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err == nil && len(b) == 16 {
			copy(id[:], b)
			return id, nil
		}
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return id, fmt.Errorf("%w: topic id %q is neither base64url nor a UUID", ErrBadJSON, s)
	}
	return [16]byte(u), nil
}

func jsonString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // marshalling a string cannot fail
	buf.Write(b)
}

func jsonInts(buf *bytes.Buffer, v []int32) {
	buf.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.FormatInt(int64(x), 10))
	}
	buf.WriteByte(']')
}

func jsonStringMap(buf *bytes.Buffer, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		jsonString(buf, k)
		buf.WriteByte(':')
		jsonString(buf, m[k])
	}
	buf.WriteByte('}')
}

func jsonReplicaMap(buf *bytes.Buffer, m map[int32][]int32) {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + strconv.FormatInt(int64(k), 10) + `":`)
		r := m[k]
		if r == nil {
			r = []int32{}
		}
		jsonInts(buf, r)
	}
	buf.WriteByte('}')
}

// EncodeBroker renders /brokers/ids/N as Kafka 3.x does (version 5).
func EncodeBroker(b BrokerInfo) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"version":5,"host":`)
	if b.Host == "" {
		buf.WriteString("null")
	} else {
		jsonString(&buf, b.Host)
	}
	buf.WriteString(`,"port":` + strconv.FormatInt(int64(b.Port), 10) + `,"endpoints":[`)
	for i, e := range b.Endpoints {
		if i > 0 {
			buf.WriteByte(',')
		}
		jsonString(&buf, e)
	}
	buf.WriteString(`],"listener_security_protocol_map":`)
	jsonStringMap(&buf, b.SecurityProtocolMap)
	buf.WriteString(`,"jmx_port":-1,"rack":`)
	if b.Rack == nil {
		buf.WriteString("null")
	} else {
		jsonString(&buf, *b.Rack)
	}
	buf.WriteString(`,"timestamp":"` + strconv.FormatInt(b.TimestampMs, 10) + `","features":{}}`)
	return buf.Bytes()
}

type brokerJSON struct {
	Version   int               `json:"version"`
	Host      *string           `json:"host"`
	Port      int32             `json:"port"`
	Endpoints []string          `json:"endpoints"`
	Map       map[string]string `json:"listener_security_protocol_map"`
	Rack      *string           `json:"rack"`
	Timestamp json.RawMessage   `json:"timestamp"`
}

// DecodeBroker parses /brokers/ids/N of any version Kafka has written.
// id and czxid come from the znode's name and stat.
func DecodeBroker(id int32, czxid int64, data []byte) (BrokerInfo, error) {
	var j brokerJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return BrokerInfo{}, fmt.Errorf("%w: broker %d: %v", ErrBadJSON, id, err)
	}
	b := BrokerInfo{ID: id, Port: j.Port, Endpoints: j.Endpoints, SecurityProtocolMap: j.Map, Rack: j.Rack, Epoch: czxid}
	if j.Host != nil {
		b.Host = *j.Host
	}
	if len(j.Timestamp) > 0 {
		ts := string(j.Timestamp)
		if uq, err := strconv.Unquote(ts); err == nil {
			ts = uq
		}
		b.TimestampMs, _ = strconv.ParseInt(ts, 10, 64)
	}
	if len(b.Endpoints) == 0 && b.Host != "" {
		// Versions 1 and 2 had only host and port.
		b.Endpoints = []string{"PLAINTEXT://" + joinHostPort(b.Host, b.Port)}
	}
	if b.SecurityProtocolMap == nil {
		b.SecurityProtocolMap = map[string]string{}
		for _, e := range b.Endpoints {
			if l, _, _, err := SplitEndpoint(e); err == nil {
				b.SecurityProtocolMap[l] = l
			}
		}
	}
	return b, nil
}

// EncodeTopic renders /brokers/topics/T (version 2, with topic_id).
func EncodeTopic(a TopicAssignment) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"version":2,"partitions":`)
	jsonReplicaMap(&buf, a.Partitions)
	buf.WriteString(`,"adding_replicas":`)
	jsonReplicaMap(&buf, a.AddingReplicas)
	buf.WriteString(`,"removing_replicas":`)
	jsonReplicaMap(&buf, a.RemovingReplicas)
	buf.WriteString(`,"topic_id":"` + EncodeTopicID(a.TopicID) + `"}`)
	return buf.Bytes()
}

type topicJSON struct {
	Version    int                `json:"version"`
	Partitions map[string][]int32 `json:"partitions"`
	Adding     map[string][]int32 `json:"adding_replicas"`
	Removing   map[string][]int32 `json:"removing_replicas"`
	TopicID    *string            `json:"topic_id"`
}

func parseReplicaMap(topic, field string, m map[string][]int32) (map[int32][]int32, error) {
	out := make(map[int32][]int32, len(m))
	for k, v := range m {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("%w: topic %s: %s key %q is not a partition number", ErrBadJSON, topic, field, k)
		}
		out[int32(p)] = v
	}
	return out, nil
}

// DecodeTopic parses /brokers/topics/T (versions 1 and 2). A topic without
// topic_id (written by Kafka before 2.8) decodes with a zero TopicID.
func DecodeTopic(name string, data []byte) (TopicAssignment, error) {
	var j topicJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return TopicAssignment{}, fmt.Errorf("%w: topic %s: %v", ErrBadJSON, name, err)
	}
	a := TopicAssignment{Name: name}
	var err error
	if a.Partitions, err = parseReplicaMap(name, "partitions", j.Partitions); err != nil {
		return TopicAssignment{}, err
	}
	if a.AddingReplicas, err = parseReplicaMap(name, "adding_replicas", j.Adding); err != nil {
		return TopicAssignment{}, err
	}
	if a.RemovingReplicas, err = parseReplicaMap(name, "removing_replicas", j.Removing); err != nil {
		return TopicAssignment{}, err
	}
	if j.TopicID != nil {
		if a.TopicID, err = DecodeTopicID(*j.TopicID); err != nil {
			return TopicAssignment{}, fmt.Errorf("topic %s: %w", name, err)
		}
	}
	return a, nil
}

// EncodePartitionState renders .../partitions/P/state (version 1).
func EncodePartitionState(s PartitionState) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"controller_epoch":` + strconv.FormatInt(int64(s.ControllerEpoch), 10) +
		`,"leader":` + strconv.FormatInt(int64(s.Leader), 10) +
		`,"version":1,"leader_epoch":` + strconv.FormatInt(int64(s.LeaderEpoch), 10) + `,"isr":`)
	isr := s.ISR
	if isr == nil {
		isr = []int32{}
	}
	jsonInts(&buf, isr)
	buf.WriteByte('}')
	return buf.Bytes()
}

type stateJSON struct {
	ControllerEpoch *int32  `json:"controller_epoch"`
	Leader          *int32  `json:"leader"`
	LeaderEpoch     *int32  `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
}

// DecodePartitionState parses a partition state znode; zkVersion comes from
// its stat.
func DecodePartitionState(where string, zkVersion int32, data []byte) (PartitionState, error) {
	var j stateJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return PartitionState{}, fmt.Errorf("%w: %s: %v", ErrBadJSON, where, err)
	}
	if j.Leader == nil || j.LeaderEpoch == nil || j.ControllerEpoch == nil {
		return PartitionState{}, fmt.Errorf("%w: %s: leader, leader_epoch and controller_epoch are required", ErrBadJSON, where)
	}
	return PartitionState{ControllerEpoch: *j.ControllerEpoch, Leader: *j.Leader, LeaderEpoch: *j.LeaderEpoch, ISR: j.ISR, ZkVersion: zkVersion}, nil
}

// EncodeController renders /controller.
func EncodeController(id int32, timestampMs int64) []byte {
	return []byte(`{"version":1,"brokerid":` + strconv.FormatInt(int64(id), 10) +
		`,"timestamp":"` + strconv.FormatInt(timestampMs, 10) + `"}`)
}

// DecodeController parses /controller; Kafka before 0.9 wrote a bare integer.
func DecodeController(data []byte) (int32, error) {
	var j struct {
		BrokerID *int32 `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &j); err == nil && j.BrokerID != nil {
		return *j.BrokerID, nil
	}
	if n, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 32); err == nil {
		return int32(n), nil
	}
	return 0, fmt.Errorf("%w: /controller: %q", ErrBadJSON, data)
}

// DecodeControllerEpoch parses /controller_epoch, a bare decimal integer.
func DecodeControllerEpoch(data []byte) (int32, error) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: /controller_epoch: %q", ErrBadJSON, data)
	}
	return int32(n), nil
}

// EncodeTopicConfig renders /config/topics/T.
func EncodeTopicConfig(cfg map[string]string) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"version":1,"config":`)
	jsonStringMap(&buf, cfg)
	buf.WriteByte('}')
	return buf.Bytes()
}

// DecodeTopicConfig parses /config/topics/T.
func DecodeTopicConfig(topic string, data []byte) (map[string]string, error) {
	var j struct {
		Config map[string]string `json:"config"`
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]string{}, nil
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: /config/topics/%s: %v", ErrBadJSON, topic, err)
	}
	if j.Config == nil {
		j.Config = map[string]string{}
	}
	return j.Config, nil
}

// EncodeConfigChange renders a /config/changes/config_change_<seq> entry.
func EncodeConfigChange(entityPath string) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"version":2,"entity_path":`)
	jsonString(&buf, entityPath)
	buf.WriteByte('}')
	return buf.Bytes()
}

// DecodeConfigChange returns the entity path ("topics/T") of a change entry.
func DecodeConfigChange(data []byte) (string, error) {
	var j struct {
		EntityPath string `json:"entity_path"`
	}
	if err := json.Unmarshal(data, &j); err != nil || j.EntityPath == "" {
		return "", fmt.Errorf("%w: config change %q", ErrBadJSON, data)
	}
	return j.EntityPath, nil
}

// EncodeClusterID renders /cluster/id.
func EncodeClusterID(id string) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"version":"1","id":`)
	jsonString(&buf, id)
	buf.WriteByte('}')
	return buf.Bytes()
}

// DecodeClusterID parses /cluster/id.
func DecodeClusterID(data []byte) (string, error) {
	var j struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &j); err != nil || j.ID == "" {
		return "", fmt.Errorf("%w: /cluster/id: %q", ErrBadJSON, data)
	}
	return j.ID, nil
}

// TopicPartition names one partition in an ISR change notification.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// EncodeISRChange renders /isr_change_notification/isr_change_<seq>.
func EncodeISRChange(parts []TopicPartition) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"version":1,"partitions":[`)
	for i, p := range parts {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"topic":`)
		jsonString(&buf, p.Topic)
		buf.WriteString(`,"partition":` + strconv.FormatInt(int64(p.Partition), 10) + `}`)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// DecodeISRChange parses an ISR change notification.
func DecodeISRChange(data []byte) ([]TopicPartition, error) {
	var j struct {
		Partitions []TopicPartition `json:"partitions"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: isr change %q", ErrBadJSON, data)
	}
	return j.Partitions, nil
}
