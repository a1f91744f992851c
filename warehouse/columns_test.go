package warehouse

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

func randomColRows(rng *rand.Rand, n int, types int) []colRow {
	rows := make([]colRow, n)
	for i := range rows {
		g1, g2 := entityHashes(fmt.Sprintf("e-%d", rng.IntN(n/3+1)))
		rows[i] = colRow{g1: g1, g2: g2, us: int64(rng.IntN(1000)) * 60e6, seq: uint64(i + 1), typ: uint16(rng.IntN(types))}
	}
	return rows
}

func sortedColRows(rows []colRow) []colRow {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b colRow) int {
		if c := cmp.Compare(colPart(a.g1), colPart(b.g1)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.us, b.us); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return rows
}

// TestColumnsRoundTrip: what is encoded decodes to the same rows in
// (partition, time, seq) order, each partition where its start says.
func TestColumnsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 1000, 5000} {
		types := []string{"a", "b.c", "", "é"}
		rows := randomColRows(rng, n, len(types))
		want := sortedColRows(rows)
		b, err := encodeColumns(rows, types)
		if err != nil {
			t.Fatal(err)
		}
		f, err := decodeColumns(b)
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		if !slices.Equal(f.types, types) || len(f.g1) != n {
			t.Fatalf("%d rows: types %q, %d rows", n, f.types, len(f.g1))
		}
		for i, r := range want {
			got := colRow{g1: f.g1[i], g2: f.g2[i], us: f.us[i], seq: f.seq[i], typ: f.typ[i]}
			if got != r {
				t.Fatalf("%d rows: row %d = %+v, want %+v", n, i, got, r)
			}
		}
		for p := range ColumnParts {
			for i := f.starts[p]; i < f.starts[p+1]; i++ {
				if colPart(f.g1[i]) != p {
					t.Fatalf("row %d in partition %d", i, p)
				}
			}
		}
	}
}

// reseal recomputes a columns file's checksum after an edit.
func reseal(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], colCRC))
	return b
}

// TestColumnsDecodeRejects: a damaged file is refused with what is wrong,
// including damage that keeps the checksum right.
func TestColumnsDecodeRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	good, err := encodeColumns(randomColRows(rng, 300, 2), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	n := 300
	off := align(colHeader+2+1+2+1, 8) // the columns after the type list
	cases := []struct {
		name, want string
		edit       func(b []byte) []byte
	}{
		{"empty", "not an event columns file", func(b []byte) []byte { return nil }},
		{"magic", "not an event columns file", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"truncated", "", func(b []byte) []byte { return b[:len(b)-8] }},
		{"flipped bit", "checksum mismatch", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"type index", "names type 7 of 2", func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[off+28*n:], 7)
			return reseal(b)
		}},
		{"partition start", "partition 3 starts", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[16+3*4:], 100000)
			return reseal(b)
		}},
		{"row count", "do not fit", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[8:], 301)
			binary.LittleEndian.PutUint32(b[16+ColumnParts*4:], 301)
			return reseal(b)
		}},
		{"row in the wrong partition", "is not in partition", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[off:], binary.LittleEndian.Uint64(b[off:])^(1<<63))
			return reseal(b)
		}},
	}
	for _, c := range cases {
		_, err := decodeColumns(c.edit(bytes.Clone(good)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// FuzzDecodeColumns: any bytes decode without panicking, and what decodes
// keeps the file's promises (every row in its partition, every type
// index within the type list).
func FuzzDecodeColumns(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 5, 64} {
		b, _ := encodeColumns(randomColRows(rng, n, 3), []string{"x", "y", "z"})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := decodeColumns(b)
		if err != nil {
			return
		}
		for p := range ColumnParts {
			for i := cf.starts[p]; i < cf.starts[p+1]; i++ {
				if colPart(cf.g1[i]) != p || int(cf.typ[i]) >= len(cf.types) {
					t.Fatalf("row %d breaks the file's promises", i)
				}
			}
		}
	})
}

// scanRows is every row a scan gives, with its type's name, sorted.
func scanRows(t *testing.T, s *ColumnScan) []string {
	t.Helper()
	var out []string
	for p := range ColumnParts {
		for _, seg := range s.Segments(p, nil) {
			for i := range seg.G1 {
				if colPart(seg.G1[i]) != p {
					t.Fatalf("partition %d holds a row of %d", p, colPart(seg.G1[i]))
				}
				out = append(out, fmt.Sprintf("%d/%d/%d/%d/%s", seg.G1[i], seg.G2[i], seg.Micros[i], seg.Seq[i], seg.Types[seg.Type[i]]))
			}
		}
	}
	slices.Sort(out)
	return out
}

func wantRows(evs []allsource.Event, tenant string) []string {
	var out []string
	for _, e := range evs {
		if tenant != "" && e.Tenant != tenant {
			continue
		}
		g1, g2 := entityHashes(e.EntityID)
		out = append(out, fmt.Sprintf("%d/%d/%d/%d/%s", g1, g2, e.Timestamp.UnixMicro(), e.Seq, e.EventType))
	}
	slices.Sort(out)
	return out
}

// mustScan is the rows of a scan, which it closes.
func mustScan(t *testing.T, w *Warehouse, ctx context.Context) []string {
	t.Helper()
	s, ok, err := w.ScanColumns(ctx)
	if err != nil || !ok {
		t.Fatalf("ScanColumns: ok %v, err %v", ok, err)
	}
	defer s.Close()
	return scanRows(t, s)
}

// waitScan waits for the builder to make the missing columns and returns
// the scan's rows.
func waitScan(t *testing.T, w *Warehouse, ctx context.Context) []string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, ok, err := w.ScanColumns(ctx); err != nil {
			t.Fatal(err)
		} else if ok {
			defer s.Close()
			return scanRows(t, s)
		}
	}
	t.Fatal("the event columns were not rebuilt")
	return nil
}

