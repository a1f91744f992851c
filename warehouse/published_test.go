package warehouse

import (
	"context"
	"database/sql/driver"
	"io"
	"strings"
	"testing"

	"github.com/allsource/allsource"
)

// TestPublishedTables: projections.<name> resolves to the table published
// for the statement's tenant, through Query and Stream; other tenants and
// restricted readers cannot read it; _proj cannot be named.
func TestPublishedTables(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.QueryConns = 1 })
	defer w.Close()
	ctx := context.Background()
	// Each tenant's tables are in its own engine instance.
	engineExec(t, w, "acme", "CREATE TABLE _proj.t_acme AS SELECT 'acme' AS who, 1 AS n",
		"CREATE TABLE _proj.t_acme2 AS SELECT 'acme2' AS who, 2 AS n")
	engineExec(t, w, "beta", "CREATE TABLE _proj.t_beta AS SELECT 'beta' AS who, 2 AS n")
	engineExec(t, w, allsource.DefaultTenant, "CREATE TABLE _proj.t_def AS SELECT 'default' AS who, 0 AS n")
	w.Publish(allsource.DefaultTenant, "deftotals", "t_def")
	w.Publish("acme", "totals", "t_acme")
	w.Publish("beta", "totals", "t_beta")
	read := func(ctx context.Context, q string) (string, error) {
		rows, err := w.Query(ctx, q)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var who string
			var n int64
			if err := rows.Scan(&who, &n); err != nil {
				return "", err
			}
			out = append(out, who)
		}
		return strings.Join(out, ","), rows.Err()
	}
	acme := allsource.WithTenantScope(ctx, "acme")
	beta := allsource.WithTenantScope(ctx, "beta")
	for _, c := range []struct {
		ctx       context.Context
		q, want   string
		errSubstr string
	}{
		{acme, "SELECT who, n FROM projections.totals", "acme", ""},
		{acme, "SELECT who, n FROM projections.totals", "acme", ""}, // the cached rewrite
		{beta, "SELECT who, n FROM projections.totals", "beta", ""},
		{beta, "SELECT 'projections' AS who, 0 AS n", "projections", ""}, // the word, no table
		{acme, "SELECT p.who, p.n FROM projections.totals p JOIN (SELECT 1 AS one) ON true WHERE p.n = 1", "acme", ""},
		{acme, "SELECT totals.who, totals.n FROM Projections.Totals", "acme", ""},
		{allsource.WithTenantScope(ctx, "gamma"), "SELECT who, n FROM projections.totals", "", "does not exist in tenant gamma"},
		{acme, "SELECT who, n FROM _proj.t_beta", "", "internal"},
		// Across tenants (authentication off, an administrator), the
		// default tenant's projections.
		{allsource.WithTenantScope(ctx, allsource.AllTenants), "SELECT who, n FROM projections.totals", "", "does not exist in tenant default"},
		{allsource.WithTenantScope(ctx, allsource.AllTenants), "SELECT who, n FROM projections.deftotals", "default", ""},
		{ctx, "SELECT who, n FROM projections.deftotals", "default", ""},
		{ctx, "SELECT 'projections' AS who, count(*) AS n FROM events", "projections", ""},
		{allsource.WithReadRestriction(acme, allsource.ReadRestriction{HiddenTypes: []string{"pii.*"}}), "SELECT who, n FROM projections.totals", "", "not open to readers"},
	} {
		got, err := read(c.ctx, c.q)
		if c.errSubstr != "" {
			if err == nil || !strings.Contains(err.Error(), c.errSubstr) {
				t.Errorf("%s: %q %v, want an error with %q", c.q, got, err, c.errSubstr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.q, got, err, c.want)
		}
	}
	// Stream (pgwire's path) resolves too, and a new table under the name
	// replaces prepared statements that named the old one.
	stream := func(ctx context.Context) string {
		var who string
		err := w.Stream(ctx, "SELECT who FROM projections.totals", nil, func(_ []Column, next func([]driver.Value) error) error {
			row := make([]driver.Value, 1)
			for {
				if err := next(row); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				who = row[0].(string)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return who
	}
	if got := stream(acme); got != "acme" {
		t.Fatalf("stream: %q", got)
	}
	w.Publish("acme", "totals", "t_acme2")
	if got := stream(acme); got != "acme2" {
		t.Fatalf("after republishing: %q", got)
	}
	w.Unpublish("acme", "totals")
	if _, err := read(acme, "SELECT who, n FROM projections.totals"); err == nil {
		t.Fatal("unpublished name still reads")
	}
}

// TestSwapWhileResolving: a projection's new version swapped in (its old
// table dropped) between resolving a statement's names and running it
// does not fail the statement: it runs again over the new table.
func TestSwapWhileResolving(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.QueryConns = 1 })
	defer w.Close()
	ctx := context.Background()
	lease, err := w.Engine(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	conn, err := lease.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"CREATE TABLE _proj.v1 AS SELECT 1 AS n", "CREATE TABLE _proj.v2 AS SELECT 2 AS n"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	w.Publish("acme", "p", "v1")
	swapped := false
	testHookResolved = func() {
		if !swapped {
			swapped = true
			w.Publish("acme", "p", "v2")
			if _, err := conn.ExecContext(ctx, "DROP TABLE _proj.v1"); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { testHookResolved = nil })
	var got []int64
	err = w.Stream(allsource.WithTenantScope(ctx, "acme"), "SELECT n FROM projections.p", nil, func(_ []Column, next func([]driver.Value) error) error {
		dest := make([]driver.Value, 1)
		for {
			if err := next(dest); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			got = append(got, int64(dest[0].(int32)))
		}
	})
	if err != nil || !swapped || len(got) != 1 || got[0] != 2 {
		t.Fatalf("read during a swap: %v %v (swapped %v)", got, err, swapped)
	}
}

// engineExec runs statements in tenant's engine instance.
func engineExec(t *testing.T, w *Warehouse, tenant string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	lease, err := w.Engine(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	conn, err := lease.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMentionsPublished(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT * FROM projections.orders":             true,
		"select * from PROJECTIONS.orders":             true,
		"SELECT * FROM \"Projections\".x":              true,
		"SELECT 1 -- projection":                       false,
		"SELECT * FROM events":                         false,
		"projections":                                  true,
		"projection":                                   false,
		"SELECT 'PROJECTİONS'":                         false,
		"SELECT * FROM events WHERE x = 'projEctions'": true,
	} {
		if got := mentionsPublished(q); got != want {
			t.Errorf("mentionsPublished(%q) = %v, want %v", q, got, want)
		}
	}
}
