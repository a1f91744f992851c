package projections

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource/warehouse"
)

// folder keeps one projection version's state in engine tables (schema
// _proj): it creates them, applies batches of events to them, writes them
// to checkpoint files and reads them back.
type folder interface {
	// setup creates the (empty) state tables and the published view.
	setup(ctx context.Context) error
	// apply folds a batch (in seq order) into the state, in one engine
	// transaction: a failure changes nothing.
	apply(ctx context.Context, batch []Event) error
	// save writes the state tables to files named prefix-<part>.parquet
	// and returns their base names.
	save(ctx context.Context, dir, prefix string) ([]string, error)
	// load replaces the state with the saved files.
	load(ctx context.Context, dir string, files []string) error
	// view is the table (in _proj) that queries read as projections.<name>.
	view() string
	// drop removes the tables.
	drop(ctx context.Context) error
	close()
}

// engineIO is what folders share: a connection of the tenant's engine
// instance (with a private events view over the batch table) and an
// appender filling that table. The instance stays open while it lives.
type engineIO struct {
	wh    *warehouse.Warehouse
	lease *warehouse.Engine
	conn  *sql.Conn
	dconn driver.Conn
	table string // the state table's name in _proj; others derive from it
	fault func(point string) error
	// uses names the event columns the definition reads; the others are
	// left NULL in the batch table (nil: all are filled).
	uses map[string]bool
}

func openEngineIO(ctx context.Context, wh *warehouse.Warehouse, tenant, table string) (*engineIO, error) {
	lease, err := wh.Engine(ctx, tenant)
	if err != nil {
		return nil, err
	}
	conn, err := lease.Conn(ctx)
	if err != nil {
		lease.Release()
		return nil, err
	}
	dconn, err := lease.DriverConn(ctx)
	if err != nil {
		conn.Close()
		lease.Release()
		return nil, err
	}
	io := &engineIO{wh: wh, lease: lease, conn: conn, dconn: dconn, table: table, fault: func(string) error { return nil }}
	in := io.name("in")
	if err := io.exec(ctx,
		`CREATE OR REPLACE TABLE _proj.`+in+` (seq BIGINT, id VARCHAR, tenant_id VARCHAR, entity_id VARCHAR, event_type VARCHAR,
			version BIGINT, "timestamp" TIMESTAMPTZ, ingested_at TIMESTAMPTZ, payload VARCHAR, metadata VARCHAR)`,
		`CREATE OR REPLACE TEMP VIEW events AS SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
			CAST(payload AS JSON) AS payload, CAST(metadata AS JSON) AS metadata FROM _proj.`+in,
	); err != nil {
		io.close()
		return nil, err
	}
	return io, nil
}

// name is a derived table's quoted name: <table>_<part>.
func (io *engineIO) name(part string) string {
	if part == "" {
		return quoteIdent(io.table)
	}
	return quoteIdent(io.table + "_" + part)
}

func (io *engineIO) exec(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		if _, err := io.conn.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// fill replaces the batch table's rows with batch.
func (io *engineIO) fill(ctx context.Context, batch []Event) error {
	if err := io.exec(ctx, "DELETE FROM _proj."+io.name("in")); err != nil {
		return err
	}
	app, err := duckdb.NewAppender(io.dconn, "", "_proj", io.table+"_in")
	if err != nil {
		return err
	}
	use := func(c string) bool { return io.uses == nil || io.uses[c] }
	id, entity, typ, ver, ing, pay, meta := use("id"), use("entity_id"), use("event_type"), use("version"), use("ingested_at"), use("payload"), use("metadata")
	row := make([]driver.Value, 10)
	for i := range batch {
		e := &batch[i]
		row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9] = int64(e.Seq), nil, e.Tenant, nil, nil, nil, e.Timestamp, nil, nil, nil
		if id {
			row[1] = e.ID
		}
		if entity {
			row[3] = e.EntityID
		}
		if typ {
			row[4] = e.EventType
		}
		if ver {
			row[5] = int64(e.Version)
		}
		if ing {
			row[7] = e.IngestedAt
		}
		if pay {
			row[8] = string(e.Payload)
		}
		if meta {
			m := string(e.Metadata)
			if m == "" {
				m = "{}"
			}
			row[9] = m
		}
		if err := app.AppendRow(row...); err != nil {
			app.Close()
			return err
		}
	}
	return app.Close() // flushes
}

