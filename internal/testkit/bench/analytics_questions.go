package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AnalyticsQuestion is one question RunAnalytics asks every side: exactly
// one of Funnel, Retention and Series is set.
type AnalyticsQuestion struct {
	Name      string
	Funnel    *FunnelQuestion
	Retention *RetentionQuestion
	Series    *SeriesQuestion
}

// Pred is an optional condition on one payload field, rendered for each
// side: EventQL for AllSource, SQL for DuckDB and ClickHouse.
type Pred struct {
	Field string  // a top-level payload field
	Op    string  // ==, !=, >, >=, <, <=
	Str   string  // compared as text when Num is not used
	Num   float64 // compared as a number when IsNum
	IsNum bool
}

// QStep is an event type with an optional payload condition.
type QStep struct {
	Type  string
	Where *Pred
}

// FunnelQuestion is an ordered funnel (default mode) over entity_id.
type FunnelQuestion struct {
	Steps  []QStep
	Window time.Duration
}

// RetentionQuestion is a classic retention matrix with first-start
// cohorts over calendar weeks (ISO, UTC).
type RetentionQuestion struct {
	Start, Return string // event types
	Periods       int
}

// SeriesQuestion counts events per hour over [From, To), one series per
// value of the payload field GroupBy.
type SeriesQuestion struct {
	From, To time.Time
	GroupBy  string
}

// AnalyticsQuestions are the questions of the analytics benchmark, shaped
// for GenSessions' data.
func AnalyticsQuestions() []AnalyticsQuestion {
	num := func(f, op string, v float64) *Pred { return &Pred{Field: f, Op: op, Num: v, IsNum: true} }
	str := func(f, op, v string) *Pred { return &Pred{Field: f, Op: op, Str: v} }
	s := func(t string) QStep { return QStep{Type: t} }
	return []AnalyticsQuestion{
		{Name: "funnel 5 steps, 1h", Funnel: &FunnelQuestion{Window: time.Hour, Steps: []QStep{
			s("page.viewed"), s("product.viewed"), s("cart.item_added"), s("checkout.started"), s("order.placed")}}},
		{Name: "funnel 20 steps, 30d", Funnel: &FunnelQuestion{Window: 30 * 24 * time.Hour, Steps: []QStep{
			s("user.signed_up"), s("page.viewed"), s("product.viewed"), s("cart.item_added"), s("checkout.started"),
			s("order.placed"), s("order.paid"), s("order.shipped"), s("order.delivered"), s("user.logged_in"),
			s("search.performed"), {Type: "product.viewed", Where: num("amount", ">", 100)},
			{Type: "cart.item_added", Where: num("qty", ">=", 2)}, s("checkout.started"), s("coupon.applied"),
			{Type: "order.placed", Where: str("currency", "==", "EUR")}, s("order.paid"), s("order.shipped"),
			s("order.delivered"), s("review.submitted")}}},
		{Name: "retention 26 weeks", Retention: &RetentionQuestion{Start: "user.signed_up", Return: "user.logged_in", Periods: 26}},
		{Name: "hourly series by channel, 1 week", Series: &SeriesQuestion{
			From: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), GroupBy: "channel"}},
	}
}

func (p Pred) eventQL() string {
	v := strconv.Quote(p.Str)
	if p.IsNum {
		v = strconv.FormatFloat(p.Num, 'g', -1, 64)
	}
	return fmt.Sprintf("e.payload.%s %s %s", p.Field, p.Op, v)
}

func sqlOp(op string) string {
	if op == "==" {
		return "="
	}
	if op == "!=" {
		return "<>"
	}
	return op
}

// duckSQL is the condition over events AS e in DuckDB, as the server's
// EventQL compiler writes it.
func (p Pred) duckSQL() string {
	if p.IsNum {
		return fmt.Sprintf("TRY_CAST(json_extract_string(e.payload, '$.%s') AS DOUBLE) %s %g", p.Field, sqlOp(p.Op), p.Num)
	}
	return fmt.Sprintf("json_extract_string(e.payload, '$.%s') %s %s", p.Field, sqlOp(p.Op), sqlString(p.Str))
}

// chSQL is the condition in ClickHouse over the payload text.
func (p Pred) chSQL() string {
	if p.IsNum {
		return fmt.Sprintf("visitParamExtractFloat(payload, '%s') %s %g", p.Field, sqlOp(p.Op), p.Num)
	}
	return fmt.Sprintf("visitParamExtractString(payload, '%s') %s %s", p.Field, sqlOp(p.Op), sqlString(p.Str))
}

func (s QStep) duckSQL() string {
	c := "e.event_type = " + sqlString(s.Type)
	if s.Where != nil {
		c += " AND " + s.Where.duckSQL()
	}
	return "(" + c + ")"
}

