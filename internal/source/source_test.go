package source

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// result is what reading a whole input gave.
type result struct {
	events []string // "line: event"
	errs   []string // record errors
	final  string   // the stream-ending error, "" for io.EOF
}

// readAll reads r to its end, keeping record errors and the final error.
func readAll(t testing.TB, r Reader) result {
	t.Helper()
	var res result
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("reader does not end")
		}
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		var re *RecordError
		if errors.As(err, &re) {
			if rec.Line != re.Line {
				t.Errorf("record error %q: Record.Line %d, error line %d", err, rec.Line, re.Line)
			}
			res.errs = append(res.errs, err.Error())
			continue
		}
		if err != nil {
			res.final = err.Error()
			if _, err2 := r.Next(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("error not sticky: first %q, then %v", err, err2)
			}
			break
		}
		if !json.Valid(rec.Event) {
			t.Errorf("line %d: invalid JSON event %s", rec.Line, rec.Event)
		}
		res.events = append(res.events, fmt.Sprintf("%d: %s", rec.Line, rec.Event))
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	return res
}

type readCase struct {
	name    string
	file    string // name given to NewReader
	format  Format
	mapping Mapping
	in      string
	events  []string
	errs    []string
	final   string
	openErr string
}

func runCases(t *testing.T, cases []readCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := c.file
			if file == "" {
				file = "in"
			}
			r, err := NewReader(strings.NewReader(c.in), file, c.format, c.mapping)
			if c.openErr != "" || err != nil {
				if err == nil || err.Error() != c.openErr {
					t.Fatalf("NewReader error = %v, want %q", err, c.openErr)
				}
				return
			}
			got := readAll(t, r)
			check := func(what string, got, want []string) {
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s:\n got: %s\nwant: %s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
				}
			}
			check("events", got.events, c.events)
			check("record errors", got.errs, c.errs)
			if got.final != c.final {
				t.Errorf("final error = %q, want %q", got.final, c.final)
			}
		})
	}
}

// githubMapping is the mapping for the GitHub events data set.
var githubMapping = Mapping{EntityField: "actor_login", TypeField: "type", TimeField: "time"}

const githubRecord = `{"type":"PushEvent","actor_login":"bob","repo_name":"git/git","n_commits":3,"time":"2015-01-01T00:00:01Z"}`
const githubEvent = `{"entity_id":"bob","event_type":"PushEvent","timestamp":"2015-01-01T00:00:01Z","payload":{"repo_name":"git/git","n_commits":3}}`

