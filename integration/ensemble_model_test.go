package integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

// The linearizability model of the ensemble tests. Each key is checked on
// its own (porcupine partitions the history by key):
//
//   - a register key is a znode with data and a data version; a read is
//     `sync` then `get` and returns both; a cas is `set` with the version the
//     client read, answered OK (version+1) or BadVersion;
//   - a sequence key is a parent of sequential children; a create returns
//     the sequence number, which must be the number of children created
//     under it before (no deletes happen there, so this is both ZooKeeper's
//     cversion and kzoo's counter).
//
// An operation whose answer was lost (ConnectionLoss, session expiry,
// timeout) is indeterminate: it may have taken effect at any moment after it
// was called, or never. It is recorded with Return = math.MaxInt64 and an
// output that accepts any result; its Step applies it as if it happened, and
// "never happened" is the linearization that orders it after everything
// else, where it changes nothing anyone observed.

type linKind uint8

const (
	linRead linKind = iota
	linCAS
	linCreateSeq
)

type linInput struct {
	kind linKind
	key  string
	ver  int32  // cas: the version the set expects
	val  string // cas and create: the data it writes, unique in a run
}

type linOutput struct {
	unknown    bool // indeterminate: may or may not have happened
	badVersion bool // cas refused
	ver        int32
	val        string // read: data and version seen
	seq        int64  // create: sequence number assigned
}

// linState is a register (ver, val) or, for a sequence key, the number of
// children created so far in ver.
type linState struct {
	ver int32
	val string
}

const linUnknownReturn = math.MaxInt64

var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return linState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.kind {
		case linRead:
			return out.unknown || (out.ver == st.ver && out.val == st.val), st
		case linCAS:
			matches := st.ver == in.ver
			switch {
			case out.unknown:
				if matches {
					return true, linState{ver: st.ver + 1, val: in.val}
				}
				return true, st
			case out.badVersion:
				return !matches, st
			default:
				return matches, linState{ver: st.ver + 1, val: in.val}
			}
		case linCreateSeq:
			if out.unknown {
				return true, linState{ver: st.ver + 1}
			}
			return out.seq == int64(st.ver), linState{ver: st.ver + 1}
		}
		panic(fmt.Sprintf("linearizability model: unknown operation kind %d", in.kind))
	},
	Equal: func(a, b interface{}) bool { return a.(linState) == b.(linState) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(linInput), output.(linOutput)
		res := ""
		switch {
		case out.unknown:
			res = "?"
		case in.kind == linRead:
			res = fmt.Sprintf("v%d %q", out.ver, out.val)
		case in.kind == linCAS && out.badVersion:
			res = "BadVersion"
		case in.kind == linCAS:
			res = "ok"
		default:
			res = fmt.Sprintf("%010d", out.seq)
		}
		switch in.kind {
		case linRead:
			return fmt.Sprintf("get(%s) -> %s", in.key, res)
		case linCAS:
			return fmt.Sprintf("set(%s, %q, v%d) -> %s", in.key, in.val, in.ver, res)
		default:
			return fmt.Sprintf("create(%s/n-) -> %s", in.key, res)
		}
	},
	DescribeState: func(state interface{}) string {
		st := state.(linState)
		return fmt.Sprintf("v%d %q", st.ver, st.val)
	},
}

// linResolve settles lost answers from what the run observed, so the
// checker has fewer open-ended operations to place (each one multiplies its
// search):
//
//   - a lost set of val on version v of a key took effect exactly when some
//     read saw version v+1 with val (values are unique): it becomes an OK
//     set returning no later than the first such read returned; if reads saw
//     version v+1 with other data only, it never took effect and is dropped;
//     if nobody read version v+1 it stays open;
//   - a lost create took effect exactly when its data names a child found
//     at the end (created maps data to sequence number): it gets that
//     sequence number (still open-ended in time); otherwise it is dropped.
//
// Dropping an operation that did not happen and narrowing one that did keep
// the check sound.
func linResolve(ops []porcupine.Operation, created map[string]int64) (out []porcupine.Operation, resolved, dropped int) {
	type kv struct {
		key string
		ver int32
	}
	seen := map[kv]map[string]int64{} // (key, version) -> data -> earliest return
	for _, op := range ops {
		in, o := op.Input.(linInput), op.Output.(linOutput)
		if in.kind != linRead {
			continue
		}
		k := kv{in.key, o.ver}
		if seen[k] == nil {
			seen[k] = map[string]int64{}
		}
		if r, ok := seen[k][o.val]; !ok || op.Return < r {
			seen[k][o.val] = op.Return
		}
	}
	for _, op := range ops {
		in, o := op.Input.(linInput), op.Output.(linOutput)
		if !o.unknown {
			out = append(out, op)
			continue
		}
		switch in.kind {
		case linCAS:
			vals := seen[kv{in.key, in.ver + 1}]
			if ret, ok := vals[in.val]; ok {
				op.Output, op.Return = linOutput{}, max(ret, op.Call)
				resolved++
			} else if len(vals) > 0 {
				dropped++
				continue
			}
		case linCreateSeq:
			seq, ok := created[in.val]
			if !ok {
				dropped++
				continue
			}
			op.Output = linOutput{seq: seq}
			resolved++
		}
		out = append(out, op)
	}
	return out, resolved, dropped
}

