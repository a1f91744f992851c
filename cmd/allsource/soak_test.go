package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgTry logs in as key without failing the test (for attackers).
func (hs *hostileServer) pgTry(key string, mode pgx.QueryExecMode) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/allsource?sslmode=disable", key, hs.p.pg))
	if err != nil {
		return nil, err
	}
	cfg.Password = hs.keys[key]
	cfg.DefaultQueryExecMode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// try sends a request without failing the test (for attackers).
func (hs *hostileServer) try(key, method, path, body string) {
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + hs.keys[key]}
	apiRequest(method, hs.p.url+path, hdr, strings.NewReader(body))
}

// TestHostileSoak is the kill-everything soak: while tenant acme runs
// hostile queries (engine-bound scans whose clients vanish, escape
// attempts, huge values), holds live subscriptions and defines hostile
// JavaScript projections, tenant beta's point and aggregate queries keep
// answering, and the server process never restarts. It reports beta's
// latency before and during. Set ALLSOURCE_SOAK to a duration (make
// soak runs 5m); without it the test is skipped.
func TestHostileSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("ALLSOURCE_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set ALLSOURCE_SOAK=5m to run the hostile soak (make soak)")
	}
	hs := startHostileServer(t, t.TempDir())
	var lines []string
	for i := 0; i < 20000; i++ {
		lines = append(lines, fmt.Sprintf(`{"entity_id":"b%d","event_type":"t%d","payload":{"n":%d}}`, i%2000, i%7, i))
	}
	hs.must(t, "beta", "POST", "/v1/events", "["+strings.Join(lines, ",")+"]", 200)

	probe := func(stop <-chan struct{}, until time.Time) (lat []time.Duration, failed int) {
		c := hs.pg(t, "beta", pgx.QueryExecModeCacheStatement)
		for i := 0; time.Now().Before(until); i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			var err error
			if i%2 == 0 {
				var n int64
				err = c.QueryRow(ctx, "SELECT count(*) FROM events WHERE entity_id = $1", fmt.Sprintf("b%d", i%2000)).Scan(&n)
			} else {
				var rows pgx.Rows
				if rows, err = c.Query(ctx, "SELECT event_type, count(*) FROM events GROUP BY 1"); err == nil {
					for rows.Next() {
					}
					err = rows.Err()
					rows.Close()
				}
			}
			cancel()
			lat = append(lat, time.Since(start))
			if err != nil {
				failed++
				if c.IsClosed() {
					c = hs.pg(t, "beta", pgx.QueryExecModeCacheStatement)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return lat, failed
	}
	pct := func(lat []time.Duration, p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		s := slices.Clone(lat)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))]
	}
	base, baseFailed := probe(nil, time.Now().Add(15*time.Second))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var hostile atomic.Int64
	attack := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				f()
				hostile.Add(1)
			}
		}()
	}
	// Engine-bound scans over pgwire whose clients vanish mid-query.
	for i := 0; i < 4; i++ {
		attack(func() {
			c, err := hs.pgTry("acme", pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.Exec(ctx, "SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3")
			cancel()
			c.PgConn().Conn().Close()
		})
	}
	// The same over HTTP, abandoned.
	for i := 0; i < 2; i++ {
		attack(func() {
			cl := &http.Client{Timeout: 2 * time.Second}
			req, _ := http.NewRequest("POST", hs.p.url+"/v1/query", strings.NewReader(sqlBody("SELECT count(*) FROM range(1000000000000) t(x) WHERE x % 7 = 3")))
			req.Header.Set("Authorization", "Bearer "+hs.keys["acme"])
			req.Header.Set("Content-Type", "application/json")
			if resp, err := cl.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	// Escape attempts and huge values.
	refuse, _, _ := escapeCorpus(t, hs.dir)
	var k atomic.Int64
	attack(func() {
		q := refuse[int(k.Add(1))%len(refuse)]
		hs.try("acme", "POST", "/v1/query", sqlBody(q))
		hs.try("acme", "POST", "/v1/query", sqlBody("SELECT length(repeat('x', 3000000000))"))
	})
	// Idle connections that never log in.
	attack(func() {
		var cs []net.Conn
		for i := 0; i < 200; i++ {
			if c, err := net.Dial("tcp", hs.p.pg); err == nil {
				cs = append(cs, c)
			}
		}
		time.Sleep(3 * time.Second)
		for _, c := range cs {
			c.Close()
		}
	})
	// Live subscriptions that never read.
	attack(func() {
		var rs []*http.Response
		for i := 0; i < 50; i++ {
			req, _ := http.NewRequest("GET", hs.p.url+"/v1/subscribe?from=now", nil)
			req.Header.Set("Authorization", "Bearer "+hs.keys["acme"])
			req.Header.Set("Accept", "text/event-stream")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				rs = append(rs, resp)
			}
		}
		time.Sleep(5 * time.Second)
		for _, r := range rs {
			r.Body.Close()
		}
	})
	// Hostile JavaScript projections, fed by acme's events.
	var pn atomic.Int64
	attack(func() {
		n := pn.Add(1)
		for _, body := range []string{
			`fromAll().when({$any: function (s, e) { new ArrayBuffer(1e11); return s; }})`,
			`fromAll().when({$any: function (s, e) { /^(a+)+\\1b$/.test('a'.repeat(40) + 'c'); return s; }})`,
			`fromAll().when({$any: function (s, e) { while (true) {} }})`,
		} {
			def := fmt.Sprintf(`{"name": "hostile%d_%d", "js": %q}`, n, len(body), body)
			hs.try("acme-admin", "POST", "/v1/projections", def)
		}
		hs.try("acme", "POST", "/v1/events", `{"entity_id":"a1","event_type":"poke"}`)
		time.Sleep(2 * time.Second)
	})

	during, duringFailed := probe(nil, time.Now().Add(d))
	close(stop)
	wg.Wait()
	select {
	case <-hs.p.done:
		t.Fatalf("the server exited during the soak: %v\n%s", hs.p.err, tail(hs.p.logs.String(), 40))
	default:
	}
	if _, err := http.Get(hs.p.url + "/readyz"); err != nil {
		t.Fatalf("server not ready after the soak: %v", err)
	}
	t.Logf("beta before: %d queries, p50 %v, p99 %v, %d failed", len(base), pct(base, 0.5), pct(base, 0.99), baseFailed)
	t.Logf("beta during %v of attack (%d hostile rounds): %d queries, p50 %v, p99 %v, %d failed", d, hostile.Load(), len(during), pct(during, 0.5), pct(during, 0.99), duringFailed)
	if duringFailed > len(during)/100 {
		t.Errorf("beta's queries failed %d of %d times during the attack", duringFailed, len(during))
	}
}
