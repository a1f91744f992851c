//go:build bench

package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/projections"
)

// benchProjections are the projections the lag benchmark runs: SQL ones
// of each maintained aggregate and two code projections.
var benchProjections = []projections.Spec{
	{Name: "by_type", SQL: `SELECT event_type, count(*) AS n FROM events GROUP BY event_type`},
	{Name: "revenue_by_region", SQL: `SELECT payload->>'region' AS region, sum((payload->>'amount')::BIGINT) AS revenue, avg((payload->>'amount')::DOUBLE) AS mean FROM events WHERE event_type = 'order.placed' GROUP BY 1`},
	{Name: "users_by_type", SQL: `SELECT event_type, count(DISTINCT entity_id) AS users FROM events GROUP BY event_type`},
	{Name: "order_range", SQL: `SELECT payload->>'region' AS region, min((payload->>'amount')::BIGINT) AS smallest, max((payload->>'amount')::BIGINT) AS largest FROM events WHERE event_type LIKE 'order.%' GROUP BY 1`},
	{Name: "first_last", SQL: `SELECT payload->>'region' AS region, first(entity_id) AS first_user, last(entity_id) AS last_user FROM events GROUP BY 1`},
	{Name: "per_user", SQL: `SELECT entity_id, count(*) AS events, sum((payload->>'amount')::BIGINT) AS spent, max("timestamp") AS last_seen FROM events GROUP BY entity_id`},
	{Name: "big_orders", SQL: `SELECT payload->>'region' AS region, count(*) FILTER (WHERE (payload->>'amount')::BIGINT > 900) AS big, count(*) AS orders FROM events WHERE event_type = 'order.placed' GROUP BY 1`},
	{Name: "hourly", SQL: `SELECT date_trunc('hour', "timestamp") AS hour, count(*) AS n FROM events GROUP BY 1`},
	{Name: "carts", JS: `fromAll().foreachStream().when({ $init: () => ({ items: 0, total: 0 }),
		'cart.added': (s, e) => { s.items++; s.total += e.data.amount },
		'order.placed': (s) => { s.items = 0; s.total = 0; s.orders = (s.orders || 0) + 1 } })`},
	{Name: "region_totals", JS: `fromAll().partitionBy(e => e.data.region).when({ $any: (s, e) => { s.n = (s.n || 0) + 1; s.amount = (s.amount || 0) + (e.data.amount || 0) } })`},
}

