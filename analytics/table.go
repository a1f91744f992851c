package analytics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/eventql"

	"github.com/allsource/allsource/warehouse"
)

// Table is an analytics answer as rows: the form the SQL table functions
// funnel(), retention(), time_series() and anomalies() return.
type Table struct {
	Columns []string
	Types   []string // engine types: VARCHAR, INTEGER, BIGINT, DOUBLE, DATE, TIMESTAMPTZ
	Rows    [][]any  // nil, int64, float64, string or time.Time
}

// tableShapes are the table functions' columns and engine types.
var tableShapes = map[string]Table{
	"funnel": {
		Columns: []string{"breakdown", "step", "name", "entities", "conversion_from_start", "conversion_from_previous", "median_seconds_to_convert", "avg_seconds_to_convert"},
		Types:   []string{"VARCHAR", "INTEGER", "VARCHAR", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"},
	},
	"retention": {
		Columns: []string{"breakdown", "cohort", "size", "period", "retained", "share"},
		Types:   []string{"VARCHAR", "DATE", "BIGINT", "INTEGER", "BIGINT", "DOUBLE"},
	},
	"time_series": {
		Columns: []string{"time", "group", "value", "moving_average", "change", "change_percent", "rate"},
		Types:   []string{"TIMESTAMPTZ", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"},
	},
	"stats": {
		Columns: []string{"group", "count", "mean", "stddev", "min", "max", "p50", "p90", "p99", "slope_per_hour", "r2"},
		Types:   []string{"VARCHAR", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"},
	},
	"correlation": {
		Columns: []string{"lag", "pairs", "r", "slope", "intercept", "r2"},
		Types:   []string{"INTEGER", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"},
	},
	"forecast": {
		Columns: []string{"time", "group", "value", "lower", "upper"},
		Types:   []string{"TIMESTAMPTZ", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE"},
	},
	"pivot": {
		Columns: []string{"kind", "row_value", "column_value", "value"},
		Types:   []string{"VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE"},
	},
	"anomalies": {
		Columns: []string{"time", "group", "value", "expected", "score", "direction"},
		Types:   []string{"TIMESTAMPTZ", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR"},
	},
}

// EmptyTable is table function name's answer with no rows: its columns
// and types (nil for a name that is not one), for describing a statement
// before its arguments are known.
func EmptyTable(name string) *Table {
	sh, ok := tableShapes[name]
	if !ok {
		return nil
	}
	return &Table{Columns: slices.Clone(sh.Columns), Types: slices.Clone(sh.Types)}
}

// TableFunctions names the table functions, sorted.
func TableFunctions() []string {
	names := make([]string, 0, len(tableShapes))
	for n := range tableShapes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// IsTableFunction reports whether name is an analytics table function.
func IsTableFunction(name string) bool {
	_, ok := tableShapes[name]
	return ok
}

// RunTable answers the table function name for question (the JSON body its
// HTTP endpoint takes).
func RunTable(ctx context.Context, wh *warehouse.Warehouse, name, question string) (*Table, error) {
	if !IsTableFunction(name) {
		return nil, allsource.Errorf(allsource.CodeInvalid, "no analytics function %q", name)
	}
	decode := func(v any) error { return DecodeQuestion([]byte(question), v, time.Now()) }
	f := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	str := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	switch name {
	case "funnel":
		var spec FunnelSpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		res, err := RunFunnel(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		t := EmptyTable("funnel")
		add := func(bd any, steps []FunnelStep) {
			for i, st := range steps {
				name := ""
				if i < len(spec.Steps) {
					name = spec.Steps[i].EventType
				}
				t.Rows = append(t.Rows, []any{bd, int64(st.Step), name, st.Entities, st.ConversionFromStart,
					st.ConversionFromPrevious, f(st.MedianSecondsToConvert), f(st.AvgSecondsToConvert)})
			}
		}
		if spec.Breakdown != "" {
			for _, b := range res.Breakdown {
				add(str(b.Value), b.Steps)
			}
		} else {
			add(nil, res.Steps)
		}
		return t, nil
	case "retention":
		var spec RetentionSpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		res, err := RunRetention(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		t := EmptyTable("retention")
		add := func(bd any, cs []Cohort) {
			for _, c := range cs {
				for k, n := range c.Retained {
					share := 0.0
					if k < len(c.Share) {
						share = c.Share[k]
					}
					t.Rows = append(t.Rows, []any{bd, c.Cohort, c.Size, int64(k), n, share})
				}
			}
		}
		if spec.Breakdown != "" {
			for _, b := range res.Breakdown {
				add(str(b.Value), b.Cohorts)
			}
		} else {
			add(nil, res.Cohorts)
		}
		return t, nil
	case "time_series":
		var spec SeriesSpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		res, err := RunSeries(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		t := EmptyTable("time_series")
		for _, g := range res.Series {
			for _, p := range g.Points {
				t.Rows = append(t.Rows, []any{p.Time, str(g.Group), f(p.Value), f(p.MovingAverage), f(p.Change), f(p.ChangePercent), f(p.Rate)})
			}
		}
		return t, nil
	case "stats":
		var spec StatsSpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		spec.Percentiles = []float64{50, 90, 99}
		res, err := RunStats(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		t := EmptyTable("stats")
		for _, o := range res {
			pct := func(k string) any {
				if v, ok := o.Percentiles[k]; ok {
					return v
				}
				return nil
			}
			var slope, r2 any
			if o.Trend != nil {
				slope, r2 = o.Trend.SlopePerHour, o.Trend.R2
			}
			t.Rows = append(t.Rows, []any{str(o.Group), int64(o.Count), f(o.Mean), f(o.StdDev), f(o.Min), f(o.Max),
				pct("p50"), pct("p90"), pct("p99"), slope, r2})
		}
		return t, nil
	case "correlation":
		var spec CorrelationSpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		res, err := RunCorrelation(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		t := EmptyTable("correlation")
		for _, o := range res {
			t.Rows = append(t.Rows, []any{int64(o.Lag), int64(o.Pairs), f(o.R), f(o.Slope), f(o.Intercept), f(o.R2)})
		}
		return t, nil
	case "forecast":
		var spec ForecastSpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		res, err := RunForecast(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		t := EmptyTable("forecast")
		for _, o := range res {
			for _, p := range o.Points {
				t.Rows = append(t.Rows, []any{p.Time, str(o.Group), p.Value, p.Lower, p.Upper})
			}
		}
		return t, nil
	case "pivot":
		var spec PivotSpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		res, err := RunPivot(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		// Long form: one row per cell, then the totals, told apart by kind.
		t := EmptyTable("pivot")
		for i, r := range res.Rows {
			for j, c := range res.Columns {
				if v := res.Cells[i][j]; v != nil {
					t.Rows = append(t.Rows, []any{"cell", str(r), str(c), *v})
				}
			}
			t.Rows = append(t.Rows, []any{"row_total", str(r), nil, f(res.RowTotals[i])})
		}
		for j, c := range res.Columns {
			t.Rows = append(t.Rows, []any{"column_total", nil, str(c), f(res.ColTotals[j])})
		}
		t.Rows = append(t.Rows, []any{"grand_total", nil, nil, f(res.Grand)})
		return t, nil
	default: // anomalies
		var spec AnomalySpec
		if err := decode(&spec); err != nil {
			return nil, err
		}
		res, err := RunAnomalies(ctx, wh, spec)
		if err != nil {
			return nil, err
		}
		t := EmptyTable("anomalies")
		for _, a := range res {
			t.Rows = append(t.Rows, []any{a.Time, str(a.Group), a.Value, a.Expected, f(a.Score), a.Direction})
		}
		return t, nil
	}
}

// ValuesSQL renders the table as SELECT * FROM (VALUES …) AS t(columns),
// the first row's values cast to the column types (an empty table is one
// typed row filtered out), so SQL can read it like any relation.
func (t *Table) ValuesSQL() (string, error) {
	var b strings.Builder
	b.WriteString("SELECT * FROM (VALUES ")
	rows := t.Rows
	empty := len(rows) == 0
	if empty {
		rows = [][]any{make([]any, len(t.Columns))}
	}
	for i, row := range rows {
		if len(row) != len(t.Columns) {
			return "", fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(t.Columns))
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, v := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			lit, err := sqlLiteral(v)
			if err != nil {
				return "", err
			}
			if i == 0 {
				lit = "CAST(" + lit + " AS " + t.Types[j] + ")"
			}
			b.WriteString(lit)
		}
		b.WriteByte(')')
	}
	b.WriteString(") AS t(")
	for j, c := range t.Columns {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + strings.ReplaceAll(c, `"`, `""`) + `"`)
	}
	b.WriteString(")")
	if empty {
		b.WriteString(" WHERE false")
	}
	return b.String(), nil
}

func sqlLiteral(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "NULL", nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case string:
		return sqlString(x), nil
	case time.Time:
		return "'" + x.UTC().Format("2006-01-02 15:04:05.999999") + "+00'", nil
	}
	return "", fmt.Errorf("unsupported value %T", v)
}

// ExpandTables computes the analytics table functions an EventQL query
// reads and puts their rows into its SQL in place of the placeholders.
func ExpandTables(ctx context.Context, wh *warehouse.Warehouse, calls []eventql.TableCall, sqls ...*string) error {
	for _, c := range calls {
		t, err := RunTable(ctx, wh, c.Func, c.Arg)
		if err != nil {
			// A bad question is the caller's; anything else (the engine,
			// a deadline) stays what it is.
			var ae *allsource.Error
			if errors.As(err, &ae) && ae.Code == allsource.CodeInvalid {
				return allsource.Errorf(allsource.CodeInvalid, "%s: %s", c.Func, ae.Message)
			}
			return err
		}
		v, err := t.ValuesSQL()
		if err != nil {
			return err
		}
		for _, s := range sqls {
			*s = strings.ReplaceAll(*s, c.Placeholder, "("+v+")")
		}
	}
	return nil
}
