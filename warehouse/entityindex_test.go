package warehouse

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/allsource/allsource"
)

// checkIndexMatchesQuery reads every entity's stream both ways, the entity
// index with the hot tier and a query over the events view, and wants the
// same events.
func checkIndexMatchesQuery(t *testing.T, w *Warehouse, what string) {
	t.Helper()
	ctx := context.Background()
	for _, tenant := range []string{"default", "acme"} {
		for e := -1; e < 7; e++ {
			entity := fmt.Sprintf("user-%d", e)
			for _, from := range []uint64{0, 1, 100, 320, 520, 700} {
				for _, limit := range []int{1, 3, 1000} {
					got, ok, err := w.indexedEntityEvents(ctx, tenant, entity, from, limit, []EntityEvent{{ID: "stale"}, {ID: "stale"}})
					if err != nil || !ok {
						t.Fatalf("%s: indexed read of %s/%s: ok %v, %v", what, tenant, entity, ok, err)
					}
					want, err := w.entityEventsSQL(ctx, tenant, entity, from, limit)
					if err != nil {
						t.Fatal(err)
					}
					g, _ := json.Marshal(got)
					wn, _ := json.Marshal(want)
					if string(g) != string(wn) {
						t.Fatalf("%s: %s/%s from %d limit %d:\nindex %s\nquery %s", what, tenant, entity, from, limit, g, wn)
					}
				}
			}
		}
	}
}

