package eventql

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// fixture events: three entities, six events, UTC timestamps in January 2024.
const fixtureSQL = `
CREATE TABLE raw_events (seq BIGINT, id VARCHAR, tenant_id VARCHAR, entity_id VARCHAR, event_type VARCHAR,
  version BIGINT, "timestamp" TIMESTAMPTZ, ingested_at TIMESTAMPTZ, payload VARCHAR, metadata VARCHAR);
INSERT INTO raw_events VALUES
 (1, '00000000-0000-0000-0000-000000000001', 't1', 'book-1', 'book.acquired', 1, '2024-01-01T10:00:00Z', '2024-01-01T10:00:01Z',
  '{"title":"Dune","price":20,"tags":["scifi","classic"],"department":"A","ratings":[5,4]}', '{"correlation_id":"c1"}'),
 (2, '00000000-0000-0000-0000-000000000002', 't1', 'book-1', 'book.borrowed', 2, '2024-01-02T10:00:00Z', '2024-01-02T10:00:01Z',
  '{"reader":"reader-1","days":14}', '{"correlation_id":"c2"}'),
 (3, '00000000-0000-0000-0000-000000000003', 't1', 'book-2', 'book.acquired', 1, '2024-01-03T10:00:00Z', '2024-01-03T10:00:01Z',
  '{"title":"Emma","price":8.5,"tags":["classic"],"department":"B","ratings":[3]}', '{"correlation_id":"c3"}'),
 (4, '00000000-0000-0000-0000-000000000004', 't1', 'book-1', 'book.returned', 3, '2024-01-10T10:00:00Z', '2024-01-10T10:00:01Z',
  '{"reader":"reader-1","late":false,"note":null}', '{}'),
 (5, '00000000-0000-0000-0000-000000000005', 't1', 'reader-1', 'reader.registered', 1, '2024-01-01T09:00:00Z', '2024-01-01T09:00:01Z',
  '{"name":"Ann","age":34,"address":{"city":"Berlin"},"premium":true}', '{"correlation_id":"c1"}'),
 (6, '00000000-0000-0000-0000-000000000006', 't1', 'book-2', 'book.borrowed', 2, '2024-01-05T12:00:00Z', '2024-01-05T12:00:01Z',
  '{"reader":"reader-1","days":7}', '{"correlation_id":"c6"}');
CREATE VIEW events AS SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
  payload::JSON AS payload, metadata::JSON AS metadata FROM raw_events;
`

var (
	dbOnce sync.Once
	db     *sql.DB
	dbErr  error
)

// testDB returns a shared in-memory DuckDB holding the fixture events.
func testDB(t testing.TB) *sql.DB {
	t.Helper()
	dbOnce.Do(func() {
		db, dbErr = sql.Open("duckdb", "")
		if dbErr != nil {
			return
		}
		db.SetMaxOpenConns(1) // one in-memory database
		if _, dbErr = db.Exec("SET TimeZone = 'UTC'"); dbErr != nil {
			return
		}
		_, dbErr = db.Exec(fixtureSQL)
	})
	if dbErr != nil {
		t.Fatalf("open duckdb: %v", dbErr)
	}
	return db
}

// runSQL runs query and returns each row as its values joined by "|".
func runSQL(t testing.TB, query string) ([]string, []string, error) {
	t.Helper()
	rows, err := testDB(t).Query(query)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = formatValue(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return cols, out, rows.Err()
}

func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(v)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	case string:
		return v
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b)
	}
	switch v := v.(type) {
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
