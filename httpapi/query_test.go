package httpapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct{ accept, want string }{
		{"", formatJSON},
		{"*/*", formatJSON},
		{"application/json", formatJSON},
		{"application/x-ndjson", formatNDJSON},
		{"application/jsonl", formatNDJSON},
		{"text/csv; charset=utf-8", formatCSV},
		{"application/vnd.apache.arrow.stream", formatArrow},
		{"text/html, application/vnd.apache.arrow.stream;q=0.9, application/json", formatArrow},
		{"application/json, text/csv", formatJSON},
	} {
		if got := negotiate(tc.accept); got != tc.want {
			t.Errorf("negotiate(%q) = %s, want %s", tc.accept, got, tc.want)
		}
	}
}

func TestParamValue(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want any
		fail bool
	}{
		{raw: `null`, want: nil},
		{raw: `true`, want: true},
		{raw: `"a\"b"`, want: `a"b`},
		{raw: `42`, want: int64(42)},
		{raw: `-1.5e3`, want: -1500.0},
		{raw: `{"a": [1]}`, want: `{"a": [1]}`},
		{raw: `[1, 2]`, want: `[1, 2]`},
		{raw: `{"a"`, fail: true},
		{raw: `nope`, fail: true},
	} {
		got, err := paramValue(json.RawMessage(tc.raw))
		if (err != nil) != tc.fail || (!tc.fail && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("paramValue(%s) = %#v, %v; want %#v (fail %v)", tc.raw, got, err, tc.want, tc.fail)
		}
	}
}
