package analytics

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// RetentionSpec is a retention question, as POST /v1/analytics/retention
// takes it.
type RetentionSpec struct {
	StartEvent  StepSpec   `json:"start_event"`
	ReturnEvent StepSpec   `json:"return_event"`
	Period      string     `json:"period"`          // day, week (default), month
	Periods     int        `json:"periods"`         // default 8
	Mode        string     `json:"mode,omitempty"`  // classic (default) or unbounded
	Start       string     `json:"start,omitempty"` // first (default) or any
	TimeZone    string     `json:"time_zone,omitempty"`
	WeekStart   string     `json:"week_start,omitempty"` // monday (default) or sunday …
	By          string     `json:"by,omitempty"`
	Breakdown   string     `json:"breakdown,omitempty"`
	From        *time.Time `json:"from,omitempty"`
	To          *time.Time `json:"to,omitempty"`
}

// retentionOptions turns the spec's strings into options.
func (spec RetentionSpec) options() (RetentionOptions, error) {
	o := RetentionOptions{Periods: spec.Periods, Location: time.UTC, Breakdown: spec.Breakdown != ""}
	if o.Periods == 0 {
		o.Periods = 8
	}
	if o.Periods < 1 || o.Periods > 1000 {
		return o, allsource.Errorf(allsource.CodeInvalid, "periods must be 1 to 1000, got %d", spec.Periods)
	}
	p := spec.Period
	if p == "" {
		p = "week"
	}
	var err error
	if o.Period, err = ParseRetentionPeriod(p); err != nil {
		return o, allsource.Errorf(allsource.CodeInvalid, "period: %v", err)
	}
	if spec.TimeZone != "" {
		if o.Location, err = time.LoadLocation(spec.TimeZone); err != nil {
			return o, allsource.Errorf(allsource.CodeInvalid, "time_zone: unknown zone %q", spec.TimeZone)
		}
	}
	if o.WeekStart, err = ParseRetentionWeekStart(spec.WeekStart); err != nil {
		return o, allsource.Errorf(allsource.CodeInvalid, "week_start: %v", err)
	}
	switch spec.Mode {
	case "", "classic":
	case "unbounded", "rolling":
		o.Unbounded = true
	default:
		return o, allsource.Errorf(allsource.CodeInvalid, "mode: %q (want classic or unbounded)", spec.Mode)
	}
	switch spec.Start {
	case "", "first":
	case "any":
		o.AnyStart = true
	default:
		return o, allsource.Errorf(allsource.CodeInvalid, "start: %q (want first or any)", spec.Start)
	}
	return o, nil
}

// RetentionSQL is the statement that feeds the evaluator: every start or
// return event with its key hashes, time (µs), seq, flags (1 start, 2
// return) and the breakdown value (see feedColumns), unsorted.
func RetentionSQL(spec RetentionSpec) (string, error) { return retentionSQL(spec, shapeFeed) }

func retentionSQL(spec RetentionSpec, shape feedShape) (string, error) {
	key, err := fieldSQL(spec.By)
	if err != nil {
		return "", err
	}
	bd := "NULL::VARCHAR"
	if spec.Breakdown != "" {
		if bd, err = fieldSQL(spec.Breakdown); err != nil {
			return "", err
		}
	}
	start, err := spec.StartEvent.condition("start_event")
	if err != nil {
		return "", err
	}
	ret, err := spec.ReturnEvent.condition("return_event")
	if err != nil {
		return "", err
	}
	where := fmt.Sprintf("((%s) OR (%s)) AND %s IS NOT NULL", start, ret, key)
	if r := timeRange(spec.From, spec.To); r != "" {
		where += " AND " + r
	}
	bits := fmt.Sprintf("(CASE WHEN coalesce(%s, false) THEN 1 ELSE 0 END + CASE WHEN coalesce(%s, false) THEN 2 ELSE 0 END)::UBIGINT", start, ret)
	return shapeSQL(shape, key, bits, "false", bd, where), nil
}

// RunRetention answers spec over the warehouse's events.
func RunRetention(ctx context.Context, wh *warehouse.Warehouse, spec RetentionSpec) (RetentionResult, error) {
	o, err := spec.options()
	if err != nil {
		return RetentionResult{}, err
	}
	if err := o.Validate(); err != nil {
		return RetentionResult{}, allsource.Errorf(allsource.CodeInvalid, "%v", err)
	}
	if _, err := retentionSQL(spec, shapeFeed); err != nil {
		return RetentionResult{}, err // the spec's own errors first
	}
	return runQuestion(ctx, wh, retentionQuestion(spec, o))
}

