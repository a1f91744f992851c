package analytics

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/allsource/allsource/warehouse"
)

// TestScanGroupedCollision: when two keys share the first hash, the
// question is asked again grouped by the key text, from a fresh start.
func TestScanGroupedCollision(t *testing.T) {
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: t.TempDir(), FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	sqlFor := func(shape feedShape) (string, error) {
		if shape == shapeHashed { // every key hashes to 1, with different second hashes
			return `SELECT 1::UBIGINT AS g1, i::UBIGINT AS g2, i AS v FROM range(3) t(i)`, nil
		}
		return `SELECT 'k' || i AS g1, NULL::UBIGINT AS g2, i AS v FROM range(3) t(i) ORDER BY 1`, nil
	}
	resets := 0
	var groups []string
	var cur []string
	err = scanGrouped(context.Background(), wh, shapeHashed, sqlFor, func() error { resets++; groups, cur = nil, nil; return nil },
		func(r []driver.Value) { cur = append(cur, fmt.Sprint(r[2])) },
		func() { groups = append(groups, fmt.Sprint(cur)); cur = nil })
	if err != nil {
		t.Fatal(err)
	}
	if resets != 1 || fmt.Sprint(groups) != "[[0] [1] [2]]" {
		t.Fatalf("resets %d, groups %v", resets, groups)
	}
}
