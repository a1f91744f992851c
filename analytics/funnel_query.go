package analytics

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// FunnelSpec is a funnel question, as POST /v1/analytics/funnel takes it.
type FunnelSpec struct {
	Steps     []StepSpec `json:"steps"`
	Exclude   []StepSpec `json:"exclude,omitempty"`
	Window    string     `json:"window"`              // "24h", "7d"; default 24h
	Mode      string     `json:"mode,omitempty"`      // default, strict_order, strict_increase, strict_deduplication, any_order
	By        string     `json:"by,omitempty"`        // the funnel's unit: entity_id (default) or a field such as payload.user_id
	Breakdown string     `json:"breakdown,omitempty"` // a field of the step-1 event
	From      *time.Time `json:"from,omitempty"`
	To        *time.Time `json:"to,omitempty"`
}

// FunnelSQL is the statement that feeds the evaluator: every event that is
// a step or an exclusion, with its key hashes, time (µs), seq, step mask,
// exclusion flag and breakdown value (see feedColumns), unsorted.
func FunnelSQL(spec FunnelSpec) (string, error) { return funnelSQL(spec, shapeFeed) }

func funnelSQL(spec FunnelSpec, shape feedShape) (string, error) {
	n := len(spec.Steps)
	if n < 1 || n > MaxFunnelSteps {
		return "", allsource.Errorf(allsource.CodeInvalid, "a funnel has 1 to %d steps, got %d", MaxFunnelSteps, n)
	}
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
	// One CASE on the event type (a single comparison per event), each
	// branch adding the bits of that type's steps: constant for steps
	// without a condition, conditional otherwise.
	type branch struct {
		plain uint64
		parts []string
	}
	branches := map[string]*branch{}
	var types []string
	for i, st := range spec.Steps {
		if _, err := st.condition(fmt.Sprintf("steps[%d]", i)); err != nil {
			return "", err
		}
		b := branches[st.EventType]
		if b == nil {
			b = &branch{}
			branches[st.EventType] = b
			types = append(types, st.EventType)
		}
		bit := uint64(1) << i
		w, err := st.whereSQL(fmt.Sprintf("steps[%d]", i))
		if err != nil {
			return "", err
		}
		if w == "" {
			b.plain |= bit
		} else {
			b.parts = append(b.parts, fmt.Sprintf("CASE WHEN %s THEN %d::UBIGINT ELSE 0::UBIGINT END", w, bit))
		}
	}
	var mask strings.Builder
	mask.WriteString("CASE e.event_type")
	for _, t := range types {
		b := branches[t]
		expr := fmt.Sprintf("%d::UBIGINT", b.plain)
		for _, p := range b.parts {
			expr += " + " + p
		}
		fmt.Fprintf(&mask, " WHEN %s THEN %s", sqlString(t), expr)
	}
	mask.WriteString(" ELSE 0::UBIGINT END")
	inTypes := make([]string, 0, len(types)+len(spec.Exclude))
	for _, t := range types {
		inTypes = append(inTypes, sqlString(t))
	}
	excl := "false"
	var ex []string
	for i, st := range spec.Exclude {
		c, err := st.condition(fmt.Sprintf("exclude[%d]", i))
		if err != nil {
			return "", err
		}
		ex = append(ex, "("+c+")")
	}
	if len(ex) > 0 {
		excl = strings.Join(ex, " OR ")
		for _, st := range spec.Exclude {
			inTypes = append(inTypes, sqlString(st.EventType))
		}
	}
	// Events of a step's type whose condition fails come through with an
	// empty mask; the feed drops them.
	where := "e.event_type IN (" + strings.Join(inTypes, ", ") + ") AND " + key + " IS NOT NULL"
	if r := timeRange(spec.From, spec.To); r != "" {
		where += " AND " + r
	}
	return shapeSQL(shape, key, mask.String(), excl, bd, where), nil
}

