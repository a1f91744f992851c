package pgsql

import (
	"context"
	"database/sql"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// engineSetup mirrors the warehouse engine: UTC, an internal _hot schema,
// the events relation as a TEMP VIEW over a table, then the sandbox.
var engineSetup = []string{
	"SET GLOBAL TimeZone = 'UTC'",
	"CREATE SCHEMA IF NOT EXISTS _hot",
	`CREATE TABLE _hot.ev (seq BIGINT, id VARCHAR, tenant_id VARCHAR, entity_id VARCHAR, event_type VARCHAR,
		version BIGINT, "timestamp" TIMESTAMPTZ, ingested_at TIMESTAMPTZ, payload VARCHAR, metadata VARCHAR)`,
	`INSERT INTO _hot.ev VALUES
		(1, 'e1', 't1', 'order-1', 'OrderPlaced', 1, '2024-01-01 10:00:00+00', '2024-01-01 10:00:01+00', '{"amount": 10}', '{}'),
		(2, 'e2', 't1', 'order-1', 'OrderPaid', 2, '2024-01-01 11:00:00+00', '2024-01-01 11:00:01+00', '{"amount": 10}', '{}'),
		(3, 'e3', 't2', 'order-2', 'OrderPlaced', 1, '2024-01-02 09:30:00+00', '2024-01-02 09:30:01+00', '{"amount": 25}', '{"src": "web"}')`,
	"SET allowed_directories = ['/nonexistent/']",
	"SET enable_external_access = false",
	"SET lock_configuration = true",
}

const eventsViewSQL = `CREATE OR REPLACE TEMP VIEW events AS SELECT seq, id, tenant_id, entity_id, event_type, version,
	"timestamp", ingested_at, payload::JSON AS payload, metadata::JSON AS metadata FROM _hot.ev`

// openEngine opens an in-memory DuckDB configured like the warehouse engine,
// with the synthetic catalog applied, and returns one connection holding
// the events view.
func openEngine(t testing.TB) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	for _, q := range engineSetup {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, q := range CatalogDDL(DefaultTables()) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("catalog DDL %s: %v", q, err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, eventsViewSQL); err != nil {
		t.Fatal(err)
	}
	return conn
}
