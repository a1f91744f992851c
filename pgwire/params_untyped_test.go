package pgwire

import (
	"context"
	"fmt"
	"testing"
)

// TestUntypedParameters: a parameter the engine cannot type (next to
// another column in a select list) is text, as in PostgreSQL, in every
// pgx execution mode; it used to describe one column and stream two.
func TestUntypedParameters(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 3, 3)
	ctx := context.Background()
	for _, mode := range allExecModes {
		c := ts.connectMode(t, mode)
		for _, tc := range []struct {
			q    string
			args []any
			want string
		}{
			{"select 1, $1", []any{"a"}, "[1 a]"},
			{"select $1, 1", []any{"a"}, "[a 1]"},
			{"select seq, $1 from events order by seq limit 1", []any{"x"}, "[1 x]"},
			{"select $1::text, $2", []any{"a", "b"}, "[a b]"},
			{"select '$1', $1, $$ $2 $$", []any{"p"}, "[$1 p  $2 ]"},
		} {
			var got string
			rows, err := c.Query(ctx, tc.q, tc.args...)
			if err == nil {
				for rows.Next() {
					v, _ := rows.Values()
					got = fmt.Sprint(v)
				}
				err = rows.Err()
				rows.Close()
			}
			if err != nil || got != tc.want {
				t.Errorf("%v %s: %s %v, want %s", mode, tc.q, got, err, tc.want)
			}
		}
		c.Close(ctx)
	}
}

func TestCastParams(t *testing.T) {
	types := map[int]string{1: "VARCHAR", 2: "BIGINT"}
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1, $1", "SELECT 1, CAST($1 AS VARCHAR)"},
		{"SELECT $1, $2, $3, $12", "SELECT CAST($1 AS VARCHAR), CAST($2 AS BIGINT), $3, $12"},
		{"SELECT '$1', \"$1\", $1", "SELECT '$1', \"$1\", CAST($1 AS VARCHAR)"},
		{"SELECT 'it''s $1', $2", "SELECT 'it''s $1', CAST($2 AS BIGINT)"},
		{"SELECT $$ $1 $$, $tag$ $2 $tag$, $1", "SELECT $$ $1 $$, $tag$ $2 $tag$, CAST($1 AS VARCHAR)"},
		{"SELECT $1 -- $2\n, /* $2 */ $2", "SELECT CAST($1 AS VARCHAR) -- $2\n, /* $2 */ CAST($2 AS BIGINT)"},
		{"SELECT E'\\' $1', $1", "SELECT E'\\' $1', CAST($1 AS VARCHAR)"},
		{"SELECT 'unterminated $1", "SELECT 'unterminated $1"},
	} {
		if got := castParams(tc.in, types); got != tc.want {
			t.Errorf("castParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzCastParams: without types the text is unchanged, and no input makes
// the scanner fail.
func FuzzCastParams(f *testing.F) {
	for _, s := range []string{"SELECT $1", "SELECT '$1' -- $2\n", "$$ $1 $$", "$a$ x $a", "E'\\'", "/* $1", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if got := castParams(q, nil); got != q {
			t.Fatalf("castParams(%q, nil) = %q", q, got)
		}
		castParams(q, map[int]string{1: "VARCHAR", 0: "BIGINT"})
	})
}

// TestConstantCasts: a constant cast to numeric keeps its written scale,
// and a timestamptz cast to time is the time of day in the session's time
// zone, as in PostgreSQL.
func TestConstantCasts(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t)
	ctx := context.Background()
	for _, tc := range []struct{ q, want string }{
		{"SELECT 1.25::numeric::text", "1.25"},
		{"SELECT '-0.5'::numeric::text", "-0.5"},
		{"SELECT 5::numeric::text", "5"},
		{"SELECT (1.25::numeric * 2)::text", "2.50"},
		{"SELECT '2024-01-01 10:00:00+00'::timestamptz::time::text", "10:00:00"},
	} {
		var got string
		if err := c.QueryRow(ctx, tc.q).Scan(&got); err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.q, got, err, tc.want)
		}
	}
	if _, err := c.Exec(ctx, "SET TimeZone = 'Europe/Paris'"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := c.QueryRow(ctx, "SELECT '2024-01-01 10:00:00+00'::timestamptz::time::text").Scan(&got); err != nil || got != "11:00:00" {
		t.Fatalf("time in Europe/Paris: %q %v", got, err)
	}
	var ok bool
	if err := c.QueryRow(ctx, "SELECT now()::time IS NOT NULL").Scan(&ok); err != nil || !ok {
		t.Fatalf("now()::time: %v %v", ok, err)
	}
}
