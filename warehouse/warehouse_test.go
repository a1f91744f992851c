package warehouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/allsource/allsource"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openTest(t testing.TB, dir string, mod func(*Options)) *Warehouse {
	t.Helper()
	opts := Options{DataDir: dir, FlushAge: time.Hour, CompactInterval: time.Hour, CompactMinFiles: 5}
	if mod != nil {
		mod(&opts)
	}
	w, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// mkEvents returns n events with seqs from, spread over days days.
func mkEvents(from uint64, n int, days int) []allsource.Event {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]allsource.Event, n)
	for i := range out {
		seq := from + uint64(i)
		out[i] = allsource.Event{
			Seq: seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", seq), Tenant: "default",
			EntityID: fmt.Sprintf("user-%d", seq%7), EventType: []string{"a.b", "Order Completed"}[seq%2],
			Version: seq, Timestamp: base.Add(time.Duration(int(seq)%days) * 24 * time.Hour),
			IngestedAt: base, Payload: []byte(fmt.Sprintf(`{"n":%d}`, seq)), Metadata: []byte(`{}`),
		}
	}
	return out
}

func queryInt(t *testing.T, w *Warehouse, q string) int64 {
	t.Helper()
	rows, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var n int64
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", q, rows.Err())
	}
	if err := rows.Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAppendFlushCompactReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w := openTest(t, dir, nil)
	if err := w.Append(mkEvents(1, 100, 3)); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, w, "SELECT count(*) FROM events"); n != 100 {
		t.Fatalf("hot count = %d", n)
	}
	// Four flushes of 100 events over 3 days: 3 partitions × 4 files.
	for i := 1; i < 4; i++ {
		if err := w.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.Append(mkEvents(uint64(i*100+1), 100, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.FlushedSeq(); got != 400 {
		t.Fatalf("watermark = %d", got)
	}
	if n := queryInt(t, w, "SELECT count(DISTINCT seq) FROM events"); n != 400 {
		t.Fatalf("distinct after flush = %d", n)
	}
	if s := w.Stats(); s.Files != 12 {
		t.Fatalf("files = %d", s.Files)
	}
	if err := checkSorted(w); err != nil {
		t.Fatal(err)
	}
	// Flushed files carry a Bloom filter on entity_id that rules out an
	// entity within the file's min/max range but absent from it.
	w.mu.Lock()
	first := filepath.Join(w.whDir, filepath.FromSlash(w.cur.files[0].Path))
	w.mu.Unlock()
	var excludes bool
	if err := w.main.db.QueryRow(`SELECT bool_and(bloom_filter_excludes) FROM parquet_bloom_probe(` + sqlString(first) + `, 'entity_id', 'user-1a')`).Scan(&excludes); err != nil || !excludes {
		t.Fatalf("bloom filter probe: excludes=%v, %v", excludes, err)
	}
	// A query pinned before compaction keeps its files.
	rows, err := w.Query(ctx, "SELECT seq FROM events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.compact(ctx, 2)
	if err != nil || n != 3 {
		t.Fatalf("compact = %d, %v", n, err)
	}
	count := 0
	for rows.Next() {
		count++
	}
	rows.Close()
	if count != 400 {
		t.Fatalf("pinned query saw %d rows", count)
	}
	if s := w.Stats(); s.Files != 3 {
		t.Fatalf("files after compaction = %d", s.Files)
	}
	if n := queryInt(t, w, "SELECT count(*) FROM events"); n != 400 {
		t.Fatalf("count after compaction = %d", n)
	}
	var onDisk int
	filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			onDisk++
		}
		return nil
	})
	if onDisk != 3 {
		t.Fatalf("files on disk after compaction = %d", onDisk)
	}
	if err := checkSorted(w); err != nil {
		t.Fatal(err)
	}
	// Payload round-trips as JSON and is queryable.
	if n := queryInt(t, w, "SELECT sum(CAST(payload->>'n' AS BIGINT)) FROM events"); n != 400*401/2 {
		t.Fatalf("payload sum = %d", n)
	}
	// Files written by the flush (parquet-go) and by compaction (DuckDB) are
	// read together in one view with the same types.
	if err := w.Append(mkEvents(401, 100, 3)); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Files != 6 || s.HotRows != 0 {
		t.Fatalf("files = %d, hot rows = %d", s.Files, s.HotRows)
	}
	if n := queryInt(t, w, `SELECT count(*) FROM events WHERE typeof(payload) = 'JSON' AND typeof("timestamp") = 'TIMESTAMP WITH TIME ZONE'`); n != 500 {
		t.Fatalf("typed rows over mixed files = %d", n)
	}
	if n := queryInt(t, w, "SELECT sum(CAST(payload->>'n' AS BIGINT)) FROM events"); n != 500*501/2 {
		t.Fatalf("payload sum over mixed files = %d", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// An orphan (a crash between rename and manifest) is removed on open.
	orphan := filepath.Join(dir, "warehouse", "tenant=default", "date=2026-03-01", "x.parquet")
	if err := os.WriteFile(orphan, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, dir, nil)
	defer w.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan survived open: %v", err)
	}
	if got := w.FlushedSeq(); got != 500 {
		t.Fatalf("watermark after reopen = %d", got)
	}
	if n := queryInt(t, w, "SELECT count(*) FROM events"); n != 500 {
		t.Fatalf("count after reopen = %d", n)
	}
	w.Close()

	// A file the manifest names but that is gone stops the open, naming it.
	var gone string
	filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && gone == "" {
			gone = p
		}
		return nil
	})
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, Options{DataDir: dir})
	rel, _ := filepath.Rel(filepath.Join(dir, "warehouse"), gone)
	if err == nil || !strings.Contains(err.Error(), filepath.ToSlash(rel)) {
		t.Fatalf("open without %s: %v", rel, err)
	}
}

