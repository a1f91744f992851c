package ingest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/allsource/allsource"
)

func TestParseBatchErrors(t *testing.T) {
	long := strings.Repeat("x", 257)
	for _, tc := range []struct {
		name, body, format string
		code               allsource.Code
		msg                string
		index, line        int
		field              string
	}{
		{"empty body", "", FormatJSON, allsource.CodeInvalid, "the request body is empty", -1, 0, ""},
		{"empty array", "[]", FormatJSON, allsource.CodeInvalid, "the batch is empty", -1, 0, ""},
		{"truncated", `{"entity_id":"a","event_type":"b"`, FormatJSON, allsource.CodeInvalid, "event 0: malformed JSON: expected ',' or '}' in event object at byte 33", 0, 0, ""},
		{"trailing comma", `[{"entity_id":"a","event_type":"b"},]`, FormatJSON, allsource.CodeInvalid, "event 1: expected an event object at byte 36", 1, 0, ""},
		{"garbage after array", `[{"entity_id":"a","event_type":"b"}] x`, FormatJSON, allsource.CodeInvalid, "unexpected data after the JSON array", -1, 0, ""},
		{"entity number", `{"entity_id":1,"event_type":"b"}`, FormatJSON, allsource.CodeInvalid, `field "entity_id": must be a string, got a number`, 0, 0, "entity_id"},
		{"payload array", `[{"entity_id":"a","event_type":"b"},{"entity_id":"a","event_type":"b","payload":[1]}]`, FormatJSON, allsource.CodeInvalid, `event 1: field "payload": must be a JSON object, got an array`, 1, 0, "payload"},
		{"missing entity line 3", "{\"entity_id\":\"a\",\"event_type\":\"b\"}\n\n{\"event_type\":\"b\"}\n", FormatNDJSON, allsource.CodeInvalid, `line 3: field "entity_id": is required`, -1, 3, "entity_id"},
		{"missing type", `[{"entity_id":"a"}]`, FormatJSON, allsource.CodeInvalid, `event 0: field "event_type": is required`, 0, 0, "event_type"},
		{"unknown field", `{"entity_id":"a","event_type":"b","entity":"c"}`, FormatJSON, allsource.CodeInvalid, `field "entity": unknown field`, 0, 0, "entity"},
		{"duplicate field via alias", `{"entity_id":"a","subject":"a","event_type":"b"}`, FormatJSON, allsource.CodeInvalid, `field "entity_id": given more than once`, 0, 0, "entity_id"},
		{"NUL in entity", `{"entity_id":"a\u0000b","event_type":"b"}`, FormatJSON, allsource.CodeInvalid, `contains control character U+0000`, 0, 0, "entity_id"},
		{"tab in type", `{"entity_id":"a","event_type":"b\tc"}`, FormatJSON, allsource.CodeInvalid, `field "event_type": contains control character U+0009`, 0, 0, "event_type"},
		{"invalid UTF-8", "{\"entity_id\":\"a\xffb\",\"event_type\":\"b\"}", FormatJSON, allsource.CodeInvalid, "invalid UTF-8 in string", 0, 0, ""},
		{"entity too long", `{"entity_id":"` + long + `","event_type":"b"}`, FormatJSON, allsource.CodeInvalid, "257 bytes, over the limit of 256", 0, 0, "entity_id"},
		{"bad time", `{"entity_id":"a","event_type":"b","timestamp":"yesterday"}`, FormatJSON, allsource.CodeInvalid, `must be RFC 3339`, 0, 0, "timestamp"},
		{"bool time", `{"entity_id":"a","event_type":"b","timestamp":true}`, FormatJSON, allsource.CodeInvalid, `got a boolean`, 0, 0, "timestamp"},
		{"float millis", `{"entity_id":"a","event_type":"b","timestamp":1.5}`, FormatJSON, allsource.CodeInvalid, `must be an integer`, 0, 0, "timestamp"},
		{"negative version", `{"entity_id":"a","event_type":"b","expected_version":-1}`, FormatJSON, allsource.CodeInvalid, `non-negative integer`, 0, 0, "expected_version"},
		{"bad uuid", `{"entity_id":"a","event_type":"b","id":"nope"}`, FormatJSON, allsource.CodeInvalid, `must be a UUID`, 0, 0, "id"},
		{"bad tenant", `{"entity_id":"a","event_type":"b","tenant":"a/b"}`, FormatJSON, allsource.CodeInvalid, `may contain only letters`, 0, 0, "tenant"},
		{"payload too large", `{"entity_id":"a","event_type":"b","payload":{"x":"` + strings.Repeat("y", 2000) + `"}}`, FormatJSON, allsource.CodeTooLarge, `over the limit of 1024`, 0, 0, "payload"},
		{"not an object", `"hello"`, FormatJSON, allsource.CodeInvalid, "must be an event object", -1, 0, ""},
		{"lone high surrogate in payload", `{"entity_id":"a","event_type":"b","payload":{"a":"\ud800"}}`, FormatJSON, allsource.CodeInvalid, `unpaired surrogate \uD800`, 0, 0, ""},
		{"lone low surrogate in entity", `{"entity_id":"\udc00x","event_type":"b"}`, FormatJSON, allsource.CodeInvalid, `unpaired surrogate \uDC00`, 0, 0, ""},
		{"high then non-low", `{"entity_id":"a","event_type":"b","payload":{"a":"\ud800\u0041"}}`, FormatJSON, allsource.CodeInvalid, `unpaired surrogate`, 0, 0, ""},
		{"bad escape", `{"entity_id":"a\q","event_type":"b"}`, FormatJSON, allsource.CodeInvalid, "invalid escape", 0, 0, ""},
		{"deep nesting", `{"entity_id":"a","event_type":"b","payload":{"a":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}}`, FormatJSON, allsource.CodeInvalid, "nesting too deep", 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBatch([]byte(tc.body), tc.format, Limits{MaxPayloadBytes: 1024})
			if err == nil {
				t.Fatal("accepted")
			}
			var e *allsource.Error
			if !errorsAs(err, &e) {
				t.Fatalf("not an *allsource.Error: %v", err)
			}
			if e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("got %s %q, want %s containing %q", e.Code, e.Message, tc.code, tc.msg)
			}
			if e.Index != tc.index || e.Line != tc.line || e.Field != tc.field {
				t.Fatalf("got index %d line %d field %q, want %d %d %q", e.Index, e.Line, e.Field, tc.index, tc.line, tc.field)
			}
		})
	}
}

