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
	t.Run("psql", func(t *testing.T) { RunPsql(t, srv.DSN()) })
	t.Run("psycopg", func(t *testing.T) { RunPsycopg(t, srv.DSN()) })
	t.Run("psycopg3", func(t *testing.T) { RunPsycopg3(t, srv.DSN()) })
	t.Run("asyncpg", func(t *testing.T) { RunAsyncpg(t, srv.DSN()) })
	t.Run("sqlalchemy-pandas", func(t *testing.T) { RunSQLAlchemyPandas(t, srv.DSN()) })
	t.Run("pgcli", func(t *testing.T) { RunPgcli(t, srv.DSN()) })
	t.Run("node", func(t *testing.T) { RunNode(t, srv.DSN()) })
	t.Run("node-drivers", func(t *testing.T) { RunNodeDrivers(t, srv.DSN()) })
	t.Run("jdbc", func(t *testing.T) { RunJDBC(t, srv.DSN()) })
	// A second psql run on the same server still passes: COPY FROM adds
	// rows under fresh entity ids and nothing else counts them.
	if !*update {
		t.Run("psql-again", func(t *testing.T) { RunPsql(t, srv.DSN()) })
	}
}