// TestColumnsFollowTheFiles: flushes write a columns file per Parquet
// file, compaction replaces its inputs' with the output's, a scan sees
// exactly the scope's flushed and unflushed events, and a missing,
// damaged or orphaned columns file is rebuilt or removed.
func TestColumnsFollowTheFiles(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	twoFiles := func(o *Options) { o.CompactMinFiles = 2 }
	w := openTest(t, dir, twoFiles)
	base := time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC)
	var all []allsource.Event
	seq := uint64(0)
	batch := func(n int) []allsource.Event {
		var evs []allsource.Event
		for range n {
			seq++
			tenant := []string{"acme", "globex"}[seq%2]
			at := base.Add(time.Duration(seq*37%(3*24*60)) * time.Minute)
			evs = append(evs, allsource.Event{Seq: seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", seq), Tenant: tenant,
				EntityID: fmt.Sprintf("u%d", seq%23), EventType: []string{"signup", "view", "buy"}[seq%3], Version: seq,
				Timestamp: at, IngestedAt: at, Payload: []byte(`{}`), Metadata: []byte(`{}`)})
		}
		all = append(all, evs...)
		return evs
	}
	for range 3 { // three flushes: several files for each tenant and day
		if err := w.Append(batch(200)); err != nil {
			t.Fatal(err)
		}
		if err := w.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Append(batch(50)); err != nil { // stays in the hot tier
		t.Fatal(err)
	}
	files := w.pin()
	w.unpin(files)
	if len(files.files) < 6 {
		t.Fatalf("%d files; the test wants several per partition", len(files.files))
	}
	for _, f := range files.files {
		if _, err := os.Stat(w.colPath(f.Path)); err != nil {
			t.Fatalf("no event columns for %s: %v", f.Path, err)
		}
	}
	if got, want := mustScan(t, w, ctx), wantRows(all, ""); !slices.Equal(got, want) {
		t.Fatalf("scan of every tenant: %d rows, want %d", len(got), len(want))
	}
	acme := allsource.WithTenantScope(ctx, "acme")
	if got, want := mustScan(t, w, acme), wantRows(all, "acme"); !slices.Equal(got, want) {
		t.Fatalf("scan of acme: %d rows, want %d", len(got), len(want))
	}
	before := w.Stats()
	if _, ok, _ := w.ScanColumns(allsource.WithReadRestriction(acme, allsource.ReadRestriction{HiddenTypes: []string{"buy"}})); ok {
		t.Fatal("a restricted scope was given the columns")
	}
	if st := w.Stats(); st.ColumnScans != 2 || st.ColumnDeclines != before.ColumnDeclines+1 {
		t.Fatalf("scans counted %d (declined %d), want 2 (declined %d)", st.ColumnScans, st.ColumnDeclines, before.ColumnDeclines+1)
	}

	if n, err := w.Compact(ctx); err != nil || n == 0 {
		t.Fatalf("compacted %d partitions: %v", n, err)
	}
	after := w.pin()
	w.unpin(after)
	entries, _ := filepath.Glob(filepath.Join(w.cols.dir, "*", "*", "*.cols"))
	if len(entries) != len(after.files) {
		t.Fatalf("%d columns files for %d Parquet files after compaction", len(entries), len(after.files))
	}
	if got, want := mustScan(t, w, acme), wantRows(all, "acme"); !slices.Equal(got, want) {
		t.Fatalf("scan of acme after compaction: %d rows, want %d", len(got), len(want))
	}

	// A missing file: the columns are not used until rebuilt.
	victim := after.files[0].Path
	w.dropColumns(victim)
	if _, ok, _ := w.ScanColumns(ctx); ok {
		t.Fatal("a scan was given columns with a file missing")
	}
	if got, want := waitScan(t, w, ctx), wantRows(all, ""); !slices.Equal(got, want) {
		t.Fatal("rebuilt columns differ")
	}

	// A damaged file, found when first mapped after a restart; an orphan.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(w.colPath(victim))
	if err != nil {
		t.Fatal(err)
	}
	b[40] ^= 0xff
	if err := os.WriteFile(w.colPath(victim), b, 0o644); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(filepath.Dir(w.colPath(victim)), "00000000000000000001-00000000000000000002.cols")
	if err := os.WriteFile(orphan, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, dir, twoFiles)
	defer w.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan columns file still there: %v", err)
	}
	if _, ok, _ := w.ScanColumns(ctx); ok {
		t.Fatal("a scan was given a damaged columns file")
	}
	want := wantRows(all[:600], "") // the hot tier is the WAL's to replay, above this package
	if got := waitScan(t, w, ctx); !slices.Equal(got, want) {
		t.Fatalf("after the rebuild: %d rows, want %d", len(got), len(want))
	}
}

