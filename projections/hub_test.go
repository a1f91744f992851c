package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// store is a warehouse and a hub fed the way the ingest applier feeds
// them: append, then publish.
type store struct {
	wh  *warehouse.Warehouse
	hub *Hub
	mu  sync.Mutex
	seq uint64
}

func newStore(t *testing.T) *store { return newStoreTB(t) }

func newStoreTB(t testing.TB) *store {
	t.Helper()
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: t.TempDir(), FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return &store{wh: wh, hub: NewHub(0)}
}

// add stores n events of tenant, alternating types and entities.
func (s *store) add(t testing.TB, tenant string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]allsource.Event, n)
	for i := range evs {
		s.seq++
		evs[i] = allsource.Event{Seq: s.seq, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", s.seq), Tenant: tenant,
			EntityID: fmt.Sprintf("u%d", s.seq%3), EventType: []string{"order.placed", "user.seen"}[s.seq%2], Version: s.seq,
			Timestamp: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s.seq) * time.Second), IngestedAt: time.Now().UTC(),
			Payload: []byte(fmt.Sprintf(`{"n": %d, "email": "x@y"}`, s.seq)), Metadata: []byte(`{}`)}
	}
	if err := s.wh.Append(evs); err != nil {
		t.Error(err)
		return
	}
	s.hub.Publish(evs)
}

// collect subscribes until it has want events or the subscription ends.
func collect(t *testing.T, s *store, f Filter, start Start, want int) ([]Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []Event
	stop := errors.New("enough")
	err := s.hub.Subscribe(ctx, s.wh, f, start, SubOptions{}, func(e Event) error {
		got = append(got, e)
		if len(got) == want {
			return stop
		}
		return nil
	})
	if errors.Is(err, stop) {
		err = nil
	}
	return got, err
}

// TestCatchUpThenLive: a subscription from seq 0 while writers keep
// appending gets every event once, in order, across the switch from
// storage to live.
func TestCatchUpThenLive(t *testing.T) {
	s := newStore(t)
	s.add(t, "acme", 500)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			s.add(t, "acme", 20)
			s.add(t, "beta", 5)
			time.Sleep(time.Millisecond)
		}
	}()
	got, err := collect(t, s, Filter{Tenant: "acme"}, Start{}, 1500)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i, e := range got {
		if e.Seq <= last || e.Tenant != "acme" {
			t.Fatalf("event %d: seq %d after %d, tenant %s", i, e.Seq, last, e.Tenant)
		}
		last = e.Seq
	}
	// Every acme event, none missing: compare with storage.
	rows, err := s.wh.Query(context.Background(), "SELECT count(*) FROM events WHERE tenant_id = 'acme' AND seq <= ?", last)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	rows.Next()
	rows.Scan(&n)
	rows.Close()
	if n != len(got) {
		t.Fatalf("received %d events, storage has %d up to seq %d", len(got), n, last)
	}
}

// TestResumeAndFilters: starting after a seq, from now or at a time, with
// type patterns, entities and a reader's restriction.
func TestResumeAndFilters(t *testing.T) {
	s := newStore(t)
	s.add(t, "acme", 30)
	got, err := collect(t, s, Filter{Tenant: "acme"}, Start{AfterSeq: 25}, 5)
	if err != nil || len(got) != 5 || got[0].Seq != 26 {
		t.Fatalf("after 25: %v %v", seqs(got), err)
	}
	got, err = collect(t, s, Filter{Tenant: "acme", Types: []string{"order.*"}, Entities: []string{"u1", "u2"}}, Start{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.EventType != "order.placed" || e.EntityID == "u0" {
			t.Fatalf("filtered out %+v", e)
		}
	}
	since := time.Date(2026, 3, 1, 0, 0, 20, 0, time.UTC)
	got, err = collect(t, s, Filter{Tenant: "acme"}, Start{Since: since}, 11)
	if err != nil || got[0].Seq != 20 || len(got) != 11 {
		t.Fatalf("since: %v %v", seqs(got), err)
	}
	// Restricted: hidden types and fields, stored and live alike.
	f := Filter{Tenant: "acme", Restrict: allsource.ReadRestriction{HiddenTypes: []string{"user.*"}, HiddenFields: []string{"payload.email"}}}
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.add(t, "acme", 4)
	}()
	got, err = collect(t, s, f, Start{AfterSeq: 26}, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.EventType != "order.placed" || strings.Contains(string(e.Payload), "email") || !strings.Contains(string(e.Payload), `"n"`) {
			t.Fatalf("restricted: %+v %s", e, e.Payload)
		}
	}
	// From now: only events stored once the subscription is ready.
	got = nil
	stop := errors.New("enough")
	err = s.hub.Subscribe(context.Background(), s.wh, Filter{Tenant: "acme"}, Start{Now: true},
		SubOptions{Ready: func() { go s.add(t, "acme", 2) }}, func(e Event) error {
			if got = append(got, e); len(got) == 2 {
				return stop
			}
			return nil
		})
	if err != stop || got[0].Seq != 35 {
		t.Fatalf("from now: %v %v", seqs(got), err)
	}
	if _, err := collect(t, s, Filter{}, Start{}, 1); err == nil {
		t.Fatal("no tenant accepted")
	}
}

