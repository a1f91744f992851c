package projections

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"

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
// instance, with a private events view over the batch being applied (the
// batch function, see source.go). The instance stays open while it lives.
type engineIO struct {
	wh     *warehouse.Warehouse
	lease  *warehouse.Engine
	conn   *sql.Conn
	table  string // the state table's name in _proj; others derive from it
	tenant string
	fault  func(point string) error
	stmts  map[string]*sql.Stmt // by text; see prepared
	batch  []Event              // what the events view shows while a batch is applied
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
	io := &engineIO{wh: wh, lease: lease, conn: conn, table: table, tenant: tenant, fault: func(string) error { return nil }}
	if err := registerSources(ctx, conn, tenant); err != nil {
		io.close()
		return nil, err
	}
	batchSources.Store(table, io)
	if err := io.exec(ctx,
		`CREATE OR REPLACE TEMP VIEW events AS SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
			CAST(payload AS JSON) AS payload, CAST(metadata AS JSON) AS metadata FROM `+batchFunc+`(`+sqlString(table)+`)`,
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

// exec runs statements that change the tables (set-up, restore, drop)
// or run seldom (checkpoints): prepared statements are dropped first, so
// none outlives a table it was planned for.
func (io *engineIO) exec(ctx context.Context, stmts ...string) error {
	io.forget()
	for _, s := range stmts {
		if _, err := io.conn.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// prepared is q prepared on the connection once. A batch runs the same
// few statements every time; parsing and planning them anew took about
// half of their time (500-event batches: an upsert 1.3 ms unprepared,
// 0.6 ms prepared).
func (io *engineIO) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := io.stmts[q]; st != nil {
		return st, nil
	}
	st, err := io.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if io.stmts == nil {
		io.stmts = map[string]*sql.Stmt{}
	}
	io.stmts[q] = st
	return st, nil
}

// run executes q through its prepared statement.
func (io *engineIO) run(ctx context.Context, q string) error {
	st, err := io.prepared(ctx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx)
	return err
}

func (io *engineIO) forget() {
	for _, st := range io.stmts {
		st.Close()
	}
	clear(io.stmts)
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
	if err := io.run(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if rerr := io.run(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			return fmt.Errorf("%w (and rollback: %v)", err, rerr)
		}
		return err
	}
	return io.run(ctx, "COMMIT")
}

func (io *engineIO) close() {
	io.forget()
	batchSources.CompareAndDelete(io.table, io)
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
	// The side tables first: the delta reads them.
	var stmts []string
	for i, c := range f.def.cols {
		if c.agg != "count_distinct" {
			continue
		}
		_, vt, err := f.columnsOf(ctx, "SELECT "+c.arg+" FROM events AS "+quoteIdent(f.def.alias))
		if err != nil {
			return err
		}
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE TABLE _proj.%s (_key VARCHAR, _v %s, PRIMARY KEY (_key, _v))", f.name(fmt.Sprintf("d%d", i)), vt[0]))
	}
	if err := f.exec(ctx, stmts...); err != nil {
		return err
	}
	names, types, err := f.columnsOf(ctx, f.st.delta)
	if err != nil {
		return err
	}
	var defs []string
	for i := range names {
		defs = append(defs, quoteIdent(names[i])+" "+types[i])
	}
	return f.exec(ctx, "CREATE OR REPLACE TABLE _proj."+f.name("")+" ("+strings.Join(defs, ", ")+", PRIMARY KEY (_key))",
		"CREATE OR REPLACE VIEW _proj."+f.name("view")+" AS "+f.st.view)
}

func (f *sqlFolder) apply(ctx context.Context, batch []Event) error {
	f.batch = batch
	defer func() { f.batch = nil }()
	if err := f.fault("apply.filled"); err != nil {
		return err
	}
	if len(f.st.distinct) == 0 { // one statement: atomic by itself
		return f.upsert(ctx)
	}
	return f.inTx(ctx, func() error {
		if err := f.upsert(ctx); err != nil {
			return err
		}
		if err := f.fault("apply.upserted"); err != nil {
			return err
		}
		for _, q := range f.st.distinct {
			if err := f.run(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// upsert merges the batch's partial aggregates into the state: prepared
// once when its merges allow (see sqlStatements.prepare).
func (f *sqlFolder) upsert(ctx context.Context) error {
	if f.st.prepare {
		return f.run(ctx, f.st.upsert)
	}
	_, err := f.conn.ExecContext(ctx, f.st.upsert)
	return err
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
