//go:build !duckdb_arrow

package warehouse

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// NativeBatches is false: Batches copies scanned rows into Arrow builders
// (build with -tags duckdb_arrow for the engine's own export).
const NativeBatches = false

// rowsBatchSize is the rows per batch, as the engine's vectors hold.
const rowsBatchSize = 2048

func engineBatches(ctx context.Context, dc any, q string, fn func(arrow.RecordBatch) error) error {
	qc, ok := dc.(driver.QueryerContext)
	if !ok {
		return fmt.Errorf("warehouse: unexpected engine connection %T", dc)
	}
	rows, err := qc.QueryContext(ctx, q, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	typed, ok := rows.(driver.RowsColumnTypeDatabaseTypeName)
	if !ok {
		return fmt.Errorf("warehouse: the engine's rows do not report column types")
	}
	names := rows.Columns()
	fields := make([]arrow.Field, len(names))
	cols := make([]arrowColumn, len(names))
	for i, n := range names {
		cols[i] = arrowColumnFor(typed.ColumnTypeDatabaseTypeName(i), false)
		fields[i] = arrow.Field{Name: n, Type: cols[i].typ, Nullable: true}
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer rb.Release()
	emit := func() error {
		rec := rb.NewRecordBatch()
		defer rec.Release()
		return fn(rec)
	}
	dest := make([]driver.Value, len(names))
	n := 0
	for {
		err := rows.Next(dest)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		for i, v := range dest {
			b := rb.Field(i)
			if v == nil {
				b.AppendNull()
				continue
			}
			if _, err := cols[i].add(b, v); err != nil {
				return fmt.Errorf("warehouse: column %q: %w", names[i], err)
			}
		}
		if n++; n == rowsBatchSize {
			if err := emit(); err != nil {
				return err
			}
			n = 0
		}
	}
	if n > 0 {
		return emit()
	}
	return nil
}