// TestEntityIndexMatchesQuery: an entity's stream read from the index and
// the hot tier is the stream a query gives, with events flushed, hot,
// compacted, and after the index is lost and rebuilt from the files.
func TestEntityIndexMatchesQuery(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w := openTest(t, dir, nil)
	acme := func(evs []allsource.Event) []allsource.Event {
		for i := range evs {
			if evs[i].Seq%5 == 0 {
				evs[i].Tenant = "acme"
			}
		}
		return evs
	}
	if err := w.Append(acme(mkEvents(1, 300, 5))); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(acme(mkEvents(301, 200, 5))); err != nil {
		t.Fatal(err)
	}
	if err := w.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(acme(mkEvents(501, 60, 5))); err != nil { // stays hot
		t.Fatal(err)
	}
	if got := w.index.indexed.Load(); got != 500 {
		t.Fatalf("index reaches %d, want 500", got)
	}
	checkIndexMatchesQuery(t, w, "flushed and hot")
	// More hot events after a read: the generation's entity rows extend.
	if err := w.Append(acme(mkEvents(561, 40, 5))); err != nil {
		t.Fatal(err)
	}
	checkIndexMatchesQuery(t, w, "hot events appended after a read")
	if _, err := w.compact(ctx, 2); err != nil {
		t.Fatal(err)
	}
	checkIndexMatchesQuery(t, w, "after compaction")

	// A read restriction, or a scope of another tenant, is the query's.
	if _, ok, _ := w.indexedEntityEvents(allsource.WithReadRestriction(ctx, allsource.ReadRestriction{HiddenTypes: []string{"a.*"}}), "default", "user-1", 0, 10, nil); ok {
		t.Fatal("the index answered under a read restriction")
	}
	if _, ok, _ := w.indexedEntityEvents(allsource.WithTenantScope(ctx, "acme"), "default", "user-1", 0, 10, nil); ok {
		t.Fatal("the index answered for another tenant than the scope's")
	}
	evs, err := w.EntityEvents(allsource.WithTenantScope(ctx, "acme"), "default", "user-1", 0, 10)
	if err != nil || len(evs) != 0 {
		t.Fatalf("acme's scope read default's stream: %v %v", evs, err)
	}
	// An index behind the files is not used.
	w.index.indexed.Store(10)
	if _, ok, _ := w.indexedEntityEvents(ctx, "default", "user-1", 0, 10, nil); ok {
		t.Fatal("an index behind the flushed seq answered")
	}
	w.index.indexed.Store(500)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Lost: rebuilt from the Parquet files at open.
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, dir, nil)
	defer w.Close()
	if got := w.index.indexed.Load(); got != 500 {
		t.Fatalf("rebuilt index reaches %d, want 500", got)
	}
	checkIndexMatchesQuery(t, w, "rebuilt")
	checkVersions(t, w, "rebuilt")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Written in an earlier layout (keys compared without the entity
	// split): not opened as it is, rebuilt.
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	old, err := pebble.Open(filepath.Join(dir, "index", "entities"), &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Set(indexedKey, binary.BigEndian.AppendUint64(nil, 500), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	old.Close()
	w = openTest(t, dir, nil)
	defer w.Close()
	checkIndexMatchesQuery(t, w, "rebuilt from an earlier layout")
	checkVersions(t, w, "rebuilt from an earlier layout")
}

// checkVersions: EntityVersion is each entity's highest version, and 0
// for an entity without events.
func checkVersions(t *testing.T, w *Warehouse, when string) {
	t.Helper()
	rows, err := w.QueryInternal(context.Background(), "SELECT tenant_id, entity_id, max(version) FROM events GROUP BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var tenant, entity string
		var want uint64
		if err := rows.Scan(&tenant, &entity, &want); err != nil {
			t.Fatal(err)
		}
		if got, err := w.EntityVersion(tenant, entity); err != nil || got != want {
			t.Errorf("%s: version of %s/%s = %d, %v; want %d", when, tenant, entity, got, err, want)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("%s: no entities", when)
	}
	for _, e := range [][2]string{{"default", "nobody"}, {"nobody", "user-1"}, {"default", "user-"}} {
		if got, err := w.EntityVersion(e[0], e[1]); err != nil || got != 0 {
			t.Errorf("%s: version of %s/%s = %d, %v; want 0", when, e[0], e[1], got, err)
		}
	}
}

// BenchmarkEntityEvents reads 10-event streams of 20,000 entities out of
// 200,000 events in 60 daily files, from the entity index; then, with as
// many events again in the hot tier, 20-event streams from the index and
// the hot tier and, in the same run, with the query it replaces.
func BenchmarkEntityEvents(b *testing.B) {
	w := openTest(b, b.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	const n, entities = 200_000, 20_000
	evs := mkEvents(1, n, 60)
	for i := range evs {
		evs[i].EntityID = fmt.Sprintf("user-%d", i%entities)
	}
	if err := w.Append(evs); err != nil {
		b.Fatal(err)
	}
	if err := w.FlushAll(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("index", func(b *testing.B) {
		i := 0
		for b.Loop() {
			out, ok, err := w.indexedEntityEvents(ctx, "default", fmt.Sprintf("user-%d", i%entities), 0, 1000, nil)
			if err != nil || !ok || len(out) != n/entities {
				b.Fatalf("%d events, %v %v", len(out), ok, err)
			}
			i += 7919
		}
	})
	// The current version, as ingest reads it for an entity it does not
	// hold: one that has events, and one that has none.
	b.Run("version", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if v, err := w.EntityVersion("default", fmt.Sprintf("user-%d", i%entities)); err != nil || v == 0 {
				b.Fatalf("version %d, %v", v, err)
			}
			i += 7919
		}
	})
	b.Run("version-new", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if v, err := w.EntityVersion("default", fmt.Sprintf("new-%d", i)); err != nil || v != 0 {
				b.Fatalf("version %d, %v", v, err)
			}
			i++
		}
	})
	// 200,000 more events left in the hot tier: a read scans them too.
	hot := mkEvents(n+1, n, 60)
	for i := range hot {
		hot[i].EntityID = fmt.Sprintf("user-%d", i%entities)
	}
	b.Run("index+hot", func(b *testing.B) {
		if err := w.Append(hot); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			out, ok, err := w.indexedEntityEvents(ctx, "default", fmt.Sprintf("user-%d", i%entities), 0, 1000, nil)
			if err != nil || !ok || len(out) != 2*n/entities {
				b.Fatalf("%d events, %v %v", len(out), ok, err)
			}
			i += 7919
		}
	})
	b.Run("query", func(b *testing.B) {
		i := 0
		for b.Loop() {
			out, err := w.entityEventsSQL(ctx, "default", fmt.Sprintf("user-%d", i%entities), 0, 1000)
			if err != nil || len(out) != 2*n/entities {
				b.Fatalf("%d events, %v", len(out), err)
			}
			i += 7919
		}
	})
}