// runBenchProjections measures projection lag: a store in this process
// takes a paced ingest while the projections run, and the time from each
// batch's acknowledgement until each projection has applied it is
// recorded. The baseline is answering the same questions with SQL over
// events instead of reading the projections.
func (m *Main) runBenchProjections(ctx context.Context, args []string) error {
	fs := newFlags("bench projections", "Usage: allsource bench projections [flags]\n\nMeasures projection lag under a paced ingest (acknowledgement until each\nprojection has applied the batch) against answering the same questions\nwith SQL over events.")
	rate := fs.Int("rate", 50_000, "events per second to ingest")
	seconds := fs.Int("seconds", 20, "how long to ingest")
	batch := fs.Int("batch", 500, "events per ingest batch")
	count := fs.Int("projections", len(benchProjections), "how many of the projections to run (at most 10)")
	every := fs.Duration("apply-every", 40*time.Millisecond, "the server's --projection-apply-every")
	only := fs.String("only", "", "comma-separated names of the projections to run instead (by_type, …, carts, region_totals)")
	bf := addBenchFlags(fs)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if *rate < 1 || *seconds < 1 || *batch < 1 || *count < 1 || *count > len(benchProjections) {
		return fmt.Errorf("--rate, --seconds and --batch must be positive; --projections 1..%d", len(benchProjections))
	}
	st, _, _, done, err := bf.open(ctx, "projections", "--projection-apply-every", every.String())
	if err != nil {
		return err
	}
	defer done()
	specs := benchProjections[:*count]
	if *only != "" {
		specs = nil
		for _, name := range strings.Split(*only, ",") {
			i := slices.IndexFunc(benchProjections, func(s projections.Spec) bool { return s.Name == name })
			if i < 0 {
				return fmt.Errorf("--only: no projection %q", name)
			}
			specs = append(specs, benchProjections[i])
		}
	}
	for _, s := range specs {
		if _, err := st.proj.Create(ctx, allsource.DefaultTenant, s, false); err != nil {
			return fmt.Errorf("projection %s: %w", s.Name, err)
		}
	}
	fmt.Fprintf(m.Stdout, "projection lag: %d events/s in batches of %d for %d s, %d projections, applied at most every %s, %d cores\n",
		*rate, *batch, *seconds, len(specs), *every, runtime.NumCPU())

	var (
		mu       sync.Mutex
		lags     = map[string][]time.Duration{}
		all      []time.Duration
		acks     []time.Duration
		failures int
		waiters  sync.WaitGroup
		inflight sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) * float64(*batch) / float64(*rate))
	start := time.Now()
	end := start.Add(time.Duration(*seconds) * time.Second)
	tick := time.NewTicker(interval)
	n := 0
	sent := 0
	for now := range tick.C {
		if now.After(end) {
			break
		}
		inputs := benchInputs(n, *batch)
		n++
		sent += len(inputs)
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			t0 := time.Now()
			res, err := st.ingest.Append(ctx, allsource.DefaultTenant, inputs)
			acked := time.Now()
			mu.Lock()
			if err != nil {
				failures++
				mu.Unlock()
				return
			}
			acks = append(acks, acked.Sub(t0))
			mu.Unlock()
			for _, s := range specs {
				waiters.Add(1)
				go func() {
					defer waiters.Done()
					wctx, cancel := context.WithTimeout(ctx, time.Minute)
					defer cancel()
					if err := st.proj.Wait(wctx, allsource.DefaultTenant, s.Name, res.LastSeq); err != nil {
						mu.Lock()
						failures++
						mu.Unlock()
						return
					}
					d := time.Since(acked)
					mu.Lock()
					lags[s.Name] = append(lags[s.Name], d)
					all = append(all, d)
					mu.Unlock()
				}()
			}
		}()
	}
	tick.Stop()
	inflight.Wait()
	elapsed := time.Since(start)
	waiters.Wait()
	fmt.Fprintf(m.Stdout, "ingested %d events in %.1f s (%.0f events/s); ack p50 %s p99 %s; %d failures\n",
		sent, elapsed.Seconds(), float64(sent)/elapsed.Seconds(), pct(acks, 50), pct(acks, 99), failures)
	w := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "projection\tlag p50\tlag p99\tlag max\tread (ms)\tSQL over events (ms)\tratio\t")
	for _, s := range specs {
		read, direct, err := readVersusSQL(ctx, st, s)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2f\t%.1f\t%.0f×\t\n", s.Name, pct(lags[s.Name], 50), pct(lags[s.Name], 99), pct(lags[s.Name], 100),
			ms(read), ms(direct), float64(direct)/float64(max(read, 1)))
	}
	fmt.Fprintf(w, "all\t%s\t%s\t%s\t\t\t\t\n", pct(all, 50), pct(all, 99), pct(all, 100))
	return w.Flush()
}

// benchInputs is batch i of the paced ingest: carts, orders and page views
// of 20,000 users in four regions.
func benchInputs(i, n int) []ingest.Input {
	out := make([]ingest.Input, n)
	for j := range out {
		k := i*n + j
		typ := []string{"cart.added", "cart.added", "order.placed", "page.viewed"}[k%4]
		out[j] = ingest.Input{EntityID: fmt.Sprintf("user-%d", (k*7919)%20000), EventType: typ, ExpectedVersion: -1,
			Payload: fmt.Appendf(nil, `{"amount": %d, "region": %q, "sku": "sku-%d"}`, (k*31)%1000, []string{"eu", "us", "apac", "latam"}[k%4], k%500)}
	}
	return out
}

// readVersusSQL times reading a projection and answering its question
// with SQL over events (the median of five runs each).
func readVersusSQL(ctx context.Context, st *store, s projections.Spec) (read, direct time.Duration, err error) {
	run := func(q string) (time.Duration, error) {
		var ds []time.Duration
		for range 5 {
			t0 := time.Now()
			rows, err := st.wh.QueryInternal(allsource.WithTenantScope(ctx, allsource.DefaultTenant), q)
			if err != nil {
				return 0, err
			}
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return 0, err
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		return ds[len(ds)/2], nil
	}
	if read, err = run("SELECT * FROM projections." + s.Name); err != nil {
		return
	}
	q := s.SQL
	if q == "" { // a code projection: the nearest SQL question
		q = `SELECT entity_id, count(*), sum((payload->>'amount')::BIGINT) FROM events GROUP BY entity_id`
	}
	direct, err = run(q)
	return
}

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return s[i].Round(100 * time.Microsecond).String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
