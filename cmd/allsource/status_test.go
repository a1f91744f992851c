package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatusEndpoint: /v1/status reports storage, tenants and background
// jobs; with authentication only administrators may read it.
func TestStatusEndpoint(t *testing.T) {
	a := startAPIAt(t, t.TempDir())
	mustAppendND(t, a.URL, `{"entity_id":"u1","event_type":"a"}`, `{"entity_id":"u2","event_type":"b"}`)
	if st, _, b, err := apiRequest("POST", a.URL+"/v1/events?tenant=acme", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"entity_id":"u1","event_type":"a"}`)); err != nil || st != 200 {
		t.Fatalf("append: %d %v %s", st, err, b)
	}
	apiJSON(t, "POST", a.URL+"/v1/projections", map[string]any{"name": "n", "sql": "SELECT count(*) AS n FROM events"}, http.StatusCreated)
	st, _, b, err := apiRequest("GET", a.URL+"/v1/status", nil, nil)
	if err != nil || st != 200 {
		t.Fatalf("status: %d %v %s", st, err, b)
	}
	var rep statusReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy || rep.GoVersion == "" || rep.UptimeSeconds <= 0 || rep.DataDirBytes <= 0 || rep.WAL.Segments < 1 || rep.WAL.Bytes <= 0 ||
		rep.HotTier.Rows != 3 || rep.DataWatermark != 3 || len(rep.Tenants) != 2 || rep.Tenants[0].Tenant != "acme" || rep.Tenants[0].Events != 1 ||
		rep.Tenants[1].Events != 2 || rep.Tenants[1].LastSeq != 2 || len(rep.Jobs.Projections) != 1 || rep.Jobs.Projections[0].Name != "n" {
		t.Fatalf("status: %s", b)
	}
	// Subscribers are clients: the projection's runner is not one, a
	// live SSE stream is.
	if rep.Jobs.Subscribers != 0 {
		t.Fatalf("%d subscribers with only a projection running: %s", rep.Jobs.Subscribers, b)
	}
	resp, err := http.Get(a.URL + "/v1/subscribe?from=now")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, _, b, _ = apiRequest("GET", a.URL+"/v1/status", nil, nil)
		rep = statusReport{}
		json.Unmarshal(b, &rep)
		if rep.Jobs.Subscribers == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an open subscription is not counted: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp.Body.Close()
	if err := a.st.wh.FlushAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, _, b, _ = apiRequest("GET", a.URL+"/v1/status", nil, nil)
	rep = statusReport{}
	json.Unmarshal(b, &rep)
	if rep.Parquet.Files < 2 || rep.Parquet.Rows != 3 || rep.Parquet.FlushedSeq != 3 || rep.HotTier.Rows != 0 || rep.Tenants[0].StorageBytes <= 0 {
		t.Fatalf("after flush: %s", b)
	}
}

func TestStatusNeedsAdmin(t *testing.T) {
	as := startAuthServer(t, false)
	if st, body := as.do(t, as.keys["acme-admin"], "GET", "/v1/status", ""); st != http.StatusForbidden {
		t.Fatalf("tenant admin: %d %s", st, body)
	}
	if st, body := as.do(t, as.keys["admin"], "GET", "/v1/status", ""); st != 200 || !strings.Contains(body, `"healthy":true`) {
		t.Fatalf("admin: %d %s", st, body)
	}
}
