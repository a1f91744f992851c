package analytics

// Pivot tables: rows × columns of one aggregated metric.

import (
	"math"
	"slices"
	"strings"

	"github.com/allsource/allsource"
)

// PivotAggregate combines the values that fall into one cell.
type PivotAggregate uint8

const (
	PivotSum PivotAggregate = iota
	PivotCount
	PivotAvg
	PivotMin
	PivotMax
)

var pivotAggregateNames = [...]string{"sum", "count", "avg", "min", "max"}

// ParsePivotAggregate parses "sum", "count", "avg", "min" or "max".
func ParsePivotAggregate(s string) (PivotAggregate, error) {
	for i, n := range pivotAggregateNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return PivotAggregate(i), nil
		}
	}
	return 0, allsource.Errorf(allsource.CodeInvalid, "invalid pivot aggregate %q: want sum, count, avg, min or max", s)
}

func (a PivotAggregate) String() string {
	if int(a) < len(pivotAggregateNames) {
		return pivotAggregateNames[a]
	}
	return "invalid"
}

// PivotEntry is one input triple: a value for a row key and a column key.
type PivotEntry struct {
	Row, Col string
	Value    float64
}

// PivotTable is the result of PivotBuild. Cells[i][j] is the aggregate of
// row Rows[i] and column Cols[j], nil when no entry fell into the cell.
// Totals aggregate the underlying entries, not the cells: the row total of
// an avg pivot is the mean of all the row's values (weighted by their
// count), the count total the number of entries. Every row and column has
// an entry, so only Grand of an empty table is nil.
type PivotTable struct {
	Rows      []string // sorted ascending (byte order)
	Cols      []string // sorted ascending (byte order)
	Cells     [][]*float64
	RowTotals []*float64 // one per row
	ColTotals []*float64 // one per column
	Grand     *float64
}

// pivotAcc accumulates one cell or total.
type pivotAcc struct {
	sum      float64
	n        int
	min, max float64
}

func (a *pivotAcc) add(v float64) {
	if a.n == 0 {
		a.min, a.max = v, v
	} else {
		a.min = math.Min(a.min, v)
		a.max = math.Max(a.max, v)
	}
	a.sum += v
	a.n++
}

func (a *pivotAcc) value(agg PivotAggregate) (float64, bool) {
	if a.n == 0 {
		return 0, false
	}
	switch agg {
	case PivotCount:
		return float64(a.n), true
	case PivotAvg:
		return a.sum / float64(a.n), true
	case PivotMin:
		return a.min, true
	case PivotMax:
		return a.max, true
	}
	return a.sum, true
}

// PivotBuild lays out entries as a table of rows × columns with agg applied
// per cell and per row, column and grand total. Keys are sorted in byte
// order. Values are float64 (counts from SQL arrive as numbers too); input
// must be NaN-free. The cells and totals point into one backing array.
func PivotBuild(entries []PivotEntry, agg PivotAggregate) PivotTable {
	rowIdx := make(map[string]int)
	colIdx := make(map[string]int)
	for _, e := range entries {
		rowIdx[e.Row] = 0
		colIdx[e.Col] = 0
	}
	t := PivotTable{Rows: pivotSortedKeys(rowIdx), Cols: pivotSortedKeys(colIdx)}
	for i, k := range t.Rows {
		rowIdx[k] = i
	}
	for j, k := range t.Cols {
		colIdx[k] = j
	}
	nr, nc := len(t.Rows), len(t.Cols)
	// Cells, then row totals, column totals and the grand total.
	accs := make([]pivotAcc, nr*nc+nr+nc+1)
	for _, e := range entries {
		i, j := rowIdx[e.Row], colIdx[e.Col]
		accs[i*nc+j].add(e.Value)
		accs[nr*nc+i].add(e.Value)
		accs[nr*nc+nr+j].add(e.Value)
		accs[len(accs)-1].add(e.Value)
	}
	vals := make([]float64, len(accs))
	ptr := func(k int) *float64 {
		v, ok := accs[k].value(agg)
		if !ok {
			return nil
		}
		vals[k] = v
		return &vals[k]
	}
	cells := make([]*float64, nr*nc)
	t.Cells = make([][]*float64, nr)
	for i := range nr {
		t.Cells[i] = cells[i*nc : (i+1)*nc : (i+1)*nc]
		for j := range nc {
			t.Cells[i][j] = ptr(i*nc + j)
		}
	}
	t.RowTotals = make([]*float64, nr)
	for i := range nr {
		t.RowTotals[i] = ptr(nr*nc + i)
	}
	t.ColTotals = make([]*float64, nc)
	for j := range nc {
		t.ColTotals[j] = ptr(nr*nc + nr + j)
	}
	t.Grand = ptr(len(accs) - 1)
	return t
}

func pivotSortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