// RunFunnel answers spec over the warehouse's events.
func RunFunnel(ctx context.Context, wh *warehouse.Warehouse, spec FunnelSpec) (FunnelResult, error) {
	var err error
	window := 24 * time.Hour
	if spec.Window != "" {
		if window, err = ParseWindow(spec.Window); err != nil {
			return FunnelResult{}, allsource.Errorf(allsource.CodeInvalid, "window: %v", err)
		}
	}
	mode := FunnelDefault
	if spec.Mode != "" {
		if mode, err = ParseFunnelMode(spec.Mode); err != nil {
			return FunnelResult{}, allsource.Errorf(allsource.CodeInvalid, "mode: %v", err)
		}
	}
	opts := FunnelOptions{Steps: len(spec.Steps), Window: window, Mode: mode, Breakdown: spec.Breakdown != ""}
	if _, err := funnelSQL(spec, shapeFeed); err != nil {
		return FunnelResult{}, err // the spec's own errors first
	}
	if err := opts.Validate(); err != nil {
		return FunnelResult{}, allsource.Errorf(allsource.CodeInvalid, "%v", err)
	}
	return runQuestion(ctx, wh, funnelQuestion(spec, opts))
}

// funnelQuestion is spec as a grouped question (opts validated).
func funnelQuestion(spec FunnelSpec, opts FunnelOptions) question[Hit, *Funnel, FunnelResult] {
	var tb typeBits
	var conds []condition
	if keyedByEntity(spec.By) && spec.Breakdown == "" {
		// Steps and exclusions without a condition by type; those with
		// one by the events the condition picks (see condition).
		tb = func(t string) (bits uint64, flag bool) {
			for i, st := range spec.Steps {
				if st.EventType == t && strings.TrimSpace(st.Where) == "" {
					bits |= 1 << i
				}
			}
			for _, st := range spec.Exclude {
				flag = flag || (st.EventType == t && strings.TrimSpace(st.Where) == "")
			}
			return bits, flag
		}
		all := append(slices.Clone(spec.Steps), spec.Exclude...)
		for i, st := range all {
			if strings.TrimSpace(st.Where) == "" {
				continue
			}
			c, err := st.condition("")
			if err != nil {
				tb, conds = nil, nil // the engine's path says what is wrong
				break
			}
			if i < len(spec.Steps) {
				conds = append(conds, condition{eventType: st.EventType, sql: c, bits: 1 << i})
			} else {
				conds = append(conds, condition{eventType: st.EventType, sql: c, flag: true})
			}
		}
	}
	return question[Hit, *Funnel, FunnelResult]{
		typeBits: tb, conds: conds, from: spec.From, to: spec.To,
		sql: func(shape feedShape) (string, error) { return funnelSQL(spec, shape) },
		// A step's type whose condition failed comes with no step bit.
		keep:  func(bits uint64, excl bool) bool { return bits != 0 || excl },
		new:   func() *Funnel { f, _ := NewFunnel(opts); return f },
		merge: func(into, from *Funnel) error { return into.Merge(from) },
		fromFeed: func(fd *feed, r feedRow) Hit {
			return Hit{Micros: r.us, Steps: r.bits, Exclude: r.flag, Breakdown: fd.breakdown(r.bd)}
		},
		fromRow: func(r []driver.Value) (Hit, bool) {
			h := Hit{Micros: toInt64(r[2]), Steps: toUint64(r[3])}
			h.Exclude, _ = r[4].(bool)
			if s, ok := r[5].(string); ok {
				h.Breakdown = &s
			}
			return h, h.Steps != 0 || h.Exclude // else a step's type whose condition failed
		},
	}
}

func toInt64(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return 0
}

func toUint64(v driver.Value) uint64 {
	switch x := v.(type) {
	case uint64:
		return x
	case int64:
		return uint64(x)
	}
	return 0
}

// keyedByEntity reports whether a question's unit is the entity.
func keyedByEntity(by string) bool { return by == "" || by == "entity_id" || by == "subject" }

// unconditional reports whether steps are chosen by event type alone.
func unconditional(steps []StepSpec) bool {
	for _, st := range steps {
		if strings.TrimSpace(st.Where) != "" {
			return false
		}
	}
	return true
}
