package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/allsource/allsource/internal/demo"
	"github.com/allsource/allsource/internal/source"
)

func (m *Main) runDemo(ctx context.Context, args []string) error {
	var cfg Config
	fs := newFlags("demo", demoHelp)
	cfg.registerLoadFlags(fs)
	server := fs.String("server", "", "load into the server at this URL (default http://127.0.0.1:8080 unless --data-dir or --out is given)")
	out := fs.String("out", "", "write the events to this NDJSON file instead of loading them ('-' for stdout)")
	var o demo.Options
	fs.IntVar(&o.Users, "users", demo.DefaultUsers, "number of users")
	fs.IntVar(&o.Days, "days", demo.DefaultDays, "length of the history in days (it ends at --end)")
	end := fs.String("end", "", "the day the history ends (exclusive), YYYY-MM-DD (default: today, UTC, so the last events are yesterday's)")
	fs.Int64Var(&o.Seed, "seed", demo.DefaultSeed, "random seed; the same seed gives the same events")
	fs.StringVar(&o.Tenant, "tenant", "", "tenant of every event (default: the default tenant)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	endDay := time.Now().UTC().Truncate(24 * time.Hour)
	if *end != "" {
		t, err := time.Parse(time.DateOnly, *end)
		if err != nil {
			return usageError(fs, fmt.Errorf("--end %q: want a day as YYYY-MM-DD", *end))
		}
		endDay = t
	}
	if o.Days > 0 {
		o.Start = endDay.AddDate(0, 0, -o.Days)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if *out != "" {
		var w io.Writer = m.Stdout
		if *out != "-" {
			f, err := os.Create(*out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		n, err := demo.Generate(bw, o)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "wrote %d events\n", n)
		return nil
	}
	snk, err := openSink(ctx, fs, &cfg, *server)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		_, err := demo.Generate(bw, o)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	r, err := source.NewReader(pr, "demo", source.FormatNDJSON, source.Mapping{})
	if err != nil {
		pr.Close()
		snk.close(ctx)
		return err
	}
	prog := newProgress(os.Stderr, 0)
	l := &loader{sink: snk, batch: 10_000, progress: prog}
	err = l.loadReader(ctx, r, "demo")
	prog.finish()
	r.Close()
	pr.Close()
	if cerr := snk.close(context.Background()); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	od := o.WithDefaults()
	period := fmt.Sprintf("%d users, %s to %s", od.Users, od.Start.Format(time.DateOnly), od.Start.AddDate(0, 0, od.Days-1).Format(time.DateOnly))
	if dups := l.dups.Load(); dups > 0 && l.stored.Load() == 0 {
		fmt.Fprintf(m.Stdout, "the demo history (%s) was loaded before: all %d events are stored already, none added\n", period, dups)
		return nil
	} else if dups > 0 {
		fmt.Fprintf(m.Stdout, "loaded %d demo events (%s); %d were stored already\n", l.stored.Load(), period, dups)
	} else {
		fmt.Fprintf(m.Stdout, "loaded %d demo events (%s)\n", l.stored.Load(), period)
	}
	fmt.Fprintln(m.Stdout, "Try:\n  allsource query \"SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC\"")
	return nil
}

const demoHelp = `Usage: allsource demo [flags]

Generates the event history of an online shop — sign-ups, sessions, page and
product views, carts, checkouts, orders and refunds, with a real purchase
funnel and decaying weekly retention — and loads it into a running server
(default), into a data dir (--data-dir), or writes it as NDJSON (--out).

The history ends today (--end pins the day). Event ids follow from the
options (seed, period, tenant), so loading the same history twice stores
it once.`
