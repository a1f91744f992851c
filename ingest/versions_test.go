package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/allsource/allsource"
)

// TestVersionsBeyondTheCache: with room for 5 entities' versions, 40
// entities written in turns across flushes and restarts (flushed and from
// the WAL) get consecutive versions, expected_version checks see the real
// version of entities the map dropped, and the map stays near its limit
// once the hot tier is flushed.
func TestVersionsBeyondTheCache(t *testing.T) {
	dir := t.TempDir()
	opts := Options{VersionCache: 5}
	s := openTestStoreWith(t, dir, opts)
	ctx := context.Background()
	want := map[string]uint64{}
	round := func(r int) {
		t.Helper()
		var in []Input
		for e := 0; e < 40; e++ {
			id := fmt.Sprintf("e%d", (e*7+r)%40)
			for k := 0; k <= e%3; k++ {
				in = append(in, Input{EntityID: id, EventType: "t", Payload: []byte(`{}`), Metadata: []byte(`{}`), ExpectedVersion: -1})
				want[id]++
			}
		}
		if _, err := s.svc.Append(ctx, "", in); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for id, v := range want {
			_, err := s.svc.Append(ctx, "", []Input{{EntityID: id, EventType: "t", Payload: []byte(`{}`), Metadata: []byte(`{}`), ExpectedVersion: int64(v)}})
			if err != nil {
				t.Fatalf("%s: %s at expected version %d: %v", when, id, v, err)
			}
			want[id]++
			_, err = s.svc.Append(ctx, "", []Input{{EntityID: id, EventType: "t", Payload: []byte(`{}`), Metadata: []byte(`{}`), ExpectedVersion: int64(v)}})
			if allsource.ErrorCode(err) != allsource.CodeConflict {
				t.Fatalf("%s: %s at a stale expected version %d: %v, want a conflict", when, id, v, err)
			}
		}
	}
	round(0)
	check("hot")
	if err := s.wh.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	round(1)
	if err := s.wh.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	round(2) // hot, and dropped entities are read from the index
	check("flushed and hot")
	if n := s.svc.versions.entities(); n > 40 {
		t.Errorf("%d versions held", n)
	}
	s.close(t, false) // the last rounds only in the WAL
	s = openTestStoreWith(t, dir, opts)
	round(3)
	check("after a restart")
	if err := s.wh.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	round(4)
	if n := s.svc.versions.entities(); n > 40 {
		t.Errorf("%d versions held after a flush", n)
	}
	s.close(t, true)
	s = openTestStoreWith(t, dir, opts)
	defer s.close(t, true)
	check("after a clean restart")
	// Every entity's stream has versions 1..n exactly once.
	rows, err := s.wh.QueryInternal(ctx, "SELECT entity_id, count(*), count(DISTINCT version), min(version), max(version) FROM events GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n, distinct, lo, hi uint64
		if err := rows.Scan(&id, &n, &distinct, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if n != want[id] || distinct != n || lo != 1 || hi != n {
			t.Errorf("%s: %d events, %d versions, %d..%d; want %d", id, n, distinct, lo, hi, want[id])
		}
	}
}

// TestDedupWindowFromTheIndex: ids are found whether their events are hot
// (in memory) or flushed (in the entity index), by count and by age,
// per tenant; duplicates point at the stored event; the memory holds only
// ids not yet indexed.
func TestDedupWindowFromTheIndex(t *testing.T) {
	ctx := context.Background()
	id := func(i int) string { return fmt.Sprintf("0190a6d2-0000-7000-8000-%012d", i) }
	for _, tc := range []struct {
		name   string
		opts   Options
		within bool // is x, 6 events back, a duplicate
	}{
		{"count, inside", Options{DedupWindow: 10}, true},
		{"count, outside", Options{DedupWindow: 3}, false},
		{"count outside, age inside", Options{DedupWindow: 3, DedupAge: time.Hour}, true},
	} {
		for _, flushed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, flushed %v", tc.name, flushed), func(t *testing.T) {
				s := openTestStoreWith(t, t.TempDir(), tc.opts)
				defer s.close(t, false)
				first, err := s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], id(1), "")})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.svc.Append(ctx, "", inputs(5, "b")); err != nil {
					t.Fatal(err)
				}
				if flushed {
					if err := s.wh.FlushAll(ctx); err != nil {
						t.Fatal(err)
					}
					s.svc.Append(ctx, "", inputs(1, "c")) // the writer notices the index moved
					if n := len(s.svc.dedup.ids); n != 0 {
						t.Errorf("%d ids held after the flush", n)
					}
				}
				res, err := s.svc.Append(ctx, "", []Input{withID(inputs(1, "a")[0], id(1), ""), withID(inputs(1, "a")[0], id(1), "other")})
				if err != nil {
					t.Fatal(err)
				}
				want := 2
				if tc.within {
					want = 1
					if len(res.Duplicates) != 1 || res.Duplicates[0].Seq != first.FirstSeq || res.Duplicates[0].Index != 0 {
						t.Fatalf("duplicates %+v, want index 0 at seq %d", res.Duplicates, first.FirstSeq)
					}
				}
				if res.Count != want {
					t.Fatalf("stored %d of the retry (and the other tenant's), want %d", res.Count, want)
				}
			})
		}
	}
}
