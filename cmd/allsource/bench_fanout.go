//go:build bench

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/allsource/allsource"
)

// runBenchFanout measures live subscription fan-out: WebSocket subscribers
// on a server in this process, each receiving every event of a paced
// ingest; the delivery latency is the time from an event's ingestion (its
// ingested_at, taken before the WAL sync, so it includes the
// acknowledgement) to its arrival at a subscriber.
func (m *Main) runBenchFanout(ctx context.Context, args []string) error {
	fs := newFlags("bench fanout", "Usage: allsource bench fanout [flags]\n\nMeasures live-subscription delivery: WebSocket subscribers each receiving\nevery event of a paced ingest, and the latency from acknowledgement to\narrival.")
	subs := fs.Int("subscribers", 1000, "WebSocket subscribers, each receiving every event")
	rate := fs.Int("rate", 10_000, "events per second to ingest")
	seconds := fs.Int("seconds", 10, "how long to ingest")
	batch := fs.Int("batch", 100, "events per ingest batch")
	arrays := fs.Bool("batched", false, "subscribe with batch=true: a JSON array of the events ready per message")
	bf := addBenchFlags(fs)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if *subs < 1 || *rate < 1 || *seconds < 1 || *batch < 1 {
		return fmt.Errorf("--subscribers, --rate, --seconds and --batch must be positive")
	}
	st, cfg, _, done, err := bf.open(ctx, "fanout")
	if err != nil {
		return err
	}
	defer done()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mt := st.metrics
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	au, err := setupAuth(cfg, log)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newRouter(cfg, st, mt, log, au)}
	go srv.Serve(ln)
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/v1/subscribe?from=now"
	if *arrays {
		url += "&batch=true"
	}

	mode := "one event per message"
	if *arrays {
		mode = "batch=true (arrays of the events ready)"
	}
	fmt.Fprintf(m.Stdout, "subscription fan-out: %d WebSocket subscribers, %s, %d events/s in batches of %d for %d s, %d cores\n",
		*subs, mode, *rate, *batch, *seconds, runtime.NumCPU())
	var (
		mu        sync.Mutex
		lat       []time.Duration
		received  atomic.Int64
		ended     atomic.Int64
		endReason atomic.Value
		wg        sync.WaitGroup
	)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *subs}}
	for i := 0; i < *subs; i++ {
		c, _, err := websocket.Dial(sctx, url, &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		c.SetReadLimit(1 << 20)
		wg.Add(1)
		go func(sample bool) {
			defer wg.Done()
			defer c.CloseNow()
			var local []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
			var buf bytes.Buffer
			for {
				_, r, err := c.Reader(sctx)
				if err == nil {
					buf.Reset()
					_, err = buf.ReadFrom(r)
				}
				b := buf.Bytes()
				if err != nil {
					var ce websocket.CloseError
					if errors.As(err, &ce) && ce.Code != websocket.StatusNormalClosure {
						ended.Add(1)
						endReason.Store(ce.Reason)
					}
					return
				}
				now := time.Now()
				if *arrays {
					received.Add(int64(bytes.Count(b, []byte(`"seq":`))))
				} else {
					received.Add(1)
				}
				if sample { // a message's first (oldest) event
					if t, ok := ingestedAt(b); ok {
						local = append(local, now.Sub(t))
					}
				}
			}
		}(i%10 == 0) // every tenth subscriber times each event
	}

	interval := time.Duration(float64(time.Second) * float64(*batch) / float64(*rate))
	start := time.Now()
	end := start.Add(time.Duration(*seconds) * time.Second)
	tick := time.NewTicker(interval)
	sent := 0
	var inflight sync.WaitGroup
	for now := range tick.C {
		if now.After(end) {
			break
		}
		inputs := benchInputs(sent / *batch, *batch)
		sent += len(inputs)
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			st.ingest.Append(ctx, allsource.DefaultTenant, inputs)
		}()
	}
	tick.Stop()
	inflight.Wait()
	want := int64(sent) * int64(*subs)
	for deadline := time.Now().Add(30 * time.Second); received.Load()+ended.Load()*int64(sent) < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	got := received.Load()
	fmt.Fprintf(m.Stdout, "delivered %d of %d (%.1f%%) in %.1f s: %.0f deliveries/s; %d subscribers ended by the server",
		got, want, 100*float64(got)/float64(want), elapsed.Seconds(), float64(got)/elapsed.Seconds(), ended.Load())
	if r, ok := endReason.Load().(string); ok {
		fmt.Fprintf(m.Stdout, " (%s)", r)
	}
	fmt.Fprintf(m.Stdout, "\ndelivery latency p50 %s p99 %s max %s (%d samples)\n", pct(lat, 50), pct(lat, 99), pct(lat, 100), len(lat))
	return nil
}

// ingestedAt finds an event message's ingested_at without decoding it.
func ingestedAt(b []byte) (time.Time, bool) {
	const key = `"ingested_at":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return t, err == nil
}
