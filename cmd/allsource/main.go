// Command allsource is the AllSource event warehouse: the server and the
// tools around it.
//
//	allsource serve     run the server (HTTP API, metrics, Postgres wire protocol)
//	allsource import    bulk-load NDJSON, JSON or CSV files
//	allsource query     run SQL and print a table
//	allsource demo      generate an e-commerce event history
//	allsource export    export to PostgreSQL, ClickHouse or files; list export jobs
//	allsource token     issue a signed token (JWT) for a tenant and roles
//	allsource admin     manage API keys, users, quotas, policies and roles
//	allsource audit     check the audit log's hash chain
//	allsource bench     measure ingest and query speed against peers
//	allsource version   print the version
//
// Every flag of serve can also be set as an environment variable named
// ALLSOURCE_ plus the flag in upper case with '-' as '_'
// (--data-dir → ALLSOURCE_DATA_DIR).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/allsource/allsource/internal/suggest"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "allsource:", err)
		}
		os.Exit(exitCode(err))
	}
}

// Main holds the streams the subcommands write to.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
}

// NewMain returns a Main writing to the given streams.
func NewMain(stdout, stderr io.Writer) *Main { return &Main{Stdout: stdout, Stderr: stderr} }

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

const usage = `AllSource — an analytics-first event warehouse.

Usage: allsource <command> [flags]

Commands:
  serve    run the server: HTTP API and /metrics on --http-addr, Postgres wire
           protocol on --pg-addr
  import   bulk-load NDJSON, JSON or CSV files, through a server or into a data dir
  query    run one SQL query on a running server and print the result
  demo     generate a realistic e-commerce event history and load it
  export   export events to PostgreSQL/TimescaleDB, ClickHouse or files
           (export run --target URL; export list)
  token    issue a signed token for a tenant and roles (token issue)
  admin    manage access: API keys, users, quotas, policies and roles
           (admin key|user|quota|policy|role …)
  audit    check the audit log's hash chain (audit verify)
  bench    measure against peers in the same run: ingest, pgwire, analytics,
           auth, projections, fanout, export (built by make bench-build)
  version  print the version

Projections, analytics and EventQL are served by the server: see
/v1/status and the README. Run 'allsource <command> --help' for the flags
of a command.
`

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return &exitError{code: 2, err: errors.New("no command given")}
	}
	switch args[0] {
	case "serve":
		return m.runServe(ctx, args[1:])
	case "import":
		return m.runImport(ctx, args[1:])
	case "query":
		return m.runQuery(ctx, args[1:])
	case "demo":
		return m.runDemo(ctx, args[1:])
	case "bench":
		return m.runBench(ctx, args[1:])
	case "token":
		return m.runToken(ctx, args[1:])
	case "admin":
		return m.runAdmin(ctx, args[1:])
	case "audit":
		return m.runAudit(ctx, args[1:])
	case "export":
		return m.runExport(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	case "version", "--version", "-version":
		fmt.Fprintf(m.Stdout, "allsource %s\n", Version())
		return nil
	default:
		if near := suggest.Closest(args[0], commands); near != "" {
			return &exitError{code: 2, err: fmt.Errorf("unknown command %q: did you mean %q? ('allsource help' lists the commands)", args[0], near)}
		}
		return &exitError{code: 2, err: fmt.Errorf("unknown command %q ('allsource help' lists the commands)", args[0])}
	}
}

// commands are the top-level commands, for suggestions.
var commands = []string{"serve", "import", "query", "demo", "bench", "token", "admin", "audit", "export", "help", "version"}