// TestSlowConsumer: a reader that stops reading is ended with a reason
// once its buffer is full, and publishing never waits for it.
func TestSlowConsumer(t *testing.T) {
	s := newStore(t)
	block := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.hub.Subscribe(context.Background(), s.wh, Filter{Tenant: "acme"}, Start{Now: true}, SubOptions{Buffer: 10}, func(Event) error {
			<-block
			return nil
		})
	}()
	for s.hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	for i := 0; i < 20; i++ {
		s.add(t, "acme", 10)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("publishing took %v", d)
	}
	close(block)
	var ended *Ended
	if err := <-done; !errors.As(err, &ended) || !strings.Contains(ended.Reason, "slow consumer") {
		t.Fatalf("slow consumer: %v", err)
	}
	if s.hub.Subscribers() != 0 {
		t.Fatal("the slow subscriber is still registered")
	}
}

// TestClose ends live subscriptions and refuses new ones.
func TestClose(t *testing.T) {
	s := newStore(t)
	done := make(chan error, 1)
	go func() {
		done <- s.hub.Subscribe(context.Background(), s.wh, Filter{Tenant: "acme"}, Start{}, SubOptions{}, func(Event) error { return nil })
	}()
	for s.hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.hub.Close()
	var ended *Ended
	if err := <-done; !errors.As(err, &ended) || !strings.Contains(ended.Reason, "shutting down") {
		t.Fatalf("close: %v", err)
	}
	if _, err := collect(t, s, Filter{Tenant: "acme"}, Start{}, 1); !errors.As(err, &ended) {
		t.Fatalf("after close: %v", err)
	}
}

func seqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// BenchmarkFanOut publishes 100-event batches to 1,000 live subscribers
// that each read every event; it reports the cost per delivered event and
// the delivery delay from Publish to the reader.
func BenchmarkFanOut(b *testing.B) {
	const subs, batch = 1000, 100
	h := NewHub(0)
	var wg sync.WaitGroup
	delays := make([][]time.Duration, subs)
	ctx, cancel := context.WithCancel(context.Background())
	evs := make([]allsource.Event, batch)
	stamp := make(map[uint64]time.Time)
	var stampMu sync.RWMutex
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Subscribe(ctx, nil, Filter{Tenant: "t"}, Start{Now: true}, SubOptions{Buffer: 100_000}, func(e Event) error {
				stampMu.RLock()
				at := stamp[e.Seq]
				stampMu.RUnlock()
				delays[i] = append(delays[i], time.Since(at))
				return nil
			})
		}()
	}
	for h.Subscribers() < subs {
		time.Sleep(time.Millisecond)
	}
	seq := uint64(0)
	b.ResetTimer()
	for b.Loop() {
		now := time.Now()
		stampMu.Lock()
		for i := range evs {
			seq++
			evs[i] = allsource.Event{Seq: seq, Tenant: "t", EntityID: "e", EventType: "x", Payload: []byte(`{}`), Metadata: []byte(`{}`)}
			stamp[seq] = now
		}
		stampMu.Unlock()
		h.Publish(evs)
	}
	// The time counts until every reader has every event.
	for h.Subscribers() == subs {
		// wait for the readers to drain
		drained := true
		for i := range delays {
			if uint64(len(delays[i])) < seq {
				drained = false
			}
		}
		if drained {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	var all []time.Duration
	for _, d := range delays {
		all = append(all, d...)
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(all)), "ns/delivery")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// TestTenantLimit: a tenant holds at most TenantLimit limited
// subscriptions at once; another tenant's and unlimited ones (projection
// runners) are not counted, and an ended one frees its place.
func TestTenantLimit(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := SubOptions{TenantLimit: 1}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		oo := o
		oo.Ready = func() { close(ready) }
		done <- s.hub.SubscribeBatches(ctx, s.wh, Filter{Tenant: "acme"}, Start{Now: true}, oo, func([]Event) error { return nil })
	}()
	<-ready
	quick, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	err := s.hub.SubscribeBatches(quick, s.wh, Filter{Tenant: "acme"}, Start{Now: true}, o, func([]Event) error { return nil })
	if allsource.ErrorCode(err) != allsource.CodeRateLimited {
		t.Fatalf("second subscription of acme: %v", err)
	}
	for _, tc := range []struct {
		f Filter
		o SubOptions
	}{{Filter{Tenant: "beta"}, o}, {Filter{Tenant: "acme"}, SubOptions{}}} {
		c, stop := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := s.hub.SubscribeBatches(c, s.wh, tc.f, Start{Now: true}, tc.o, func([]Event) error { return nil })
		stop()
		if allsource.ErrorCode(err) == allsource.CodeRateLimited {
			t.Fatalf("%+v: %v", tc, err)
		}
	}
	cancel()
	<-done
	c, stop2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer stop2()
	if err := s.hub.SubscribeBatches(c, s.wh, Filter{Tenant: "acme"}, Start{Now: true}, o, func([]Event) error { return nil }); allsource.ErrorCode(err) == allsource.CodeRateLimited {
		t.Fatalf("after the first ended: %v", err)
	}
}

