// Package pgclient checks a PostgreSQL wire-protocol server with real
// clients: psql, psycopg2 with SQLAlchemy 1.4, node-postgres, and pgjdbc (the
// JDBC driver of DBeaver and Metabase).
//
// The checks are proven against real PostgreSQL 15 by this package's own
// test, then pointed at AllSource's pgwire server by its tests. Both servers
// hold the same small event set, Fixture:
//
//   - PostgreSQL: LoadPostgres(ctx, dsn) creates public.events with
//     AllSource's ten columns (seq, id, tenant_id, entity_id, event_type,
//     version, "timestamp", ingested_at, payload json, metadata json; all
//     nullable) and inserts the fixture.
//   - AllSource: ingest FixtureNDJSON() (one event per line, in Fixture
//     order; the server assigns versions per entity from 1, matching
//     Fixture's) before starting the checks.
//
// Then, with dsn a postgres:// URL of the server:
//
//	pgclient.RunPsql(t, dsn)    // psql meta-commands, queries, \copy TO and FROM
//	pgclient.RunPsycopg(t, dsn) // testdata/psycopg_check.py
//	pgclient.RunNode(t, dsn)    // testdata/node/check.js
//	pgclient.RunJDBC(t, dsn)    // testdata/jdbc/Check.java
//
// The checks look only at entity_id, event_type, version, timestamp, payload
// and counts, never at seq, id or ingested_at, and only at rows of the
// fixture's entities (FixtureEntities): RunPsql's \copy FROM adds three events
// under entity ids unique to the run, so every runner can run again, in any
// order, on the same server.
//
// Every client gets PGTZ=UTC, so libpq sends timezone=UTC in the startup
// packet and timestamps print as PostgreSQL prints them in UTC
// ("2024-01-15 10:00:00.5+00").
//
// RunPsql compares the stable parts of psql's output with golden files in
// testdata/psql/, recorded against PostgreSQL with
//
//	go test ./internal/testkit/pgclient -update
//
// Where both servers should print the same thing the golden is the whole
// output (\d events, \df, queries, \copy); elsewhere it keeps what both
// should share (names and types for \dt and \d+) or checks for one row (\l,
// \dn, \du). The Python, Node and Java programs take the DSN (for Java, the
// JDBC URL that JDBCURL makes of it) and a JSON copy of the fixture, print
// one "FAIL: ..." line per failed check and a summary, and exit 1 on failure
// or 3 when a module is missing. Check.java runs as a single-file source
// launch against Debian's pgjdbc jar, so it has no build step; besides the
// queries the other scripts make it covers what JDBC tools rely on:
// DatabaseMetaData (getSchemas, getTables, getColumns, getPrimaryKeys,
// getImportedKeys, getIndexInfo, getTypeInfo), named server-side statements
// with binary results (after prepareThreshold executions, and with
// preferQueryMode=extendedCacheEverything), portals read with row limits
// (setFetchSize with autocommit off), SHOW TRANSACTION ISOLATION LEVEL,
// BEGIN READ ONLY, isValid's empty query, and CopyManager.copyOut.
//
// A missing client (psql, /usr/bin/python3 with psycopg2 and SQLAlchemy,
// node, npm, java and javac, /usr/share/java/postgresql.jar) skips the test
// loudly, except under CI=true, where it fails. install.sh beside this file
// installs them all (root, Debian) and the locked node modules; RunNode runs
// npm ci into testdata/node itself when node_modules is missing, under a file
// lock so that concurrent test binaries do not race.
package pgclient
