package main

import (
	"bytes"
	"encoding/json"
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
