package source

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// fuzzMappings are tried on every fuzz input.
var fuzzMappings = []Mapping{
	{},
	githubMapping,
	{EntityField: "a", TypeField: "b", TimeField: "c", TimeFormat: "unix_ms", IDField: "i",
		TenantField: "t", Tenant: "fallback", PayloadFields: []string{"d", "e"}, TypePrefix: "p."},
	{Tenant: "acme", TimeFormat: "2006-01-02"},
}

// checkReader reads data in the given format with each mapping and checks
// that every event is a valid input-format object, that lines increase and
// that the reader ends.
func checkReader(t *testing.T, data []byte, format Format) {
	for _, m := range fuzzMappings {
		r, err := NewReader(bytes.NewReader(data), "fuzz", format, m)
		if err != nil {
			continue
		}
		last := 0
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatalf("%+v: more records than input bytes", m)
			}
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			var re *RecordError
			if errors.As(err, &re) {
				if re.Line <= last {
					t.Fatalf("%+v: record error at line %d after line %d: %v", m, re.Line, last, err)
				}
				last = re.Line
				continue
			}
			if err != nil {
				if _, err2 := r.Next(); err2 == nil {
					t.Fatalf("%+v: stream error %v is not sticky", m, err)
				}
				break
			}
			if rec.Line <= last {
				t.Fatalf("%+v: record at line %d after line %d", m, rec.Line, last)
			}
			last = rec.Line
			checkEvent(t, rec.Event)
		}
		r.Close()
	}
}

// checkEvent checks that ev is an input-format event.
func checkEvent(t *testing.T, ev []byte) {
	t.Helper()
	var e map[string]any
	dec := json.NewDecoder(bytes.NewReader(ev))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("event %q is not a JSON object: %v", ev, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, ev); err != nil || !bytes.Equal(compact.Bytes(), ev) {
		t.Fatalf("event %q is not compact", ev)
	}
	if s, ok := e["entity_id"].(string); !ok || s == "" {
		t.Fatalf("event %s: bad entity_id", ev)
	}
	if s, ok := e["event_type"].(string); !ok || s == "" {
		t.Fatalf("event %s: bad event_type", ev)
	}
	for k, v := range e {
		switch k {
		case "entity_id", "event_type":
		case "timestamp":
			switch v := v.(type) {
			case string:
				if _, err := time.Parse(time.RFC3339, v); err != nil {
					t.Fatalf("event %s: timestamp: %v", ev, err)
				}
			case json.Number:
			default:
				t.Fatalf("event %s: timestamp of type %T", ev, v)
			}
		case "payload", "metadata":
			if _, ok := v.(map[string]any); !ok && v != nil {
				t.Fatalf("event %s: %s is not an object", ev, k)
			}
		case "id":
			if s, ok := v.(string); (!ok || !isUUID(s)) && v != nil {
				t.Fatalf("event %s: id is not a UUID", ev)
			}
		case "tenant":
			if _, ok := v.(string); !ok && v != nil {
				t.Fatalf("event %s: tenant is not a string", ev)
			}
		case "expected_version":
			if _, ok := v.(json.Number); !ok && v != nil {
				t.Fatalf("event %s: expected_version is not a number", ev)
			}
		default:
			t.Fatalf("event %s: key %q is not in the input format", ev, k)
		}
	}
}

func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(githubRecord + "\n" + `{"entity_id":"a","event_type":"x","timestamp":"2026-01-01 00:00:00"}`))
	f.Add([]byte("{\"a\":\"u\",\"b\":\"t\",\"c\":1700000000000,\"d\":[1],\"e\":{},\"i\":\"x\",\"t\":\"y\"}\r\n\n[1]\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReader(t, data, FormatNDJSON)
	})
}

func FuzzJSONArray(f *testing.F) {
	f.Add([]byte("[" + githubRecord + ",\n" + githubRecord + "]"))
	f.Add([]byte(`{"entity_id":"a","event_type":"x","payload":{"s":"]}"}} [1,"x",[{}]] {`))
	f.Add([]byte(" null"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReader(t, data, FormatJSON)
		// A valid JSON array yields one record or record error per element.
		var arr []json.RawMessage
		if lead := bytes.TrimLeft(data, " \t\r\n"); len(lead) == 0 || lead[0] != '[' || json.Unmarshal(data, &arr) != nil {
			return
		}
		r, err := NewReader(bytes.NewReader(data), "fuzz", FormatJSON, Mapping{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			var re *RecordError
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("valid array: %v", err)
			}
			n++
		}
		if n != len(arr) {
			t.Fatalf("valid array of %d elements gave %d records", len(arr), n)
		}
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("entity_id,event_type,timestamp,n\nu,x,2026-01-01,1\n\"a,\"\"b\"\"\nc\",y,1700000000,true\n"))
	f.Add([]byte("a,b,c,d,e,i,t\r\nu,v,1700000000000,\"{\"\"x\"\":1}\",,id,ten\r\n\"x\"y,z\n\"open"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReader(t, data, FormatCSV)
		compareWithEncodingCSV(t, data)
	})
}

// compareWithEncodingCSV checks the CSV parser against encoding/csv on input
// that encoding/csv reads without error.
func compareWithEncodingCSV(t *testing.T, data []byte) {
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) || bytes.HasPrefix(data, []byte("\ufeff")) {
		return
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var want [][]string
	var wantLines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
		line, _ := cr.FieldPos(0)
		want = append(want, slicesClone(rec))
		wantLines = append(wantLines, line)
	}
	p := csvParser{br: bufio.NewReader(bytes.NewReader(data))}
	for i := 0; ; i++ {
		line, msg, tooBig, err := p.read()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("%d records, encoding/csv reads %d", i, len(want))
			}
			return
		}
		if err != nil || msg != "" || tooBig {
			t.Fatalf("record %d: %v %q %v; encoding/csv reads it", i+1, err, msg, tooBig)
		}
		if i >= len(want) {
			t.Fatalf("more records than encoding/csv reads (%d)", len(want))
		}
		got := make([]string, p.fields())
		for j := range got {
			got[j] = string(p.field(j))
		}
		if strings.Join(got, "\x00") != strings.Join(want[i], "\x00") || line != wantLines[i] {
			t.Fatalf("record %d: got %q at line %d, encoding/csv %q at line %d", i+1, got, line, want[i], wantLines[i])
		}
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
