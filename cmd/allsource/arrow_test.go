package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/allsource/allsource/httpapi"
	"github.com/allsource/allsource/warehouse"
)

// TestArrowOverHTTP asks both query endpoints for Arrow IPC streams and
// reads them back with arrow-go.
func TestArrowOverHTTP(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		`{"entity_id":"order-1","event_type":"order.placed","timestamp":"2026-01-02T10:00:00Z","payload":{"total":42.5,"items":["a","b"]}}`,
		`{"entity_id":"order-1","event_type":"order.shipped","timestamp":"2026-01-03T10:00:00Z","payload":{"carrier":"dhl"}}`,
		`{"entity_id":"order-2","event_type":"order.placed","timestamp":"2026-01-04T10:00:00Z","payload":{"total":7}}`)
	arrowHdr := map[string]string{"Content-Type": "application/json", "Accept": warehouse.ArrowStreamType}

	// post sends body to path asking for Arrow; it returns the response
	// with its body read (so that trailers are there) and the body.
	post := func(path, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range arrowHdr {
			req.Header.Set(k, v)
		}
		resp, err := apiClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: reading the body: %v", path, err)
		}
		return resp, b
	}
	// read decodes a whole stream; it fails the test on a reader error.
	read := func(b []byte) (*arrow.Schema, []arrow.RecordBatch) {
		t.Helper()
		r, err := ipc.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("ipc.NewReader: %v", err)
		}
		defer r.Release()
		var recs []arrow.RecordBatch
		for r.Next() {
			rec := r.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		if err := r.Err(); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		t.Cleanup(func() {
			for _, rec := range recs {
				rec.Release()
			}
		})
		return r.Schema(), recs
	}
	query := func(sql string) string {
		b, _ := json.Marshal(map[string]string{"sql": sql})
		return string(b)
	}

	// Event columns over /v1/query: types and values.
	resp, b := post("/v1/query", query(`SELECT entity_id, event_type, "timestamp", payload, version FROM events ORDER BY seq`))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != warehouse.ArrowStreamType {
		t.Fatalf("/v1/query: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	schema, recs := read(b)
	if len(recs) != 1 || recs[0].NumRows() != 3 {
		t.Fatalf("/v1/query: %d records", len(recs))
	}
	for i, want := range []arrow.DataType{arrow.BinaryTypes.String, arrow.BinaryTypes.String,
		&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64} {
		if !arrow.TypeEqual(schema.Field(i).Type, want) {
			t.Errorf("field %s: %s, want %s", schema.Field(i).Name, schema.Field(i).Type, want)
		}
	}
	if typ, _ := schema.Field(3).Metadata.GetValue(warehouse.ArrowTypeKey); typ != "JSON" {
		t.Errorf("payload metadata %v", schema.Field(3).Metadata)
	}
	rec := recs[0]
	ents, types := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
	ts, payload, versions := rec.Column(2).(*array.Timestamp), rec.Column(3).(*array.String), rec.Column(4).(*array.Int64)
	if ents.Value(0) != "order-1" || ents.Value(2) != "order-2" || types.Value(1) != "order.shipped" ||
		!ts.Value(2).ToTime(arrow.Microsecond).Equal(time.Date(2026, 1, 4, 10, 0, 0, 0, time.UTC)) ||
		!jsonEqual([]byte(payload.Value(0)), []byte(`{"total":42.5,"items":["a","b"]}`)) ||
		versions.Value(0) != 1 || versions.Value(1) != 2 || versions.Value(2) != 1 {
		t.Fatalf("/v1/query values: %v", rec)
	}

	// A result over several batches.
	resp, b = post("/v1/query", query(`SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE i * 0.5 END AS half FROM range(20000) t(i) ORDER BY i`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("range: %d %.200s", resp.StatusCode, b)
	}
	_, recs = read(b)
	var total, nulls int64
	for _, rec := range recs {
		ids := rec.Column(0).(*array.Int64)
		for r := 0; r < ids.Len(); r++ {
			if ids.Value(r) != total {
				t.Fatalf("row %d: i = %d", total, ids.Value(r))
			}
			total++
		}
		nulls += int64(rec.Column(1).NullN())
	}
	if len(recs) != 3 || total != 20000 || nulls != 6667 {
		t.Fatalf("range: %d batches, %d rows, %d NULLs", len(recs), total, nulls)
	}

	// Errors before the first byte are JSON errors.
	for _, sql := range []string{
		"SELEC 1",
		"SELECT CASE WHEN i = 5 THEN 170141183460469231731687303715884105727::HUGEINT ELSE i END AS h FROM range(10) t(i)",
	} {
		resp, b = post("/v1/query", query(sql))
		var eb apiErrorBody
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
			json.Unmarshal(b, &eb) != nil || eb.Error.Code != "invalid" {
			t.Fatalf("%s: %d %q %s", sql, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	// An error after the first batch cuts the stream: the reader fails,
	// and the trailer tells why.
	resp, b = post("/v1/query", query("SELECT CASE WHEN i = 10000 THEN 170141183460469231731687303715884105727::HUGEINT ELSE i END AS h FROM range(20000) t(i) ORDER BY i"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Trailer.Get(httpapi.ArrowErrorTrailer), "38 digits") || !strings.Contains(resp.Trailer.Get(httpapi.ArrowErrorTrailer), `column "h", row 10001`) {
		t.Fatalf("cut stream: %d, trailer %v", resp.StatusCode, resp.Trailer)
	}
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r.Next() {
		n++
	}
	if r.Err() == nil || n != 1 {
		t.Fatalf("cut stream read as %d batches, err %v", n, r.Err())
	}
	r.Release()

	// /v1/eventql answers in columns (Compiled.SQL), not documents.
	eql, _ := json.Marshal(map[string]string{"query": `FROM e IN events WHERE e.type == "order.placed" ORDER BY e.subject PROJECT INTO { order: e.subject, time: e.time, v: e.version }`})
	resp, b = post("/v1/eventql", string(eql))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != warehouse.ArrowStreamType {
		t.Fatalf("/v1/eventql: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	schema, recs = read(b)
	if schema.NumFields() != 3 || schema.Field(0).Name != "order" || schema.Field(1).Name != "time" || schema.Field(2).Name != "v" ||
		len(recs) != 1 || recs[0].NumRows() != 2 {
		t.Fatalf("/v1/eventql: schema %v, %d records", schema, len(recs))
	}
	orders, ok := recs[0].Column(0).(*array.String)
	if !ok || orders.Value(0) != "order-1" || orders.Value(1) != "order-2" {
		t.Fatalf("/v1/eventql order column: %v", recs[0].Column(0))
	}
	times, ok := recs[0].Column(1).(*array.Timestamp)
	if !ok || !times.Value(1).ToTime(arrow.Microsecond).Equal(time.Date(2026, 1, 4, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("/v1/eventql time column: %s %v", schema.Field(1).Type, recs[0].Column(1))
	}
	// Compile errors stay JSON.
	eql, _ = json.Marshal(map[string]string{"query": "FROM e IN events WHERE PROJECT INTO e"})
	resp, b = post("/v1/eventql", string(eql))
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("/v1/eventql error: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}