func TestNDJSON(t *testing.T) {
	runCases(t, []readCase{
		{
			name:   "pass through",
			file:   "events.ndjson",
			format: FormatNDJSON,
			in: `{"entity_id": "user-1", "event_type": "order.placed", "timestamp": 1700000000000, "payload": {"total": 10.5}}` + "\n" +
				`{"event_type":"Order Completed","entity_id":"u2","id":"0190c7a4-6b1e-7cc0-a2a5-3c1f2c9d0e11","tenant":"acme","metadata":{"ip":"1.2.3.4"},"expected_version":3}`,
			events: []string{
				`1: {"entity_id":"user-1","event_type":"order.placed","timestamp":1700000000000,"payload":{"total":10.5}}`,
				`2: {"event_type":"Order Completed","entity_id":"u2","id":"0190c7a4-6b1e-7cc0-a2a5-3c1f2c9d0e11","tenant":"acme","metadata":{"ip":"1.2.3.4"},"expected_version":3}`,
			},
		},
		{
			name:   "mapping example",
			format: FormatNDJSON, file: "github.ndjson", mapping: githubMapping,
			in:     githubRecord + "\n",
			events: []string{"1: " + githubEvent},
		},
		{
			name:   "blank lines, CRLF and spaces keep line numbers",
			format: FormatNDJSON, file: "e.jsonl",
			in: "\r\n  \n{\"entity_id\":\"a\",\"event_type\":\"x\"}\r\n\n\t{\"entity_id\":\"b\",\"event_type\":\"y\"}  \r\n\n",
			events: []string{
				`3: {"entity_id":"a","event_type":"x"}`,
				`5: {"entity_id":"b","event_type":"y"}`,
			},
		},
		{
			name:   "extra keys go to the payload",
			format: FormatNDJSON,
			in:     `{"entity_id":"a","event_type":"x","timestamp":"2026-03-01 10:15:00","payload":{"p":1},"color":"red","p":2}`,
			events: []string{`1: {"entity_id":"a","event_type":"x","timestamp":"2026-03-01T10:15:00Z","payload":{"p":1,"color":"red"}}`},
		},
		{
			name:   "bad lines are record errors and the stream goes on",
			file:   "events.ndjson",
			format: FormatNDJSON,
			in: `{"entity_id":"a","event_type":"x"}` + "\n" +
				`{"entity_id":"a","event_type":"x",}` + "\n" +
				`[1,2]` + "\n" +
				`{"event_type":"x"}` + "\n" +
				`{"entity_id":"a","event_type":""}` + "\n" +
				`{"entity_id":{"a":1},"event_type":"x"}` + "\n" +
				`{"entity_id":"a","event_type":"x","timestamp":"yesterday"}` + "\n" +
				`{"entity_id":"a"` + "\n" +
				`{"entity_id":"b","event_type":"x"}`,
			events: []string{
				`1: {"entity_id":"a","event_type":"x"}`,
				`9: {"entity_id":"b","event_type":"x"}`,
			},
			errs: []string{
				`events.ndjson:2: invalid JSON at column 35: invalid character '}' looking for beginning of object key string`,
				`events.ndjson:3: expected a JSON object, found an array`,
				`events.ndjson:4: field "entity_id" missing`,
				`events.ndjson:5: field "event_type" is empty`,
				`events.ndjson:6: field "entity_id" must be a string, not an object`,
				`events.ndjson:7: field "timestamp" cannot parse "yesterday" as a time`,
				`events.ndjson:8: invalid JSON at column 16: unexpected end of JSON input`,
			},
		},
		{
			name:   "fixed tenant, type prefix and payload fields",
			format: FormatNDJSON,
			mapping: Mapping{
				EntityField: "user", TypeField: "action", Tenant: "acme", TypePrefix: "shop.",
				PayloadFields: []string{"sku", "missing"},
			},
			in:     `{"user":42,"action":"buy","sku":"A-1","qty":2,"tenant":"other","timestamp":1700000000}`,
			events: []string{`1: {"entity_id":"42","event_type":"shop.buy","timestamp":"2023-11-14T22:13:20Z","payload":{"sku":"A-1"},"tenant":"acme"}`},
		},
		{
			name:    "tenant field with fallback, id field",
			format:  FormatNDJSON,
			mapping: Mapping{TenantField: "org", Tenant: "fallback", IDField: "uuid"},
			in: `{"entity_id":"a","event_type":"x","org":"acme","uuid":"0190c7a4-6b1e-7cc0-a2a5-3c1f2c9d0e11"}` + "\n" +
				`{"entity_id":"a","event_type":"x","tenant":"t"}`,
			events: []string{
				`1: {"entity_id":"a","event_type":"x","id":"0190c7a4-6b1e-7cc0-a2a5-3c1f2c9d0e11","tenant":"acme"}`,
				`2: {"entity_id":"a","event_type":"x","payload":{"tenant":"t"},"tenant":"fallback"}`,
			},
		},
		{
			name:    "explicit time field is required",
			format:  FormatNDJSON,
			file:    "x.ndjson",
			mapping: Mapping{TimeField: "at"},
			in:      `{"entity_id":"a","event_type":"x"}`,
			errs:    []string{`x.ndjson:1: field "at" missing`},
		},
		{
			name:   "escapes survive",
			format: FormatNDJSON,
			in:     `{"entity_id":"a\u00e9\"<>","event_type":"x","k\u0065y":"v\n"}`,
			events: []string{`1: {"entity_id":"aé\"<>","event_type":"x","payload":{"k\u0065y":"v\n"}}`},
		},
		{
			name:   "long event type",
			format: FormatNDJSON, file: "x.ndjson",
			in:   `{"entity_id":"a","event_type":"` + strings.Repeat("t", 129) + `"}`,
			errs: []string{`x.ndjson:1: field "event_type" is longer than 128 bytes`},
		},
	})
}

