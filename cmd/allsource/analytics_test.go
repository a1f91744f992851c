package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func postAnalytics(t *testing.T, url, path, body string, out any) int {
	t.Helper()
	st, _, b, err := apiRequest(http.MethodPost, url+path, map[string]string{"Content-Type": "application/json"}, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && st == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, b)
		}
	}
	if st != http.StatusOK && out != nil {
		t.Logf("%s: %d %s", path, st, b)
	}
	return st
}

func TestAnalyticsOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		// u1 converts in 1 h; u2 views and orders too small; u3 orders
		// after the window; u4 only views.
		`{"entity_id":"u1","event_type":"page.viewed","timestamp":"2024-01-01T10:00:00Z","payload":{"channel":"ads"}}`,
		`{"entity_id":"u1","event_type":"order.placed","timestamp":"2024-01-01T11:00:00Z","payload":{"amount":50}}`,
		`{"entity_id":"u2","event_type":"page.viewed","timestamp":"2024-01-02T10:00:00Z","payload":{"channel":"seo"}}`,
		`{"entity_id":"u2","event_type":"order.placed","timestamp":"2024-01-02T10:30:00Z","payload":{"amount":5}}`,
		`{"entity_id":"u3","event_type":"page.viewed","timestamp":"2024-01-03T10:00:00Z","payload":{"channel":"ads"}}`,
		`{"entity_id":"u3","event_type":"order.placed","timestamp":"2024-01-05T10:00:00Z","payload":{"amount":90}}`,
		`{"entity_id":"u4","event_type":"page.viewed","timestamp":"2024-01-09T10:00:00Z"}`,
		`{"entity_id":"u1","event_type":"page.viewed","timestamp":"2024-01-08T09:00:00Z"}`,
		`{"entity_id":"u1","event_type":"page.viewed","timestamp":"2024-01-15T09:00:00Z"}`,
		`{"entity_id":"u3","event_type":"page.viewed","timestamp":"2024-01-16T09:00:00Z"}`)

	var f struct {
		Steps []struct {
			Step                   int      `json:"step"`
			Name                   string   `json:"name"`
			Entities               int64    `json:"entities"`
			ConversionFromStart    float64  `json:"conversion_from_start"`
			ConversionFromPrevious float64  `json:"conversion_from_previous"`
			MedianSecondsToConvert *float64 `json:"median_seconds_to_convert"`
		} `json:"steps"`
		Breakdown []struct {
			Value *string `json:"value"`
			Steps []struct {
				Entities int64 `json:"entities"`
			} `json:"steps"`
		} `json:"breakdown"`
	}
	st := postAnalytics(t, url, "/v1/analytics/funnel", `{"steps": ["page.viewed", {"event_type": "order.placed", "where": "payload.amount > 10"}],
		"window": "24h", "mode": "default", "by": "entity_id", "breakdown": "payload.channel"}`, &f)
	if st != http.StatusOK || len(f.Steps) != 2 || f.Steps[0].Entities != 4 || f.Steps[1].Entities != 1 ||
		f.Steps[1].Name != "order.placed" || f.Steps[1].ConversionFromStart != 0.25 ||
		f.Steps[1].MedianSecondsToConvert == nil || *f.Steps[1].MedianSecondsToConvert != 3600 {
		t.Fatalf("funnel: %d %+v", st, f)
	}
	if len(f.Breakdown) == 0 {
		t.Fatalf("funnel breakdown missing: %+v", f)
	}

	var r struct {
		Cohorts []struct {
			Cohort   string  `json:"cohort"`
			Size     int64   `json:"size"`
			Retained []int64 `json:"retained"`
		} `json:"cohorts"`
	}
	st = postAnalytics(t, url, "/v1/analytics/retention", `{"start_event": "page.viewed", "return_event": "page.viewed", "period": "week", "periods": 3}`, &r)
	// Week of 2024-01-01 (Monday): u1, u2, u3; u1 returns in weeks 1 and
	// 2, u3 in week 2. Week of 2024-01-08: u4.
	if st != http.StatusOK || len(r.Cohorts) != 2 || r.Cohorts[0].Cohort != "2024-01-01" || r.Cohorts[0].Size != 3 ||
		!equalInts(r.Cohorts[0].Retained, []int64{3, 1, 2}) || r.Cohorts[1].Size != 1 {
		t.Fatalf("retention: %d %+v", st, r)
	}

	// Bad input names the field.
	for _, body := range []string{
		`{"steps": []}`,
		`{"steps": ["a"], "window": "soon"}`,
		`{"steps": [{"event_type": "a", "where": "payload.x >"}]}`,
		`{"steps": ["a"], "mode": "sideways"}`,
		`{"steps": ["a"], "by": "nowhere"}`,
	} {
		st, _, b, _ := apiRequest(http.MethodPost, url+"/v1/analytics/funnel", nil, strings.NewReader(body))
		if st != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, st, b)
		}
	}
	st, _, b, _ := apiRequest(http.MethodPost, url+"/v1/analytics/retention", nil, strings.NewReader(`{"start_event": "a", "return_event": "b", "time_zone": "Mars/Base"}`))
	if st != http.StatusBadRequest || !strings.Contains(string(b), "time_zone") {
		t.Errorf("bad zone: %d %s", st, b)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTimeSeriesAndAnomaliesOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	var lines []string
	// Hourly clicks: 3 per hour for a day, then a burst of 30 in hour 20,
	// none in hour 5; amounts for a percentile.
	for h := 0; h < 24; h++ {
		n := 3
		switch h {
		case 5:
			n = 0
		case 20:
			n = 30
		}
		for i := 0; i < n; i++ {
			ch := "web"
			if i%3 == 0 {
				ch = "app"
			}
			lines = append(lines, fmt.Sprintf(`{"entity_id":"u%d","event_type":"click","timestamp":"2024-03-30T%02d:%02d:00Z","payload":{"amount":%d,"channel":"%s"}}`, i, h, i%60, i+1, ch))
		}
	}
	mustAppendND(t, url, lines...)

	var ts struct {
		Series []struct {
			Group  *string `json:"group"`
			Points []struct {
				Time          string   `json:"time"`
				Value         *float64 `json:"value"`
				MovingAverage *float64 `json:"moving_average"`
			} `json:"points"`
		} `json:"series"`
	}
	st := postAnalytics(t, url, "/v1/analytics/timeseries", `{"event_type": "click", "interval": "1h",
		"from": "2024-03-30T00:00:00Z", "to": "2024-03-31T00:00:00Z", "fill": "zero", "moving_average": 3}`, &ts)
	if st != http.StatusOK || len(ts.Series) != 1 || len(ts.Series[0].Points) != 24 {
		t.Fatalf("timeseries: %d %+v", st, ts)
	}
	pts := ts.Series[0].Points
	if *pts[0].Value != 3 || *pts[5].Value != 0 || *pts[20].Value != 30 || pts[0].Time != "2024-03-30T00:00:00Z" ||
		pts[2].MovingAverage == nil || *pts[2].MovingAverage != 3 {
		t.Fatalf("points: %+v", pts[:3])
	}
	// Grouped, a percentile, and a zone with a DST change the next day.
	st = postAnalytics(t, url, "/v1/analytics/timeseries", `{"event_type": "click", "metric": "p50", "field": "payload.amount",
		"group_by": "payload.channel", "interval": "1d", "time_zone": "Europe/Berlin",
		"from": "2024-03-30T00:00:00+01:00", "to": "2024-04-01T00:00:00+02:00", "fill": "null"}`, &ts)
	if st != http.StatusOK || len(ts.Series) != 2 || *ts.Series[0].Group != "app" || len(ts.Series[0].Points) != 2 {
		t.Fatalf("grouped: %d %+v", st, ts)
	}
	var an struct {
		Anomalies []struct {
			Time      string  `json:"time"`
			Value     float64 `json:"value"`
			Direction string  `json:"direction"`
		} `json:"anomalies"`
	}
	st = postAnalytics(t, url, "/v1/analytics/anomalies", `{"event_type": "click", "interval": "1h",
		"from": "2024-03-30T00:00:00Z", "to": "2024-03-31T00:00:00Z", "method": "mad", "window": 6, "threshold": 3}`, &an)
	found := false
	for _, a := range an.Anomalies {
		if a.Time == "2024-03-30T20:00:00Z" && a.Value == 30 && a.Direction == "above" {
			found = true
		}
	}
	if st != http.StatusOK || !found {
		t.Fatalf("anomalies: %d %+v", st, an)
	}
	for _, body := range []string{
		`{"interval": "1h"}`,
		`{"interval": "1fortnight", "from": "2024-03-30T00:00:00Z", "to": "2024-03-31T00:00:00Z"}`,
		`{"interval": "1s", "from": "2020-01-01T00:00:00Z", "to": "2024-03-31T00:00:00Z"}`,
		`{"interval": "1h", "metric": "sum", "from": "2024-03-30T00:00:00Z", "to": "2024-03-31T00:00:00Z"}`,
	} {
		if st := postAnalytics(t, url, "/v1/analytics/timeseries", body, nil); st != http.StatusBadRequest {
			t.Errorf("%s: %d", body, st)
		}
	}
}

