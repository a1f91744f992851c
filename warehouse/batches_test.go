package warehouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// TestBatches reads hot and flushed events as Arrow batches, with the
// types the analytics feeds use, NULLs, more rows than one batch, and an
// error from the reader.
func TestBatches(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	if err := w.Append(mkEvents(1, 3000, 3)); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(mkEvents(3001, 2000, 3)); err != nil {
		t.Fatal(err)
	}
	q := `SELECT hash(entity_id) AS h, seq::BIGINT AS s, seq % 2 = 0 AS even,
	       CASE WHEN seq % 3 = 0 THEN NULL ELSE event_type END AS t
	      FROM events ORDER BY seq`
	var rows int
	var sum int64
	var evens, nulls int
	var last string
	err := w.Batches(context.Background(), q, func(rec arrow.RecordBatch) error {
		if rec.NumCols() != 4 || rec.Schema().Field(1).Name != "s" {
			return fmt.Errorf("schema %v", rec.Schema())
		}
		h, ok := rec.Column(0).(*array.Uint64)
		if !ok {
			return fmt.Errorf("hash column is %T", rec.Column(0))
		}
		s := rec.Column(1).(*array.Int64)
		even := rec.Column(2).(*array.Boolean)
		for i := 0; i < int(rec.NumRows()); i++ {
			if h.Value(i) == 0 {
				return fmt.Errorf("row %d: zero hash", rows)
			}
			sum += s.Value(i)
			if even.Value(i) {
				evens++
			}
			if rec.Column(3).IsNull(i) {
				nulls++
			} else {
				last = rec.Column(3).ValueStr(i)
			}
			rows++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 5000 || sum != 5000*5001/2 || evens != 2500 || nulls != 1666 || last != "a.b" {
		t.Fatalf("rows %d sum %d evens %d nulls %d last %q (native %v)", rows, sum, evens, nulls, last, NativeBatches)
	}

	stop := errors.New("enough")
	if err := w.Batches(context.Background(), q, func(arrow.RecordBatch) error { return stop }); err != stop {
		t.Fatalf("reader's error: %v", err)
	}
	err = w.Batches(context.Background(), "SELECT nope FROM events", func(arrow.RecordBatch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("bad column: %v", err)
	}
	// The connection is still good.
	if n := queryInt(t, w, "SELECT count(*) FROM events"); n != 5000 {
		t.Fatalf("count after errors: %d", n)
	}
}