func TestJSON(t *testing.T) {
	var seventeen strings.Builder
	seventeen.WriteString("[\n")
	for i := 1; i <= 17; i++ {
		if i == 17 {
			seventeen.WriteString(`  {"type":"WatchEvent","repo_name":"git/git","time":"2015-01-01T00:00:02Z"}` + "\n]")
			break
		}
		seventeen.WriteString("  " + githubRecord + ",\n")
	}
	want17 := make([]string, 16)
	for i := range want17 {
		want17[i] = fmt.Sprintf("%d: %s", i+1, githubEvent)
	}
	runCases(t, []readCase{
		{
			name:    "mapping example, element 17 missing its actor",
			file:    "github.json",
			format:  FormatJSON,
			mapping: githubMapping,
			in:      seventeen.String(),
			events:  want17,
			errs:    []string{`github.json: element 17: field "actor_login" missing`},
		},
		{
			name:   "single pretty-printed object",
			format: FormatJSON,
			in:     "{\n  \"entity_id\": \"a\",\n  \"event_type\": \"x\",\n  \"payload\": {\"n\": [1, 2]}\n}\n",
			events: []string{`1: {"entity_id":"a","event_type":"x","payload":{"n":[1,2]}}`},
		},
		{
			name:   "values one after another, arrays and objects",
			format: FormatJSON,
			in:     `{"entity_id":"a","event_type":"x"}{"entity_id":"b","event_type":"x"} [ ] [{"entity_id":"c","event_type":"x"}]`,
			events: []string{
				`1: {"entity_id":"a","event_type":"x"}`,
				`2: {"entity_id":"b","event_type":"x"}`,
				`3: {"entity_id":"c","event_type":"x"}`,
			},
		},
		{
			name:   "empty input and empty array",
			format: FormatJSON,
			in:     " \n[]\n",
		},
		{
			name:   "bad elements are record errors",
			file:   "a.json",
			format: FormatJSON,
			in:     "[1, \"s\", {\"entity_id\":\"a\",\n\"event_type\":\"x\" \"oops\"}, [{}], {\"entity_id\":\"b\",\"event_type\":\"x\"}]",
			events: []string{`5: {"entity_id":"b","event_type":"x"}`},
			errs: []string{
				`a.json: element 1: expected a JSON object, found a number`,
				`a.json: element 2: expected a JSON object, found a string`,
				`a.json: element 3: invalid JSON on line 2: invalid character '"' after object key:value pair`,
				`a.json: element 4: expected a JSON object, found an array`,
			},
		},
		{
			name:   "missing comma ends the stream",
			file:   "a.json",
			format: FormatJSON,
			in:     "[\n{\"entity_id\":\"a\",\"event_type\":\"x\"}\n{\"entity_id\":\"b\",\"event_type\":\"x\"}]",
			events: []string{`1: {"entity_id":"a","event_type":"x"}`},
			final:  `a.json:3: expected ',' or ']' after element 1, found '{'`,
		},
		{
			name:   "unclosed array",
			file:   "a.json",
			format: FormatJSON,
			in:     "\n[{\"entity_id\":\"a\",\"event_type\":\"x\"},\n",
			events: []string{`1: {"entity_id":"a","event_type":"x"}`},
			final:  `a.json:3: unexpected end of input: the array opened on line 2 is not closed`,
		},
		{
			name:   "unclosed string",
			file:   "a.json",
			format: FormatJSON,
			in:     "[{\"entity_id\":\"a\",\n\"event_type\":\"x}]\n",
			final:  `a.json:3: unexpected end of input in element 1, which starts on line 1`,
		},
		{
			name:   "mismatched bracket",
			file:   "a.json",
			format: FormatJSON,
			in:     "[{\"entity_id\":[\"a\"},\n{}]",
			final:  `a.json:1: unexpected '}' in element 1, which starts on line 1`,
		},
		{
			name:   "trailing comma",
			file:   "a.json",
			format: FormatJSON,
			in:     "[{\"entity_id\":\"a\",\"event_type\":\"x\"},]",
			events: []string{`1: {"entity_id":"a","event_type":"x"}`},
			final:  `a.json:1: expected an element after ',', found ']'`,
		},
		{
			name:   "top-level scalar",
			file:   "a.json",
			format: FormatJSON,
			in:     "  42",
			final:  `a.json:1: expected '[' or '{', found '4'`,
		},
	})
}

