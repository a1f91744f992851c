package warehouse

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Batches runs SQL q, checked by the statement guard like user SQL (it
// is built by this program but may carry user conditions), over the
// current events view and hands fn its result as Arrow record batches, in
// the engine's order. A batch is valid until fn returns; fn keeps nothing
// of it without retaining it. Columns are typed as the engine's Arrow
// export types them (UBIGINT uint64, BIGINT int64, BOOLEAN boolean,
// VARCHAR utf8 or a string view; readers accept every string layout).
//
// Built with the duckdb_arrow tag (the Makefile's default), the engine
// hands over its vectors as Arrow arrays with no per-value work in Go;
// without it, rows are scanned and copied into Arrow builders, with the
// same result. NativeBatches tells which is compiled in.
func (w *Warehouse) Batches(ctx context.Context, q string, fn func(rec arrow.RecordBatch) error) error {
	var fnErr error
	err := w.withConn(ctx, func(qc *queryConn) error {
		// The statement may carry user conditions (analytics questions,
		// export filters): it passes the guard like any other.
		if err := w.checked.check(ctx, qc.conn, q); err != nil {
			return err
		}
		return qc.conn.Raw(func(dc any) error {
			return engineBatches(ctx, dc, q, func(rec arrow.RecordBatch) error {
				if err := fn(rec); err != nil {
					fnErr = err
					return errStopBatches
				}
				return nil
			})
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return w.engineError(ctx, err)
	}
	return nil
}

// errStopBatches ends engineBatches when fn failed; Batches returns fn's
// error instead.
var errStopBatches = stopBatches{}

type stopBatches struct{}

func (stopBatches) Error() string { return "warehouse: batches stopped by the reader" }
