package projections

import (
	"context"
	"fmt"
	"sort"

	"github.com/dop251/goja"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource/warehouse"
)

// jsFolder maintains a code projection: states per partition in memory
// (as JSON) and in the table (key, state, last_seq, last_event_at).
type jsFolder struct {
	*engineIO
	prog   *jsProgram
	lim    JSLimits
	rt     *jsRuntime
	states map[string]string
	// live holds the runtime's values of states as of the last applied
	// batch, so a batch does not parse the states it touches again. A
	// failed batch may have changed them: it drops the cache.
	live map[string]goja.Value
}

const maxLiveStates = 200_000

func newJSFolder(ctx context.Context, wh *warehouse.Warehouse, tenant, table string, p *jsProgram, lim JSLimits) (*jsFolder, error) {
	rt, err := p.runtime(lim)
	if err != nil {
		return nil, err
	}
	io, err := openEngineIO(ctx, wh, tenant, table)
	if err != nil {
		rt.close()
		return nil, err
	}
	return &jsFolder{engineIO: io, prog: p, lim: lim, rt: rt, states: map[string]string{}}, nil
}

func (f *jsFolder) setup(ctx context.Context) error {
	return f.exec(ctx,
		"CREATE OR REPLACE TABLE _proj."+f.name("")+" (key VARCHAR PRIMARY KEY, state JSON, last_seq BIGINT, last_event_at TIMESTAMPTZ)",
		"CREATE OR REPLACE TABLE _proj."+f.name("out")+" (key VARCHAR, state VARCHAR, last_seq BIGINT, last_event_at TIMESTAMPTZ)",
		"CREATE OR REPLACE VIEW _proj."+f.name("view")+" AS SELECT key, state, last_seq, last_event_at FROM _proj."+f.name(""),
	)
}

func (f *jsFolder) apply(ctx context.Context, batch []Event) error {
	if f.rt.broken {
		// A Go panic went through the last runtime: start a new one
		// (the states are kept as JSON).
		rt, err := f.prog.runtime(f.lim)
		if err != nil {
			return err
		}
		f.rt.close()
		f.rt, f.live = rt, nil
	}
	if f.live == nil || len(f.live) > maxLiveStates {
		f.live = map[string]goja.Value{}
	}
	fold := f.rt.newFold(f.states)
	fold.live = f.live
	ok := false
	defer func() {
		if !ok {
			f.live = nil
		}
	}()
	for i := range batch {
		if err := fold.step(&batch[i]); err != nil {
			return &eventError{seq: batch[i].Seq, err: err}
		}
	}
	if err := fold.finish(); err != nil {
		return err
	}
	if len(fold.changed) == 0 {
		ok = true
		return nil
	}
	if err := f.exec(ctx, "DELETE FROM _proj."+f.name("out")); err != nil {
		return err
	}
	app, err := duckdb.NewAppender(f.dconn, "", "_proj", f.table+"_out")
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(fold.changed))
	for k := range fold.changed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := fold.changed[k]
		if err := app.AppendRow(k, c.json, int64(c.seq), c.at); err != nil {
			app.Close()
			return err
		}
	}
	if err := app.Close(); err != nil {
		return err
	}
	if err := f.fault("apply.filled"); err != nil {
		return err
	}
	err = f.inTx(ctx, func() error {
		return f.exec(ctx, "INSERT INTO _proj."+f.name("")+" AS s SELECT key, CAST(state AS JSON), last_seq, last_event_at FROM _proj."+f.name("out")+
			" ON CONFLICT (key) DO UPDATE SET state = excluded.state, last_seq = excluded.last_seq, last_event_at = greatest(s.last_event_at, excluded.last_event_at)")
	})
	if err != nil {
		return err
	}
	for k, c := range fold.changed {
		f.states[k] = c.json
	}
	ok = true
	return nil
}

func (f *jsFolder) save(ctx context.Context, dir, prefix string) ([]string, error) {
	return f.saveTables(ctx, dir, prefix, []string{""})
}

func (f *jsFolder) load(ctx context.Context, dir string, files []string) error {
	if err := f.loadTables(ctx, dir, []string{""}, files); err != nil {
		return err
	}
	rows, err := f.conn.QueryContext(ctx, "SELECT key, CAST(state AS VARCHAR) FROM _proj."+f.name(""))
	if err != nil {
		return err
	}
	defer rows.Close()
	f.states, f.live = map[string]string{}, nil
	for rows.Next() {
		var k, s string
		if err := rows.Scan(&k, &s); err != nil {
			return err
		}
		f.states[k] = s
	}
	return rows.Err()
}

func (f *jsFolder) view() string { return f.table + "_view" }

func (f *jsFolder) close() {
	f.rt.close()
	f.engineIO.close()
}

func (f *jsFolder) drop(ctx context.Context) error {
	if err := f.exec(ctx, "DROP VIEW IF EXISTS _proj."+f.name("view")); err != nil {
		return err
	}
	return f.dropTables(ctx, []string{"", "out"})
}

// eventError is a failure of one event's handler.
type eventError struct {
	seq uint64
	err error
}

func (e *eventError) Error() string { return fmt.Sprintf("event seq %d: %v", e.seq, e.err) }
func (e *eventError) Unwrap() error { return e.err }