// TestAnalyticsInEventQLOverHTTP: an EventQL source that is an analytics
// function, through /v1/eventql and /v1/query.
func TestAnalyticsInEventQLOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		`{"entity_id":"u1","event_type":"view","timestamp":"2024-01-01T10:00:00Z"}`,
		`{"entity_id":"u1","event_type":"view","timestamp":"2024-01-08T10:00:00Z"}`,
		`{"entity_id":"u2","event_type":"view","timestamp":"2024-01-02T10:00:00Z"}`)
	q := `FROM r IN retention('{"start_event": "view", "return_event": "view", "period": "week", "periods": 2}') WHERE r.period == 1 PROJECT INTO { cohort: r.cohort, retained: r.retained }`
	st, body := postEventQL(t, url, "/v1/eventql", q)
	if st != http.StatusOK || body != "{\"cohort\":\"2024-01-01\",\"retained\":1}\n" {
		t.Fatalf("/v1/eventql: %d %q", st, body)
	}
	b, _ := json.Marshal(map[string]string{"eventql": q})
	st, _, out, err := apiRequest(http.MethodPost, url+"/v1/query", map[string]string{"Accept": "text/csv"}, bytes.NewReader(b))
	if err != nil || st != http.StatusOK || string(out) != "cohort,retained\n2024-01-01,1\n" {
		t.Fatalf("/v1/query: %d %q %v", st, out, err)
	}
}