func (s QStep) chSQL() string {
	c := "event_type = " + sqlString(s.Type)
	if s.Where != nil {
		c += " AND " + s.Where.chSQL()
	}
	return "(" + c + ")"
}

// spec is the request body of the AllSource endpoint.
func (q AnalyticsQuestion) spec() (path string, body map[string]any) {
	switch {
	case q.Funnel != nil:
		var steps []any
		for _, s := range q.Funnel.Steps {
			if s.Where == nil {
				steps = append(steps, s.Type)
			} else {
				steps = append(steps, map[string]string{"event_type": s.Type, "where": s.Where.eventQL()})
			}
		}
		return "/v1/analytics/funnel", map[string]any{"steps": steps, "window": q.Funnel.Window.String()}
	case q.Retention != nil:
		r := q.Retention
		return "/v1/analytics/retention", map[string]any{"start_event": r.Start, "return_event": r.Return,
			"period": "week", "periods": r.Periods, "mode": "classic", "start": "first"}
	default:
		s := q.Series
		return "/v1/analytics/timeseries", map[string]any{"metric": "count", "interval": "1h",
			"from": s.From, "to": s.To, "group_by": "payload." + s.GroupBy, "fill": "zero"}
	}
}

// duckFunnelASOF is a funnel as a chain of ASOF joins: for every step-1
// event, the earliest next-step event after the previous one, kept while
// within the window of the start; step j's count is the entities with a
// chain of length j. Greedy earliest is optimal for a fixed start, and every
// start is tried, so this is the maximum level.
func duckFunnelASOF(f *FunnelQuestion) string {
	var b strings.Builder
	b.WriteString("WITH ev AS MATERIALIZED (SELECT e.entity_id AS k, epoch_us(e.\"timestamp\") AS t, ")
	var mask, any []string
	for i, s := range f.Steps {
		mask = append(mask, fmt.Sprintf("CASE WHEN %s THEN %d ELSE 0 END", s.duckSQL(), uint64(1)<<i))
		any = append(any, s.duckSQL())
	}
	fmt.Fprintf(&b, "(%s)::UBIGINT AS m FROM events AS e WHERE %s)", strings.Join(mask, " + "), strings.Join(any, " OR "))
	w := f.Window.Microseconds()
	for i := range f.Steps {
		fmt.Fprintf(&b, ",\ns%d AS (SELECT k, t FROM ev WHERE m & %d <> 0)", i+1, uint64(1)<<i)
	}
	b.WriteString(",\nc1 AS (SELECT k, t AS t0, t FROM s1)")
	for i := 2; i <= len(f.Steps); i++ {
		fmt.Fprintf(&b, ",\nc%d AS (SELECT c.k, c.t0, s.t FROM c%d AS c ASOF JOIN s%d AS s ON c.k = s.k AND s.t > c.t WHERE s.t <= c.t0 + %d)", i, i-1, i, w)
	}
	b.WriteString("\n")
	for i := 1; i <= len(f.Steps); i++ {
		if i > 1 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT %d AS step, count(DISTINCT k) AS n FROM c%d", i, i)
	}
	return b.String()
}

// duckFunnelWindow is a funnel as one window pass per step, ClickHouse's
// algorithm in SQL: s_j of a step-j event is the latest start among the
// earlier events that reached step j-1 (a running max), kept if within the
// window. Rows that can no longer matter are dropped after each level.
func duckFunnelWindow(f *FunnelQuestion) string {
	var b strings.Builder
	b.WriteString("WITH ev AS (SELECT e.entity_id AS k, epoch_us(e.\"timestamp\") AS t, ")
	var mask, any []string
	for i, s := range f.Steps {
		mask = append(mask, fmt.Sprintf("CASE WHEN %s THEN %d ELSE 0 END", s.duckSQL(), uint64(1)<<i))
		any = append(any, s.duckSQL())
	}
	fmt.Fprintf(&b, "(%s)::UBIGINT AS m FROM events AS e WHERE %s)", strings.Join(mask, " + "), strings.Join(any, " OR "))
	w := f.Window.Microseconds()
	n := len(f.Steps)
	b.WriteString(",\nl1 AS (SELECT k, t, m, CASE WHEN m & 1 <> 0 THEN t END AS s FROM ev)")
	for j := 2; j <= n; j++ {
		bit := uint64(1) << (j - 1)
		later := ^uint64(0) << j // steps after j
		if j == 64 {
			later = 0
		}
		fmt.Fprintf(&b, `,
p%d AS (SELECT k, t, m, s AS prev, CASE WHEN m & %d <> 0 THEN max(s) OVER (PARTITION BY k ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) END AS cand FROM l%d),
l%d AS (SELECT * FROM (SELECT k, t, m, CASE WHEN t <= cand + %d THEN cand END AS s FROM p%d) WHERE s IS NOT NULL OR m & %d <> 0)`,
			j, bit, j-1, j, w, j, later)
	}
	b.WriteString("\n")
	for j := 1; j <= n; j++ {
		if j > 1 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT %d AS step, count(DISTINCT k) FILTER (WHERE s IS NOT NULL) AS n FROM l%d", j, j)
	}
	return b.String()
}

