package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBrokerDefaultKgoProducer(t *testing.T) {
	c := startCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := c.admin().CreateTopic(ctx, 1, 1, nil, "idem")
	require.NoError(t, err)
	require.NoError(t, r.Err)
	p := c.client(kgo.DefaultProduceTopic("idem"))
	require.NoError(t, p.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr())
}