// TestColumnsMappingsBounded: files no scan uses are unmapped beyond the
// bound, those in use stay mapped, and answers do not change.
func TestColumnsMappingsBounded(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	var all []allsource.Event
	for round := range 3 {
		evs := mkEvents(uint64(round*300+1), 300, 5)
		all = append(all, evs...)
		if err := w.Append(evs); err != nil {
			t.Fatal(err)
		}
		if err := w.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.cols.mu.Lock()
	w.cols.maxMapped = 2
	w.cols.mu.Unlock()
	mapped := func() int {
		w.cols.mu.Lock()
		defer w.cols.mu.Unlock()
		return len(w.cols.open)
	}
	want := wantRows(all, "")
	for range 3 {
		s, ok, err := w.ScanColumns(ctx)
		if !ok || err != nil {
			t.Fatalf("scan: %v %v", ok, err)
		}
		s2 := mustScan(t, w, ctx) // a second scan while the first holds every file
		if n := mapped(); n < 15 {
			t.Fatalf("%d files mapped while a scan of 15 uses them", n)
		}
		if got := scanRows(t, s); !slices.Equal(got, want) || !slices.Equal(s2, want) {
			t.Fatal("scans with evictions differ")
		}
		s.Close()
		if n := mapped(); n > 2 {
			t.Fatalf("%d files stay mapped, the bound is 2", n)
		}
	}
}

// TestColumnsHotConcurrent: scans taking views of the hot tier's columns
// while events are appended see a growing, consistent prefix, and the
// last one sees every event, for one tenant and for all.
func TestColumnsHotConcurrent(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	var all []allsource.Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			evs := mkEvents(uint64(1+i*10), 10, 3)
			if i%3 == 0 {
				for j := range evs {
					evs[j].Tenant = "other"
				}
			}
			all = append(all, evs...)
			if err := w.Append(evs); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			scope := ctx
			if r%2 == 1 {
				scope = allsource.WithTenantScope(ctx, "default")
			}
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				s, ok, err := w.ScanColumns(scope)
				if err != nil || !ok {
					t.Errorf("scan: %v %v", ok, err)
					return
				}
				n := 0
				for p := range ColumnParts {
					for _, seg := range s.Segments(p, nil) {
						n += len(seg.G1)
						for i := range seg.G1 {
							if seg.Types[seg.Type[i]] == "" || colPart(seg.G1[i]) != p {
								t.Errorf("a torn row in partition %d", p)
							}
						}
					}
				}
				s.Close()
				if n < last {
					t.Errorf("a scan saw %d rows after one saw %d", n, last)
				}
				last = n
			}
		}()
	}
	readers.Wait()
	<-done
	if got, want := mustScan(t, w, ctx), wantRows(all, ""); !slices.Equal(got, want) {
		t.Fatalf("all tenants: %d rows, want %d", len(got), len(want))
	}
	if got, want := mustScan(t, w, allsource.WithTenantScope(ctx, "default")), wantRows(all, "default"); !slices.Equal(got, want) {
		t.Fatalf("one tenant: %d rows, want %d", len(got), len(want))
	}
}

