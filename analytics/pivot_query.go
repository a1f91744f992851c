package analytics

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/eventql"
	"github.com/allsource/allsource/warehouse"
)

// PivotSpec is a pivot table question, as POST /v1/analytics/pivot takes
// it: a metric of the events (as in a time series) for each pair of a
// row field's and a column field's values, with row, column and grand
// totals.
type PivotSpec struct {
	Rows      string     `json:"rows"`
	Columns   string     `json:"columns"`
	Metric    string     `json:"metric,omitempty"` // count (default), count_distinct, sum, avg, min, max, pNN
	Field     string     `json:"field,omitempty"`
	EventType string     `json:"event_type,omitempty"`
	Where     string     `json:"where,omitempty"`
	From      *time.Time `json:"from,omitempty"`
	To        *time.Time `json:"to,omitempty"`
}

// PivotOut is the table: Cells[i][j] is the metric for row value i and
// column value j (null where no event has both). Totals are the metric
// over all events of the row, the column, or everything — computed by the
// engine, so averages and distinct counts are exact, not sums of cells.
type PivotOut struct {
	Rows      []*string    `json:"rows"`
	Columns   []*string    `json:"columns"`
	Cells     [][]*float64 `json:"cells"`
	RowTotals []*float64   `json:"row_totals"`
	ColTotals []*float64   `json:"column_totals"`
	Grand     *float64     `json:"grand_total"`
}

// maxPivotValues bounds the distinct values of each axis, maxPivotCells
// the cells and totals of one answer.
const (
	maxPivotValues = 10_000
	maxPivotCells  = 1_000_000
)

// RunPivot answers spec over the warehouse's events.
func RunPivot(ctx context.Context, wh *warehouse.Warehouse, spec PivotSpec) (*PivotOut, error) {
	if spec.Rows == "" || spec.Columns == "" {
		return nil, allsource.Errorf(allsource.CodeInvalid, "rows and columns are required (fields such as event_type or payload.channel)")
	}
	rk, err := fieldSQL(spec.Rows)
	if err != nil {
		return nil, err
	}
	ck, err := fieldSQL(spec.Columns)
	if err != nil {
		return nil, err
	}
	if rk == ck {
		return nil, allsource.Errorf(allsource.CodeInvalid, "rows and columns must be different fields")
	}
	agg, err := seriesAggregate(spec.Metric, spec.Field)
	if err != nil {
		return nil, err
	}
	where := []string{"true"}
	if spec.EventType != "" {
		where = append(where, "e.event_type = "+sqlString(spec.EventType))
	}
	if strings.TrimSpace(spec.Where) != "" {
		w, err := eventql.CompileCondition(spec.Where)
		if err != nil {
			return nil, allsource.Errorf(allsource.CodeInvalid, "where: %v", err)
		}
		where = append(where, "("+w+")")
	}
	if r := timeRange(spec.From, spec.To); r != "" {
		where = append(where, r)
	}
	q := fmt.Sprintf(`SELECT %s AS r, %s AS c, grouping(%s) AS gr, grouping(%s) AS gc, %s AS v
FROM events AS e WHERE %s
GROUP BY GROUPING SETS ((%s, %s), (%s), (%s), ())`, rk, ck, rk, ck, agg, strings.Join(where, " AND "), rk, ck, rk, ck)
	type cell struct {
		r, c     *string
		overRows bool // rows rolled up: a column's total
		overCols bool // columns rolled up: a row's total
		v        *float64
	}
	var cells []cell
	err = wh.Stream(ctx, q, nil, func(_ []warehouse.Column, next func([]driver.Value) error) error {
		dest := make([]driver.Value, 5)
		for {
			if err := next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			var x cell
			if s, ok := dest[0].(string); ok {
				x.r = &s
			}
			if s, ok := dest[1].(string); ok {
				x.c = &s
			}
			// grouping() is 1 where the field was rolled up.
			x.overRows, x.overCols = toInt64(dest[2]) == 1, toInt64(dest[3]) == 1
			if f, ok := dest[4].(float64); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
				x.v = &f
			}
			cells = append(cells, x)
			if len(cells) > maxPivotCells {
				return allsource.Errorf(allsource.CodeInvalid, "the pivot is too large; narrow the question")
			}
		}
	})
	if err != nil {
		return nil, err
	}
	key := func(p *string) string {
		if p == nil {
			return "\x00null"
		}
		return "v" + *p
	}
	rowIdx, colIdx := map[string]int{}, map[string]int{}
	out := &PivotOut{}
	for _, x := range cells {
		if !x.overRows && !x.overCols {
			if _, ok := rowIdx[key(x.r)]; !ok {
				rowIdx[key(x.r)] = -1
				out.Rows = append(out.Rows, x.r)
			}
			if _, ok := colIdx[key(x.c)]; !ok {
				colIdx[key(x.c)] = -1
				out.Columns = append(out.Columns, x.c)
			}
		}
	}
	if len(out.Rows) > maxPivotValues || len(out.Columns) > maxPivotValues || len(out.Rows)*len(out.Columns) > maxPivotCells {
		return nil, allsource.Errorf(allsource.CodeInvalid, "%d rows × %d columns: at most %d values a side and %d cells; narrow the question",
			len(out.Rows), len(out.Columns), maxPivotValues, maxPivotCells)
	}
	less := func(a, b *string) bool {
		if a == nil || b == nil {
			return b == nil && a != nil // NULL last
		}
		return *a < *b
	}
	sort.Slice(out.Rows, func(i, j int) bool { return less(out.Rows[i], out.Rows[j]) })
	sort.Slice(out.Columns, func(i, j int) bool { return less(out.Columns[i], out.Columns[j]) })
	for i, r := range out.Rows {
		rowIdx[key(r)] = i
	}
	for j, c := range out.Columns {
		colIdx[key(c)] = j
	}
	out.Cells = make([][]*float64, len(out.Rows))
	for i := range out.Cells {
		out.Cells[i] = make([]*float64, len(out.Columns))
	}
	out.RowTotals = make([]*float64, len(out.Rows))
	out.ColTotals = make([]*float64, len(out.Columns))
	for _, x := range cells {
		switch {
		case x.overRows && x.overCols:
			out.Grand = x.v
		case x.overCols:
			if i, ok := rowIdx[key(x.r)]; ok {
				out.RowTotals[i] = x.v
			}
		case x.overRows:
			if j, ok := colIdx[key(x.c)]; ok {
				out.ColTotals[j] = x.v
			}
		default:
			out.Cells[rowIdx[key(x.r)]][colIdx[key(x.c)]] = x.v
		}
	}
	return out, nil
}