func TestReadOnlyChecks(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	for _, tc := range []struct{ q, want string }{
		{"DELETE FROM events", "only SELECT"},
		{"COPY (SELECT 1) TO '/tmp/x.csv'", "only SELECT"},
		{"SET threads = 1", "only SELECT"},
		{"CREATE TABLE t (a INT)", "only SELECT"},
		{"SELECT * FROM read_csv('/etc/passwd')", "read_csv is not allowed"},
		{"SELECT * FROM '/etc/passwd'", "not allowed"},
		{"SELECT * FROM read_parquet('x/**/*.parquet')", "not allowed"},
		{"SELECT 1; SELECT 2", "exactly one statement"},
		{"SELECT * FROM _hot.gen_1", "internal"},
		{"SELEC 1", "syntax error"},
		{"SELECT * FROM glob('/*')", "not allowed"},
	} {
		rows, err := w.Query(ctx, tc.q)
		if err == nil {
			rows.Close()
			t.Errorf("%q: accepted", tc.q)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || allsource.ErrorCode(err) != allsource.CodeInvalid {
			t.Errorf("%q: error %v, want %q (invalid)", tc.q, err, tc.want)
		}
	}
	if n := queryInt(t, w, "WITH x AS (SELECT count(*) AS c FROM events) SELECT c FROM x"); n != 0 {
		t.Fatalf("count = %d", n)
	}
}

// checkSorted verifies every Parquet file is sorted by (entity_id,
// timestamp, seq), as funnels and compaction rely on.
func checkSorted(w *Warehouse) error {
	w.mu.Lock()
	files := w.cur.files
	w.mu.Unlock()
	for _, f := range files {
		path := filepath.Join(w.whDir, filepath.FromSlash(f.Path))
		var bad int
		err := w.main.db.QueryRow(`SELECT count(*) FROM (
			SELECT entity_id, "timestamp", seq,
				lag(entity_id) OVER () AS pe, lag("timestamp") OVER () AS pt, lag(seq) OVER () AS ps
			FROM read_parquet(` + sqlString(path) + `))
			WHERE pe IS NOT NULL AND (entity_id < pe OR (entity_id = pe AND ("timestamp" < pt OR ("timestamp" = pt AND seq < ps))))`).Scan(&bad)
		if err != nil {
			return err
		}
		if bad > 0 {
			return fmt.Errorf("%s: %d rows out of (entity_id, timestamp, seq) order", f.Path, bad)
		}
	}
	return nil
}

// Every query connection runs in UTC, whatever the machine's zone.
func TestSessionsAreUTC(t *testing.T) {
	t.Setenv("TZ", "America/New_York")
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	// Hold several connections at once so the pool opens more than one.
	var held []*Rows
	for i := 0; i < 4; i++ {
		rows, err := w.Query(ctx, "SELECT current_setting('TimeZone')")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, rows)
	}
	for _, rows := range held {
		var tz string
		if !rows.Next() {
			t.Fatal(rows.Err())
		}
		rows.Scan(&tz)
		rows.Close()
		if tz != "UTC" {
			t.Fatalf("TimeZone = %q", tz)
		}
	}
}