// retentionQuestion is spec as a grouped question (o validated).
func retentionQuestion(spec RetentionSpec, o RetentionOptions) question[RetentionEvent, *Retention, RetentionResult] {
	var tb typeBits
	var conds []condition
	if keyedByEntity(spec.By) && spec.Breakdown == "" {
		// As a funnel's steps: by type, or by the events a condition picks.
		events := []StepSpec{spec.StartEvent, spec.ReturnEvent}
		tb = func(t string) (bits uint64, _ bool) {
			for i, ev := range events {
				if ev.EventType == t && strings.TrimSpace(ev.Where) == "" {
					bits |= 1 << i
				}
			}
			return bits, false
		}
		for i, ev := range events {
			if strings.TrimSpace(ev.Where) != "" {
				c, err := ev.condition("")
				if err != nil {
					tb, conds = nil, nil // the engine's path says what is wrong
					break
				}
				conds = append(conds, condition{eventType: ev.EventType, sql: c, bits: 1 << i})
			}
		}
	}
	return question[RetentionEvent, *Retention, RetentionResult]{
		typeBits: tb, conds: conds, from: spec.From, to: spec.To,
		sql:   func(shape feedShape) (string, error) { return retentionSQL(spec, shape) },
		new:   func() *Retention { r, _ := NewRetention(o); return r },
		merge: func(into, from *Retention) error { into.Merge(from); return nil },
		fromFeed: func(fd *feed, r feedRow) RetentionEvent {
			return RetentionEvent{Micros: r.us, Start: r.bits&1 != 0, Return: r.bits&2 != 0, Breakdown: fd.breakdown(r.bd)}
		},
		fromRow: func(row []driver.Value) (RetentionEvent, bool) {
			bits := toUint64(row[3])
			ev := RetentionEvent{Micros: toInt64(row[2]), Start: bits&1 != 0, Return: bits&2 != 0}
			if s, ok := row[5].(string); ok {
				ev.Breakdown = &s
			}
			return ev, true
		},
	}
}

// ConditionsSpec is ClickHouse's retention(cond1, cond2, …) question, as
// POST /v1/analytics/retention_conditions takes it: per unit (by), did
// any event satisfy cond1, and cond1 and cond k?
type ConditionsSpec struct {
	Conditions []StepSpec `json:"conditions"`
	By         string     `json:"by,omitempty"`
	From       *time.Time `json:"from,omitempty"`
	To         *time.Time `json:"to,omitempty"`
}

// RunConditions answers spec: counts[0] units satisfied cond1, counts[k]
// satisfied cond1 and cond k+1 (each by some event, in any order).
func RunConditions(ctx context.Context, wh *warehouse.Warehouse, spec ConditionsSpec) ([]int64, error) {
	n := len(spec.Conditions)
	if n < 1 || n > 64 {
		return nil, allsource.Errorf(allsource.CodeInvalid, "give 1 to 64 conditions, got %d", n)
	}
	key, err := fieldSQL(spec.By)
	if err != nil {
		return nil, err
	}
	var cols []string
	for i, c := range spec.Conditions {
		sql, err := c.condition(fmt.Sprintf("conditions[%d]", i))
		if err != nil {
			return nil, err
		}
		cols = append(cols, fmt.Sprintf("coalesce(bool_or(%s), false)", sql))
	}
	where := key + " IS NOT NULL"
	if r := timeRange(spec.From, spec.To); r != "" {
		where += " AND " + r
	}
	q := fmt.Sprintf("SELECT %s FROM events AS e WHERE %s GROUP BY %s", strings.Join(cols, ", "), where, key)
	rc := NewRetentionConds(n)
	conds := make([]bool, n)
	err = wh.Stream(ctx, q, nil, func(_ []warehouse.Column, next func([]driver.Value) error) error {
		dest := make([]driver.Value, n)
		for {
			if err := next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			for i, v := range dest {
				conds[i], _ = v.(bool)
			}
			rc.Add(conds)
		}
	})
	if err != nil {
		return nil, err
	}
	return rc.Counts(), nil
}
