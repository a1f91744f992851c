package projections

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/dop251/goja"

	"github.com/allsource/allsource/warehouse"
)

// jsFolder maintains a code projection: its states per partition (as JSON)
// live in memory, and the published view reads them there through the
// states function (source.go); checkpoints write them to a file.
type jsFolder struct {
	*engineIO
	prog *jsProgram
	lim  JSLimits
	rt   *jsRuntime
	// mu guards states and marks against reads through the view; the
	// runner alone changes them, so its own reads take no lock.
	mu     sync.RWMutex
	states map[string]string
	marks  map[string]stateMark
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
	f := &jsFolder{engineIO: io, prog: p, lim: lim, rt: rt, states: map[string]string{}, marks: map[string]stateMark{}}
	stateSources.Store(table, f)
	return f, nil
}

func (f *jsFolder) setup(ctx context.Context) error {
	return f.exec(ctx,
		"CREATE OR REPLACE VIEW _proj."+f.name("view")+" AS SELECT key, CAST(state AS JSON) AS state, last_seq, last_event_at FROM "+
			statesFunc+"("+sqlString(f.table)+")",
	)
}

// snapshot appends every partition's state to rows.
func (f *jsFolder) snapshot(rows []stateRow) []stateRow {
	f.mu.RLock()
	defer f.mu.RUnlock()
	rows = slices.Grow(rows, len(f.states))
	for k, js := range f.states {
		rows = append(rows, stateRow{key: k, json: js, mark: f.marks[k]})
	}
	return rows
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
	if err := f.fault("apply.filled"); err != nil {
		return err
	}
	f.mu.Lock()
	for k, c := range fold.changed {
		f.states[k] = c.json
		m := f.marks[k]
		m.seq = c.seq
		if c.at.After(m.at) {
			m.at = c.at
		}
		f.marks[k] = m
	}
	f.mu.Unlock()
	ok = true
	return nil
}

func (f *jsFolder) save(ctx context.Context, dir, prefix string) ([]string, error) {
	file := prefix + "-state.parquet"
	err := f.exec(ctx, fmt.Sprintf("COPY (SELECT * FROM _proj.%s ORDER BY key) TO %s (FORMAT parquet, COMPRESSION zstd)",
		f.name("view"), sqlString(filepath.Join(dir, file))))
	if err != nil {
		return nil, err
	}
	return []string{file}, nil
}

func (f *jsFolder) load(ctx context.Context, dir string, files []string) error {
	if len(files) != 1 {
		return fmt.Errorf("checkpoint has %d files, the projection has 1 table", len(files))
	}
	rows, err := f.conn.QueryContext(ctx, "SELECT key, CAST(state AS VARCHAR), last_seq, last_event_at FROM read_parquet("+
		sqlString(filepath.Join(dir, files[0]))+")")
	if err != nil {
		return err
	}
	defer rows.Close()
	states, marks := map[string]string{}, map[string]stateMark{}
	for rows.Next() {
		var k, s string
		var seq sql.NullInt64
		var at sql.NullTime
		if err := rows.Scan(&k, &s, &seq, &at); err != nil {
			return err
		}
		states[k], marks[k] = s, stateMark{seq: uint64(seq.Int64), at: at.Time}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.states, f.marks, f.live = states, marks, nil
	f.mu.Unlock()
	return nil
}

func (f *jsFolder) view() string { return f.table + "_view" }

func (f *jsFolder) close() {
	stateSources.CompareAndDelete(f.table, f)
	f.rt.close()
	f.engineIO.close()
}

func (f *jsFolder) drop(ctx context.Context) error {
	if err := f.exec(ctx, "DROP VIEW IF EXISTS _proj."+f.name("view")); err != nil {
		return err
	}
	// Tables of the layout before the states function.
	return f.dropTables(ctx, []string{"", "out"})
}

// eventError is a failure of one event's handler.
type eventError struct {
	seq uint64
	err error
}

func (e *eventError) Error() string { return fmt.Sprintf("event seq %d: %v", e.seq, e.err) }
func (e *eventError) Unwrap() error { return e.err }
