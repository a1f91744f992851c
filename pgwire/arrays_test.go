package pgwire

import (
	"context"
	"fmt"
	"testing"
)

// TestArrayParameters: x = ANY($1) takes an array parameter (described as
// text[], so drivers encode a slice) against text and integer columns,
// in every pgx execution mode; an array literal '{…}' is an array where
// one must be, as in PostgreSQL.
func TestArrayParameters(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 6, 3)
	ctx := context.Background()
	var ids []string
	c0 := ts.connect(t)
	rows, err := c0.Query(ctx, "select distinct entity_id from events order by 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		ids = append(ids, s)
	}
	rows.Close()
	c0.Close(ctx)
	if len(ids) != 3 {
		t.Fatalf("entities %v", ids)
	}
	for _, mode := range allExecModes {
		c := ts.connectMode(t, mode)
		for _, tc := range []struct {
			q    string
			args []any
			want int64
		}{
			{"select count(*) from events where entity_id = any($1)", []any{ids[:2]}, 4},
			{"select count(*) from events where entity_id = any($1)", []any{[]string{}}, 0},
			{"select count(*) from events where entity_id <> all($1)", []any{ids[:1]}, 4},
			{"select count(*) from events where seq = any($1)", []any{[]int64{1, 2, 3, 99}}, 3},
			{"select count(*) from events where seq = any($1::int8[])", []any{[]int64{1, 2}}, 2},
			{"select count(*) from events where entity_id = any($1) and seq > $2", []any{ids, int64(3)}, 3},
			{"select count(*) from events where seq = any('{1,2}')", nil, 2},
			{`select count(*) from events where entity_id = any('{"` + ids[0] + `","x,y"}')`, nil, 2},
			{"select count(*) from events where entity_id = any('{}')", nil, 0},
		} {
			var got int64
			err := c.QueryRow(ctx, tc.q, tc.args...).Scan(&got)
			if err != nil || got != tc.want {
				t.Errorf("%v %s %v: %d %v, want %d", mode, tc.q, tc.args, got, err, tc.want)
			}
		}
		var back []string
		if err := c.QueryRow(ctx, "select $1::text[]", []string{"a", "b,c", `d"e`}).Scan(&back); err != nil || fmt.Sprint(back) != `[a b,c d"e]` {
			t.Errorf("%v: text[] round trip %q %v", mode, back, err)
		}
		c.Close(ctx)
	}
}
