package controller_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kzoo/broker/controller"
	"kzoo/broker/zkstate"
	"kzoo/broker/zkstate/zktest"
)

// TestControllerScaleTimings measures, on the test coordinator, how long
// the controller takes to start many partitions, to move leadership off a
// failed broker and to fail over to another controller. It logs the
// numbers; the bounds only catch pathologies.
func TestControllerScaleTimings(t *testing.T) {
	if testing.Short() {
		t.Skip("timing run")
	}
	const parts = 600
	connect := zktest.Connect(t)
	n1 := startNode(t, connect, 1, nil, false)
	require.Eventually(t, n1.ctrl.IsActive, 20*time.Second, 10*time.Millisecond)
	n2 := startNode(t, connect, 2, nil, false)
	n3 := startNode(t, connect, 3, nil, false)
	admin := n1.zk
	assign, err := controller.AssignReplicas([]int32{1, 2, 3}, parts, 3, 0, 0)
	require.NoError(t, err)

	start := time.Now()
	require.NoError(t, admin.CreateTopic(zkstate.TopicAssignment{Name: "big", Partitions: assign}, nil))
	last := int32(parts - 1)
	waitState(t, admin, "big", last, assign[last][0], assign[last])
	created := time.Since(start)

	// Broker 2 fails: a third of the partitions need a new leader.
	start = time.Now()
	n2.crash()
	var lastLed int32 = -1
	for p := int32(0); p < parts; p++ {
		if assign[p][0] == 2 {
			lastLed = p
		}
	}
	var want []int32
	for _, r := range assign[lastLed] {
		if r != 2 {
			want = append(want, r)
		}
	}
	// The controller walks partitions in order; the last one it touches
	// is the last partition overall (an ISR shrink), written after lastLed.
	waitState(t, admin, "big", lastLed, want[0], want)
	var lastWant []int32
	for _, r := range assign[last] {
		if r != 2 {
			lastWant = append(lastWant, r)
		}
	}
	waitState(t, admin, "big", last, lastWant[0], lastWant)
	failed := time.Since(start)

	// The controller fails: broker 3 loads everything, takes over and sends
	// the full metadata.
	start = time.Now()
	n1.crash()
	require.Eventually(t, func() bool {
		return n3.ctrl.IsActive() && n3.ln.sawUpdateMetadata(func(u *kmsg.UpdateMetadataRequest) bool {
			return u.ControllerEpoch == 2 && len(u.TopicStates) == 1 && len(u.TopicStates[0].PartitionStates) == parts
		})
	}, 60*time.Second, 5*time.Millisecond)
	failover := time.Since(start)
	t.Logf("%d partitions x RF 3 on %s: created in %v; broker failure handled in %v; controller failover in %v",
		parts, zktest.Backend(), created, failed, failover)
}
