package pgwire

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestCursors: DECLARE / FETCH / MOVE / CLOSE over the simple and the
// extended protocol, as PostgreSQL answers them: rows in order, counts in
// the tags, a cursor without HOLD ending with its transaction, one WITH
// HOLD outliving it, and the errors PostgreSQL gives.
func TestCursors(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 10, 2)
	ctx := context.Background()
	c := ts.connect(t)
	defer c.Close(ctx)
	pc := c.PgConn()
	simple := func(q string) (tag string, rows [][]string, err error) {
		res, err := pc.Exec(ctx, q).ReadAll()
		if err != nil {
			return "", nil, err
		}
		last := res[len(res)-1]
		for _, r := range last.Rows {
			var row []string
			for _, v := range r {
				row = append(row, string(v))
			}
			rows = append(rows, row)
		}
		return last.CommandTag.String(), rows, nil
	}
	code := func(err error) string {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		return fmt.Sprint(err)
	}
	if _, _, err := simple("DECLARE c CURSOR FOR SELECT seq FROM events"); code(err) != "25P01" {
		t.Fatalf("DECLARE outside a transaction: %v", err)
	}
	steps := []struct {
		q, tag, rows string
	}{
		{"BEGIN", "BEGIN", "[]"},
		{"DECLARE c CURSOR FOR SELECT seq, entity_id FROM events ORDER BY seq", "DECLARE CURSOR", "[]"},
		{"FETCH 3 FROM c", "FETCH 3", "[[1 e0] [2 e1] [3 e0]]"},
		{"FETCH NEXT FROM c", "FETCH 1", "[[4 e1]]"},
		{"MOVE 2 IN c", "MOVE 2", "[]"},
		{"FETCH FORWARD 2 FROM c", "FETCH 2", "[[7 e0] [8 e1]]"},
		{"FETCH ALL FROM c", "FETCH 2", "[[9 e0] [10 e1]]"},
		{"FETCH c", "FETCH 0", "[]"},
		{"DECLARE h CURSOR WITH HOLD FOR SELECT count(*) FROM events", "DECLARE CURSOR", "[]"},
		{"COMMIT", "COMMIT", "[]"},
		{"FETCH 1 FROM h", "FETCH 1", "[[10]]"},
		{"CLOSE h", "CLOSE CURSOR", "[]"},
	}
	for _, s := range steps {
		tag, rows, err := simple(s.q)
		if err != nil || tag != s.tag || fmt.Sprint(rows) != s.rows {
			t.Fatalf("%s: %q %v %v, want %q %s", s.q, tag, rows, err, s.tag, s.rows)
		}
	}
	for _, bad := range []struct{ q, code string }{
		{"FETCH c", "34000"}, // closed with its transaction
		{"CLOSE h", "34000"},
		{"FETCH BACKWARD 1 FROM c", "0A000"},
		{"DECLARE s SCROLL CURSOR WITH HOLD FOR SELECT 1", "0A000"},
	} {
		if _, _, err := simple(bad.q); code(err) != bad.code {
			t.Errorf("%s: %v, want %s", bad.q, err, bad.code)
		}
	}
	if _, _, err := simple("DECLARE d CURSOR WITH HOLD FOR SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := simple("DECLARE d CURSOR WITH HOLD FOR SELECT 2"); code(err) != "42P03" {
		t.Fatalf("duplicate cursor: %v", err)
	}
	if tag, _, err := simple("CLOSE ALL"); err != nil || tag != "CLOSE CURSOR ALL" {
		t.Fatalf("CLOSE ALL: %q %v", tag, err)
	}

	// The extended protocol: DECLARE with a parameter, FETCH described as
	// the cursor's rows, in binary.
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "DECLARE x CURSOR FOR SELECT seq, payload FROM events WHERE seq > $1 ORDER BY seq", int64(7)); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for i := 0; i < 3; i++ {
		rows, err := tx.Query(ctx, "FETCH 2 FROM x", pgx.QueryExecModeCacheDescribe)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var seq int64
			var payload map[string]any
			if err := rows.Scan(&seq, &payload); err != nil {
				t.Fatal(err)
			}
			got = append(got, seq)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != "[8 9 10]" {
		t.Fatalf("extended FETCH: %v", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSQLPrepareExecute: PREPARE / EXECUTE / DEALLOCATE as SQL (pg_dump
// prepares its per-object queries so) and LOCK TABLE, with PostgreSQL's
// errors.
func TestSQLPrepareExecute(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 5, 5)
	ctx := context.Background()
	c := ts.connect(t)
	defer c.Close(ctx)
	pc := c.PgConn()
	run := func(q string) (string, [][]byte, error) {
		res, err := pc.Exec(ctx, q).ReadAll()
		if err != nil {
			return "", nil, err
		}
		last := res[len(res)-1]
		var first [][]byte
		if len(last.Rows) > 0 {
			first = last.Rows[0]
		}
		return last.CommandTag.String(), first, nil
	}
	code := func(err error) string {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		return fmt.Sprint(err)
	}
	if tag, _, err := run("PREPARE bySeq(pg_catalog.int8, text) AS SELECT entity_id, $2 AS note FROM events WHERE seq = $1"); err != nil || tag != "PREPARE" {
		t.Fatalf("PREPARE: %q %v", tag, err)
	}
	tag, row, err := run("EXECUTE bySeq(3, 'hi')")
	if err != nil || tag != "SELECT 1" || string(row[0]) != "e2" || string(row[1]) != "hi" {
		t.Fatalf("EXECUTE: %q %q %v", tag, row, err)
	}
	for _, bad := range []struct{ q, code string }{
		{"PREPARE bySeq AS SELECT 1", "42P05"},
		{"EXECUTE bySeq(3)", "42601"},
		{"EXECUTE nothing(1)", "26000"},
		{"LOCK TABLE events IN ACCESS SHARE MODE", "25P01"},
	} {
		if _, _, err := run(bad.q); code(err) != bad.code {
			t.Errorf("%s: %v, want %s", bad.q, err, bad.code)
		}
	}
	if _, _, err := run("DEALLOCATE bySeq"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run("EXECUTE bySeq(3, 'x')"); code(err) != "26000" {
		t.Fatalf("EXECUTE after DEALLOCATE: %v", err)
	}
	if tag, _, err := run("BEGIN; LOCK TABLE events IN ACCESS SHARE MODE; COMMIT"); err != nil || tag != "COMMIT" {
		t.Fatalf("LOCK in a transaction: %q %v", tag, err)
	}
}
