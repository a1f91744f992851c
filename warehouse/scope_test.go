package warehouse

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
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

// TestReadRestriction: hidden event types are not seen and hidden payload
// fields are gone, in hot and flushed events; other fields stay.
func TestReadRestriction(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	evs := mkEvents(1, 6, 1) // types alternate "a.b" and "Order Completed"; payload {"n": seq}
	for i := range evs {
		evs[i].Payload = []byte(fmt.Sprintf(`{"n": %d, "user": {"email": "u%d@x", "name": "u"}, "keep": true}`, i, i))
	}
	if err := w.Append(evs[:3]); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(evs[3:]); err != nil {
		t.Fatal(err)
	}
	ctx := allsource.WithReadRestriction(context.Background(), allsource.ReadRestriction{
		HiddenTypes: []string{"a.*"}, HiddenFields: []string{"payload.n", "payload.user.email", "payload.missing.deep"}})
	rows, err := w.Query(ctx, `SELECT event_type, payload::VARCHAR FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var typ, payload string
		if err := rows.Scan(&typ, &payload); err != nil {
			t.Fatal(err)
		}
		got = append(got, typ+" "+payload)
	}
	rows.Close()
	if len(got) != 3 {
		t.Fatalf("rows %v", got)
	}
	for _, g := range got {
		if !strings.HasPrefix(g, "Order Completed ") || strings.Contains(g, `"n"`) || strings.Contains(g, "email") ||
			!strings.Contains(g, `"name":"u"`) || !strings.Contains(g, `"keep":true`) || strings.Contains(g, "missing") {
			t.Errorf("row %s", g)
		}
	}
	// Unrestricted, everything is there.
	if n := queryInt(t, w, `SELECT count(*) FROM events WHERE json_exists(payload, '$.user.email')`); n != 6 {
		t.Fatalf("unrestricted: %d", n)
	}
}

// TestTenantWatermark: a tenant's watermark moves with its own appends
// only; before any, it is the watermark at open.
func TestTenantWatermark(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	if w.TenantWatermark("acme") != 0 {
		t.Fatal("fresh")
	}
	if err := w.Append(mkTenantEvents(1, "acme", "beta", "acme")); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(mkTenantEvents(4, "beta", "beta")); err != nil {
		t.Fatal(err)
	}
	if a, b, c := w.TenantWatermark("acme"), w.TenantWatermark("beta"), w.TenantWatermark("other"); a != 3 || b != 5 || c != 0 || w.DataWatermark() != 5 {
		t.Fatalf("watermarks acme %d beta %d other %d all %d", a, b, c, w.DataWatermark())
	}
}

// TestAllTenantsScope: AllTenants is every tenant but the server's own
// ('_…'), hot and flushed; no scope (internal work) sees them all.
func TestAllTenantsScope(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	if err := w.Append(mkTenantEvents(1, "acme", "_audit", "beta")); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(mkTenantEvents(4, "_audit", "acme")); err != nil {
		t.Fatal(err)
	}
	count := func(ctx context.Context) int64 {
		rows, err := w.Query(ctx, "SELECT count(*) FROM events")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var n int64
		rows.Next()
		rows.Scan(&n)
		return n
	}
	bg := context.Background()
	if all, users, audit := count(bg), count(allsource.WithTenantScope(bg, allsource.AllTenants)), count(allsource.WithTenantScope(bg, "_audit")); all != 5 || users != 3 || audit != 2 {
		t.Fatalf("unscoped %d, all tenants %d, _audit %d", all, users, audit)
	}
}
