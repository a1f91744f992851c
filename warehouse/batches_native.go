//go:build duckdb_arrow

package warehouse

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// NativeBatches is true: Batches uses the engine's Arrow export.
const NativeBatches = true

func engineBatches(ctx context.Context, dc any, q string, fn func(arrow.RecordBatch) error) error {
	conn, ok := dc.(driver.Conn)
	if !ok {
		return fmt.Errorf("warehouse: unexpected engine connection %T", dc)
	}
	a, err := duckdb.NewArrowFromConn(conn)
	if err != nil {
		return err
	}
	rr, err := a.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	return rr.Err()
}
