package analytics

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunCorrelation relates hourly counts of two event types at several
// lags and checks r and the fitted line against DuckDB's corr and
// regr_* over the same zero-filled buckets.
func TestRunCorrelation(t *testing.T) {
	wh, _ := feedWarehouse(t)
	ctx := context.Background()
	from := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	to := from.Add(72 * time.Hour)
	spec := CorrelationSpec{
		X:    SeriesSpec{EventType: "a", Interval: "1h", From: &from, To: &to},
		Y:    SeriesSpec{EventType: "b", Metric: "sum", Field: "payload.amount"},
		Lags: []int{0, 2, -1},
	}
	got, err := RunCorrelation(ctx, wh, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d lags", len(got))
	}
	for _, o := range got {
		q := `WITH g AS (SELECT unnest(generate_series(TIMESTAMPTZ '2026-03-08 00:00:00+00', TIMESTAMPTZ '2026-03-10 23:00:00+00', INTERVAL 1 HOUR)) AS t),
x AS (SELECT time_bucket(INTERVAL 1 HOUR, "timestamp") AS t, count(*)::DOUBLE AS v FROM events WHERE event_type = 'a' GROUP BY 1),
y AS (SELECT time_bucket(INTERVAL 1 HOUR, "timestamp") AS t, sum(TRY_CAST(json_extract_string(payload, '$.amount') AS DOUBLE)) AS v FROM events WHERE event_type = 'b' GROUP BY 1),
p AS (SELECT coalesce(x.v, 0) AS xv, coalesce(y.v, 0) AS yv FROM g LEFT JOIN x ON x.t = g.t LEFT JOIN y ON y.t = g.t + ` + "INTERVAL (" + strconv.Itoa(o.Lag) + `) HOUR
      WHERE g.t + INTERVAL (` + strconv.Itoa(o.Lag) + `) HOUR BETWEEN TIMESTAMPTZ '2026-03-08 00:00:00+00' AND TIMESTAMPTZ '2026-03-10 23:00:00+00')
SELECT count(*), corr(yv, xv), regr_slope(yv, xv), regr_intercept(yv, xv), regr_r2(yv, xv) FROM p`
		rows, err := wh.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		var r, slope, icpt, r2 float64
		rows.Next()
		if err := rows.Scan(&n, &r, &slope, &icpt, &r2); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if o.Pairs != int(n) || o.R == nil || o.Slope == nil {
			t.Fatalf("lag %d: pairs %d (DuckDB %d), r %v", o.Lag, o.Pairs, n, o.R)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"r", *o.R, r}, {"slope", *o.Slope, slope}, {"intercept", *o.Intercept, icpt}, {"r2", *o.R2, r2}} {
			if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
				t.Errorf("lag %d %s: %v, DuckDB %v", o.Lag, c.name, c.got, c.want)
			}
		}
	}

	bad := []struct {
		spec CorrelationSpec
		want string
	}{
		{CorrelationSpec{X: spec.X, Y: SeriesSpec{EventType: "b", Interval: "1d"}}, "y.interval"},
		{CorrelationSpec{X: spec.X, Y: SeriesSpec{EventType: "b", GroupBy: "payload.plan"}}, "y.group_by"},
		{CorrelationSpec{X: spec.X, Y: SeriesSpec{EventType: "b", From: &to}}, "y.from"},
		{CorrelationSpec{X: spec.X, Y: spec.Y, Lags: []int{72}}, "lags"},
		{CorrelationSpec{X: SeriesSpec{EventType: "a", Interval: "1h", From: &from, To: &to, Fill: "none"}, Y: spec.Y}, "x.fill"},
		{CorrelationSpec{X: SeriesSpec{EventType: "a", Interval: "7x", From: &from, To: &to}, Y: spec.Y}, "x:"},
	}
	for _, b := range bad {
		if _, err := RunCorrelation(ctx, wh, b.spec); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: %v, want an error about %s", b.spec, err, b.want)
		}
	}
}
