package warehouse

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

// TestValueBuildersBounded: repeat, lpad and rpad refuse results over
// MaxBuiltValueBytes instead of allocating them outside the engine's
// memory limit; small ones work as before.
func TestValueBuildersBounded(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	for _, tc := range []struct{ q, want string }{
		{"SELECT repeat('ab', 3)", "ababab"},
		{"SELECT lpad('7', 3, '0')", "007"},
		{"SELECT rpad('7', 3, '0')", "700"},
		{"SELECT CAST(repeat([1], 2) AS VARCHAR)", "[1, 1]"},
		{"SELECT CAST(length(repeat('x', 3000000000)) AS VARCHAR)", "error:repeat: the result would be over 256 MiB"},
		{"SELECT lpad('x', 2000000000, 'y')", "error:lpad: the result would be over 256 MiB"},
		{"SELECT rpad('x', 2000000000, 'y')", "error:rpad: the result would be over 256 MiB"},
		{"SELECT system.main.repeat('x', 3000000000)", "error:does not exist"},
	} {
		rows, err := w.Query(ctx, tc.q)
		if err != nil {
			if want, ok := strings.CutPrefix(tc.want, "error:"); !ok || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want %s", tc.q, err, tc.want)
			}
			continue
		}
		var got string
		for rows.Next() {
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			if want, ok := strings.CutPrefix(tc.want, "error:"); !ok || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want %s", tc.q, err, tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.q, got, tc.want)
		}
	}
}

// TestTenantFairShare: one tenant's long queries hold at most its share
// of the connections; another tenant's query still runs at once.
func TestTenantFairShare(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.QueryConns = 4 })
	defer w.Close()
	if w.opts.TenantConns != 2 {
		t.Fatalf("TenantConns = %d, want 2", w.opts.TenantConns)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hog := allsource.WithTenantScope(ctx, "hog")
	done := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			rows, err := w.Query(hog, "SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3")
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			done <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	other := allsource.WithTenantScope(context.Background(), "other")
	qctx, qcancel := context.WithTimeout(other, 5*time.Second)
	defer qcancel()
	start := time.Now()
	rows, err := w.Query(qctx, "SELECT 42")
	if err != nil {
		t.Fatalf("other tenant starved: %v", err)
	}
	rows.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("other tenant waited %v", d)
	}
	cancel()
	for i := 0; i < 4; i++ {
		<-done
	}
}

// TestColumnScansTakeSlots: a column scan holds one of its tenant's query
// slots until it is closed, like any query, so one tenant's questions
// cannot take every slot.
func TestColumnScansTakeSlots(t *testing.T) {
	w := openTest(t, t.TempDir(), func(o *Options) { o.QueryConns = 2 })
	defer w.Close()
	hog := allsource.WithTenantScope(context.Background(), "hog")
	first, ok, err := w.ScanColumns(hog)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	short, cancel := context.WithTimeout(hog, 200*time.Millisecond)
	defer cancel()
	if _, _, err := w.ScanColumns(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second scan of the tenant with its one slot held: %v", err)
	}
	other, ok, err := w.ScanColumns(allsource.WithTenantScope(context.Background(), "other"))
	if err != nil || !ok {
		t.Fatalf("another tenant's scan: %v %v", ok, err)
	}
	other.Close()
	first.Close()
	again, ok, err := w.ScanColumns(hog)
	if err != nil || !ok {
		t.Fatalf("after the first closed: %v %v", ok, err)
	}
	again.Close()
}
