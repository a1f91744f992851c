package analytics

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/eventql"
	"github.com/allsource/allsource/warehouse"
)

// StepSpec is one funnel step or exclusion: an event type, optionally with
// a condition on the event in EventQL ("payload.amount > 10"). In JSON it
// is either the event type as a string or {"event_type": …, "where": …}.
type StepSpec struct {
	EventType string `json:"event_type"`
	Where     string `json:"where,omitempty"`
}

// UnmarshalJSON accepts "type" or {"event_type": "type", "where": "…"}.
func (s *StepSpec) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*s = StepSpec{EventType: name}
		return nil
	}
	type plain StepSpec
	var p plain
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf(`a step is an event type or {"event_type": …, "where": …}: %v`, err)
	}
	*s = StepSpec(p)
	return nil
}

// condition is the SQL for "this event is the step" over events AS e.
func (s StepSpec) condition(what string) (string, error) {
	if strings.TrimSpace(s.EventType) == "" {
		return "", allsource.Errorf(allsource.CodeInvalid, "%s: event_type is required", what)
	}
	c := "e.event_type = " + sqlString(s.EventType)
	if strings.TrimSpace(s.Where) != "" {
		w, err := eventql.CompileCondition(s.Where)
		if err != nil {
			return "", allsource.Errorf(allsource.CodeInvalid, "%s: where: %v", what, err)
		}
		c += " AND (" + w + ")"
	}
	return c, nil
}

// whereSQL is the SQL of the step's condition alone, or "" without one.
func (s StepSpec) whereSQL(what string) (string, error) {
	if strings.TrimSpace(s.Where) == "" {
		return "", nil
	}
	w, err := eventql.CompileCondition(s.Where)
	if err != nil {
		return "", allsource.Errorf(allsource.CodeInvalid, "%s: where: %v", what, err)
	}
	return "(" + w + ")", nil
}

// fieldSQL is the SQL text of an event field for grouping keys and
// breakdowns: a column (entity_id, subject, event_type, type, tenant_id,
// id) or a path under payload/data/metadata ("payload.user_id"), as text.
func fieldSQL(f string) (string, error) {
	switch f {
	case "", "entity_id", "subject":
		return "e.entity_id", nil
	case "event_type", "type":
		return "e.event_type", nil
	case "tenant_id", "tenant":
		return "e.tenant_id", nil
	case "id":
		return "e.id", nil
	}
	root, path, ok := strings.Cut(f, ".")
	col := map[string]string{"payload": "payload", "data": "payload", "metadata": "metadata"}[root]
	if !ok || col == "" || path == "" {
		return "", allsource.Errorf(allsource.CodeInvalid,
			"field %q: use entity_id, event_type, tenant_id, id or a path under payload (payload.user_id)", f)
	}
	var jp strings.Builder
	jp.WriteString("$")
	for _, k := range strings.Split(path, ".") {
		if k == "" {
			return "", allsource.Errorf(allsource.CodeInvalid, "field %q has an empty path element", f)
		}
		jp.WriteString(`."` + strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), `"`, `\"`) + `"`)
	}
	return "json_extract_string(e." + col + ", " + sqlString(jp.String()) + ")", nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// timeRange is the SQL restricting events to [from, to).
func timeRange(from, to *time.Time) string {
	var parts []string
	if from != nil {
		parts = append(parts, `e."timestamp" >= `+timestampLiteral(*from))
	}
	if to != nil {
		parts = append(parts, `e."timestamp" < `+timestampLiteral(*to))
	}
	return strings.Join(parts, " AND ")
}

func timestampLiteral(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
}

// ParseWindow reads a duration with the units Go knows plus d (days) and
// w (weeks): "30m", "24h", "7d", "2w".
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	for unit, d := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || !(v >= 0) || v*float64(d) > float64(math.MaxInt64) {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			return time.Duration(v * float64(d)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30m, 24h, 7d, 2w)", s)
	}
	return d, nil
}

// feedShape is how a feed statement lays out and orders its rows.
type feedShape int

const (
	shapeFeed   feedShape = iota // feedColumns, unsorted: for loadFeed
	shapeHashed                  // g1, g2 hashes, us, bits, flag, bd, sorted by g1, time, seq
	shapeText                    // the same with g1 the key text (g2 NULL)
)

// shapeSQL is the feed statement over events AS e: key is the grouping
// key's SQL, bits and flag the question's flags, bd the breakdown value,
// where the filter.
func shapeSQL(shape feedShape, key, bits, flag, bd, where string) string {
	const us = `epoch_us(e."timestamp")`
	if shape == shapeFeed {
		return fmt.Sprintf("SELECT %s\nFROM events AS e\nWHERE %s", feedColumns(key, us, bits, flag, bd), where)
	}
	group := key + " AS g1, NULL::UBIGINT AS g2"
	if shape == shapeHashed {
		group = fmt.Sprintf("hash(%s) AS g1, %s AS g2", key, secondHash(key))
	}
	return fmt.Sprintf(`SELECT %s, %s AS us, %s AS bits, %s AS flag, %s AS bd
FROM events AS e
WHERE %s
ORDER BY g1, e."timestamp", e.seq`, group, us, bits, flag, bd, where)
}

// errHashCollision means two keys shared the first hash.
var errHashCollision = errors.New("analytics: grouping hash collision")

// scanGrouped asks a question whose rows are grouped by key through the
// engine's sorted stream: sqlFor gives the statement in a shape
// (shapeHashed or shapeText, see shapeSQL). row sees every row (the slice
// is reused; values after the two key columns start at index 2) and flush
// is called after the last row of each key. Asked by hashes, if two keys
// share the first hash (the second one changes within a group), reset is
// called and it is asked again grouped by the key text, so answers stay
// exact.
func scanGrouped(ctx context.Context, wh *warehouse.Warehouse, shape feedShape, sqlFor func(feedShape) (string, error),
	reset func() error, row func(dest []driver.Value), flush func()) error {
	q, err := sqlFor(shape)
	if err != nil {
		return err
	}
	err = streamGrouped(ctx, wh, q, row, flush)
	if shape != shapeHashed || !errors.Is(err, errHashCollision) {
		return err
	}
	if err := reset(); err != nil {
		return err
	}
	if q, err = sqlFor(shapeText); err != nil {
		return err
	}
	return streamGrouped(ctx, wh, q, row, flush)
}

func streamGrouped(ctx context.Context, wh *warehouse.Warehouse, q string, row func(dest []driver.Value), flush func()) error {
	return wh.Stream(ctx, q, nil, func(cols []warehouse.Column, next func([]driver.Value) error) error {
		dest := make([]driver.Value, len(cols))
		var cur, check driver.Value
		have := false
		for {
			err := next(dest)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if have && dest[0] == cur {
				if dest[1] != check {
					return errHashCollision
				}
			} else {
				if have {
					flush()
				}
				cur, check, have = dest[0], dest[1], true
			}
			row(dest)
		}
		if have {
			flush()
		}
		return nil
	})
}