// TestEntityRowsConcurrent: entity reads racing each other and appends
// to the same generation (a reader that took its chunks before another
// reader extended the entity map once indexed past them).
func TestEntityRowsConcurrent(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			if err := w.Append(mkEvents(uint64(1+i*10), 10, 3)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, _, err := w.indexedEntityEvents(ctx, "default", "user-3", 0, 1000, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	readers.Wait()
	got, ok, err := w.indexedEntityEvents(ctx, "default", "user-3", 0, 10000, nil)
	if err != nil || !ok || len(got) != 2000/7+1 {
		t.Fatalf("%d events, %v %v", len(got), ok, err)
	}
}

// TestByteArena: what the arena hands out keeps its bytes when more is
// taken, across chunks, and a caller's append does not reach a neighbour.
func TestByteArena(t *testing.T) {
	var a byteArena
	var got [][]byte
	var want []string
	for i := 0; i < 300; i++ {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, i*7%100)
		if i == 150 {
			p = bytes.Repeat([]byte("big"), 3000) // larger than a chunk
		}
		got = append(got, a.bytes(p))
		want = append(want, string(p))
		clear(p) // the source may change after
	}
	s := a.string([]byte("id-1"))
	_ = append(got[0], 'x')
	_ = append(got[10], "xyz"...)
	for i, b := range got {
		if string(b) != want[i] || b == nil {
			t.Fatalf("slice %d: %q, want %q", i, b, want[i])
		}
	}
	if s != "id-1" || a.string(nil) != "" {
		t.Fatalf("strings: %q", s)
	}
}

// TestIndexCompressionChange: an index written with snappy blocks and
// extended without compression (or the other way round) reads both.
func TestIndexCompressionChange(t *testing.T) {
	ctx := context.Background()
	for _, order := range [][2]string{{"snappy", "none"}, {"none", "snappy"}} {
		dir := t.TempDir()
		w := openTest(t, dir, func(o *Options) { o.IndexCompression = order[0] })
		evs := mkEvents(1, 200, 3)
		if err := w.Append(evs[:100]); err != nil {
			t.Fatal(err)
		}
		if err := w.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
		w.Close()
		w = openTest(t, dir, func(o *Options) { o.IndexCompression = order[1] })
		if err := w.Append(evs[100:]); err != nil {
			t.Fatal(err)
		}
		if err := w.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
		for _, e := range []string{"user-1", "user-2"} {
			got, ok, err := w.indexedEntityEvents(ctx, "default", e, 0, 1000, nil)
			want, werr := w.entityEventsSQL(ctx, "default", e, 0, 1000)
			if err != nil || werr != nil || !ok || len(got) == 0 || len(got) != len(want) {
				t.Fatalf("%v: %s: %d indexed events (ok %v, %v), %d by query (%v)", order, e, len(got), ok, err, len(want), werr)
			}
		}
		w.Close()
	}
	if _, err := Open(ctx, Options{DataDir: t.TempDir(), IndexCompression: "lz4"}); err == nil || !strings.Contains(err.Error(), "lz4") {
		t.Fatalf("unknown compression: %v", err)
	}
}

// TestIndexPrewarm: prewarm opens every table and loads its filter block,
// and stops at once when told to.
func TestIndexPrewarm(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openTest(t, dir, nil)
	for round := range 4 {
		if err := w.Append(mkEvents(uint64(round*100+1), 100, 3)); err != nil {
			t.Fatal(err)
		}
		if err := w.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	x, err := openEntityIndex(dir, 8<<20, "snappy")
	if err != nil {
		t.Fatal(err)
	}
	defer x.close()
	levels, err := x.db.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	tables := 0
	for _, l := range levels {
		tables += len(l)
	}
	// (The LSM's own background work may open tables meanwhile: the
	// counts below are the prewarm's and lower bounds.)
	before := x.db.Metrics() // opening read the watermark key
	stop := make(chan struct{})
	close(stop)
	if n := x.prewarm(stop); n != 0 {
		t.Fatalf("a stopped prewarm read %d tables", n)
	}
	n := x.prewarm(nil)
	m := x.db.Metrics()
	consulted := m.Filter.Hits + m.Filter.Misses - before.Filter.Hits - before.Filter.Misses
	if tables < 2 || n != tables || m.TableCache.Count != int64(tables) || consulted < int64(tables) {
		t.Fatalf("%d tables: prewarm read %d, %d open after it, filters consulted %d times", tables, n, m.TableCache.Count, consulted)
	}
}
