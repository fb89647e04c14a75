package zkstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// ProducerIDBlockSize is the number of producer ids a broker claims at a
// time (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).
const ProducerIDBlockSize = 1000

// ErrProducerIDsExhausted is returned when no producer id block is left.
var ErrProducerIDsExhausted = errors.New("zkstate: producer ids exhausted")

// ProducerIDBlock is the content of /latest_producer_id_block: the last
// claimed block, both ends inclusive.
type ProducerIDBlock struct {
	Broker     int32
	Start, End int64
}

// EncodeProducerIDBlock renders /latest_producer_id_block as Kafka does.
func EncodeProducerIDBlock(b ProducerIDBlock) []byte {
	return []byte(`{"version":1,"broker":` + strconv.FormatInt(int64(b.Broker), 10) +
		`,"block_start":"` + strconv.FormatInt(b.Start, 10) + `","block_end":"` + strconv.FormatInt(b.End, 10) + `"}`)
}

// DecodeProducerIDBlock parses /latest_producer_id_block.
func DecodeProducerIDBlock(data []byte) (ProducerIDBlock, error) {
	var j struct {
		Broker *int32      `json:"broker"`
		Start  json.Number `json:"block_start"`
		End    json.Number `json:"block_end"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&j); err != nil || j.Broker == nil {
		return ProducerIDBlock{}, fmt.Errorf("%w: /latest_producer_id_block: %q", ErrBadJSON, data)
	}
	start, err1 := strconv.ParseInt(string(j.Start), 10, 64)
	end, err2 := strconv.ParseInt(string(j.End), 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return ProducerIDBlock{}, fmt.Errorf("%w: /latest_producer_id_block: bad block %q..%q", ErrBadJSON, j.Start, j.End)
	}
	return ProducerIDBlock{Broker: *j.Broker, Start: start, End: end}, nil
}

// AllocateProducerIDs claims the next block of ProducerIDBlockSize producer
// ids for broker, conditionally on /latest_producer_id_block's version so
// that no two brokers ever get the same id (Kafka's ZkProducerIdManager).
func (c *Client) AllocateProducerIDs(broker int32) (ProducerIDBlock, error) {
	path := c.p("/latest_producer_id_block")
	for attempt := 0; attempt < 100; attempt++ {
		data, st, err := c.conn.Get(path)
		if errors.Is(err, zk.ErrNoNode) {
			if err := c.ensure("/latest_producer_id_block"); err != nil {
				return ProducerIDBlock{}, err
			}
			continue
		}
		if err != nil {
			return ProducerIDBlock{}, fmt.Errorf("zkstate: reading %s: %w", path, err)
		}
		next := ProducerIDBlock{Broker: broker, Start: 0, End: ProducerIDBlockSize - 1}
		if len(bytes.TrimSpace(data)) > 0 {
			cur, err := DecodeProducerIDBlock(data)
			if err != nil {
				return ProducerIDBlock{}, err
			}
			if cur.End > math.MaxInt64-ProducerIDBlockSize {
				return ProducerIDBlock{}, fmt.Errorf("%w: last block ends at %d", ErrProducerIDsExhausted, cur.End)
			}
			next.Start, next.End = cur.End+1, cur.End+ProducerIDBlockSize
		}
		_, err = c.conn.Set(path, EncodeProducerIDBlock(next), st.Version)
		if errors.Is(err, zk.ErrBadVersion) {
			continue // another broker claimed a block; take the one after it
		}
		if err != nil {
			return ProducerIDBlock{}, fmt.Errorf("zkstate: writing %s: %w", path, err)
		}
		return next, nil
	}
	return ProducerIDBlock{}, fmt.Errorf("zkstate: %s keeps changing", path)
}

// ReservedBrokerMaxID is reserved.broker.max.id's default: generated
// broker ids start above it.
const ReservedBrokerMaxID = 1000

// NextBrokerSequenceID returns a fresh sequence number from /brokers/seqid
// (its data version after an unconditional write); Kafka's generated
// broker.id is this plus reserved.broker.max.id.
func (c *Client) NextBrokerSequenceID() (int32, error) {
	st, err := c.conn.Set(c.p("/brokers/seqid"), nil, -1)
	if err != nil {
		return 0, fmt.Errorf("zkstate: bumping %s/brokers/seqid: %w", c.chroot, err)
	}
	return st.Version, nil
}
