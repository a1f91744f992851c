package warehouse

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/allsource/allsource"
)

// TestTenantScope: a context scoped to a tenant sees only that tenant's
// events, hot and flushed, through Query, Stream and Batches, on
// connections that other scopes use in between; an unscoped one sees all.
func TestTenantScope(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.QueryConns = 1 })
	defer w.Close()
	if err := w.Append(mkTenantEvents(1, "acme", "beta", "acme")); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(mkTenantEvents(4, "beta", "acme", "beta", "beta")); err != nil {
		t.Fatal(err)
	}
	count := func(ctx context.Context) (viaQuery, viaStream, viaBatches int64) {
		rows, err := w.Query(ctx, "SELECT count(*) FROM events")
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		rows.Scan(&viaQuery)
		rows.Close()
		err = w.Stream(ctx, "SELECT count(*) FROM events", nil, func(_ []Column, next func([]driver.Value) error) error {
			dest := make([]driver.Value, 1)
			for {
				if err := next(dest); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					return err
				}
				viaStream = dest[0].(int64)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Batches(ctx, "SELECT tenant_id FROM events", func(rec arrow.RecordBatch) error {
			viaBatches += rec.NumRows()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	bg := context.Background()
	for _, c := range []struct {
		ctx  context.Context
		want int64
	}{
		{allsource.WithTenantScope(bg, "acme"), 3},
		{bg, 7},
		{allsource.WithTenantScope(bg, "beta"), 4},
		{allsource.WithTenantScope(bg, "nobody"), 0},
		{allsource.WithTenantScope(bg, "acme"), 3},
	} {
		q, s, b := count(c.ctx)
		if q != c.want || s != c.want || b != c.want {
			t.Fatalf("scope %q: query %d stream %d batches %d, want %d", scopeKey(c.ctx), q, s, b, c.want)
		}
	}
	// The scope binds the view, whatever the statement says.
	rows, err := w.Query(allsource.WithTenantScope(bg, "acme"), "SELECT count(*) FROM events WHERE tenant_id = 'beta'")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	rows.Next()
	rows.Scan(&n)
	rows.Close()
	if n != 0 {
		t.Fatalf("acme sees %d of beta's events", n)
	}
}
