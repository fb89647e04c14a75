package tree

import (
	"bytes"
	"fmt"
	"testing"

	"kzoo/coordinator/jute"
)

// benchTree holds n znodes spread under 100 parents, as a broker's
// partition state znodes are.
func benchTree(b *testing.B, n int) (*Tree, int64) {
	b.Helper()
	tr := New(Options{})
	zxid := int64(0)
	apply := func(op jute.Op, rec jute.Record) {
		zxid++
		if r := tr.Apply(&Entry{Zxid: zxid, Time: zxid, Session: 1, Type: op, Body: jute.Marshal(rec)}); r.Err != jute.OK {
			b.Fatalf("%v: %v", op, r.Err)
		}
	}
	var enc jute.Encoder
	enc.Int(30000)
	enc.Buffer(make([]byte, 16))
	zxid++
	tr.Apply(&Entry{Zxid: zxid, Session: 1, Type: jute.OpCreateSession, Body: enc.B})
	for p := 0; p < 100; p++ {
		apply(jute.OpCreate, &jute.CreateRequest{Path: fmt.Sprintf("/p%d", p), ACL: jute.WorldAnyone})
	}
	for i := 0; i < n; i++ {
		apply(jute.OpCreate, &jute.CreateRequest{Path: fmt.Sprintf("/p%d/n%d", i%100, i), Data: make([]byte, 100), ACL: jute.WorldAnyone})
	}
	return tr, zxid
}

func BenchmarkTreeApplyCreate(b *testing.B) {
	tr, zxid := benchTree(b, 0)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = jute.Marshal(&jute.CreateRequest{Path: fmt.Sprintf("/p%d/c%d", i%100, i), Data: make([]byte, 100), ACL: jute.WorldAnyone})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zxid++
		if r := tr.Apply(&Entry{Zxid: zxid, Time: zxid, Session: 1, Type: jute.OpCreate, Body: bodies[i]}); r.Err != jute.OK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkTreeApplySetData(b *testing.B) {
	tr, zxid := benchTree(b, 10000)
	body := jute.Marshal(&jute.SetDataRequest{Path: "/p7/n7", Data: make([]byte, 100), Version: -1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zxid++
		if r := tr.Apply(&Entry{Zxid: zxid, Time: zxid, Session: 1, Type: jute.OpSetData, Body: body}); r.Err != jute.OK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkTreeGetData(b *testing.B) {
	tr, _ := benchTree(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, code := tr.GetData("/p7/n7", nil); code != jute.OK {
			b.Fatal(code)
		}
	}
}

func BenchmarkTreeSnapshot100k(b *testing.B) {
	tr, _ := benchTree(b, 100000)
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := tr.WriteSnapshot(&buf); err != nil {
			b.Fatal(err)
		}
		if _, err := ReadSnapshot(bytes.NewReader(buf.Bytes()), Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "snapshot-bytes")
}

// BenchmarkTreeCapture100k is the part of a snapshot that holds up applies:
// copying the tree's state out (the file is written in the background).
func BenchmarkTreeCapture100k(b *testing.B) {
	tr, _ := benchTree(b, 100000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := tr.Capture()
		if c.Zxid() != tr.LastZxid() {
			b.Fatal("capture at the wrong zxid")
		}
		c.Release()
	}
}
