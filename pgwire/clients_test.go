package pgwire

import (
	"testing"

	"github.com/allsource/allsource/internal/pgclient"
)

// TestRealClients drives psql, psycopg2 with SQLAlchemy, and node-postgres
// against the server holding the shared fixture; the same checks pass
// against PostgreSQL 15 (internal/pgclient's own test).
func TestRealClients(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendNDJSON(t, pgclient.FixtureNDJSON())
	dsn := ts.dsn("analyst", "")
	t.Run("psql", func(t *testing.T) { pgclient.RunPsql(t, dsn) })
	t.Run("psycopg", func(t *testing.T) { pgclient.RunPsycopg(t, dsn) })
	t.Run("node", func(t *testing.T) { pgclient.RunNode(t, dsn) })
	t.Run("jdbc", func(t *testing.T) { pgclient.RunJDBC(t, dsn) })
}
