package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// postEventQL posts {"query": q} to path and returns the status and body.
func postEventQL(t *testing.T, base, path, q string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": q})
	st, _, b, err := apiRequest(http.MethodPost, base+path, map[string]string{"Content-Type": "application/json"}, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return st, string(b)
}

func TestEventQLOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		`{"entity_id":"order-1","event_type":"order.placed","timestamp":"2026-01-02T10:00:00Z","payload":{"total":42.5,"items":["a","b"]}}`,
		`{"entity_id":"order-1","event_type":"order.shipped","timestamp":"2026-01-03T10:00:00Z","payload":{"carrier":"dhl"}}`,
		`{"entity_id":"order-2","event_type":"order.placed","timestamp":"2026-01-04T10:00:00Z","payload":{"total":7}}`)

	// One JSON document per line.
	st, body := postEventQL(t, url, "/v1/eventql", `FROM e IN events WHERE e.type == "order.placed" ORDER BY e.data.total DESC PROJECT INTO { order: e.subject, total: e.data.total }`)
	if st != http.StatusOK || body != "{\"order\":\"order-1\",\"total\":42.5}\n{\"order\":\"order-2\",\"total\":7}\n" {
		t.Fatalf("/v1/eventql: %d %q", st, body)
	}
	// EventSourcingDB's endpoint frames rows; PROJECT INTO e is the event
	// document with the payload as stored.
	st, body = postEventQL(t, url, "/api/v1/run-eventql-query", `FROM e IN events WHERE e.subject == "order-2" PROJECT INTO e`)
	var line struct {
		Type    string         `json:"type"`
		Payload map[string]any `json:"payload"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(strings.TrimSpace(body)), &line) != nil || line.Type != "row" {
		t.Fatalf("run-eventql-query: %d %q", st, body)
	}
	p := line.Payload
	if p["subject"] != "order-2" || p["type"] != "order.placed" || p["time"] != "2026-01-04T10:00:00.000000Z" && p["time"] != "2026-01-04T10:00:00Z" ||
		p["data"].(map[string]any)["total"] != 7.0 {
		t.Fatalf("event document: %v", p)
	}
	// Aggregates and grouping.
	st, body = postEventQL(t, url, "/v1/eventql", `FROM e IN events GROUP BY e.type ORDER BY e.type PROJECT INTO { type: e.type, n: COUNT() }`)
	if st != http.StatusOK || body != "{\"type\":\"order.placed\",\"n\":2}\n{\"type\":\"order.shipped\",\"n\":1}\n" {
		t.Fatalf("group: %d %q", st, body)
	}
	// POST /v1/query takes EventQL too, answering in columns.
	st, _, b, err := apiRequest(http.MethodPost, url+"/v1/query", map[string]string{"Accept": "text/csv"},
		strings.NewReader(`{"eventql": "FROM e IN events WHERE e.type == \"order.placed\" ORDER BY e.subject PROJECT INTO { order: e.subject, v: e.version }"}`))
	if err != nil || st != http.StatusOK || string(b) != "order,v\norder-1,1\norder-2,1\n" {
		t.Fatalf("/v1/query eventql: %d %q %v", st, b, err)
	}
	// Errors name the line and column and suggest a fix.
	st, body = postEventQL(t, url, "/v1/eventql", "FROM e IN events\nWHERE e.dta.total > 1\nPROJECT INTO e")
	var eb apiErrorBody
	if st != http.StatusBadRequest || json.Unmarshal([]byte(body), &eb) != nil || !strings.Contains(eb.Error.Message, "line 2, column 7") ||
		!strings.Contains(eb.Error.Message, "e.data") {
		t.Fatalf("error: %d %s", st, body)
	}
	st, body = postEventQL(t, url, "/v1/eventql", "FROM e IN events WHERE COUNT() > 1 PROJECT INTO e")
	if st != http.StatusBadRequest || !strings.Contains(body, "aggregate") {
		t.Fatalf("aggregate in WHERE: %d %s", st, body)
	}
}

func TestDSLOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		`{"entity_id":"order-1","event_type":"order.placed","timestamp":"2026-01-02T10:00:00Z","payload":{"total":42.5,"tags":["gift"]}}`,
		`{"entity_id":"order-1","event_type":"order.shipped","timestamp":"2026-01-03T10:00:00Z","payload":{"carrier":"dhl"}}`,
		`{"entity_id":"order-2","event_type":"order.placed","timestamp":"2026-01-04T10:00:00Z","payload":{"total":7}}`)

	post := func(body string) (int, string) {
		t.Helper()
		st, _, b, err := apiRequest(http.MethodPost, url+"/v1/query", map[string]string{"Accept": "text/csv"}, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return st, string(b)
	}
	st, body := post(`{"dsl": {"select": ["entity_id", {"as": "total", "expr": "payload.total"}],
		"where": ["and", ["=", "event_type", "order.placed"], ["<", "timestamp", ["days_ago", 1]]],
		"order_by": [["payload.total", "desc"]], "limit": 10}}`)
	if st != http.StatusOK || body != "entity_id,total\norder-1,42.5\norder-2,7\n" {
		t.Fatalf("select: %d %q", st, body)
	}
	st, body = post(`{"dsl": {"where": ["contains", "payload.tags", "gift"], "group_by": ["entity_id"],
		"aggregate": {"n": ["count"], "types": ["count_distinct", "event_type"]}}}`)
	if st != http.StatusOK || body != "entity_id,n,types\norder-1,1,1\n" {
		t.Fatalf("aggregate: %d %q", st, body)
	}
	// Errors name the JSON path and suggest a fix.
	st, body = post(`{"dsl": {"where": ["=", "evnt_type", "order.placed"]}}`)
	var eb apiErrorBody
	if st != http.StatusBadRequest || json.Unmarshal([]byte(body), &eb) != nil ||
		!strings.Contains(eb.Error.Message, `where[1]: unknown field "evnt_type"`) || !strings.Contains(eb.Error.Message, "event_type") {
		t.Fatalf("error: %d %s", st, body)
	}
	st, body = post(`{"dsl": {"where": [">", ["count"], 1]}}`)
	if st != http.StatusBadRequest || !strings.Contains(body, "aggregate function COUNT is not allowed in WHERE") {
		t.Fatalf("aggregate in where: %d %s", st, body)
	}
}

// TestQueryUUIDText: UUID values read as their text in every format.
func TestQueryUUIDText(t *testing.T) {
	url, _ := startAPI(t)
	const id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	for _, accept := range []string{"application/json", "application/x-ndjson", "text/csv"} {
		st, _, b, err := apiQueryRaw(url, accept, "SELECT '"+id+"'::UUID AS u")
		if err != nil || st != http.StatusOK || !strings.Contains(string(b), id) {
			t.Errorf("%s: %d %q %v", accept, st, b, err)
		}
	}
}

// TestEventQLAnswerCache: a repeated EventQL query is answered from the
// cache until new data arrives; the metrics count hits and misses.
func TestEventQLAnswerCache(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url, `{"entity_id":"a","event_type":"x"}`)
	q := `FROM e IN events PROJECT INTO COUNT()`
	ask := func() (string, string) {
		body, _ := json.Marshal(map[string]string{"query": q})
		st, hdr, b, err := apiRequest(http.MethodPost, url+"/v1/eventql", nil, bytes.NewReader(body))
		if err != nil || st != http.StatusOK {
			t.Fatalf("%d %s %v", st, b, err)
		}
		return string(b), hdr.Get("X-Allsource-Cache")
	}
	if b, c := ask(); b != "1\n" || c != "" {
		t.Fatalf("first: %q cache %q", b, c)
	}
	if b, c := ask(); b != "1\n" || c != "hit" {
		t.Fatalf("second: %q cache %q", b, c)
	}
	mustAppendND(t, url, `{"entity_id":"b","event_type":"x"}`)
	if b, c := ask(); b != "2\n" || c != "" {
		t.Fatalf("after new data: %q cache %q", b, c)
	}
	st, _, metrics, err := apiRequest(http.MethodGet, url+"/metrics", nil, nil)
	if err != nil || st != http.StatusOK || !strings.Contains(string(metrics), "allsource_query_cache_hits_total 1") ||
		!strings.Contains(string(metrics), "allsource_query_cache_misses_total 2") {
		t.Fatalf("metrics: %v\n%s", err, metrics)
	}
}

// TestEventQLCacheSkipsNow: an answer that depends on the clock is not
// cached.
func TestEventQLCacheSkipsNow(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url, `{"entity_id":"a","event_type":"x"}`)
	q := `FROM e IN events SINCE NOW() - 1d PROJECT INTO COUNT()`
	for i := 0; i < 2; i++ {
		body, _ := json.Marshal(map[string]string{"query": q})
		st, hdr, b, err := apiRequest(http.MethodPost, url+"/v1/eventql", nil, bytes.NewReader(body))
		if err != nil || st != http.StatusOK || hdr.Get("X-Allsource-Cache") != "" {
			t.Fatalf("run %d: %d %s cache=%q %v", i, st, b, hdr.Get("X-Allsource-Cache"), err)
		}
	}
}