func TestSandboxRefusals(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	for _, q := range []string{
		"SELECT * FROM enable_logging(storage='file', storage_path='/var/tmp/x')",
		"SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
		"SELECT json_serialize_sql('SELECT 1')",
		"SELECT * FROM duckdb_settings()",
		"SELECT * FROM pragma_table_info('events')",
		"SELECT * FROM glob('*')",
		"SELECT * FROM read_text('/etc/hostname')",
		"SELECT getenv('HOME')",
		"SELECT * FROM query('SELECT 1')",
		"SELECT * FROM parquet_metadata('x.parquet')",
		"SELECT * FROM checkpoint()",
	} {
		rows, err := w.Query(ctx, q)
		if err == nil {
			rows.Close()
			t.Errorf("%q: accepted", q)
			continue
		}
		if !strings.Contains(err.Error(), "not allowed") && !strings.Contains(err.Error(), "only SELECT") {
			t.Errorf("%q: %v", q, err)
		}
	}
	// Allowed table functions still work, and the engine is unharmed.
	if n := queryInt(t, w, "SELECT count(*) FROM range(10) CROSS JOIN generate_series(1, 3) CROSS JOIN unnest([1, 2]) AS u(x)"); n != 60 {
		t.Fatalf("range × generate_series × unnest = %d", n)
	}
	if n := queryInt(t, w, `SELECT count(*) FROM json_each('{"a":1,"b":2}')`); n != 2 {
		t.Fatalf("json_each = %d", n)
	}
}

func mkTenantEvents(from uint64, tenants ...string) []allsource.Event {
	evs := mkEvents(from, len(tenants), 1)
	for i := range evs {
		evs[i].Tenant = tenants[i]
	}
	return evs
}

// A flush that fails half-way takes its installed files back out, so it
// succeeds once the cause is gone.
func TestFlushRecoversFromTransientFailure(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, nil)
	defer w.Close()
	ctx := context.Background()
	blocker := filepath.Join(dir, "warehouse", "tenant=zz")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(mkTenantEvents(1, "aa", "zz")); err != nil {
		t.Fatal(err)
	}
	if err := w.Freeze(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // at least two failed attempts
	if w.FlushedSeq() != 0 {
		t.Fatal("flushed despite the blocker")
	}
	os.Remove(blocker)
	deadline := time.Now().Add(10 * time.Second)
	for w.FlushedSeq() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the flush never recovered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := queryInt(t, w, "SELECT count(*) FROM events"); n != 2 {
		t.Fatalf("count = %d", n)
	}
}

// A flush that keeps failing puts the warehouse in the failed state: writes
// are refused and Freeze returns instead of blocking on the full queue.
func TestFlushFailureFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for five flush attempts")
	}
	dir := t.TempDir()
	w := openTest(t, dir, func(o *Options) { o.MaxFrozen = 1 })
	defer w.Close()
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(dir, "warehouse", "tenant=zz"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); ; i++ {
		err := w.Append(mkTenantEvents(1+2*i, "aa", "zz"))
		if err == nil {
			err = w.Freeze(ctx)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "flush failed 5 times") {
				t.Fatalf("error %v", err)
			}
			break
		}
		if i > 1000 {
			t.Fatal("never failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.Append(mkTenantEvents(9999, "aa")); err == nil {
		t.Fatal("append accepted after the failure")
	}
}

// Errors a user sees name files relative to the data directory, never by
// the server's absolute path.
func TestErrorsHideServerPaths(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, nil)
	defer w.Close()
	ctx := context.Background()
	if err := w.Append(mkEvents(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	victim := filepath.Join(w.whDir, filepath.FromSlash(w.cur.files[0].Path))
	w.mu.Unlock()
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	rows, err := w.Query(ctx, "SELECT count(*) FROM events")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if err == nil {
		t.Fatal("query over a missing file succeeded")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Fatalf("the engine's error %q does not name the file; the test exercises nothing", err)
	}
	// What the HTTP layer shows: the error's user message, or, for an error
	// while streaming, UserMessage.
	for _, msg := range []string{allsource.ErrorMessage(err), w.UserMessage(err)} {
		if strings.Contains(msg, dir) {
			t.Fatalf("message %q shows the server path %s", msg, dir)
		}
	}
	if !strings.Contains(w.UserMessage(err), "warehouse/tenant=default/") {
		t.Fatalf("UserMessage %q lost the relative path", w.UserMessage(err))
	}
}