// TestStatsAndForecastOverHTTP: an hourly series growing by one event an
// hour has a slope of one per hour, and its forecast continues it.
func TestStatsAndForecastOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	var lines []string
	for h := 0; h < 48; h++ {
		for i := 0; i <= h; i++ {
			lines = append(lines, fmt.Sprintf(`{"entity_id":"u%d","event_type":"tick","timestamp":"2024-05-01T00:00:00Z"}`, i))
			lines[len(lines)-1] = strings.Replace(lines[len(lines)-1], "2024-05-01T00:00:00Z", fmt.Sprintf("2024-05-%02dT%02d:%02d:00Z", 1+h/24, h%24, i%60), 1)
		}
	}
	mustAppendND(t, url, lines...)
	series := `"interval": "1h", "from": "2024-05-01T00:00:00Z", "to": "2024-05-03T00:00:00Z"`
	var st struct {
		Series []struct {
			Count       int                `json:"count"`
			Mean        float64            `json:"mean"`
			Percentiles map[string]float64 `json:"percentiles"`
			Trend       struct {
				SlopePerHour float64 `json:"slope_per_hour"`
				R2           float64 `json:"r2"`
			} `json:"trend"`
		} `json:"series"`
	}
	if code := postAnalytics(t, url, "/v1/analytics/stats", `{`+series+`}`, &st); code != http.StatusOK || len(st.Series) != 1 {
		t.Fatalf("stats: %d %+v", code, st)
	}
	s := st.Series[0]
	if s.Count != 48 || s.Mean != 24.5 || s.Percentiles["p50"] != 24.5 || s.Trend.SlopePerHour < 0.999 || s.Trend.SlopePerHour > 1.001 || s.Trend.R2 < 0.999 {
		t.Fatalf("stats: %+v", s)
	}
	var fc struct {
		Series []struct {
			Points []struct {
				Time  string  `json:"time"`
				Value float64 `json:"value"`
				Lower float64 `json:"lower"`
				Upper float64 `json:"upper"`
			} `json:"points"`
		} `json:"series"`
	}
	if code := postAnalytics(t, url, "/v1/analytics/forecast", `{`+series+`, "horizon": 3}`, &fc); code != http.StatusOK || len(fc.Series) != 1 || len(fc.Series[0].Points) != 3 {
		t.Fatalf("forecast: %d %+v", code, fc)
	}
	p := fc.Series[0].Points[0]
	if p.Time != "2024-05-03T00:00:00Z" || p.Value < 48 || p.Value > 50 || p.Lower > p.Value || p.Upper < p.Value {
		t.Fatalf("forecast point: %+v", p)
	}

	// The series against itself one hour later: y = x + 1, r = 1.
	var corr struct {
		Lags []struct {
			Lag       int      `json:"lag"`
			Pairs     int      `json:"pairs"`
			R         *float64 `json:"r"`
			Slope     *float64 `json:"slope"`
			Intercept *float64 `json:"intercept"`
		} `json:"lags"`
	}
	if code := postAnalytics(t, url, "/v1/analytics/correlation", `{"x": {`+series+`}, "y": {"event_type": "tick"}, "lags": [1]}`, &corr); code != http.StatusOK || len(corr.Lags) != 1 {
		t.Fatalf("correlation: %d %+v", code, corr)
	}
	if c := corr.Lags[0]; c.Lag != 1 || c.Pairs != 47 || c.R == nil || *c.R < 0.999999 || *c.Slope < 0.999999 || *c.Slope > 1.000001 || *c.Intercept < 0.999 || *c.Intercept > 1.001 {
		t.Fatalf("correlation: %+v", c)
	}
	q := `FROM c IN correlation('{"x": {` + series + `}, "y": {"event_type": "tick"}, "lags": [0, 1]}') PROJECT INTO { lag: c.lag, pairs: c.pairs }`
	if st, body := postEventQL(t, url, "/v1/eventql", q); st != http.StatusOK || body != "{\"lag\":0,\"pairs\":48}\n{\"lag\":1,\"pairs\":47}\n" {
		t.Fatalf("correlation in EventQL: %d %q", st, body)
	}
	if code := postAnalytics(t, url, "/v1/analytics/correlation", `{"x": {`+series+`}, "y": {"interval": "1d"}}`, &corr); code != http.StatusBadRequest {
		t.Fatalf("mismatched interval: %d", code)
	}
}