func errorsAs(err error, e **allsource.Error) bool {
	x, ok := err.(*allsource.Error)
	if ok {
		*e = x
	}
	return ok
}

func TestParseBatchAccepts(t *testing.T) {
	body := `[
	  {"entity_id":"user-1","event_type":"Order Completed","timestamp":"2026-03-01T10:00:00.123456789+02:00",
	   "payload":{"a":[1,2,{"b":null}],"s":"\u00e9\ud83d\ude00"},"metadata":{"m":true},"id":"0190A6D2-0000-7000-8000-000000000001",
	   "expected_version":0,"tenant":"t-1"},
	  {"subject":"user-2","type":"x","time":1700000000000,"data":null}
	]`
	got, err := ParseBatch([]byte(body), FormatJSON, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d events", len(got))
	}
	a, b := got[0], got[1]
	if a.EntityID != "user-1" || a.EventType != "Order Completed" || a.Tenant != "t-1" || a.ExpectedVersion != 0 ||
		a.ID != "0190a6d2-0000-7000-8000-000000000001" || string(a.Metadata) != `{"m":true}` {
		t.Fatalf("event 0: %+v", a)
	}
	if !a.Timestamp.Equal(time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.UTC)) {
		t.Fatalf("timestamp %v", a.Timestamp)
	}
	if !json.Valid(a.Payload) || !bytes.HasPrefix(a.Payload, []byte(`{"a":[1,2,`)) {
		t.Fatalf("payload %s", a.Payload)
	}
	if b.EntityID != "user-2" || b.EventType != "x" || !b.Timestamp.Equal(time.UnixMilli(1700000000000)) ||
		string(b.Payload) != "{}" || b.ExpectedVersion != -1 || b.Tenant != "" {
		t.Fatalf("event 1: %+v", b)
	}
}

func TestBatchLimit(t *testing.T) {
	var body strings.Builder
	for i := 0; i < 11; i++ {
		fmt.Fprintf(&body, `{"entity_id":"e%d","event_type":"t"}`+"\n", i)
	}
	_, err := ParseBatch([]byte(body.String()), FormatNDJSON, Limits{MaxBatchEvents: 10})
	if allsource.ErrorCode(err) != allsource.CodeTooLarge {
		t.Fatalf("got %v, want too_large", err)
	}
	if _, err := ParseBatch([]byte(body.String()), FormatNDJSON, Limits{MaxBatchEvents: 11}); err != nil {
		t.Fatal(err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	in := []allsource.Event{
		{Seq: 1, ID: "a", Tenant: "t", EntityID: "e", EventType: "x", Version: 1, Timestamp: ts, IngestedAt: ts, Payload: []byte(`{}`), Metadata: []byte(`{"k":1}`)},
		{Seq: 1 << 40, ID: "", Tenant: "default", EntityID: "ü", EventType: "Order Completed", Version: 7,
			Timestamp: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), IngestedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), Payload: []byte(`{"a":[1]}`), Metadata: []byte(`{}`)},
	}
	rec := appendBatchRecord(nil, in)
	out, err := decodeBatchRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d events", len(out))
	}
	for i := range in {
		a, b := in[i], out[i]
		if a.Seq != b.Seq || a.ID != b.ID || a.Tenant != b.Tenant || a.EntityID != b.EntityID || a.EventType != b.EventType ||
			a.Version != b.Version || !a.Timestamp.Equal(b.Timestamp) || !a.IngestedAt.Equal(b.IngestedAt) ||
			!bytes.Equal(a.Payload, b.Payload) || !bytes.Equal(a.Metadata, b.Metadata) {
			t.Fatalf("event %d: %+v != %+v", i, a, b)
		}
	}
	for cut := 0; cut < len(rec); cut++ {
		if _, err := decodeBatchRecord(rec[:cut]); err == nil {
			t.Fatalf("truncated record (%d of %d bytes) decoded", cut, len(rec))
		}
	}
}

