package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// The standard queries of QueryOverheadRuns.
const (
	// QueryCountByType counts events per type: a full scan of one column.
	QueryCountByType = `SELECT event_type, count(*) FROM events GROUP BY 1`
	// QueryHourlyOrders counts one event type per hour over one week of the
	// generated month: a filtered scan with a time-bucket aggregate.
	QueryHourlyOrders = `SELECT time_bucket(INTERVAL '1 hour', timestamp) AS h, count(*) FROM events ` +
		`WHERE event_type = 'order.placed' ` +
		`AND timestamp >= TIMESTAMPTZ '2026-01-08 00:00:00+00' AND timestamp < TIMESTAMPTZ '2026-01-15 00:00:00+00' ` +
		`GROUP BY 1 ORDER BY 1`
)

// StandardQueries are the queries Run measures by default.
var StandardQueries = []string{QueryCountByType, QueryHourlyOrders}

// DefaultQueryRuns is how many timed runs Run makes per query and
// side.
const DefaultQueryRuns = 5

// QueryResult compares one query through the server with the same query run
// by an embedded DuckDB directly on the server's Parquet files.
type QueryResult struct {
	// SQL is the query.
	SQL string
	// Runs is the number of timed runs per side (after one untimed warm-up
	// run per side).
	Runs int
	// Server is the median wall time of POST /v1/query, from sending the
	// request to having read and decoded the whole response.
	Server time.Duration
	// Direct is the median wall time of the query on the embedded DuckDB,
	// from issuing it to having scanned every row.
	Direct time.Duration
	// ServerRows and DirectRows are the number of result rows on each side;
	// they should be equal.
	ServerRows, DirectRows int
	// Ratio is Server / Direct: the server's overhead factor.
	Ratio float64
}

// QueryOverheadRuns runs each query runs times through the server's
// POST /v1/query and on a fresh embedded DuckDB in which events is a view
// over read_parquet('<warehouseDir>/**/*.parquet'), and reports the medians.
func QueryOverheadRuns(ctx context.Context, serverURL, warehouseDir string, queries []string, runs int) ([]QueryResult, error) {
	if runs < 1 {
		runs = 1
	}
	db, err := OpenParquetView(warehouseDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	client := newHTTPClient(1, 10*time.Minute)
	defer client.CloseIdleConnections()
	url := endpointURL(serverURL, "/v1/query")

	var out []QueryResult
	for _, q := range queries {
		r := QueryResult{SQL: q, Runs: runs}
		var st, dt []time.Duration
		for i := 0; i <= runs; i++ { // run 0 is the warm-up
			t0 := time.Now()
			n, err := serverQuery(ctx, client, url, q)
			d := time.Since(t0)
			if err != nil {
				return out, fmt.Errorf("bench: server query %q: %w", q, err)
			}
			r.ServerRows = n
			t0 = time.Now()
			n, err = directQuery(ctx, db, q)
			dd := time.Since(t0)
			if err != nil {
				return out, fmt.Errorf("bench: direct DuckDB query %q: %w", q, err)
			}
			r.DirectRows = n
			if i > 0 {
				st, dt = append(st, d), append(dt, dd)
			}
		}
		r.Server, r.Direct = median(st), median(dt)
		if r.Direct > 0 {
			r.Ratio = float64(r.Server) / float64(r.Direct)
		}
		out = append(out, r)
	}
	return out, nil
}

// OpenParquetView opens a fresh in-memory DuckDB in which events is a view
// over every Parquet file under warehouseDir (read without Hive partition
// columns, so its columns are exactly the files' columns).
func OpenParquetView(warehouseDir string) (*sql.DB, error) {
	abs, err := filepath.Abs(warehouseDir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("bench: warehouse directory: %w", err)
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("bench: opening DuckDB: %w", err)
	}
	db := sql.OpenDB(connector)
	glob := filepath.ToSlash(filepath.Join(abs, "**", "*.parquet"))
	view := fmt.Sprintf("CREATE VIEW events AS SELECT * FROM read_parquet(%s, hive_partitioning = false)", sqlString(glob))
	if _, err := db.Exec(view); err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: creating the Parquet view over %s: %w", glob, err)
	}
	return db, nil
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// queryResponse is the 200 answer of POST /v1/query.
type queryResponse struct {
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows []json.RawMessage `json:"rows"`
}

// serverQuery runs q through POST /v1/query and returns the number of rows.
func serverQuery(ctx context.Context, client *http.Client, url, q string) (int, error) {
	body, err := json.Marshal(map[string]string{"sql": q})
	if err != nil {
		return 0, err
	}
	var qr queryResponse
	if err := postJSON(ctx, client, url, "application/json", body, &qr); err != nil {
		return 0, err
	}
	if qr.Columns == nil && qr.Rows == nil {
		return 0, errors.New("response has neither columns nor rows")
	}
	return len(qr.Rows), nil
}

// directQuery runs q on db, scans every row and returns how many there were.
func directQuery(ctx context.Context, db *sql.DB, q string) (int, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
