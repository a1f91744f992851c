package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace endpoint: it decodes what exporters
// send to /v1/traces and keeps the spans' names by trace id.
type otlpReceiver struct {
	mu    sync.Mutex
	spans map[string][]string // trace id (hex) -> span names
	all   []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				id := fmt.Sprintf("%x", sp.TraceId)
				o.spans[id] = append(o.spans[id], sp.Name)
				o.all = append(o.all, sp.Name)
			}
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestTracingOverOTLP: with --otlp-endpoint the server exports spans for
// HTTP requests (continuing the caller's trace), ingest batches, pgwire
// statements and flushes, and its access log carries the trace id.
func TestTracingOverOTLP(t *testing.T) {
	recv := &otlpReceiver{spans: map[string][]string{}}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	p := startProc(t, t.TempDir(), nil, "--otlp-endpoint", collector.URL, "--flush-age", "300ms", "--export-file-root", "/")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", p.url+"/v1/events", strings.NewReader(`{"entity_id":"u1","event_type":"a"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("append: %v %v", resp, err)
	}
	resp.Body.Close()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://t@%s/allsource?sslmode=disable", p.pg))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil || n != 1 {
		t.Fatalf("query: %d %v", n, err)
	}
	c.Close(ctx)
	if st, _, b, err := apiRequest("POST", p.url+"/v1/exports", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"target": "file://`+t.TempDir()+`?format=ndjson"}`)); err != nil || st != 201 {
		t.Fatalf("export: %d %v %s", st, err, b)
	}
	time.Sleep(time.Second) // a flush, the export
	p.stop(t)               // exporting the last spans on the way out

	recv.mu.Lock()
	defer recv.mu.Unlock()
	got := strings.Join(recv.spans[traceID], ",")
	if !strings.Contains(got, "POST /v1/events") || !strings.Contains(got, "ingest.batch") {
		t.Fatalf("spans of the caller's trace: %q (all: %v)", got, recv.all)
	}
	all := strings.Join(recv.all, ",")
	for _, want := range []string{"pgwire select", "warehouse.flush", "export.batch"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %s span among %v", want, recv.all)
		}
	}
	if !strings.Contains(p.logs.String(), "trace_id="+traceID) {
		t.Errorf("the access log lacks the trace id:\n%s", tail(p.logs.String(), 20))
	}
}
