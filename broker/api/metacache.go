package api

import (
	"sort"
	"sync"
)

// endpoint is one listener of a live broker.
type endpoint struct {
	Host string
	Port int32
}

type brokerMeta struct {
	ID        int32
	Rack      *string
	Endpoints map[string]endpoint // by listener name
}

type partMeta struct {
	Leader, LeaderEpoch int32
	ISR, Replicas       []int32
	Offline             []int32
	ZkVersion           int32
}

type topicMeta struct {
	ID    [16]byte
	Parts map[int32]*partMeta
}

// metaCache is the broker's view of the cluster as the controller last sent
// it through UpdateMetadata. Readers get copies; only apply mutates.
type metaCache struct {
	mu              sync.RWMutex
	controllerID    int32
	controllerEpoch int32
	brokers         map[int32]brokerMeta
	topics          map[string]*topicMeta
	ids             map[[16]byte]string // topic id → name
	changed         chan struct{}       // closed and replaced on every update
}

func newMetaCache() *metaCache {
	return &metaCache{controllerID: -1, brokers: map[int32]brokerMeta{}, topics: map[string]*topicMeta{}, ids: map[[16]byte]string{}, changed: make(chan struct{})}
}

// waitChan returns a channel closed at the next update.
func (c *metaCache) waitChan() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// Lock should be held.
func (c *metaCache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *metaCache) liveBrokers() []brokerMeta {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]brokerMeta, 0, len(c.brokers))
	for _, b := range c.brokers {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *metaCache) broker(id int32) (brokerMeta, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.brokers[id]
	return b, ok
}

func (c *metaCache) controller() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.controllerID
}

// topic returns a deep copy of one topic.
func (c *metaCache) topic(name string) (topicMeta, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.topics[name]
	if !ok {
		return topicMeta{}, false
	}
	return copyTopic(t), true
}

func copyTopic(t *topicMeta) topicMeta {
	out := topicMeta{ID: t.ID, Parts: make(map[int32]*partMeta, len(t.Parts))}
	for p, pm := range t.Parts {
		cp := *pm
		out.Parts[p] = &cp
	}
	return out
}

func (c *metaCache) topicByID(id [16]byte) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.ids[id]
	return n, ok
}

func (c *metaCache) topicNames() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.topics))
	for n := range c.topics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// allLeadersKnown reports whether topic has every one of n partitions with a live leader.
func (c *metaCache) allLeadersKnown(topic string, n int) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.topics[topic]
	if !ok || len(t.Parts) < n {
		return false
	}
	for _, p := range t.Parts {
		if p.Leader < 0 {
			return false
		}
	}
	return true
}

func (c *metaCache) hasTopic(topic string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.topics[topic]
	return ok
}
