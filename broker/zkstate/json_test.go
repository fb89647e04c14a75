package zkstate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestZkStateDecodeKafkaWritten(t *testing.T) {
	// As written by Apache Kafka 3.x brokers (key order is Scala's map order).
	b, err := DecodeBroker(0, 42, []byte(`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},`+
		`"endpoints":["PLAINTEXT://localhost:9092"],"jmx_port":-1,"port":9092,"host":"localhost","version":5,"timestamp":"1669000000000"}`))
	require.NoError(t, err)
	require.Equal(t, BrokerInfo{ID: 0, Host: "localhost", Port: 9092, Endpoints: []string{"PLAINTEXT://localhost:9092"},
		SecurityProtocolMap: map[string]string{"PLAINTEXT": "PLAINTEXT"}, TimestampMs: 1669000000000, Epoch: 42}, b)
	old, err := DecodeBroker(1, 1, []byte(`{"jmx_port":-1,"timestamp":"1","host":"h","version":1,"port":9092}`))
	require.NoError(t, err)
	require.Equal(t, []string{"PLAINTEXT://h:9092"}, old.Endpoints)

	a, err := DecodeTopic("t", []byte(`{"partitions":{"0":[0]},"topic_id":"d4mO5JbkTfKbdcF9rPxXbQ","adding_replicas":{},"removing_replicas":{},"version":3}`))
	require.NoError(t, err)
	require.Equal(t, "d4mO5JbkTfKbdcF9rPxXbQ", EncodeTopicID(a.TopicID))
	a, err = DecodeTopic("t", []byte(`{"version":1,"partitions":{"0":[0,1]}}`))
	require.NoError(t, err)
	require.Equal(t, map[int32][]int32{0: {0, 1}}, a.Partitions)
	_, err = DecodeTopic("t", []byte(`{"version":1,"partitions":{"x":[0,1]}}`))
	require.ErrorIs(t, err, ErrBadJSON)

	s, err := DecodePartitionState("t-0", 3, []byte(`{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":0,"isr":[0]}`))
	require.NoError(t, err)
	require.Equal(t, PartitionState{ControllerEpoch: 1, Leader: 0, ISR: []int32{0}, ZkVersion: 3}, s)
	_, err = DecodePartitionState("t-0", 0, []byte(`{"isr":[0]}`))
	require.ErrorIs(t, err, ErrBadJSON)

	id, err := DecodeController([]byte(`{"version":1,"brokerid":2,"timestamp":"1669000000000"}`))
	require.NoError(t, err)
	require.Equal(t, int32(2), id)
	id, err = DecodeController([]byte(`5`))
	require.NoError(t, err)
	require.Equal(t, int32(5), id)

	tid, err := DecodeTopicID("123e4567-e89b-12d3-a456-426614174000")
	require.NoError(t, err)
	require.Equal(t, byte(0x12), tid[0])
}

func TestZkStateRoundTrip(t *testing.T) {
	rack := "x\"y"
	b := BrokerInfo{ID: 9, Host: "h", Port: 1, Endpoints: []string{"PLAINTEXT://h:1"}, SecurityProtocolMap: map[string]string{"PLAINTEXT": "SSL"}, Rack: &rack, TimestampMs: 7, Epoch: 3}
	got, err := DecodeBroker(9, 3, EncodeBroker(b))
	require.NoError(t, err)
	require.Equal(t, b, got)
	a := TopicAssignment{Name: "t", TopicID: [16]byte{1}, Partitions: map[int32][]int32{0: {1}}, AddingReplicas: map[int32][]int32{0: {2}}, RemovingReplicas: map[int32][]int32{}}
	ga, err := DecodeTopic("t", EncodeTopic(a))
	require.NoError(t, err)
	require.Equal(t, a, ga)
	cfg, err := DecodeTopicConfig("t", EncodeTopicConfig(map[string]string{"a": "b"}))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "b"}, cfg)
	cid, err := DecodeClusterID(EncodeClusterID("abc"))
	require.NoError(t, err)
	require.Equal(t, "abc", cid)
	parts, err := DecodeISRChange(EncodeISRChange([]TopicPartition{{"a", 1}}))
	require.NoError(t, err)
	require.Equal(t, []TopicPartition{{"a", 1}}, parts)
}

// FuzzZkStateDecode feeds arbitrary bytes to every znode decoder: none may
// panic, and whatever decodes must survive an encode/decode round trip.
func FuzzZkStateDecode(f *testing.F) {
	for _, s := range []string{
		`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://localhost:9092"],"jmx_port":-1,"port":9092,"host":"localhost","version":5,"timestamp":"1669000000000"}`,
		`{"version":2,"partitions":{"0":[1,2,3]},"adding_replicas":{},"removing_replicas":{},"topic_id":"d4mO5JbkTfKbdcF9rPxXbQ"}`,
		`{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":0,"isr":[0]}`,
		`{"version":1,"brokerid":2,"timestamp":"1"}`, `{"version":1,"broker":1,"block_start":"0","block_end":"999"}`,
		`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}`, `{"version":1,"config":{"a":"b"}}`, `{"version":"1","id":"x"}`, `7`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := DecodeBroker(1, 1, data); err == nil {
			b2, err := DecodeBroker(1, 1, EncodeBroker(b))
			require.NoError(t, err)
			require.Equal(t, len(b.Endpoints), len(b2.Endpoints))
		}
		if a, err := DecodeTopic("t", data); err == nil {
			a2, err := DecodeTopic("t", EncodeTopic(a))
			require.NoError(t, err)
			require.Equal(t, len(a.Partitions), len(a2.Partitions))
			require.Equal(t, a.TopicID, a2.TopicID)
		}
		if s, err := DecodePartitionState("t-0", 0, data); err == nil {
			s2, err := DecodePartitionState("t-0", 0, EncodePartitionState(s))
			require.NoError(t, err)
			require.Equal(t, s.Leader, s2.Leader)
			require.Equal(t, len(s.ISR), len(s2.ISR))
		}
		_, _ = DecodeController(data)
		_, _ = DecodeControllerEpoch(data)
		if cfg, err := DecodeTopicConfig("t", data); err == nil {
			cfg2, err := DecodeTopicConfig("t", EncodeTopicConfig(cfg))
			require.NoError(t, err)
			require.Equal(t, len(cfg), len(cfg2))
		}
		_, _ = DecodeClusterID(data)
		if b, err := DecodeProducerIDBlock(data); err == nil {
			b2, err := DecodeProducerIDBlock(EncodeProducerIDBlock(b))
			require.NoError(t, err)
			require.Equal(t, b, b2)
		}
		if rs, err := DecodeReassignments(data); err == nil {
			rs2, err := DecodeReassignments(EncodeReassignments(rs))
			require.NoError(t, err)
			require.Equal(t, len(rs), len(rs2))
		}
		_, _ = DecodePartitionList(data)
		_, _ = DecodeConfigChange(data)
		_, _ = DecodeISRChange(data)
	})
}
