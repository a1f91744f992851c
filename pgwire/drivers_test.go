package pgwire

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lib/pq"

	"github.com/allsource/allsource/internal/testkit/pgclient"
)

// TestGoDrivers is the client matrix's Go part: pgx in each of its five
// query modes and through pgxpool, and lib/pq through database/sql, each
// browsing the schema, binding parameters of every type (arrays
// included), reading every events column, calling funnel() with a bound
// parameter, recovering from an error on the same connection, copying in
// and out, and reading through a cursor.
func TestGoDrivers(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendNDJSON(t, pgclient.FixtureNDJSON())
	ctx := context.Background()
	entities := pgclient.FixtureEntities()
	when := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	id := uuid.MustParse("12345678-1234-5678-1234-567812345678")
	funnel := `{"steps": [{"event_type": "opened", "where": "subject == 'acct-1' OR subject == 'acct-2' OR subject == 'acct-3'"}, "credited", "closed"], "window": "100d"}`

	type querier interface {
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
		Begin(ctx context.Context) (pgx.Tx, error)
	}
	check := func(t *testing.T, q querier, conn func() *pgconn.PgConn) {
		var cols []string
		rows, err := q.Query(ctx, "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' ORDER BY ordinal_position")
		if err == nil {
			cols, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil || strings.Join(cols, ",") != "seq,id,tenant_id,entity_id,event_type,version,timestamp,ingested_at,payload,metadata" {
			t.Fatalf("browse: %v %v", cols, err)
		}
		var (
			i8   int64
			s    string
			ts   time.Time
			b    bool
			js   map[string]any
			u    uuid.UUID
			strs []string
			ints []int64
		)
		err = q.QueryRow(ctx, "SELECT $1::int8, $2::text, $3::timestamptz, $4::bool, $5::json, $6::uuid, $7::text[], $8::int8[]",
			int64(1)<<40, "O'Brien ü", when, true, `{"a": 1.5}`, id, []string{"a", "b,c"}, []int64{1, 2}).
			Scan(&i8, &s, &ts, &b, &js, &u, &strs, &ints)
		if err != nil || i8 != 1<<40 || s != "O'Brien ü" || !ts.Equal(when) || !b || js["a"] != 1.5 || u != id ||
			fmt.Sprint(strs) != "[a b,c]" || fmt.Sprint(ints) != "[1 2]" {
			t.Fatalf("parameters: %v %q %v %v %v %v %v %v: %v", i8, s, ts, b, js, u, strs, ints, err)
		}
		var n int64
		if err := q.QueryRow(ctx, `SELECT count(*) FROM events WHERE entity_id = ANY($1) AND "timestamp" >= $2`, entities, when).Scan(&n); err != nil || n != 5 {
			t.Fatalf("= ANY($1): %d %v", n, err)
		}
		// Every column, in the driver's preferred format.
		rows, err = q.Query(ctx, `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata
			FROM events WHERE entity_id = ANY($1) ORDER BY entity_id, version`, entities)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for rows.Next() {
			var seq, version int64
			var id uuid.UUID
			var tenant, entity, typ string
			var at, ing time.Time
			var payload, meta map[string]any
			if err := rows.Scan(&seq, &id, &tenant, &entity, &typ, &version, &at, &ing, &payload, &meta); err != nil {
				t.Fatal(err)
			}
			got++
		}
		if err := rows.Err(); err != nil || got != len(pgclient.Fixture) {
			t.Fatalf("events columns: %d rows, %v", got, err)
		}
		rows, err = q.Query(ctx, "SELECT entities FROM funnel($1) ORDER BY step", funnel)
		var steps []int64
		if err == nil {
			steps, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil || fmt.Sprint(steps) != "[3 2 1]" {
			t.Fatalf("funnel($1): %v %v", steps, err)
		}
		// An error, then the same connection goes on.
		var pe *pgconn.PgError
		if _, err := q.Exec(ctx, "SELECT no_such_column FROM events"); !errors.As(err, &pe) || pe.Code != "42703" {
			t.Fatalf("error: %v", err)
		}
		if err := q.QueryRow(ctx, "SELECT count(*) FROM events WHERE entity_id = ANY($1)", entities).Scan(&n); err != nil || n != int64(len(pgclient.Fixture)) {
			t.Fatalf("after an error: %d %v", n, err)
		}
		// COPY in (binary, the driver's bulk path) and out.
		tag := "go-" + uuid.NewString()[:8]
		copied, err := q.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"entity_id", "event_type", "payload"},
			pgx.CopyFromRows([][]any{{tag, "copied", map[string]any{"i": 1}}, {tag, "copied", map[string]any{"i": 2}}}))
		if err != nil || copied != 2 {
			t.Fatalf("CopyFrom: %d %v", copied, err)
		}
		var out bytes.Buffer
		if _, err := conn().CopyTo(ctx, &out, "COPY (SELECT entity_id FROM events WHERE entity_id = '"+tag+"') TO STDOUT"); err != nil || out.String() != tag+"\n"+tag+"\n" {
			t.Fatalf("CopyTo: %q %v", out.String(), err)
		}
		// A cursor.
		tx, err := q.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "DECLARE c CURSOR FOR SELECT version FROM events WHERE entity_id = $1 ORDER BY version", "acct-1"); err != nil {
			t.Fatal(err)
		}
		rows, err = tx.Query(ctx, "FETCH 2 FROM c")
		var vs []int64
		if err == nil {
			vs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil || fmt.Sprint(vs) != "[1 2]" {
			t.Fatalf("cursor: %v %v", vs, err)
		}
		tx.Rollback(ctx)
	}
	for _, mode := range allExecModes {
		t.Run("pgx-"+mode.String(), func(t *testing.T) {
			c := ts.connectMode(t, mode)
			check(t, c, c.PgConn)
		})
	}
	t.Run("pgxpool", func(t *testing.T) {
		pool, err := pgxpool.New(ctx, ts.dsn("u", ""))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		check(t, c, c.Conn().PgConn)
	})
	t.Run("lib/pq", func(t *testing.T) {
		db, err := sql.Open("postgres", ts.dsn("u", ""))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE entity_id = ANY($1)", pq.Array(entities)).Scan(&n); err != nil || n != int64(len(pgclient.Fixture)) {
			t.Fatalf("pq.Array: %d %v", n, err)
		}
		var s string
		var ts2 time.Time
		var b bool
		var u string
		if err := db.QueryRowContext(ctx, "SELECT $1::text, $2::timestamptz, $3::bool, $4::uuid", "ü", when, true, id.String()).Scan(&s, &ts2, &b, &u); err != nil ||
			s != "ü" || !ts2.Equal(when) || !b || u != id.String() {
			t.Fatalf("parameters: %q %v %v %q %v", s, ts2, b, u, err)
		}
		var steps []int64
		rows, err := db.QueryContext(ctx, "SELECT entities FROM funnel($1) ORDER BY step", funnel)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var e int64
			rows.Scan(&e)
			steps = append(steps, e)
		}
		rows.Close()
		if fmt.Sprint(steps) != "[3 2 1]" {
			t.Fatalf("funnel($1): %v", steps)
		}
		if _, err := db.ExecContext(ctx, "SELECT no_such_column FROM events"); err == nil {
			t.Fatal("no error")
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tx.Prepare(pq.CopyIn("events", "entity_id", "event_type", "payload"))
		if err != nil {
			t.Fatal(err)
		}
		tag := "pq-" + uuid.NewString()[:8]
		for i := 0; i < 3; i++ {
			if _, err := st.Exec(tag, "copied", fmt.Sprintf(`{"i":%d}`, i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Exec(); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE entity_id = $1", tag).Scan(&n); err != nil || n != 3 {
			t.Fatalf("pq.CopyIn: %d %v", n, err)
		}
	})
}
