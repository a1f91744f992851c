package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// EventQLPair is one question asked in EventQL and in the hand-written SQL
// a user would write for it.
type EventQLPair struct {
	Name, EventQL, SQL string
}

// StandardEventQLPairs are the comparisons Run makes over the generated
// events.
var StandardEventQLPairs = []EventQLPair{
	{"count per type",
		`FROM e IN events GROUP BY e.type PROJECT INTO { type: e.type, n: COUNT() }`,
		`SELECT event_type AS type, count(*) AS n FROM events GROUP BY 1`},
	{"orders per channel in one week",
		`FROM e IN events SINCE "2026-01-08T00:00:00Z" UNTIL "2026-01-15T00:00:00Z" WHERE e.type == "order.placed" GROUP BY e.data.channel PROJECT INTO { channel: e.data.channel, n: COUNT() }`,
		`SELECT payload->>'channel' AS channel, count(*) AS n FROM events WHERE event_type = 'order.placed' AND "timestamp" >= TIMESTAMPTZ '2026-01-08 00:00:00+00' AND "timestamp" <= TIMESTAMPTZ '2026-01-15 00:00:00+00' GROUP BY 1`},
	{"one user's stream",
		`FROM e IN events WHERE e.subject == "user-42" ORDER BY e.seq PROJECT INTO { type: e.type, time: e.time }`,
		`SELECT event_type AS type, "timestamp" AS time FROM events WHERE entity_id = 'user-42' ORDER BY seq`},
}

// EventQLResult compares one pair through POST /v1/query: {"eventql": …}
// against {"sql": …}, both answered in the same JSON format.
type EventQLResult struct {
	Name                 string
	Runs                 int
	EventQL, SQL         time.Duration // medians
	EventQLRows, SQLRows int
	Ratio                float64 // EventQL / SQL
}

// EventQLOverheadRuns measures each pair runs times (after a warm-up run),
// alternating the two forms.
func EventQLOverheadRuns(ctx context.Context, serverURL string, pairs []EventQLPair, runs int) ([]EventQLResult, error) {
	if runs < 1 {
		runs = 1
	}
	client := newHTTPClient(1, 10*time.Minute)
	defer client.CloseIdleConnections()
	url := endpointURL(serverURL, "/v1/query")
	ask := func(field, q string) (int, time.Duration, error) {
		body, err := json.Marshal(map[string]string{field: q})
		if err != nil {
			return 0, 0, err
		}
		var qr queryResponse
		t0 := time.Now()
		err = postJSON(ctx, client, url, "application/json", body, &qr)
		return len(qr.Rows), time.Since(t0), err
	}
	var out []EventQLResult
	for _, p := range pairs {
		r := EventQLResult{Name: p.Name, Runs: runs}
		var et, st []time.Duration
		for i := 0; i <= runs; i++ {
			n, d, err := ask("eventql", p.EventQL)
			if err != nil {
				return out, fmt.Errorf("bench: eventql %q: %w", p.Name, err)
			}
			r.EventQLRows = n
			m, dd, err := ask("sql", p.SQL)
			if err != nil {
				return out, fmt.Errorf("bench: sql %q: %w", p.Name, err)
			}
			r.SQLRows = m
			if i > 0 {
				et, st = append(et, d), append(st, dd)
			}
		}
		r.EventQL, r.SQL = median(et), median(st)
		if r.SQL > 0 {
			r.Ratio = float64(r.EventQL) / float64(r.SQL)
		}
		out = append(out, r)
	}
	return out, nil
}
