package bench

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// BatchRow is the ingest comparison for one batch size.
type BatchRow struct {
	// Batch is the number of events per request and per COPY chunk.
	Batch int
	// AllSource is IngestHTTP's result.
	AllSource Result
	// Postgres is PostgresCopy's result on the same events with the same
	// batch size and client count; nil when PostgreSQL was skipped.
	Postgres *Result
}

// Report holds a whole suite's figures and prints them as tables.
type Report struct {
	// CPUs is runtime.NumCPU() of the machine that ran the suite (server,
	// load generator and peers share it).
	CPUs int
	// Clients is the number of concurrent HTTP clients and PostgreSQL
	// connections.
	Clients int
	// Seed is the generator seed.
	Seed int64
	// Rows has one entry per batch size, in the order run.
	Rows []BatchRow
	// Appender is the DuckDB Appender bulk load of all events; nil when
	// skipped.
	Appender *Result
	// Queries are the query comparisons; empty when skipped.
	Queries []QueryResult
	// EventQL compares EventQL with hand-written SQL through the server.
	EventQL []EventQLResult
	// Skipped lists peers or parts not measured, each with the reason.
	Skipped []string
	// Notes are extra lines printed at the end.
	Notes []string
}

// NewReport returns an empty report for this machine.
func NewReport(clients int, seed int64) *Report {
	return &Report{CPUs: runtime.NumCPU(), Clients: clients, Seed: seed}
}