func TestCSV(t *testing.T) {
	var fortyTwo strings.Builder
	fortyTwo.WriteString("entity_id,event_type,timestamp,a,b,c\n")
	for i := 2; i < 42; i++ {
		fmt.Fprintf(&fortyTwo, "u%d,x,2026-01-01 00:00:%02d,1,2,3\n", i, i)
	}
	fortyTwo.WriteString("u42,x,2026-01-01 00:00:42,1,2\nu43,x,,,,\n")
	res42 := make([]string, 0, 41)
	for i := 2; i < 42; i++ {
		res42 = append(res42, fmt.Sprintf(`%d: {"entity_id":"u%d","event_type":"x","timestamp":"2026-01-01T00:00:%02dZ","payload":{"a":1,"b":2,"c":3}}`, i, i, i))
	}
	res42 = append(res42, `43: {"entity_id":"u43","event_type":"x"}`)

	runCases(t, []readCase{
		{
			name:   "types of cells",
			format: FormatCSV,
			in: "entity_id,event_type,timestamp,n,f,b,zip,s,empty,neg\n" +
				"u1,page.viewed,1700000000123,42,-1.5e3,true,02134,hello,,-0\n",
			events: []string{`2: {"entity_id":"u1","event_type":"page.viewed","timestamp":"2023-11-14T22:13:20.123Z","payload":{"n":42,"f":-1.5e3,"b":true,"zip":"02134","s":"hello","neg":-0}}`},
		},
		{
			name:    "quotes, commas and line breaks in cells",
			file:    "q.csv",
			format:  FormatCSV,
			mapping: Mapping{EntityField: "user", TypeField: "what", TimeField: "when"},
			in: "user,what,when,note\r\n" +
				"\"u,1\",\"said \"\"hi\"\"\",2026-01-01T10:00:00+02:00,\"line one\r\nline two\nline three\"\r\n" +
				"\r\n" +
				"u2,x,2026-01-01,5\" screen\r\n" +
				"u3,x,2026-01-01T00:00:00.5,\"\"\n",
			events: []string{
				`2: {"entity_id":"u,1","event_type":"said \"hi\"","timestamp":"2026-01-01T08:00:00Z","payload":{"note":"line one\nline two\nline three"}}`,
				`6: {"entity_id":"u2","event_type":"x","timestamp":"2026-01-01T00:00:00Z","payload":{"note":"5\" screen"}}`,
				`7: {"entity_id":"u3","event_type":"x","timestamp":"2026-01-01T00:00:00.5Z"}`,
			},
		},
		{
			name:   "wrong column count at line 42",
			file:   "events.csv",
			format: FormatCSV,
			in:     fortyTwo.String(),
			events: res42,
			errs:   []string{`events.csv:42: column count 5, header has 6`},
		},
		{
			name:   "text after a closing quote",
			file:   "events.csv",
			format: FormatCSV,
			in:     "entity_id,event_type\n\"a\"b,x\nc,d\n",
			events: []string{`3: {"entity_id":"c","event_type":"d"}`},
			errs:   []string{`events.csv:2: unexpected 'b' after the closing quote of field 1 (line 2)`},
		},
		{
			name:   "unclosed quote ends the stream",
			file:   "events.csv",
			format: FormatCSV,
			in:     "entity_id,event_type\na,b\n\"c,d\ne,f\n",
			events: []string{`2: {"entity_id":"a","event_type":"b"}`},
			final:  `events.csv:3: the quoted field that starts on line 3 is not closed at the end of the input`,
		},
		{
			name:    "mapped column missing from the header",
			file:    "events.csv",
			format:  FormatCSV,
			mapping: Mapping{EntityField: "user"},
			in:      "id,event_type\n1,x\n",
			openErr: `events.csv:1: no column "user" (the columns are id, event_type)`,
		},
		{
			name:    "duplicate column",
			file:    "events.csv",
			format:  FormatCSV,
			in:      "\n\nentity_id,event_type,a,a\n",
			openErr: `events.csv:3: duplicate column "a"`,
		},
		{
			name:   "header only, no trailing newline, unnamed column",
			format: FormatCSV,
			in:     "entity_id,event_type,\nu,x,ignored",
			events: []string{`2: {"entity_id":"u","event_type":"x"}`},
		},
		{
			name:   "empty file",
			format: FormatCSV,
			in:     "",
		},
		{
			name:   "payload column holding JSON, BOM",
			format: FormatCSV,
			in:     "\ufeffentity_id,event_type,payload,metadata\nu,x,\"{\"\"a\"\": 1}\",\"{\"\"src\"\":\"\"csv\"\"}\"\n",
			events: []string{`2: {"entity_id":"u","event_type":"x","payload":{"a":1},"metadata":{"src":"csv"}}`},
		},
	})
}

