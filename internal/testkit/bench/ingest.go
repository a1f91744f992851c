package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config and Options.
const (
	// DefaultBatch is the number of events per request.
	DefaultBatch = 100
	// DefaultClients is the number of concurrent HTTP clients (and
	// PostgreSQL connections in Run).
	DefaultClients = 8
	// DefaultEvents is the number of events sent.
	DefaultEvents = 1_000_000
	// DefaultSeed seeds the event generator.
	DefaultSeed = 1
)

// Config drives IngestHTTP.
type Config struct {
	// URL is the server's base URL (e.g. "http://127.0.0.1:8080") or the full
	// URL of its POST /v1/events endpoint.
	URL string
	// Batch is the number of events per request; default DefaultBatch.
	Batch int
	// Clients is the number of concurrent HTTP clients, each with its own
	// keep-alive connection; default DefaultClients.
	Clients int
	// Events is the number of events to send. When Data is set, 0 means all
	// of Data and a larger value is an error; otherwise default DefaultEvents.
	Events int
	// Seed seeds GenEvents when Data is nil.
	Seed int64
	// Data optionally supplies the events (one JSON object each, as from
	// GenEvents); nil means GenEvents(Events, Seed).
	Data [][]byte
	// RequestTimeout bounds one request; default 2 minutes.
	RequestTimeout time.Duration
	// Token, when set, is sent as Authorization: Bearer (an API key or a
	// token) with every request.
	Token string
}

// bearerTransport adds a credential to every request.
type bearerTransport struct {
	base  http.RoundTripper
	token string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// ingestResponse is the 200 answer of POST /v1/events.
type ingestResponse struct {
	Count      int               `json:"count"`
	FirstSeq   uint64            `json:"first_seq"`
	LastSeq    uint64            `json:"last_seq"`
	Duplicates []json.RawMessage `json:"duplicates"`
}

// errorResponse is the error answer of the API.
type errorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// endpointURL returns the URL of the endpoint path on the server at base,
// which may already be that URL.
func endpointURL(base, path string) string {
	base = strings.TrimRight(base, "/")
	if strings.HasSuffix(base, path) {
		return base
	}
	return base + path
}

// newHTTPClient returns a client whose transport keeps one idle keep-alive
// connection per concurrent client, ignores proxy settings (the target is
// loopback) and does not negotiate compression.
func newHTTPClient(clients int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// IngestHTTP sends events to a running server: the events are first encoded
// into NDJSON bodies of cfg.Batch events (not timed), then cfg.Clients
// goroutines POST them concurrently over keep-alive connections as
// application/x-ndjson until all are acknowledged. It fails on the first
// response that is not 200, or whose count differs from the number of events
// sent in that request, or if the counts do not sum to the events sent.
func IngestHTTP(ctx context.Context, cfg Config) (Result, error) {
	if cfg.URL == "" {
		return Result{}, errors.New("bench: IngestHTTP needs a server URL")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Clients <= 0 {
		cfg.Clients = DefaultClients
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Minute
	}
	data := cfg.Data
	switch {
	case data == nil:
		if cfg.Events <= 0 {
			cfg.Events = DefaultEvents
		}
		data = GenEvents(cfg.Events, cfg.Seed)
	case cfg.Events == 0:
		cfg.Events = len(data)
	case cfg.Events > len(data):
		return Result{}, fmt.Errorf("bench: %d events requested but only %d supplied", cfg.Events, len(data))
	default:
		data = data[:cfg.Events]
	}
	if len(data) == 0 {
		return Result{}, errors.New("bench: no events to send")
	}

	bodies := NDJSONBodies(data, cfg.Batch)
	sizes := make([]int, len(bodies))
	var totalBytes int64
	for i := range bodies {
		sizes[i] = min(cfg.Batch, len(data)-i*cfg.Batch)
		totalBytes += int64(len(bodies[i]))
	}
	url := endpointURL(cfg.URL, "/v1/events")
	client := newHTTPClient(cfg.Clients, cfg.RequestTimeout)
	defer client.CloseIdleConnections()
	if cfg.Token != "" {
		client.Transport = bearerTransport{base: client.Transport, token: cfg.Token}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		acked    atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	clients := min(cfg.Clients, len(bodies))
	lats := make([][]time.Duration, clients)

	cpu0 := processCPU()
	start := time.Now()
	for c := range clients {
		lats[c] = make([]time.Duration, 0, len(bodies)/clients+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				n, err := postBatch(ctx, client, url, bodies[i])
				lat := time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("bench: request %d (%d events): %w", i, sizes[i], err))
					return
				}
				if n != sizes[i] {
					fail(fmt.Errorf("bench: request %d sent %d events but the server acknowledged %d", i, sizes[i], n))
					return
				}
				acked.Add(int64(n))
				lats[c] = append(lats[c], lat)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0

	if firstErr != nil {
		return Result{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("bench: ingest interrupted: %w", err)
	}
	if got := acked.Load(); got != int64(len(data)) {
		return Result{}, fmt.Errorf("bench: server acknowledged %d events, want %d", got, len(data))
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	r := Result{
		Name:      "allsource",
		Events:    len(data),
		Batch:     cfg.Batch,
		Clients:   clients,
		Requests:  len(bodies),
		Bytes:     totalBytes,
		Elapsed:   elapsed,
		ClientCPU: cpu,
	}
	r.finish(all)
	return r, nil
}

// postBatch POSTs one NDJSON body and returns the acknowledged count.
func postBatch(ctx context.Context, client *http.Client, url string, body []byte) (int, error) {
	var ack ingestResponse
	if err := postJSON(ctx, client, url, "application/x-ndjson", body, &ack); err != nil {
		return 0, err
	}
	if len(ack.Duplicates) > 0 {
		// Generated events carry no ids, so duplicates mean the server and
		// the benchmark disagree about what was sent.
		return ack.Count, fmt.Errorf("server reported %d duplicates (count %d)", len(ack.Duplicates), ack.Count)
	}
	return ack.Count, nil
}

// statusError describes a non-200 answer, using the API's error JSON when
// the body is one.
func statusError(status int, body []byte) error {
	var e errorResponse
	if json.Unmarshal(body, &e) == nil && (e.Error.Code != "" || e.Error.Message != "") {
		return fmt.Errorf("HTTP %d: %s: %s", status, e.Error.Code, e.Error.Message)
	}
	return fmt.Errorf("HTTP %d: %s", status, truncate(body, 300))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// postJSON POSTs body and decodes a 200 answer into out; any other status
// is an error carrying the server's message.
func postJSON(ctx context.Context, client *http.Client, url, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding response %q: %w", truncate(b, 200), err)
	}
	return nil
}
