package server

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
)

type regInput struct {
	write bool
	value string
}

// registerModel is one znode's data as a linearizable register.
var registerModel = porcupine.Model{
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(regInput)
		if in.write {
			return "set " + in.value
		}
		return fmt.Sprintf("get -> %v", output)
	},
}

// TestLinearizableRegister records concurrent gets and sets of one znode
// from several sessions while the server drops their connections at
// random, and checks the history against a register. A set whose answer
// was lost may or may not have happened: it stays open to the end.
func TestLinearizableRegister(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	s := startServer(t, testConfig(t))
	setup, _ := dialZK(t, s, 2*time.Second)
	_, err := setup.Create("/reg", []byte(""), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	const clients, opsEach = 4, 60
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	conns := make([]*zk.Conn, clients)
	for i := range conns {
		conns[i], _ = dialZK(t, s, 2*time.Second)
	}
	stopChaos := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		tick := time.NewTicker(15 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopChaos:
				return
			case <-tick.C:
			}
			cs := s.connList()
			if len(cs) > 0 && rng.IntN(3) == 0 {
				cs[rng.IntN(len(cs))].closeNow()
			}
		}
	}()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := conns[i]
			for j := 0; j < opsEach; j++ {
				write := (i+j)%3 == 0
				v := fmt.Sprintf("%d-%d", i, j)
				call := time.Since(start).Nanoseconds()
				op := porcupine.Operation{ClientId: i, Call: call, Input: regInput{write: write, value: v}}
				if write {
					_, err := c.Set("/reg", []byte(v), -1)
					op.Return = time.Since(start).Nanoseconds()
					if err != nil {
						op.Return = math.MaxInt64 // outcome unknown
					}
				} else {
					data, _, err := c.Get("/reg")
					if err != nil {
						continue
					}
					op.Output = string(data)
					op.Return = time.Since(start).Nanoseconds()
				}
				mu.Lock()
				history = append(history, op)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	close(stopChaos)
	<-chaosDone
	require.NotEmpty(t, history)
	res := porcupine.CheckOperationsTimeout(registerModel, history, 30*time.Second)
	require.NotEqual(t, porcupine.Illegal, res, "history is not linearizable (seed %d)", seed)
}
