package warehouse

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource"
)

// Column is one result column of a described statement. Type is nil when
// the engine cannot tell before the statement's parameters are bound.
type Column struct {
	Name string
	Type duckdb.TypeInfo
}

// Described is what preparing a statement tells about it, without running
// it: its result columns and the types of its $n parameters (TYPE_INVALID
// where the engine could not infer one).
type Described struct {
	Columns []Column
	Params  []duckdb.Type
}

// Describe checks q as user SQL (see Query) and prepares it over the
// events view, reporting its columns and parameters.
func (w *Warehouse) Describe(ctx context.Context, q string) (*Described, error) {
	d, err := w.describe(ctx, q)
	if c, ok := inDefaultTenant(ctx, err); ok {
		d, err = w.describe(c, q)
	}
	return d, err
}

func (w *Warehouse) describe(ctx context.Context, q string) (*Described, error) {
	var d *Described
	err := w.withConn(ctx, func(qc *queryConn) error {
		if err := w.checked.check(ctx, qc.conn, q); err != nil {
			return err
		}
		q, err := w.resolvePublished(ctx, qc.conn, q)
		if err != nil {
			return err
		}
		return qc.conn.Raw(func(dc any) error {
			st, err := prepare(ctx, dc, q)
			if err != nil {
				return err
			}
			defer st.Close()
			d, err = describeStmt(st)
			return err
		})
	})
	if err != nil {
		return nil, w.engineError(ctx, err)
	}
	return d, nil
}

func prepare(ctx context.Context, dc any, q string) (*duckdb.Stmt, error) {
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("warehouse: driver cannot prepare")
	}
	st, err := pc.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	ds, ok := st.(*duckdb.Stmt)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("warehouse: unexpected statement type %T", st)
	}
	return ds, nil
}

func describeStmt(st *duckdb.Stmt) (*Described, error) {
	d := &Described{}
	n, err := st.ColumnCount()
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		name, err := st.ColumnName(i)
		if err != nil {
			return nil, err
		}
		info, err := st.ColumnTypeInfo(i)
		if err != nil {
			info = nil // unresolved until bound, e.g. depends on an untyped parameter
		}
		d.Columns = append(d.Columns, Column{Name: name, Type: info})
	}
	for i := 1; i <= st.NumInput(); i++ {
		t, err := st.ParamType(i)
		if err != nil {
			t = duckdb.TYPE_INVALID
		}
		d.Params = append(d.Params, t)
	}
	return d, nil
}

// Stream checks q as user SQL (see Query) and runs it over the events
// view (or, for a point read, the entity index: see pointPlanOf) and
// hands its column names and rows to fn through next, which fills dest (one value
// per column, valid until the next call) and returns io.EOF after the last
// row. Values are the engine driver's: JSON columns arrive decoded, so
// callers wanting JSON text select them cast to VARCHAR. The connection and
// the pinned version are held until fn returns.
func (w *Warehouse) Stream(ctx context.Context, q string, args []driver.NamedValue,
	fn func(cols []Column, next func(dest []driver.Value) error) error) error {
	if p := w.pointPlanFor(ctx, q); p != nil {
		if handled, err := w.streamPoint(ctx, p, args, fn); handled {
			return err
		}
	}
	gen := w.pubGen.Load()
	started := false
	wrapped := func(cols []Column, next func(dest []driver.Value) error) error {
		started = true
		return fn(cols, next)
	}
	err := w.stream(ctx, q, args, wrapped)
	if c, ok := inDefaultTenant(ctx, err); ok && !started {
		ctx = c
		err = w.stream(ctx, q, args, wrapped)
	}
	if err != nil && !started && w.republished(ctx, q, gen) {
		return w.stream(ctx, q, args, fn)
	}
	return err
}

// testHookResolved, set by tests only, runs between resolving a
// statement's projection names and running it.
var testHookResolved func()

// republished reports whether a statement naming projections that failed
// before any row should run again: the projections' tables were replaced
// (a new version swapped in, and the old one's tables dropped) between
// resolving its names and running it.
func (w *Warehouse) republished(ctx context.Context, q string, gen uint64) bool {
	return ctx.Err() == nil && mentionsPublished(q) && w.pubGen.Load() != gen
}

func (w *Warehouse) stream(ctx context.Context, q string, args []driver.NamedValue,
	fn func(cols []Column, next func(dest []driver.Value) error) error) error {
	var fnErr error
	err := w.withConn(ctx, func(qc *queryConn) error {
		rq := q
		if _, cached := qc.stmts[q]; !cached {
			if err := w.checked.check(ctx, qc.conn, q); err != nil {
				return err
			}
			var err error
			if rq, err = w.resolvePublished(ctx, qc.conn, q); err != nil {
				return err
			}
			rq = w.entityScanRewrite(ctx, qc.conn, rq)
		}
		if testHookResolved != nil {
			testHookResolved()
		}
		return qc.conn.Raw(func(dc any) error {
			// Repeated statements (a dashboard's, a driver's prepared
			// ones) skip planning: the prepared statement is kept per
			// connection until the view changes.
			st, cached := qc.stmts[q]
			if !cached {
				var err error
				if st, err = prepare(ctx, dc, rq); err != nil {
					return err
				}
				if len(qc.stmts) < maxCachedStmts {
					if qc.stmts == nil {
						qc.stmts = map[string]*duckdb.Stmt{}
					}
					qc.stmts[q] = st
				} else {
					defer st.Close()
				}
			}
			rows, err := st.QueryContext(ctx, args)
			if err != nil && cached && ctx.Err() == nil {
				// A statement the engine binds again at each execution
				// (parameters inside the entity scan's arguments) keeps
				// the parameter types of its last arguments: arguments of
				// other Go types (a time as text, then as a time) need it
				// prepared afresh.
				delete(qc.stmts, q)
				st.Close()
				if rw := cachedEntityRewrite(q); rq == q && rw != "" && !mentionsPublished(q) {
					rq = rw
				}
				if st, err = prepare(ctx, dc, rq); err != nil {
					return err
				}
				defer st.Close()
				rows, err = st.QueryContext(ctx, args)
			}
			if err != nil {
				return err
			}
			defer rows.Close()
			names := rows.Columns()
			cols := make([]Column, len(names))
			for i, n := range names {
				cols[i].Name = n
			}
			fnErr = fn(cols, rows.Next)
			return nil
		})
	})
	if err != nil {
		return w.engineError(ctx, err)
	}
	return fnErr
}

// withConn borrows a query connection whose events view shows the current
// version (pinned until fn returns).
func (w *Warehouse) withConn(ctx context.Context, fn func(qc *queryConn) error) error {
	start := time.Now()
	h, err := w.acquire(ctx)
	if err != nil {
		return err
	}
	v := w.pin()
	returned := false
	defer func() {
		w.unpin(v)
		// When fn panicked the connection may be mid-result or otherwise
		// broken: it is closed, never handed to another query, and the
		// panic goes on.
		h.release(!returned)
		if w.opts.Observe != nil {
			w.opts.Observe.Queried(time.Since(start))
		}
	}()
	err = w.bindView(ctx, h.e, h.qc, v)
	if err == nil {
		err = fn(h.qc)
	}
	returned = true
	return err
}

// engineError turns an engine failure into an *allsource.Error with the
// engine's message (server paths removed), or ctx's error when it ended.
func (w *Warehouse) engineError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if _, ok := err.(*allsource.Error); ok {
		return err
	}
	return &allsource.Error{Code: allsource.CodeInvalid, Message: w.UserMessage(err), Index: -1, Err: err}
}