func linOp(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
	if out.unknown {
		ret = linUnknownReturn
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func TestEnsembleModelResolveLostAnswers(t *testing.T) {
	reg := func(call, ret int64, ver int32, val string, out linOutput) porcupine.Operation {
		return linOp(0, call, ret, linInput{kind: linCAS, key: "r", ver: ver, val: val}, out)
	}
	read := func(call, ret int64, ver int32, val string) porcupine.Operation {
		return linOp(1, call, ret, linInput{kind: linRead, key: "r"}, linOutput{ver: ver, val: val})
	}
	create := func(call int64, tag string) porcupine.Operation {
		return linOp(2, call, 0, linInput{kind: linCreateSeq, key: "s", val: tag}, linOutput{unknown: true})
	}
	lost := linOutput{unknown: true}
	ops := []porcupine.Operation{
		reg(0, 1, 0, "a", lost),   // seen at v1 by two reads: happened, returns by 5
		read(4, 5, 1, "a"),        //
		read(6, 9, 1, "a"),        //
		reg(10, 11, 1, "b", lost), // v2 seen with other data: never happened
		read(12, 13, 2, "c"),      //
		reg(14, 15, 5, "d", lost), // v6 never read: stays open
		create(20, "t1"),          // found at the end as seq 7
		create(21, "t2"),          // not found: never happened
	}
	got, resolved, dropped := linResolve(ops, map[string]int64{"t1": 7})
	require.Equal(t, 2, resolved)
	require.Equal(t, 2, dropped)
	require.Len(t, got, 6)
	require.Equal(t, linOutput{}, got[0].Output)
	require.Equal(t, int64(5), got[0].Return)
	require.Equal(t, "d", got[4].Input.(linInput).val)
	require.True(t, got[4].Output.(linOutput).unknown)
	require.Equal(t, int64(linUnknownReturn), got[4].Return)
	require.Equal(t, linOutput{seq: 7}, got[5].Output)
	require.Equal(t, int64(linUnknownReturn), got[5].Return)
}

func TestEnsembleModelLinearizability(t *testing.T) {
	read := func(c int, call, ret int64, ver int32, val string) porcupine.Operation {
		return linOp(c, call, ret, linInput{kind: linRead, key: "r"}, linOutput{ver: ver, val: val})
	}
	cas := func(c int, call, ret int64, ver int32, val string, out linOutput) porcupine.Operation {
		return linOp(c, call, ret, linInput{kind: linCAS, key: "r", ver: ver, val: val}, out)
	}
	seq := func(c int, call, ret int64, n int64, unknown bool) porcupine.Operation {
		return linOp(c, call, ret, linInput{kind: linCreateSeq, key: "s"}, linOutput{seq: n, unknown: unknown})
	}
	ok, bad, lost := linOutput{}, linOutput{badVersion: true}, linOutput{unknown: true}
	for _, tc := range []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"sequential reads and sets", []porcupine.Operation{
			read(0, 0, 1, 0, ""), cas(0, 2, 3, 0, "a", ok), read(1, 4, 5, 1, "a"), cas(1, 6, 7, 0, "b", bad),
		}, porcupine.Ok},
		{"stale read after an acknowledged set", []porcupine.Operation{
			cas(0, 0, 1, 0, "a", ok), read(1, 2, 3, 0, ""),
		}, porcupine.Illegal},
		{"two sets succeed on one version", []porcupine.Operation{
			cas(0, 0, 10, 0, "a", ok), cas(1, 0, 10, 0, "b", ok),
		}, porcupine.Illegal},
		{"concurrent sets, one wins", []porcupine.Operation{
			cas(0, 0, 10, 0, "a", bad), cas(1, 0, 10, 0, "b", ok), read(2, 11, 12, 1, "b"),
		}, porcupine.Ok},
		{"lost set that happened", []porcupine.Operation{
			cas(0, 0, 1, 0, "a", lost), read(1, 5, 6, 1, "a"),
		}, porcupine.Ok},
		{"lost set that never happened", []porcupine.Operation{
			cas(0, 0, 1, 0, "a", lost), read(1, 5, 6, 0, ""), cas(1, 7, 8, 0, "b", ok), read(1, 9, 10, 1, "b"),
		}, porcupine.Ok},
		{"lost set seen, then unseen", []porcupine.Operation{
			cas(0, 0, 1, 0, "a", lost), read(1, 5, 6, 1, "a"), read(1, 7, 8, 0, ""),
		}, porcupine.Illegal},
		{"a value nobody wrote", []porcupine.Operation{
			read(0, 0, 1, 1, "z"),
		}, porcupine.Illegal},
		{"sequence numbers in order", []porcupine.Operation{
			seq(0, 0, 1, 0, false), seq(1, 2, 3, 1, false), seq(0, 2, 5, 2, false),
		}, porcupine.Ok},
		{"a lost create consumed a number", []porcupine.Operation{
			seq(0, 0, 1, 0, false), seq(1, 2, 3, 0, true), seq(0, 4, 5, 2, false),
		}, porcupine.Ok},
		{"a number handed out twice", []porcupine.Operation{
			seq(0, 0, 1, 0, false), seq(1, 2, 3, 0, false),
		}, porcupine.Illegal},
		{"numbers against real time", []porcupine.Operation{
			seq(0, 0, 1, 1, false), seq(1, 2, 3, 0, false),
		}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, info := porcupine.CheckOperationsVerbose(linModel, tc.history, 0)
			require.Equal(t, tc.want, res)
			if res == porcupine.Illegal {
				// The failure report the ensemble test writes renders.
				path := filepath.Join(t.TempDir(), "history.html")
				require.NoError(t, porcupine.VisualizePath(linModel, info, path))
				st, err := os.Stat(path)
				require.NoError(t, err)
				require.Greater(t, st.Size(), int64(1000))
			}
		})
	}
}