// duckRetention is the classic first-start weekly retention matrix: one
// row per cohort with period -1 holding its size, then one per retained
// cell.
func duckRetention(r *RetentionQuestion) string {
	return fmt.Sprintf(`WITH st AS (SELECT entity_id AS k, min("timestamp") AS t0 FROM events WHERE event_type = %s GROUP BY 1),
c AS (SELECT k, t0, date_trunc('week', timezone('UTC', t0)) AS cw FROM st),
r AS (SELECT DISTINCT c.k, c.cw, date_diff('week', c.cw, date_trunc('week', timezone('UTC', e."timestamp"))) AS p
      FROM events AS e JOIN c ON e.entity_id = c.k
      WHERE e.event_type = %s AND e."timestamp" >= c.t0)
SELECT strftime(cw, '%%Y-%%m-%%d') AS cohort, -1 AS p, count(*) AS n FROM c GROUP BY 1
UNION ALL
SELECT strftime(cw, '%%Y-%%m-%%d'), p, count(*) FROM r WHERE p < %d GROUP BY 1, 2`,
		sqlString(r.Start), sqlString(r.Return), r.Periods)
}

// duckSeries counts events per hour and group.
func duckSeries(s *SeriesQuestion) string {
	return fmt.Sprintf(`SELECT epoch(time_bucket(INTERVAL '1 hour', "timestamp"))::BIGINT AS h, json_extract_string(payload, '$.%s') AS g, count(*) AS n
FROM events WHERE "timestamp" >= %s AND "timestamp" < %s GROUP BY 1, 2`,
		s.GroupBy, tsLiteral(s.From), tsLiteral(s.To))
}

func tsLiteral(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05") + "+00'"
}

func chTime(t time.Time) string {
	return "toDateTime('" + t.UTC().Format("2006-01-02 15:04:05") + "')"
}

// chFunnel uses windowFunnel per entity, then counts entities per level.
func chFunnel(f *FunnelQuestion) string {
	var conds, types []string
	seen := map[string]bool{}
	for _, s := range f.Steps {
		conds = append(conds, s.chSQL())
		if !seen[s.Type] {
			seen[s.Type] = true
			types = append(types, sqlString(s.Type))
		}
	}
	return fmt.Sprintf(`SELECT level, count() FROM (
SELECT entity_id, windowFunnel(%d)(timestamp, %s) AS level FROM events WHERE event_type IN (%s) GROUP BY entity_id
) GROUP BY level FORMAT TabSeparated`, int64(f.Window.Seconds()), strings.Join(conds, ", "), strings.Join(types, ", "))
}

// chRetention uses retention() per entity over its cohort (the Monday of
// its first start event), then sums the flags per cohort.
func chRetention(r *RetentionQuestion) string {
	conds := []string{fmt.Sprintf("event_type = %s AND timestamp = t0", sqlString(r.Start))}
	for k := range r.Periods {
		conds = append(conds, fmt.Sprintf("event_type = %s AND timestamp >= t0 AND toMonday(timestamp) = addWeeks(cw, %d)", sqlString(r.Return), k))
	}
	return fmt.Sprintf(`SELECT toString(cohort), count(), sumForEach(r) FROM (
SELECT entity_id, any(cw) AS cohort, retention(%s) AS r
FROM events ANY INNER JOIN (SELECT entity_id, min(timestamp) AS t0, toMonday(min(timestamp)) AS cw FROM events WHERE event_type = %s GROUP BY entity_id) USING (entity_id)
WHERE event_type IN (%s, %s)
GROUP BY entity_id
) GROUP BY cohort ORDER BY cohort FORMAT TabSeparated`, strings.Join(conds, ",\n  "), sqlString(r.Start), sqlString(r.Start), sqlString(r.Return))
}

// chSeries counts events per hour and group.
func chSeries(s *SeriesQuestion) string {
	return fmt.Sprintf(`SELECT toUnixTimestamp(toStartOfHour(timestamp)) AS h, visitParamExtractString(payload, '%s') AS g, count() FROM events
WHERE timestamp >= %s AND timestamp < %s GROUP BY h, g FORMAT TabSeparated`, s.GroupBy, chTime(s.From), chTime(s.To))
}