// Print writes the report as readable tables to w.
func (r *Report) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "AllSource ingest benchmark: %d CPU cores (runtime.NumCPU), shared by server, load generator and peers; %d clients; seed %d\n\n",
		r.CPUs, r.Clients, r.Seed)

	if len(r.Rows) > 0 {
		b.WriteString("Ingest (events/s; p50/p99 = acknowledgement latency per request or COPY chunk)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "batch\tevents\tAllSource ev/s\tp50\tp99\tmax\tclient CPU\tPG COPY ev/s\tPG p50\tPG p99\tAppender ev/s\tAS÷PG\tAS÷Appender\t")
		for _, row := range r.Rows {
			a := row.AllSource
			pg, pg50, pg99, asPG := "skipped", "-", "-", "-"
			if row.Postgres != nil {
				p := row.Postgres
				pg, pg50, pg99 = fmtRate(p.EventsPerSec), fmtDur(p.P50), fmtDur(p.P99)
				asPG = fmtRatio(a.EventsPerSec, p.EventsPerSec)
			}
			app, asApp := "skipped", "-"
			if r.Appender != nil {
				app = fmtRate(r.Appender.EventsPerSec)
				asApp = fmtRatio(a.EventsPerSec, r.Appender.EventsPerSec)
			}
			cpu := "-"
			if a.ClientCPU > 0 && a.Elapsed > 0 {
				cpu = fmt.Sprintf("%.0f%%", 100*a.ClientCPU.Seconds()/a.Elapsed.Seconds())
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
				row.Batch, fmtCount(a.Events), fmtRate(a.EventsPerSec), fmtDur(a.P50), fmtDur(a.P99), fmtDur(a.Max), cpu,
				pg, pg50, pg99, app, asPG, asApp)
		}
		tw.Flush()
		b.WriteString("  AS÷PG and AS÷Appender are AllSource events/s divided by the peer's; above 1x AllSource is faster.\n")
		b.WriteString("  client CPU is the load generator's CPU use as a share of one core.\n")
		if r.Appender != nil {
			fmt.Fprintf(&b, "  Appender: one bulk load of %s events into a DuckDB file ending with CHECKPOINT, %s (%s; the same figure on every row).\n",
				fmtCount(r.Appender.Events), fmtDur(r.Appender.Elapsed), r.Appender.Note)
		}
		for _, row := range r.Rows {
			if row.Postgres != nil {
				fmt.Fprintf(&b, "  PG COPY: pgx CopyFrom, one transaction per batch, %d connections, %s.\n", row.Postgres.Clients, row.Postgres.Note)
				break
			}
		}
		b.WriteString("\n")
	} else if r.Appender != nil {
		fmt.Fprintf(&b, "DuckDB Appender: %s events/s (%s events in %s, %s)\n\n",
			fmtRate(r.Appender.EventsPerSec), fmtCount(r.Appender.Events), fmtDur(r.Appender.Elapsed), r.Appender.Note)
	}

	if len(r.Queries) > 0 {
		b.WriteString("Queries (median wall time; server = POST /v1/query, direct = embedded DuckDB on the same Parquet files)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "query\truns\tserver\tdirect\tserver÷direct\trows server\trows direct\t")
		for i, q := range r.Queries {
			mark := ""
			if q.ServerRows != q.DirectRows {
				mark = " MISMATCH"
			}
			fmt.Fprintf(tw, "Q%d\t%d\t%s\t%s\t%s\t%d\t%d%s\t\n", i+1, q.Runs, fmtDur(q.Server), fmtDur(q.Direct),
				fmtRatio(float64(q.Server), float64(q.Direct)), q.ServerRows, q.DirectRows, mark)
		}
		tw.Flush()
		for i, q := range r.Queries {
			fmt.Fprintf(&b, "  Q%d: %s\n", i+1, q.SQL)
		}
		b.WriteString("\n")
	}

	if len(r.EventQL) > 0 {
		b.WriteString("EventQL against hand-written SQL (median wall time of POST /v1/query with {\"eventql\"} and with {\"sql\"}, same answer format)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "question\truns\tEventQL\tSQL\tEventQL÷SQL\trows EventQL\trows SQL\t")
		for _, q := range r.EventQL {
			mark := ""
			if q.EventQLRows != q.SQLRows {
				mark = " MISMATCH"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d%s\t\n", q.Name, q.Runs, fmtDur(q.EventQL), fmtDur(q.SQL),
				fmtRatio(float64(q.EventQL), float64(q.SQL)), q.EventQLRows, q.SQLRows, mark)
		}
		tw.Flush()
		b.WriteString("\n")
	}

	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "SKIPPED: %s\n", s)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtRate formats events/s with thousands separators.
func fmtRate(v float64) string {
	return fmtCount(int(v + 0.5))
}

// fmtCount formats n with thousands separators.
func fmtCount(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// fmtRatio formats a/b as "1.23x".
func fmtRatio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	r := a / b
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0fx", r)
	case r >= 10:
		return fmt.Sprintf("%.1fx", r)
	case r < 0.01:
		return fmt.Sprintf("%.2gx", r)
	default:
		return fmt.Sprintf("%.2fx", r)
	}
}

// fmtDur formats d with three significant digits in a fitting unit.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return trimFloat(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return trimFloat(d.Seconds()) + "s"
	}
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// Print writes the pgwire comparison as readable tables to w.
func (r *PGWireReport) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "AllSource pgwire benchmark: %d CPU cores (runtime.NumCPU), shared by AllSource, PostgreSQL and the client; %s events; seed %d\n\n",
		r.CPUs, fmtCount(r.Events), r.Seed)

	b.WriteString("Servers (same generated events on both)\n")
	for _, s := range []*PGWireSide{&r.AllSource, &r.Postgres} {
		rows := "row count failed"
		if s.Rows >= 0 {
			rows = fmtCount(int(s.Rows)) + " rows"
		}
		how := "COPY"
		if s == &r.AllSource {
			how = "HTTP"
		}
		version := s.Version
		if version == "" {
			version = "?"
		}
		fmt.Fprintf(&b, "  %s (server_version %s): %s; loaded over %s in %s (%s events/s, batch %s, %d clients)\n",
			s.Name, version, rows, how, fmtDur(s.Load.Elapsed), fmtRate(s.Load.EventsPerSec), fmtCount(s.Load.Batch), s.Load.Clients)
		fmt.Fprintf(&b, "    state when measured: %s\n", s.State)
	}
	b.WriteString("\n")

	a, p := r.AllSource.Point, r.Postgres.Point
	if a != nil || p != nil {
		q := a
		if q == nil {
			q = p
		}
		fmt.Fprintf(&b, "Point query (prepared statement over the extended protocol, one connection; %s timed runs after %d warm-up, cycling over %d real entity ids)\n",
			fmtCount(q.Queries), min(PointWarmup, q.Queries), q.Entities)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "latency\tAllSource\tPostgreSQL\tPG÷AS\t")
		row := func(name string, f func(*PointResult) time.Duration) {
			av, pv, ratio := "FAILED", "FAILED", "-"
			if a != nil {
				av = fmtDur(f(a))
			}
			if p != nil {
				pv = fmtDur(f(p))
			}
			if a != nil && p != nil {
				ratio = fmtRatio(float64(f(p)), float64(f(a)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, av, pv, ratio)
		}
		row("p50", func(x *PointResult) time.Duration { return x.P50 })
		row("p99", func(x *PointResult) time.Duration { return x.P99 })
		row("mean", func(x *PointResult) time.Duration { return x.Mean })
		row("max", func(x *PointResult) time.Duration { return x.Max })
		rowsPer := func(x *PointResult) string {
			if x == nil {
				return "FAILED"
			}
			return fmt.Sprintf("%.1f", float64(x.Rows)/float64(max(x.Queries, 1)))
		}
		fmt.Fprintf(tw, "rows/query\t%s\t%s\t\t\n", rowsPer(a), rowsPer(p))
		tw.Flush()
		b.WriteString("  PG÷AS is PostgreSQL's latency divided by AllSource's; above 1x AllSource is faster.\n")
		fmt.Fprintf(&b, "  %s\n\n", QueryPoint)
	}

	fmt.Fprintf(&b, "Full read (one connection; fastest of %d runs; MB = column value bytes received, without protocol framing)\n", r.StreamRuns)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "format\tAS rows\tAS rows/s\tAS MB/s\tAS first row\tPG rows\tPG rows/s\tPG MB/s\tPG first row\tAS÷PG\t")
	cells := func(s *StreamResult) string {
		if s == nil {
			return "FAILED\t-\t-\t-"
		}
		mbs := 0.0
		if s.Elapsed > 0 {
			mbs = float64(s.Bytes) / 1e6 / s.Elapsed.Seconds()
		}
		return fmt.Sprintf("%s\t%s\t%.1f\t%s", fmtCount(int(s.Rows)), fmtRate(s.RowsPerSec), mbs, fmtDur(s.FirstRow))
	}
	for i, format := range StreamFormats {
		var as, pg *StreamResult
		if i < len(r.AllSource.Streams) {
			as = r.AllSource.Streams[i]
		}
		if i < len(r.Postgres.Streams) {
			pg = r.Postgres.Streams[i]
		}
		ratio := "-"
		if as != nil && pg != nil {
			ratio = fmtRatio(as.RowsPerSec, pg.RowsPerSec)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", format, cells(as), cells(pg), ratio)
	}
	tw.Flush()
	b.WriteString("  AS÷PG is AllSource rows/s divided by PostgreSQL's; above 1x AllSource is faster.\n")
	b.WriteString("  text, binary: raw values via pgconn ExecParams (unnamed statement), every column in that format, nothing decoded.\n")
	b.WriteString("  decoded: pgx's default mode (cached prepared statement, binary where pgx supports it), each value scanned into a Go value (JSON as raw bytes).\n")
	fmt.Fprintf(&b, "  %s\n\n", QueryStream)

	for _, s := range []*PGWireSide{&r.AllSource, &r.Postgres} {
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "FAILED on %s: %s\n", s.Name, e)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