// saveTables writes each table to dir/prefix-<part>.parquet.
func (io *engineIO) saveTables(ctx context.Context, dir, prefix string, parts []string) ([]string, error) {
	var files []string
	for _, p := range parts {
		f := prefix + "-" + p + ".parquet"
		if p == "" {
			f = prefix + "-state.parquet"
		}
		if err := io.exec(ctx, fmt.Sprintf("COPY _proj.%s TO %s (FORMAT parquet, COMPRESSION zstd)", io.name(p), sqlString(filepath.Join(dir, f)))); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// loadTables fills each table from the matching saved file.
func (io *engineIO) loadTables(ctx context.Context, dir string, parts, files []string) error {
	if len(parts) != len(files) {
		return fmt.Errorf("checkpoint has %d files, the projection has %d tables", len(files), len(parts))
	}
	for i, p := range parts {
		if err := io.exec(ctx, "DELETE FROM _proj."+io.name(p),
			fmt.Sprintf("INSERT INTO _proj.%s SELECT * FROM read_parquet(%s)", io.name(p), sqlString(filepath.Join(dir, files[i])))); err != nil {
			return err
		}
	}
	return nil
}

func (io *engineIO) dropTables(ctx context.Context, parts []string) error {
	var errs []string
	for _, p := range parts {
		if err := io.exec(ctx, "DROP TABLE IF EXISTS _proj."+io.name(p)); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// inTx runs fn in a transaction of conn.
func (io *engineIO) inTx(ctx context.Context, fn func() error) error {
	if err := io.exec(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if rerr := io.exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			return fmt.Errorf("%w (and rollback: %v)", err, rerr)
		}
		return err
	}
	return io.exec(ctx, "COMMIT")
}

func (io *engineIO) close() {
	io.exec(context.Background(), "DROP TABLE IF EXISTS _proj."+io.name("in"))
	io.dconn.Close()
	io.conn.Close()
	io.lease.Release()
}

// sqlFolder maintains a SQL projection.
type sqlFolder struct {
	*engineIO
	def   *sqlDef
	st    sqlStatements
	parts []string // state tables: "" (main), "d<i>" (count distinct)

}

func newSQLFolder(ctx context.Context, wh *warehouse.Warehouse, tenant, table string, def *sqlDef) (*sqlFolder, error) {
	io, err := openEngineIO(ctx, wh, tenant, table)
	if err != nil {
		return nil, err
	}
	io.uses = def.uses
	f := &sqlFolder{engineIO: io, def: def, st: def.statements(table), parts: []string{""}}
	for i, c := range def.cols {
		if c.agg == "count_distinct" {
			f.parts = append(f.parts, fmt.Sprintf("d%d", i))
		}
	}
	return f, nil
}

// columnsOf describes a SELECT's result columns as "name TYPE" pairs.
func (f *sqlFolder) columnsOf(ctx context.Context, q string) ([]string, []string, error) {
	rows, err := f.conn.QueryContext(ctx, "DESCRIBE "+q)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var names, types []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		names = append(names, fmt.Sprint(vals[0]))
		types = append(types, fmt.Sprint(vals[1]))
	}
	return names, types, rows.Err()
}

func (f *sqlFolder) setup(ctx context.Context) error {
	names, types, err := f.columnsOf(ctx, f.st.delta)
	if err != nil {
		return err
	}
	var defs []string
	for i := range names {
		defs = append(defs, quoteIdent(names[i])+" "+types[i])
	}
	stmts := []string{"CREATE OR REPLACE TABLE _proj." + f.name("") + " (" + strings.Join(defs, ", ") + ", PRIMARY KEY (_key))"}
	for i, c := range f.def.cols {
		if c.agg != "count_distinct" {
			continue
		}
		_, vt, err := f.columnsOf(ctx, "SELECT "+c.arg+" FROM events AS "+quoteIdent(f.def.alias))
		if err != nil {
			return err
		}
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE TABLE _proj.%s (_key VARCHAR, v %s, PRIMARY KEY (_key, v))", f.name(fmt.Sprintf("d%d", i)), vt[0]))
	}
	stmts = append(stmts, "CREATE OR REPLACE VIEW _proj."+f.name("view")+" AS "+f.st.view)
	return f.exec(ctx, stmts...)
}

func (f *sqlFolder) apply(ctx context.Context, batch []Event) error {
	if err := f.fill(ctx, batch); err != nil {
		return err
	}
	if err := f.fault("apply.filled"); err != nil {
		return err
	}
	if len(f.st.distinct) == 0 { // one statement: atomic by itself
		return f.exec(ctx, f.st.upsert)
	}
	return f.inTx(ctx, func() error {
		if err := f.exec(ctx, f.st.upsert); err != nil {
			return err
		}
		if err := f.fault("apply.upserted"); err != nil {
			return err
		}
		for i, q := range f.st.distinct {
			added, err := f.newKeys(ctx, q)
			if err != nil {
				return err
			}
			if err := f.addCounts(ctx, f.st.distCols[i], added); err != nil {
				return err
			}
		}
		return nil
	})
}

// newKeys runs a distinct-pair insert and counts the pairs it added per key.
func (f *sqlFolder) newKeys(ctx context.Context, q string) (map[string]int64, error) {
	rows, err := f.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	added := map[string]int64{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		added[k]++
	}
	return added, rows.Err()
}

func (f *sqlFolder) addCounts(ctx context.Context, col string, added map[string]int64) error {
	const chunk = 500
	var vals []string
	var args []any
	flush := func() error {
		if len(vals) == 0 {
			return nil
		}
		q := fmt.Sprintf("UPDATE _proj.%s AS s SET %s = s.%s + v.n FROM (VALUES %s) AS v(k, n) WHERE s._key = v.k",
			f.name(""), col, col, strings.Join(vals, ", "))
		_, err := f.conn.ExecContext(ctx, q, args...)
		vals, args = vals[:0], args[:0]
		return err
	}
	for k, n := range added {
		vals = append(vals, "(CAST(? AS VARCHAR), CAST(? AS BIGINT))")
		args = append(args, k, n)
		if len(vals) == chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (f *sqlFolder) save(ctx context.Context, dir, prefix string) ([]string, error) {
	return f.saveTables(ctx, dir, prefix, f.parts)
}

func (f *sqlFolder) load(ctx context.Context, dir string, files []string) error {
	return f.loadTables(ctx, dir, f.parts, files)
}

func (f *sqlFolder) view() string { return f.table + "_view" }

func (f *sqlFolder) drop(ctx context.Context) error {
	if err := f.exec(ctx, "DROP VIEW IF EXISTS _proj."+f.name("view")); err != nil {
		return err
	}
	return f.dropTables(ctx, f.parts)
}
