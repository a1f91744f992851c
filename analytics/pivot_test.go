package analytics

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func itoa(i int) string { return strconv.Itoa(i) }

func ptrs(vs ...float64) []*float64 {
	out := make([]*float64, len(vs))
	for i, v := range vs {
		if v == v { // not the NaN null marker
			out[i] = fp(v)
		}
	}
	return out
}

func samePtrs(a, b []*float64) bool {
	return slices.EqualFunc(a, b, func(x, y *float64) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return near(*x, *y, 1e-12)
	})
}

func TestPivotBuild(t *testing.T) {
	in := []PivotEntry{
		{"us", "web", 10}, {"de", "web", 4}, {"us", "ios", 6},
		{"us", "web", 20}, {"fr", "android", 1},
	}
	for _, c := range []struct {
		agg       PivotAggregate
		cells     [][]*float64 // rows de, fr, us × cols android, ios, web
		rows, col []*float64
		grand     *float64
	}{
		{PivotSum, [][]*float64{ptrs(null, null, 4), ptrs(1, null, null), ptrs(null, 6, 30)}, ptrs(4, 1, 36), ptrs(1, 6, 34), fp(41)},
		{PivotCount, [][]*float64{ptrs(null, null, 1), ptrs(1, null, null), ptrs(null, 1, 2)}, ptrs(1, 1, 3), ptrs(1, 1, 3), fp(5)},
		// Totals average the entries, not the cells: us = (10+6+20)/3.
		{PivotAvg, [][]*float64{ptrs(null, null, 4), ptrs(1, null, null), ptrs(null, 6, 15)}, ptrs(4, 1, 12), ptrs(1, 6, 34.0/3), fp(41.0 / 5)},
		{PivotMin, [][]*float64{ptrs(null, null, 4), ptrs(1, null, null), ptrs(null, 6, 10)}, ptrs(4, 1, 6), ptrs(1, 6, 4), fp(1)},
		{PivotMax, [][]*float64{ptrs(null, null, 4), ptrs(1, null, null), ptrs(null, 6, 20)}, ptrs(4, 1, 20), ptrs(1, 6, 20), fp(20)},
	} {
		p := PivotBuild(in, c.agg)
		if !slices.Equal(p.Rows, []string{"de", "fr", "us"}) || !slices.Equal(p.Cols, []string{"android", "ios", "web"}) {
			t.Fatalf("%v: keys %v %v", c.agg, p.Rows, p.Cols)
		}
		for i := range p.Cells {
			if !samePtrs(p.Cells[i], c.cells[i]) {
				t.Errorf("%v: row %s cells wrong", c.agg, p.Rows[i])
			}
		}
		if !samePtrs(p.RowTotals, c.rows) || !samePtrs(p.ColTotals, c.col) || !samePtrs([]*float64{p.Grand}, []*float64{c.grand}) {
			t.Errorf("%v: totals wrong", c.agg)
		}
	}
	empty := PivotBuild(nil, PivotSum)
	if len(empty.Rows) != 0 || len(empty.Cols) != 0 || len(empty.Cells) != 0 || empty.Grand != nil {
		t.Errorf("empty: %+v", empty)
	}
	one := PivotBuild([]PivotEntry{{"a", "b", -2}}, PivotAvg)
	if *one.Cells[0][0] != -2 || *one.Grand != -2 {
		t.Errorf("single: %+v", one)
	}
	for i, n := range []string{"sum", "count", "avg", "min", "max"} {
		a, err := ParsePivotAggregate(n)
		if err != nil || a != PivotAggregate(i) || a.String() != n {
			t.Errorf("%s: %v %v", n, a, err)
		}
	}
	if _, err := ParsePivotAggregate("median"); err == nil {
		t.Error("want error")
	}
}

// TestPivotSums: for sum, the row totals, the column totals and the cells
// each add up to the grand total.
func TestPivotSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	var in []PivotEntry
	for range 2000 {
		in = append(in, PivotEntry{Row: "r" + itoa(rng.IntN(30)), Col: "c" + itoa(rng.IntN(12)), Value: float64(rng.IntN(100))})
	}
	p := PivotBuild(in, PivotSum)
	var rows, cols, cells float64
	for i, r := range p.RowTotals {
		rows += *r
		for _, c := range p.Cells[i] {
			if c != nil {
				cells += *c
			}
		}
	}
	for _, c := range p.ColTotals {
		cols += *c
	}
	if rows != *p.Grand || cols != *p.Grand || cells != *p.Grand {
		t.Errorf("rows %v cols %v cells %v grand %v", rows, cols, cells, *p.Grand)
	}
}