// FuzzScanner checks the validating scanner against encoding/json: it must
// accept exactly the valid JSON values, and never panic.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5e-3,"x\u00e9",true,null]}`, `[`, `"\ud800"`, `-0`, `01`, `1.`, `{"a":1,}`, "\"\xff\"", `"\u0000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &scanner{b: b}
		err := s.skipValue(0)
		ok := err == nil && s.atEnd()
		if !utf8.Valid(b) {
			// Stricter than encoding/json, which replaces invalid UTF-8:
			// stored JSON must be valid UTF-8.
			if ok {
				t.Fatalf("scanner accepted invalid UTF-8: %q", b)
			}
			return
		}
		if err != nil && strings.Contains(err.Error(), "unpaired surrogate") {
			return // stricter than encoding/json on purpose
		}
		if ok != json.Valid(b) && !(strings.Count(string(b), "[")+strings.Count(string(b), "{") > maxDepth) {
			t.Fatalf("scanner says %v (%v), encoding/json says %v for %q", ok, err, json.Valid(b), b)
		}
	})
}

// FuzzParseBatch feeds arbitrary bodies: no panic, and an accepted batch has
// valid JSON payloads and required fields.
func FuzzParseBatch(f *testing.F) {
	f.Add([]byte(`{"entity_id":"a","event_type":"b","payload":{"x":1}}`), false)
	f.Add([]byte("{\"entity_id\":\"a\",\"event_type\":\"b\"}\n{\"subject\":\"c\",\"type\":\"d\",\"time\":5}\n"), true)
	f.Add([]byte(`[{"entity_id":"a","event_type":"b","id":"0190a6d2-0000-7000-8000-000000000001","expected_version":3}]`), false)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := FormatJSON
		if ndjson {
			format = FormatNDJSON
		}
		evs, err := ParseBatch(body, format, Limits{})
		if err != nil {
			if allsource.ErrorMessage(err) == "internal error" {
				t.Fatalf("error without a user message: %v", err)
			}
			return
		}
		for _, e := range evs {
			if e.EntityID == "" || e.EventType == "" || !json.Valid(e.Payload) || !json.Valid(e.Metadata) || e.Payload[0] != '{' {
				t.Fatalf("accepted a bad event: %+v", e)
			}
		}
	})
}

// FuzzDecodeRecord: the WAL record decoder never panics on arbitrary bytes,
// and what it accepts re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	ts := time.Unix(1700000000, 0).UTC()
	f.Add(appendBatchRecord(nil, []allsource.Event{{Seq: 3, ID: "i", Tenant: "t", EntityID: "e", EventType: "x", Version: 2, Timestamp: ts, IngestedAt: ts, Payload: []byte("{}"), Metadata: []byte("{}")}}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		evs, err := decodeBatchRecord(rec)
		if err != nil {
			return
		}
		if again := appendBatchRecord(nil, evs); !bytes.Equal(again, rec) {
			// Varints have one canonical form on encode; a decoder may accept
			// a longer one. Only the decoded values must survive.
			evs2, err := decodeBatchRecord(again)
			if err != nil || len(evs2) != len(evs) {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
		}
	})
}

func TestIDGen(t *testing.T) {
	g := newIDGen()
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 20000; i++ {
		id := g.next(now) // all in one millisecond: the counter and then the clock borrow keep order
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("%q: not a canonical UUIDv7 (%v)", id, err)
		}
		if seen[id] || id <= prev {
			t.Fatalf("id %d %q is not new and increasing after %q", i, id, prev)
		}
		seen[id] = true
		prev = id
	}
	last := uuid.MustParse(prev)
	if ms := time.UnixMilli(int64(binary.BigEndian.Uint64(append(make([]byte, 2), last[:6]...)))); ms.Before(now) {
		t.Fatalf("timestamp went back: %v", ms)
	}
}

// BenchmarkParseBatch measures parsing and validation of NDJSON batches of
// ~200-byte events, in events/s.
func BenchmarkParseBatch(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			var body bytes.Buffer
			for i := 0; i < n; i++ {
				fmt.Fprintf(&body, `{"entity_id":"user-%06d","event_type":"order.placed","timestamp":"2026-01-%02dT10:%02d:00.123Z","payload":{"order_id":"o-%d","total":%d.99,"currency":"EUR","items":[{"sku":"A-1","qty":2}]}}`+"\n",
					i%100000, 1+i%28, i%60, i, i%500)
			}
			b.SetBytes(int64(body.Len()))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := ParseBatch(body.Bytes(), FormatNDJSON, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
