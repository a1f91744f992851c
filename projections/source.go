package projections

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Two table functions hand the engine what lives in Go memory, instead of
// tables filled for it:
//
//   - batchFunc(table) is the batch a SQL projection is applying: its
//     private events view reads it, so a batch costs its statements and
//     not a DELETE, an append and a commit of a batch table first (those
//     were about half of a 500-event apply);
//   - statesFunc(table) is a code projection's states: they are kept in
//     memory anyway (as JSON, for the fold), so reads go to them and an
//     apply writes nothing to the engine.
//
// Both are registered once per engine instance and find their data by
// the projection version's table name, which is unique.
const (
	batchFunc  = "_allsource_proj_batch"
	statesFunc = "_allsource_proj_states"
)

var (
	batchSources sync.Map // table name → *engineIO
	stateSources sync.Map // table name → *jsFolder
	registerMu   sync.Mutex
)

// registerSources gives conn's engine instance, tenant's, the two
// functions, unless it has them. They find data by table name in
// registries every instance shares, so each answers only for its own
// tenant's projections (users cannot call them: the query checks allow
// no such table function; this bounds the server's own statements).
func registerSources(ctx context.Context, conn *sql.Conn, tenant string) error {
	registerMu.Lock()
	defer registerMu.Unlock()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_functions() WHERE function_name = ?`, batchFunc).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	str, err := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	if err != nil {
		return err
	}
	cfg := duckdb.TableFunctionConfig{Arguments: []duckdb.TypeInfo{str}}
	err = duckdb.RegisterTableUDF(conn, batchFunc, duckdb.ParallelRowTableFunction{
		Config: cfg,
		BindArguments: func(_ map[string]any, args ...any) (duckdb.ParallelRowTableSource, error) {
			name, _ := args[0].(string)
			io, ok := batchSources.Load(name)
			if !ok || io.(*engineIO).tenant != tenant {
				return nil, fmt.Errorf("projections: no batch source %q", name)
			}
			return &batchScan{io: io.(*engineIO)}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("projections: register %s: %w", batchFunc, err)
	}
	err = duckdb.RegisterTableUDF(conn, statesFunc, duckdb.ParallelRowTableFunction{
		Config: cfg,
		BindArguments: func(_ map[string]any, args ...any) (duckdb.ParallelRowTableSource, error) {
			name, _ := args[0].(string)
			f, ok := stateSources.Load(name)
			if !ok || f.(*jsFolder).tenant != tenant {
				return nil, fmt.Errorf("projections: no state source %q", name)
			}
			return &stateScan{f: f.(*jsFolder)}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("projections: register %s: %w", statesFunc, err)
	}
	return nil
}

func typeInfo(t duckdb.Type) duckdb.TypeInfo {
	ti, err := duckdb.NewTypeInfo(t)
	if err != nil {
		panic(err) // a primitive type: cannot fail
	}
	return ti
}

// batchColumns are the batch function's columns: the events view's, with
// payload and metadata as text (the view casts them to JSON).
var batchColumns = []duckdb.ColumnInfo{
	{Name: "seq", T: typeInfo(duckdb.TYPE_BIGINT)}, {Name: "id", T: typeInfo(duckdb.TYPE_VARCHAR)},
	{Name: "tenant_id", T: typeInfo(duckdb.TYPE_VARCHAR)}, {Name: "entity_id", T: typeInfo(duckdb.TYPE_VARCHAR)},
	{Name: "event_type", T: typeInfo(duckdb.TYPE_VARCHAR)}, {Name: "version", T: typeInfo(duckdb.TYPE_BIGINT)},
	{Name: "timestamp", T: typeInfo(duckdb.TYPE_TIMESTAMP_TZ)}, {Name: "ingested_at", T: typeInfo(duckdb.TYPE_TIMESTAMP_TZ)},
	{Name: "payload", T: typeInfo(duckdb.TYPE_VARCHAR)}, {Name: "metadata", T: typeInfo(duckdb.TYPE_VARCHAR)},
}

// batchScan is a statement's read of the batch being applied. The
// statement is prepared once and run for every batch, and a plan may read
// the function more than once: each scan takes its own cursor over the
// batch of that moment.
type batchScan struct{ io *engineIO }

type batchCursor struct {
	rows []Event
	next int
	cols []int // the projected columns, found at the first row
}

func (s *batchScan) ColumnInfos() []duckdb.ColumnInfo     { return batchColumns }
func (s *batchScan) Cardinality() *duckdb.CardinalityInfo { return nil }
func (s *batchScan) Init() duckdb.ParallelTableSourceInfo {
	return duckdb.ParallelTableSourceInfo{MaxThreads: 1}
}
func (s *batchScan) NewLocalState() any { return &batchCursor{rows: s.io.batch} }

// projected lists the columns a scan reads: setting another one is
// refused with an error the driver builds (and that cost more than
// the values).
func projected(r duckdb.Row, n int) []int {
	cols := make([]int, 0, n)
	for i := range n {
		if r.IsProjected(i) {
			cols = append(cols, i)
		}
	}
	return cols
}

// FillRow sets the columns the statement reads.
func (s *batchScan) FillRow(state any, r duckdb.Row) (bool, error) {
	c := state.(*batchCursor)
	if c.next >= len(c.rows) {
		return false, nil
	}
	if c.cols == nil {
		c.cols = projected(r, len(batchColumns))
	}
	e := &c.rows[c.next]
	c.next++
	for _, i := range c.cols {
		var err error
		switch i {
		case 0:
			err = duckdb.SetRowValue(r, i, int64(e.Seq))
		case 1:
			err = duckdb.SetRowValue(r, i, e.ID)
		case 2:
			err = duckdb.SetRowValue(r, i, e.Tenant)
		case 3:
			err = duckdb.SetRowValue(r, i, e.EntityID)
		case 4:
			err = duckdb.SetRowValue(r, i, e.EventType)
		case 5:
			err = duckdb.SetRowValue(r, i, int64(e.Version))
		case 6:
			err = duckdb.SetRowValue(r, i, e.Timestamp)
		case 7:
			err = duckdb.SetRowValue(r, i, e.IngestedAt)
		case 8:
			err = duckdb.SetRowValue(r, i, string(e.Payload))
		case 9:
			meta := string(e.Metadata)
			if meta == "" {
				meta = "{}"
			}
			err = duckdb.SetRowValue(r, i, meta)
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// stateColumns are the states function's columns, with the state as text
// (the published view casts it to JSON).
var stateColumns = []duckdb.ColumnInfo{
	{Name: "key", T: typeInfo(duckdb.TYPE_VARCHAR)}, {Name: "state", T: typeInfo(duckdb.TYPE_VARCHAR)},
	{Name: "last_seq", T: typeInfo(duckdb.TYPE_BIGINT)}, {Name: "last_event_at", T: typeInfo(duckdb.TYPE_TIMESTAMP_TZ)},
}

// stateRow is one partition's state as a read sees it.
type stateRow struct {
	key, json string
	mark      stateMark
}

// stateMark is what a code projection's table shows of a partition
// besides its state: the last event applied to it and the latest event
// time among those applied.
type stateMark struct {
	seq uint64
	at  time.Time
}

// stateScan is a statement's read of a code projection's states: each
// scan a copy taken when it starts, so a read sees whole batches.
type stateScan struct{ f *jsFolder }

type stateCursor struct {
	rows []stateRow
	next int
	cols []int
}

func (s *stateScan) ColumnInfos() []duckdb.ColumnInfo     { return stateColumns }
func (s *stateScan) Cardinality() *duckdb.CardinalityInfo { return nil }
func (s *stateScan) Init() duckdb.ParallelTableSourceInfo {
	return duckdb.ParallelTableSourceInfo{MaxThreads: 1}
}
func (s *stateScan) NewLocalState() any { return &stateCursor{rows: s.f.snapshot(nil)} }

func (s *stateScan) FillRow(state any, r duckdb.Row) (bool, error) {
	c := state.(*stateCursor)
	if c.next >= len(c.rows) {
		return false, nil
	}
	if c.cols == nil {
		c.cols = projected(r, len(stateColumns))
	}
	x := &c.rows[c.next]
	c.next++
	for _, i := range c.cols {
		var err error
		switch i {
		case 0:
			err = duckdb.SetRowValue(r, i, x.key)
		case 1:
			err = duckdb.SetRowValue(r, i, x.json)
		case 2:
			err = duckdb.SetRowValue(r, i, int64(x.mark.seq))
		case 3:
			if x.mark.at.IsZero() {
				err = r.SetRowValue(i, nil) // unknown
			} else {
				err = duckdb.SetRowValue(r, i, x.mark.at)
			}
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}
