package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/internal/source"
)

// sink takes NDJSON batches of input-format events.
type sink interface {
	// send stores one batch atomically; it returns how many were stored and
	// how many were duplicates. A rejected batch returns an *allsource.Error
	// whose Line is the 1-based line within the batch.
	send(ctx context.Context, body []byte, n int) (stored, dups int, err error)
	close(ctx context.Context) error
}

// httpSink posts batches to a running server.
type httpSink struct {
	url    string
	client *http.Client
}

func newHTTPSink(server string) *httpSink {
	return &httpSink{url: strings.TrimRight(server, "/") + "/v1/events", client: &http.Client{Timeout: 10 * time.Minute}}
}

func (h *httpSink) send(ctx context.Context, body []byte, n int) (int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	setClientAuth(req)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("is the server running? %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		var eb allsource.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
			return 0, 0, &allsource.Error{Code: eb.Error.Code, Message: eb.Error.Message, Line: eb.Error.Line, Field: eb.Error.Field, Index: -1}
		}
		return 0, 0, fmt.Errorf("server: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var res ingest.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return 0, 0, fmt.Errorf("server reply: %w", err)
	}
	return res.Count, len(res.Duplicates), nil
}

func (h *httpSink) close(context.Context) error { return nil }

// storeSink appends straight into an open data directory.
type storeSink struct {
	st     *store
	limits ingest.Limits
}

func (s *storeSink) send(ctx context.Context, body []byte, n int) (int, int, error) {
	inputs, err := ingest.ParseBatch(body, ingest.FormatNDJSON, s.limits)
	if err != nil {
		return 0, 0, err
	}
	res, err := s.st.ingest.Append(ctx, "", inputs)
	if err != nil {
		return 0, 0, err
	}
	return res.Count, len(res.Duplicates), nil
}

func (s *storeSink) close(ctx context.Context) error { return s.st.Close(ctx) }

// openSink picks where import and demo load: a server at serverURL, or,
// when a data dir was asked for and no server, that data dir directly.
func openSink(ctx context.Context, fs *flag.FlagSet, cfg *Config, serverURL string) (sink, error) {
	dataDir := false
	fs.Visit(func(f *flag.Flag) { dataDir = dataDir || f.Name == "data-dir" })
	if os.Getenv("ALLSOURCE_DATA_DIR") != "" {
		dataDir = true
	}
	if serverURL != "" || !dataDir {
		if serverURL == "" {
			serverURL = "http://127.0.0.1:8080"
		}
		return newHTTPSink(serverURL), nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, cfg.logger(os.Stderr), nil)
	if err != nil {
		return nil, err
	}
	return &storeSink{st: st, limits: ingest.Limits{MaxPayloadBytes: cfg.MaxPayloadBytes, MaxBatchEvents: cfg.MaxBatchEvents}}, nil
}

// loader reads records and sends them in batches, one batch in flight, so
// events keep their file order (versions follow it). Reading and encoding
// the next batch overlaps the sending of the current one.
type loader struct {
	sink     sink
	batch    int
	skipBad  bool
	progress *progress

	stored, dups, skipped atomic.Int64
}

// pendingBatch is one NDJSON body and the file line of each record in it.
// Every batch has its own body: a store sink keeps slices of it.
type pendingBatch struct {
	body  []byte
	lines []int
}

// loadReader sends every record of r. name is used in error messages.
func (l *loader) loadReader(ctx context.Context, r source.Reader, name string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan pendingBatch, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- l.readBatches(ctx, r, batches)
	}()
	for b := range batches {
		if err := l.send(ctx, b, name); err != nil {
			// The reader sees the cancelled context at its next record; it
			// may be blocked reading a pipe, so do not wait for it.
			return err
		}
	}
	return <-readErr
}

func (l *loader) readBatches(ctx context.Context, r source.Reader, out chan<- pendingBatch) error {
	b := pendingBatch{}
	emit := func() bool {
		if len(b.lines) == 0 {
			return true
		}
		select {
		case out <- b:
			b = pendingBatch{body: make([]byte, 0, len(b.body)+len(b.body)/8)}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Next()
		if err == io.EOF {
			if !emit() {
				return ctx.Err()
			}
			return nil
		}
		if err != nil {
			var re *source.RecordError
			if l.skipBad && errors.As(err, &re) {
				l.skipped.Add(1)
				l.progress.note(err.Error())
				continue
			}
			return err
		}
		b.body = append(b.body, rec.Event...)
		b.body = append(b.body, '\n')
		b.lines = append(b.lines, rec.Line)
		if len(b.lines) >= l.batch && !emit() {
			return ctx.Err()
		}
	}
}

func (l *loader) send(ctx context.Context, b pendingBatch, name string) error {
	stored, dups, err := l.sink.send(ctx, b.body, len(b.lines))
	if err != nil {
		var ae *allsource.Error
		if errors.As(err, &ae) && ae.Line > 0 && ae.Line <= len(b.lines) {
			msg := ae.Message
			if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "line ") {
				msg = msg[i+2:]
			}
			return fmt.Errorf("%s:%d: %s (nothing from this batch of %d was stored; %d events before it were)", name, b.lines[ae.Line-1], msg, len(b.lines), l.stored.Load())
		}
		return fmt.Errorf("%s: batch ending at line %d: %w (%d events before it were stored)", name, b.lines[len(b.lines)-1], err, l.stored.Load())
	}
	l.stored.Add(int64(stored))
	l.dups.Add(int64(dups))
	l.progress.add(int64(stored + dups))
	return nil
}

// countingReader counts bytes read, for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progress prints a live progress line to stderr: on a terminal it redraws
// in place every 200ms, elsewhere it prints a line every 5s.
type progress struct {
	w      io.Writer
	tty    bool
	start  time.Time
	events atomic.Int64
	read   atomic.Int64
	total  int64
	stop   chan struct{}
	done   chan struct{}
	notes  atomic.Int64
}

func newProgress(w *os.File, totalBytes int64) *progress {
	p := &progress{w: w, start: time.Now(), total: totalBytes, stop: make(chan struct{}), done: make(chan struct{})}
	if st, err := w.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		p.tty = true
	}
	go p.run()
	return p
}

func (p *progress) add(n int64) { p.events.Add(n) }

func (p *progress) note(msg string) {
	if p.notes.Add(1) <= 20 {
		fmt.Fprintf(p.w, "\rskipped: %s\n", msg)
	}
}

func (p *progress) run() {
	defer close(p.done)
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.print(false)
		}
	}
}

func (p *progress) print(final bool) {
	n := p.events.Load()
	secs := time.Since(p.start).Seconds()
	rate := float64(n) / max(secs, 1e-9)
	line := fmt.Sprintf("%s events  %s/s  %.1fs", humanCount(float64(n)), humanCount(rate), secs)
	if p.total > 0 {
		pct := 100 * float64(p.read.Load()) / float64(p.total)
		line += fmt.Sprintf("  %3.0f%% %s", min(pct, 100), bar(pct, 24))
	}
	switch {
	case p.tty && !final:
		fmt.Fprintf(p.w, "\r%s   ", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%s   \n", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) finish() {
	close(p.stop)
	<-p.done
	p.print(true)
}

func bar(pct float64, width int) string {
	full := int(pct / 100 * float64(width))
	full = max(0, min(full, width))
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
}

func humanCount(f float64) string {
	switch {
	case f >= 1e9:
		return fmt.Sprintf("%.2fG", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.2fM", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.1fK", f/1e3)
	default:
		return fmt.Sprintf("%.0f", f)
	}
}
