// Package pgsql is the SQL layer of the Postgres wire-protocol server: it
// makes PostgreSQL clients (psql, pgx, psycopg2/SQLAlchemy, node-postgres,
// Grafana, Metabase, DBeaver) believe they talk to PostgreSQL 15 while the
// queries run on the embedded DuckDB engine.
//
// # Layers
//
// Parse splits a simple-Query string into statements with PostgreSQL's own
// parser (libpg_query through pg_query_go), classifies each one (Kind) and
// refuses anything that is not a read: writes, DDL, file and program access,
// privileges (SQLSTATE 42501) and well-formed statements the server does not
// support (0A000). Session statements (SET, SHOW, BEGIN, DISCARD, …) come
// back classified with their setting name and value for pgwire to apply.
// Parse results are cached per query text and shared: a *Statement is
// read-only for its users.
//
// Statement.Rewrite turns a SELECT (or EXPLAIN, or a COPY's query) into SQL
// for DuckDB 1.5. It works on the PostgreSQL parse tree and deparses it:
//
//   - catalog relations (pg_catalog.X, unqualified pg_X, information_schema.X)
//     are routed to the synthetic catalog that Catalog.DDL creates in the
//     DuckDB schemas pgcat and pgcat_is; user tables (public.events) to the
//     engine's relations; anything else is 42P01;
//   - session functions (version(), current_setting, set_config,
//     current_user, …) become literals taken from the Session;
//   - PostgreSQL casts and types DuckDB lacks (regclass, regtype, oid, name,
//     "char", array literals, …) and operators with other meanings (~ is a
//     full match in DuckDB, / on integers) are rewritten;
//   - catalog helper functions (format_type, pg_get_userbyid, quote_ident,
//     …) are routed to macros in pgcat;
//   - engine functions that reach files or engine state (read_csv, glob,
//     duckdb_*, pragma_*, …) and the internal schema _hot are refused.
//
// A statement whose tree needs no change is passed through as its original
// text, and a rewrite that does not depend on the session is computed once
// per statement, so Rewrite is cheap on the hot path of repeated dashboard
// queries.
//
// # Catalog
//
// Catalog.DDL returns the statements that create the synthetic catalog for a
// list of tables: PostgreSQL 15 column names and types (oid columns are
// BIGINT, "char" is VARCHAR, arrays are DuckDB lists), the built-in types
// with their real OIDs, the catalog relations themselves with PostgreSQL's
// OIDs, and user tables with stable OIDs from 16384 upward in list order. It
// also records the tables for Rewrite, which resolves relation names against
// them.
//
// # Errors
//
// Every error returned is an *Error carrying a SQLSTATE. Positions are
// 1-based character offsets: into the Parse input for errors from Parse,
// into Statement.Text for errors from Rewrite.
package pgsql
