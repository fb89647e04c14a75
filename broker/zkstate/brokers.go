package zkstate

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// SplitEndpoint parses "LISTENER://host:port".
func SplitEndpoint(ep string) (listener, host string, port int32, err error) {
	i := strings.Index(ep, "://")
	if i <= 0 {
		return "", "", 0, fmt.Errorf("zkstate: endpoint %q is not LISTENER://host:port", ep)
	}
	h, p, err := net.SplitHostPort(ep[i+3:])
	if err != nil {
		return "", "", 0, fmt.Errorf("zkstate: endpoint %q: %v", ep, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", "", 0, fmt.Errorf("zkstate: endpoint %q: bad port", ep)
	}
	return ep[:i], h, int32(n), nil
}

func joinHostPort(h string, p int32) string { return net.JoinHostPort(h, strconv.Itoa(int(p))) }

// Endpoint returns host:port of the named listener of b.
func (b BrokerInfo) Endpoint(listener string) (string, bool) {
	for _, ep := range b.Endpoints {
		l, h, p, err := SplitEndpoint(ep)
		if err == nil && l == listener {
			return joinHostPort(h, p), true
		}
	}
	return "", false
}

// ClusterID reads /cluster/id, creating it with a fresh 22-character
// base64url id (as Kafka's Uuid.randomUuid) when missing.
func (c *Client) ClusterID() (string, error) {
	for attempt := 0; attempt < 3; attempt++ {
		data, _, err := c.conn.Get(c.p("/cluster/id"))
		if err == nil {
			return DecodeClusterID(data)
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return "", fmt.Errorf("zkstate: reading %s/cluster/id: %w", c.chroot, err)
		}
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		id := base64.RawURLEncoding.EncodeToString(raw[:])
		if err := c.ensure("/cluster"); err != nil {
			return "", err
		}
		_, err = c.conn.Create(c.p("/cluster/id"), EncodeClusterID(id), 0, openACL)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return "", fmt.Errorf("zkstate: creating %s/cluster/id: %w", c.chroot, err)
		}
	}
	return "", fmt.Errorf("zkstate: %s/cluster/id keeps changing", c.chroot)
}

func brokerPath(id int32) string { return "/brokers/ids/" + strconv.Itoa(int(id)) }

// RegisterBroker creates the ephemeral /brokers/ids/N and returns the broker
// epoch (its czxid). Another live session owning the id is ErrBrokerIDInUse.
// After a session expiry the broker is registered again automatically.
func (c *Client) RegisterBroker(b BrokerInfo) (epoch int64, err error) {
	if b.TimestampMs == 0 {
		b.TimestampMs = time.Now().UnixMilli()
	}
	path := c.p(brokerPath(b.ID))
	_, err = c.conn.Create(path, EncodeBroker(b), zk.FlagEphemeral, openACL)
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return 0, fmt.Errorf("zkstate: registering broker %d at %s: %w", b.ID, path, err)
	}
	_, st, gerr := c.conn.Get(path)
	if gerr != nil {
		return 0, fmt.Errorf("zkstate: reading back broker %d at %s: %w", b.ID, path, gerr)
	}
	if st.EphemeralOwner != c.conn.SessionID() {
		return 0, fmt.Errorf("%w: broker.id %d is registered at %s by session 0x%x (ours is 0x%x)",
			ErrBrokerIDInUse, b.ID, path, st.EphemeralOwner, c.conn.SessionID())
	}
	b.Epoch = st.Czxid
	c.mu.Lock()
	c.broker = &b
	c.mu.Unlock()
	return st.Czxid, nil
}

// BrokerEpoch is the epoch of the broker registered through c (0 if none);
// it changes when the broker is re-registered after a session expiry.
func (c *Client) BrokerEpoch() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broker == nil {
		return 0
	}
	return c.broker.Epoch
}

// Broker reads one broker's registration.
func (c *Client) Broker(id int32) (BrokerInfo, bool, error) {
	data, st, err := c.conn.Get(c.p(brokerPath(id)))
	if errors.Is(err, zk.ErrNoNode) {
		return BrokerInfo{}, false, nil
	}
	if err != nil {
		return BrokerInfo{}, false, fmt.Errorf("zkstate: reading broker %d: %w", id, err)
	}
	b, err := DecodeBroker(id, st.Czxid, data)
	return b, err == nil, err
}

// Brokers lists the registered brokers, sorted by id, and sets a watch on
// the children of /brokers/ids.
func (c *Client) Brokers() ([]BrokerInfo, <-chan zk.Event, error) {
	kids, _, ev, err := c.conn.ChildrenW(c.p("/brokers/ids"))
	if err != nil {
		return nil, nil, fmt.Errorf("zkstate: listing %s/brokers/ids: %w", c.chroot, err)
	}
	var out []BrokerInfo
	for _, k := range kids {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			c.logf("zkstate: ignoring %s/brokers/ids/%s: not a broker id", c.chroot, k)
			continue
		}
		b, ok, err := c.Broker(int32(id))
		if err != nil {
			return nil, nil, err
		}
		if ok {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, ev, nil
}