// TestCatchUpByEntityMatchesQuery: a subscription naming entities catches
// up from their streams (flushed and hot, several pages) with the events,
// in the order, the query over the events sends.
func TestCatchUpByEntityMatchesQuery(t *testing.T) {
	s := newStore(t)
	s.add(t, "acme", 700)
	s.add(t, "beta", 100)
	if err := s.wh.FlushAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.add(t, "acme", 300) // hot
	since := time.Date(2026, 3, 1, 0, 5, 0, 0, time.UTC)
	where, err := ParsePredicate("payload.n>=100")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		f     Filter
		start Start
	}{
		{Filter{Tenant: "acme", Entities: []string{"u1"}}, Start{}},
		{Filter{Tenant: "acme", Entities: []string{"u2", "u0", "u2", "nobody"}}, Start{AfterSeq: 250}},
		{Filter{Tenant: "acme", Entities: []string{"u0", "u1"}, Types: []string{"order.*"}}, Start{Since: since}},
		{Filter{Tenant: "acme", Entities: []string{"u1"}, Where: []Predicate{where}}, Start{AfterSeq: 40}},
		{Filter{Tenant: "acme", Entities: []string{"u1", "u2"}, Restrict: allsource.ReadRestriction{HiddenFields: []string{"payload.email"}, HiddenTypes: []string{"user.*"}}}, Start{}},
		{Filter{Tenant: "beta", Entities: []string{"u1"}}, Start{}},
	} {
		run := func(catchUp func(context.Context, *warehouse.Warehouse, *Filter, Start, uint64, func([]Event) error) error) string {
			f := tc.f
			if err := f.prepare(); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			err := catchUp(ctx, s.wh, &f, tc.start, 1050, func(evs []Event) error {
				for _, e := range evs {
					fmt.Fprintf(&b, "%d %s %s %s %s\n", e.Seq, e.Tenant, e.EntityID, e.EventType, e.Payload)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
		byEntity, byQuery := run(catchUpEntities), run(catchUpQuery)
		if byEntity != byQuery || byQuery == "" {
			t.Errorf("%+v %+v:\nby entity:\n%s\nby query:\n%s", tc.f, tc.start, byEntity, byQuery)
		}
	}
}

// TestLinger: with Linger, live sends are at least that far apart and
// carry what arrived meanwhile, every event once and in order; the first
// send after a quiet spell does not wait.
func TestLinger(t *testing.T) {
	s := newStore(t)
	const linger = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type send struct {
		at time.Time
		n  int
	}
	var (
		mu    sync.Mutex
		sends []send
		seqs  []uint64
	)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.hub.SubscribeBatches(ctx, s.wh, Filter{Tenant: "acme"}, Start{Now: true},
			SubOptions{Linger: linger, MaxBatch: 100_000, Ready: func() { close(ready) }}, func(b []Event) error {
				mu.Lock()
				defer mu.Unlock()
				sends = append(sends, send{time.Now(), len(b)})
				for _, e := range b {
					seqs = append(seqs, e.Seq)
				}
				return nil
			})
	}()
	<-ready
	// A quiet stream: one batch, sent at once.
	t0 := time.Now()
	s.add(t, "acme", 3)
	waitSends := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			got := len(seqs)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d events received, want %d", got, n)
			}
		}
	}
	waitSends(3)
	if d := time.Since(t0); d > linger {
		t.Errorf("a batch after a quiet spell took %v (linger %v)", d, linger)
	}
	time.Sleep(2 * linger)
	// A fast stream: 100 batches over about half a second.
	for i := 0; i < 100; i++ {
		s.add(t, "acme", 5)
		time.Sleep(5 * time.Millisecond)
	}
	waitSends(503)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, q := range seqs {
		if i > 0 && q <= seqs[i-1] {
			t.Fatalf("event %d: seq %d after %d", i, q, seqs[i-1])
		}
	}
	if len(seqs) != 503 {
		t.Fatalf("%d events, want 503", len(seqs))
	}
	fast := sends[1:]
	for i := 1; i < len(fast); i++ {
		// The timer may fire a little early by the clock read here.
		if gap := fast[i].at.Sub(fast[i-1].at); gap < linger-5*time.Millisecond {
			t.Errorf("send %d came %v after the one before (linger %v)", i, gap, linger)
		}
	}
	// 100 ingest batches over ~0.5 s come as about a dozen sends.
	if len(fast) > 30 {
		t.Errorf("%d sends for 100 batches", len(fast))
	}
}
