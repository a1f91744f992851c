package pgclient

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/allsource/allsource/internal/testkit/pgtest"
)

var update = flag.Bool("update", false, "rewrite testdata/psql/*.golden from PostgreSQL's output")

// TestClientsAgainstPostgres proves the runners right: every client script
// passes against real PostgreSQL 15 holding the fixture.
func TestClientsAgainstPostgres(t *testing.T) {
	srv := pgtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := LoadPostgres(ctx, srv.DSN()); err != nil {
		t.Fatal(err)
	}
	updateGoldens = *update
	for _, c := range Scripted {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, srv.DSN()) })
	}
	// A second psql run on the same server still passes: COPY FROM adds
	// rows under fresh entity ids and nothing else counts them.
	if !*update {
		t.Run("psql-again", func(t *testing.T) { RunPsql(t, srv.DSN()) })
	}
}
