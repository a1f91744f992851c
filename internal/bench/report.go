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