// TestRetentionConditionsOverHTTP: ClickHouse's retention(cond…) form.
func TestRetentionConditionsOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		`{"entity_id":"a","event_type":"signup","payload":{"plan":"pro"}}`,
		`{"entity_id":"a","event_type":"login"}`,
		`{"entity_id":"a","event_type":"buy"}`,
		`{"entity_id":"b","event_type":"signup"}`,
		`{"entity_id":"b","event_type":"buy"}`,
		`{"entity_id":"c","event_type":"login"}`)
	var out struct {
		Counts []int64 `json:"counts"`
	}
	st := postAnalytics(t, url, "/v1/analytics/retention_conditions", `{"conditions": ["signup", "login", {"event_type": "buy"}]}`, &out)
	if st != http.StatusOK || !equalInts(out.Counts, []int64{2, 1, 2}) {
		t.Fatalf("counts: %d %v", st, out.Counts)
	}
}

// TestPivotOverHTTP: averages per (type, channel) with exact totals.
func TestPivotOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		`{"entity_id":"a","event_type":"order","payload":{"ch":"web","amount":10}}`,
		`{"entity_id":"b","event_type":"order","payload":{"ch":"web","amount":20}}`,
		`{"entity_id":"c","event_type":"order","payload":{"ch":"app","amount":60}}`,
		`{"entity_id":"d","event_type":"refund","payload":{"ch":"web","amount":5}}`,
		`{"entity_id":"e","event_type":"refund","payload":{"amount":7}}`)
	var p struct {
		Rows      []*string    `json:"rows"`
		Columns   []*string    `json:"columns"`
		Cells     [][]*float64 `json:"cells"`
		RowTotals []*float64   `json:"row_totals"`
		ColTotals []*float64   `json:"column_totals"`
		Grand     *float64     `json:"grand_total"`
	}
	st := postAnalytics(t, url, "/v1/analytics/pivot", `{"rows": "event_type", "columns": "payload.ch", "metric": "avg", "field": "payload.amount"}`, &p)
	if st != http.StatusOK || len(p.Rows) != 2 || len(p.Columns) != 3 || *p.Rows[0] != "order" || *p.Columns[0] != "app" || p.Columns[2] != nil {
		t.Fatalf("axes: %d %+v", st, p)
	}
	v := func(f *float64) any {
		if f == nil {
			return nil
		}
		return *f
	}
	got := fmt.Sprint(v(p.Cells[0][0]), v(p.Cells[0][1]), v(p.Cells[0][2]), v(p.Cells[1][1]), v(p.Cells[1][2]),
		v(p.RowTotals[0]), v(p.RowTotals[1]), v(p.ColTotals[1]), v(p.Grand))
	// order: app 60, web 15, none; refund: web 5, (no channel) 7; row
	// totals 30 and 6; web column 35/3; grand 102/5.
	if want := fmt.Sprint(60.0, 15.0, nil, 5.0, 7.0, 30.0, 6.0, 35.0/3, 102.0/5); got != want {
		t.Fatalf("pivot %s, want %s", got, want)
	}
}
