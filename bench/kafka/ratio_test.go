package main

import "testing"

func TestQuantileInterpolates(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{[]float64{3}, 0.5, 3},
		{[]float64{1, 2, 3}, 0.5, 2},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4, 5}, 0.25, 2},
		{[]float64{1, 2, 3, 4}, 0.25, 1.75},
		{[]float64{1, 2, 3, 4}, 0.75, 3.25},
		{[]float64{1, 2, 3, 4}, 1, 4},
		{[]float64{1, 2, 3, 4}, 0, 1},
	} {
		if got := quantile(c.xs, c.q); got != c.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.xs, c.q, got, c.want)
		}
	}
}

// Each round's ratio pairs the two rounds measured together, not the
// sorted rates of each side: a slow round of both sides is a ratio of 1.
func TestRoundRatiosPairRounds(t *testing.T) {
	kz := []result{{produceRecs: 50, consumeRecs: 300}, {produceRecs: 100, consumeRecs: 100}, {produceRecs: 90, consumeRecs: 220}}
	ref := []result{{produceRecs: 50, consumeRecs: 100}, {produceRecs: 80, consumeRecs: 200}, {produceRecs: 100, consumeRecs: 200}}
	p, c := roundRatios(kz, ref)
	if want := (spread{median: 1, q1: 0.95, q3: 1.125}); p != want {
		t.Errorf("produce ratios %+v, want %+v", p, want)
	}
	if want := (spread{median: 1.1, q1: 0.8, q3: 2.05}); c != want {
		t.Errorf("consume ratios %+v, want %+v", c, want)
	}
}
