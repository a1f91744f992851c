package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// JSON values come back as stored: key order, large integers and decimal
// spelling are kept (the driver alone would decode them into Go values).
func TestQueryKeepsJSONText(t *testing.T) {
	url, _ := startAPI(t)
	payload := `{"z":1,"big":12345678901234567890,"a":{"y":[1.50,2]}}`
	resp, err := http.Post(url+"/v1/events", "application/json", strings.NewReader(`{"entity_id":"u","event_type":"t","payload":`+payload+`}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("append: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	for _, tc := range []struct{ accept, sql, want string }{
		{"application/json", `SELECT payload FROM events`, `"rows":[[` + payload + `]]`},
		{"application/json", `SELECT seq, payload AS p, payload AS p FROM events -- a comment`, `[1,` + payload + `,` + payload + `]`},
		{"application/x-ndjson", `SELECT payload FROM events;`, `{"payload":` + payload + `}`},
		{"text/csv", `SELECT payload FROM events`, `"{""z"":1,""big"":12345678901234567890,`},
		// A statement the wrapper cannot take still runs, as written.
		{"application/json", `SELECT payload FROM events; -- trailing`, `"rows":[[{`},
	} {
		req, _ := http.NewRequest("POST", url+"/v1/query", strings.NewReader(`{"sql":"`+strings.ReplaceAll(tc.sql, `"`, `\"`)+`"}`))
		req.Header.Set("Accept", tc.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s %q: HTTP %d\n%s\nwant it to contain %s", tc.accept, tc.sql, resp.StatusCode, body, tc.want)
		}
	}
}

// A parameter whose type DuckDB cannot infer before binding still works.
func TestQueryUntypedParameter(t *testing.T) {
	url, _ := startAPI(t)
	resp, err := http.Post(url+"/v1/events", "application/json", strings.NewReader(`{"entity_id":"u","event_type":"t"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("append: %v", err)
	}
	resp.Body.Close()
	resp, err = http.Post(url+"/v1/query", "application/json", strings.NewReader(`{"sql":"SELECT ? AS j, seq FROM events LIMIT 1","params":[3]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"rows":[[3,1]]`) {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
}