// BenchmarkScanColumnsHot: a scan over 1 M unflushed events, whose
// columns the generation keeps after the first scan made them.
func BenchmarkScanColumnsHot(b *testing.B) {
	w := openTest(b, b.TempDir(), nil)
	defer w.Close()
	for i := range 100 {
		if err := w.Append(mkEvents(uint64(1+i*10_000), 10_000, 30)); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	t0 := time.Now()
	s, _, _ := w.ScanColumns(ctx)
	s.Close()
	b.Logf("first scan of 1 M hot events: %v", time.Since(t0))
	for b.Loop() {
		s, ok, err := w.ScanColumns(ctx)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
		s.Close()
	}
}

// TestColumnsTooManyTypes: a file with more event types than a type index
// holds gets no columns; the builder tries it once, its tenant's scans
// decline (the engine answers), and other tenants keep their columns.
func TestColumnsTooManyTypes(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var evs []allsource.Event
	for i := range maxColTypes + 1 {
		seq := uint64(i + 1)
		evs = append(evs, allsource.Event{Seq: seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", seq), Tenant: "wide",
			EntityID: "e", EventType: fmt.Sprintf("t%d", i), Version: seq, Timestamp: at, IngestedAt: at,
			Payload: []byte(`{}`), Metadata: []byte(`{}`)})
	}
	others := mkEvents(uint64(len(evs)+1), 10, 1)
	if err := w.Append(append(evs, others...)); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	var bad string
	for deadline := time.Now().Add(20 * time.Second); bad == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		w.cols.mu.Lock()
		for p := range w.cols.unbuildable {
			bad = p
		}
		w.cols.mu.Unlock()
	}
	if !strings.Contains(bad, "tenant=wide") {
		t.Fatalf("the builder did not give up on the wide file: %q", bad)
	}
	if _, err := os.Stat(w.colPath(bad)); !os.IsNotExist(err) {
		t.Fatalf("columns for the wide file: %v", err)
	}
	if _, ok, _ := w.ScanColumns(allsource.WithTenantScope(ctx, "wide")); ok {
		t.Fatal("a scan of the wide tenant was given columns")
	}
	if got, want := mustScan(t, w, allsource.WithTenantScope(ctx, "default")), wantRows(others, "default"); !slices.Equal(got, want) {
		t.Fatalf("the other tenant: %d rows, want %d", len(got), len(want))
	}
}