func TestGzip(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(content))
		zw.Close()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ name, content, want string }{
		{"a.ndjson.gz", `{"entity_id":"a","event_type":"x"}` + "\n", `1: {"entity_id":"a","event_type":"x"}`},
		{"b.json.gz", `[{"entity_id":"b","event_type":"x"}]`, `1: {"entity_id":"b","event_type":"x"}`},
		{"c.csv.gz", "entity_id,event_type\nc,x\n", `2: {"entity_id":"c","event_type":"x"}`},
		{"d.csv", "entity_id,event_type\nd,x\n", `2: {"entity_id":"d","event_type":"x"}`}, // gzip without .gz
	}
	for _, c := range cases {
		p := write(c.name, c.content)
		r, err := Open(p, "", Mapping{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := readAll(t, r)
		if len(got.events) != 1 || got.events[0] != c.want || got.final != "" || len(got.errs) > 0 {
			t.Errorf("%s: got %+v, want %s", c.name, got, c.want)
		}
	}
	// Broken gzip data ends the stream with an error naming the file.
	p := filepath.Join(dir, "broken.ndjson.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte(`{"entity_id":"a","event_type":"x"}`+"\n"), 1000))
	zw.Close()
	b := buf.Bytes()
	os.WriteFile(p, b[:len(b)-12], 0o644)
	r, err := Open(p, "", Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if !strings.HasPrefix(got.final, p+":") {
		t.Errorf("truncated gzip: final error %q, want one naming %s", got.final, p)
	}
}

func TestDetectFormat(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		want          Format
	}{
		{"a.ndjson", "", FormatNDJSON},
		{"a.JSONL", "", FormatNDJSON},
		{"a.csv", "", FormatCSV},
		{"a.csv.gz", "", FormatCSV},
		{"a.json", "[{}]", FormatJSON},
		{"b.json", `{"a":1}`, FormatJSON},
		{"c.json", "{\"a\":1}\n{\"a\":2}\n", FormatNDJSON},
		{"d.json", "{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n", FormatJSON},
		{"e.json", "not json", FormatJSON},
		{"missing.json", "-", FormatJSON},
		{"f.txt", "\n {\"a\":\"}\"} {\"a\":2}", FormatNDJSON},
		{"g", "  [1]", FormatJSON},
		{"h.dat", "a,b\n1,2\n", ""},
		{"i.json.gz", "{\"a\":1}\n{\"a\":2}\n", FormatNDJSON},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		if c.content != "-" {
			data := []byte(c.content)
			if strings.HasSuffix(c.name, ".gz") {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				zw.Write(data)
				zw.Close()
				data = buf.Bytes()
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := DetectFormat(p); got != c.want {
			t.Errorf("DetectFormat(%s) = %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := Open(filepath.Join(dir, "h.dat"), "", Mapping{}); err == nil || !strings.Contains(err.Error(), "cannot tell the format") {
		t.Errorf("Open of an unknown format: %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": "", "NDJSON": FormatNDJSON, "jsonl": FormatNDJSON, "json": FormatJSON, " csv ": FormatCSV} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || err.Error() != `unknown format "xml" (want ndjson, json or csv)` {
		t.Errorf("ParseFormat(xml) error = %v", err)
	}
}

func TestTimes(t *testing.T) {
	cases := []struct {
		format, in, want string // in is a JSON value; want "" for an error
	}{
		{"", `"2026-03-01T10:15:00.123Z"`, "2026-03-01T10:15:00.123Z"},
		{"", `"2026-03-01T10:15:00.123456789+01:00"`, "2026-03-01T09:15:00.123456789Z"},
		{"", `"2026-03-01T10:15:00"`, "2026-03-01T10:15:00Z"},
		{"", `"2026-03-01T10:15:00.5"`, "2026-03-01T10:15:00.5Z"},
		{"", `"2026-03-01 10:15:00"`, "2026-03-01T10:15:00Z"},
		{"", `"2026-03-01 10:15:00.25"`, "2026-03-01T10:15:00.25Z"},
		{"", `"2026-03-01T10:15:00-0500"`, "2026-03-01T15:15:00Z"},
		{"", `"2026-03-01"`, "2026-03-01T00:00:00Z"},
		{"", `"Sun, 01 Mar 2026 10:15:00 +0000"`, "2026-03-01T10:15:00Z"},
		{"", `1772360100`, "2026-03-01T10:15:00Z"},                    // seconds
		{"", `1772360100.25`, "2026-03-01T10:15:00.25Z"},              // seconds with fraction
		{"", `1772360100123`, "2026-03-01T10:15:00.123Z"},             // millis
		{"", `1772360100123.5`, "2026-03-01T10:15:00.1235Z"},          // millis with fraction
		{"", `1772360100123456`, "2026-03-01T10:15:00.123456Z"},       // micros
		{"", `1772360100123456789`, "2026-03-01T10:15:00.123456789Z"}, // nanos
		{"", `"1772360100"`, "2026-03-01T10:15:00Z"},
		{"", `1.7723601e9`, "2026-03-01T10:15:00Z"},
		{"", `-86400`, "1969-12-31T00:00:00Z"},
		{"", `0`, "1970-01-01T00:00:00Z"},
		{"", `"tomorrow"`, ""},
		{"", `"2026-13-01"`, ""},
		{"", `true`, ""},
		{"", `{"a":1}`, ""},
		{"", `99999999999999999999`, ""},
		{"unix", `1000`, "1970-01-01T00:16:40Z"},
		{"unix_ms", `1000`, "1970-01-01T00:00:01Z"},
		{"unix_us", `"1000"`, "1970-01-01T00:00:00.001Z"},
		{"unix_ns", `1000`, "1970-01-01T00:00:00.000001Z"},
		{"unix", `9223372036854775807`, ""},
		{"02/01/2006 15:04", `"01/03/2026 10:15"`, "2026-03-01T10:15:00Z"},
		{"20060102", `20260301`, "2026-03-01T00:00:00Z"},
		{"20060102", `"2026-03-01"`, ""},
	}
	for _, c := range cases {
		mp := newMapper(Mapping{TimeFormat: c.format}, "t", false)
		got, err := mp.parseTime([]byte(c.in))
		if c.want == "" {
			if err == nil {
				t.Errorf("%q %s: got %v, want an error", c.format, c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q %s: %v", c.format, c.in, err)
			continue
		}
		if s := got.Format("2006-01-02T15:04:05.999999999Z07:00"); s != c.want {
			t.Errorf("%q %s = %s, want %s", c.format, c.in, s, c.want)
		}
	}
}

func TestMappingValidate(t *testing.T) {
	bad := []Mapping{
		{Tenant: strings.Repeat("t", 65)},
		{TypePrefix: strings.Repeat("p", 128)},
		{TypePrefix: "a\x00"},
		{PayloadFields: []string{"a", ""}},
	}
	for _, m := range bad {
		if err := m.Validate(); err == nil {
			t.Errorf("%+v: no error", m)
		}
		if _, err := NewReader(strings.NewReader(""), "x.ndjson", "", m); err == nil {
			t.Errorf("NewReader with %+v: no error", m)
		}
	}
	if err := githubMapping.Validate(); err != nil {
		t.Error(err)
	}
}

func TestRecordErrorIsSkippable(t *testing.T) {
	r, err := NewReader(strings.NewReader("{}\n{\"entity_id\":\"a\",\"event_type\":\"x\"}\n"), "x.ndjson", "", Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Next()
	var re *RecordError
	if !errors.As(err, &re) || re.File != "x.ndjson" || re.Line != 1 || re.Field != "entity_id" || re.Msg != "missing" || re.Element {
		t.Fatalf("first record: %#v", err)
	}
	rec, err := r.Next()
	if err != nil || rec.Line != 2 {
		t.Fatalf("second record: %v %v", rec, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// arrayStream generates a JSON array of n GitHub-like objects without holding
// it in memory.
type arrayStream struct {
	n, i int
	buf  []byte
}

func (a *arrayStream) Read(p []byte) (int, error) {
	for len(a.buf) == 0 {
		switch {
		case a.i == 0:
			a.buf = append(a.buf, "[\n"...)
		case a.i > a.n:
			return 0, io.EOF
		}
		if a.i < a.n {
			if a.i > 0 {
				a.buf = append(a.buf, ",\n"...)
			}
			a.buf = fmt.Appendf(a.buf, `  {"type": "PushEvent", "actor_login": "user%d", "repo_name": "org/repo%d", "n_commits": %d, "time": "2015-01-01T00:%02d:%02dZ"}`,
				a.i, a.i%45, a.i%7, a.i/60%60, a.i%60)
		} else {
			a.buf = append(a.buf, "\n]\n"...)
		}
		a.i++
	}
	n := copy(p, a.buf)
	a.buf = a.buf[n:]
	return n, nil
}

func TestJSONArrayStreams(t *testing.T) {
	const n = 100_000
	src := &arrayStream{n: n}
	r, err := NewReader(src, "big.json", FormatJSON, githubMapping)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ms runtime.MemStats
	readMem(&ms)
	before := ms.HeapAlloc
	peak := before
	count, bytesOut := 0, 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		bytesOut += len(rec.Event)
		if rec.Line != count {
			t.Fatalf("record %d has Line %d", count, rec.Line)
		}
		if count%20_000 == 0 {
			readMem(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	readMem(&ms)
	if count != n {
		t.Fatalf("read %d records, want %d", count, n)
	}
	grew := int64(peak) - int64(before)
	t.Logf("%d records, %d MB of events out; heap grew by at most %d KB", count, bytesOut>>20, grew>>10)
	if grew > 8<<20 {
		t.Errorf("heap grew by %d bytes while streaming; the reader seems to keep records", grew)
	}
}

// readMem collects garbage and reads the memory statistics.
func readMem(ms *runtime.MemStats) {
	runtime.GC()
	runtime.ReadMemStats(ms)
}

func TestIDsAndTenants(t *testing.T) {
	runCases(t, []readCase{
		{
			name:   "implicit id and tenant that do not fit are payload",
			format: FormatNDJSON,
			in: `{"entity_id":"a","event_type":"x","id":42,"tenant":7}` + "\n" +
				`{"entity_id":"a","event_type":"x","id":"row-1"}` + "\n" +
				`{"entity_id":"a","event_type":"x","id":"0190C7A46B1E7CC0A2A53C1F2C9D0E11","tenant":null}`,
			events: []string{
				`1: {"entity_id":"a","event_type":"x","payload":{"id":42,"tenant":7}}`,
				`2: {"entity_id":"a","event_type":"x","payload":{"id":"row-1"}}`,
				`3: {"entity_id":"a","event_type":"x","id":"0190C7A4-6B1E-7CC0-A2A5-3C1F2C9D0E11"}`,
			},
		},
		{
			name:    "explicit id and tenant must fit",
			file:    "x.ndjson",
			format:  FormatNDJSON,
			mapping: Mapping{IDField: "uuid", TenantField: "org"},
			in: `{"entity_id":"a","event_type":"x","uuid":"nope"}` + "\n" +
				`{"entity_id":"a","event_type":"x","uuid":1}` + "\n" +
				`{"entity_id":"a","event_type":"x","org":["a"]}` + "\n" +
				`{"entity_id":"a","event_type":"x","org":"` + strings.Repeat("o", 65) + `"}`,
			errs: []string{
				`x.ndjson:1: field "uuid" is not a UUID`,
				`x.ndjson:2: field "uuid" must be a string, not a number`,
				`x.ndjson:3: field "org" must be a string, not an array`,
				`x.ndjson:4: field "org" is longer than 64 bytes`,
			},
		},
		{
			name:   "CSV row ids and huge numbers",
			format: FormatCSV,
			in:     "id,entity_id,event_type,big,tenant\n7,u,x,1e999,acme\n",
			events: []string{`2: {"entity_id":"u","event_type":"x","payload":{"id":7,"big":"1e999"},"tenant":"acme"}`},
		},
		{
			name:   "pass-through checks values",
			file:   "x.ndjson",
			format: FormatNDJSON,
			in: `{"entity_id":"","event_type":"x"}` + "\n" +
				`{"entity_id":"a","event_type":"x\u0007"}` + "\n" +
				`{"entity_id":"a","event_type":"x","tenant":"` + strings.Repeat("t", 65) + `"}` + "\n" +
				`{"entity_id":"a","event_type":"x","timestamp":"2026-03-01T10:15:00+01:00","payload":null}` + "\n" +
				`{"entity_id":"a","event_type":"x","timestamp":"2026-03-01T10:15:00.1","payload":{}}`,
			events: []string{
				`4: {"entity_id":"a","event_type":"x","timestamp":"2026-03-01T10:15:00+01:00","payload":null}`,
				`5: {"entity_id":"a","event_type":"x","timestamp":"2026-03-01T10:15:00.1Z","payload":{}}`,
			},
			errs: []string{
				`x.ndjson:1: field "entity_id" is empty`,
				`x.ndjson:2: field "event_type" contains a control character`,
				`x.ndjson:3: field "tenant" is longer than 64 bytes`,
			},
		},
	})
}

func TestTooLong(t *testing.T) {
	defer func(m int) { maxRecord = m }(maxRecord)
	maxRecord = 100
	long := `{"entity_id":"a","event_type":"x","payload":{"s":"` + strings.Repeat("x", 100) + `"}}`
	huge := `{"entity_id":"a","event_type":"x","payload":{"s":"` + strings.Repeat("x", 300<<10) + `"}}`
	runCases(t, []readCase{
		{
			name:   "ndjson",
			file:   "x.ndjson",
			format: FormatNDJSON,
			in:     long + "\n" + huge + "\n" + `{"entity_id":"b","event_type":"x"}`,
			events: []string{`3: {"entity_id":"b","event_type":"x"}`},
			errs: []string{
				`x.ndjson:1: record is longer than 100 bytes`,
				`x.ndjson:2: record is longer than 100 bytes`,
			},
		},
		{
			name:   "json",
			file:   "x.json",
			format: FormatJSON,
			in:     "[\n" + long + ",\n" + huge + ",\n" + `{"entity_id":"b","event_type":"x"}]`,
			events: []string{`3: {"entity_id":"b","event_type":"x"}`},
			errs: []string{
				`x.json: element 1: record is longer than 100 bytes (it starts on line 2)`,
				`x.json: element 2: record is longer than 100 bytes (it starts on line 3)`,
			},
		},
		{
			name:   "csv",
			file:   "x.csv",
			format: FormatCSV,
			in:     "entity_id,event_type,s\na,x," + strings.Repeat("y", 100) + "\nb,x,\"" + strings.Repeat("z\n", 300<<10) + "\"\nc,x,\n",
			events: []string{fmt.Sprintf(`%d: {"entity_id":"c","event_type":"x"}`, 4+300<<10)},
			errs: []string{
				`x.csv:2: record is longer than 100 bytes`,
				`x.csv:3: record is longer than 100 bytes`,
			},
		},
	})
	maxRecord = MaxRecordBytes
	r, err := NewReader(strings.NewReader(huge+"\n"), "x.ndjson", "", Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); len(got.events) != 1 || len(got.events[0]) != len(huge)+3 {
		t.Errorf("a 300 KB line: %d events, errors %v", len(got.events), got.errs)
	}
}
