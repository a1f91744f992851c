#!/usr/bin/python3
"""psycopg2 + SQLAlchemy 1.4 compatibility check, run by pgclient.RunPsycopg.

Usage: /usr/bin/python3 psycopg_check.py DSN FIXTURE_JSON

The server behind DSN must hold the fixture (pgclient.Fixture) in the events
relation. Prints one "FAIL: ..." line per failed check and a summary line;
exits 1 if any check failed, 3 if psycopg2 or SQLAlchemy is missing. Uses only
client-side cursors (named cursors would need DECLARE).
"""

import csv
import datetime
import decimal
import io
import json
import os
import sys

from checklib import FUNNEL, expect, expect_true, fail, finish, group, load_fixture

# The session time zone, sent by libpq in the startup packet, fixes how the
# server prints timestamptz in COPY output.
os.environ["PGTZ"] = "UTC"

try:
    import psycopg2
    import psycopg2.errors
    import psycopg2.extensions
    import sqlalchemy
    from sqlalchemy import MetaData, Table, bindparam, func, inspect, select, text
    from sqlalchemy.dialects import postgresql as sa_pg
except ImportError as e:
    print("MISSING MODULE: %s" % e)
    sys.exit(3)

# PostgreSQL type OIDs the events columns must be described with.
OID_TEXT, OID_INT8, OID_TIMESTAMPTZ, OID_JSON = 25, 20, 1184, 114

dsn = sys.argv[1]
fixture, fixture_sorted, entity_list = load_fixture(sys.argv[2])
entities = tuple(entity_list)


def pg_timestamptz(ts):
    """ts as PostgreSQL prints a timestamptz with TimeZone UTC."""
    s = ts.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if ts.microsecond:
        s += (".%06d" % ts.microsecond).rstrip("0")
    return s + "+00"


conn = psycopg2.connect(dsn)


def connection():
    expect_true("server_version", conn.server_version >= 100000,
                "server_version %r is below 10.0" % conn.server_version)
    expect("client_encoding", conn.encoding, "UTF8")
    expect("standard_conforming_strings",
           conn.get_parameter_status("standard_conforming_strings"), "on")
    expect_true("server_version parameter",
                bool(conn.get_parameter_status("server_version")), "not reported")
    with conn.cursor() as cur:
        cur.execute("SELECT 1 AS one")
        expect("select 1", cur.fetchone(), (1,))
        expect("select 1 column name", cur.description[0].name, "one")
        cur.execute("SHOW TimeZone")
        expect("TimeZone from PGTZ", cur.fetchone()[0], "UTC")
    conn.rollback()


def fixture_rows():
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM events WHERE entity_id IN %s", (entities,))
        expect("count", cur.fetchone()[0], len(fixture))
        cur.execute('SELECT entity_id, event_type, version, "timestamp", payload '
                    "FROM events WHERE entity_id IN %s ORDER BY entity_id, version", (entities,))
        expect("description names", [d.name for d in cur.description],
               ["entity_id", "event_type", "version", "timestamp", "payload"])
        expect("description type OIDs", [d.type_code for d in cur.description],
               [OID_TEXT, OID_TEXT, OID_INT8, OID_TIMESTAMPTZ, OID_JSON])
        rows = cur.fetchall()
        expect("rowcount", cur.rowcount, len(fixture))
        expect("fetchall length", len(rows), len(fixture))
        for got, ev in zip(rows, fixture_sorted):
            key = "%s v%d" % (ev["entity_id"], ev["version"])
            expect(key + " entity/type/version", got[:3],
                   (ev["entity_id"], ev["event_type"], ev["version"]))
            expect_true(key + " timestamp tz-aware",
                        isinstance(got[3], datetime.datetime) and got[3].tzinfo is not None,
                        "got %r" % (got[3],))
            expect(key + " timestamp", got[3], ev["ts"])
            expect(key + " payload (dict from json)", got[4], ev["doc"])
        # fetchone / fetchmany on a client-side cursor.
        cur.execute("SELECT entity_id, version FROM events WHERE entity_id IN %s "
                    "ORDER BY entity_id, version", (entities,))
        expect("fetchone", cur.fetchone(), (fixture_sorted[0]["entity_id"], 1))
        expect("fetchmany", len(cur.fetchmany(3)), 3)
        expect("fetchall rest", len(cur.fetchall()), len(fixture) - 4)
    conn.rollback()


def parameters():
    when = datetime.datetime(2024, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
    with conn.cursor() as cur:
        cur.execute("SELECT %s::text, %s::bigint, %s::float8, %s::boolean, %s::text, "
                    "%s::timestamptz, %s::bigint[]",
                    ("O'Brien \\ \"q\" ü", 2 ** 40, 1.5, True, None, when, [1, 2, 3]))
        expect("round trip str/int/float/bool/None/datetime/list", cur.fetchone(),
               ("O'Brien \\ \"q\" ü", 2 ** 40, 1.5, True, None, when, [1, 2, 3]))

        acct1 = [e for e in fixture_sorted if e["entity_id"] == "acct-1"]
        cur.execute("SELECT version FROM events WHERE entity_id = %s AND version >= %s "
                    "ORDER BY version", ("acct-1", 2))
        expect("where str and int", [r[0] for r in cur.fetchall()],
               [e["version"] for e in acct1 if e["version"] >= 2])

        cur.execute('SELECT count(*) FROM events WHERE entity_id IN %s AND "timestamp" >= %s',
                    (entities, when))
        expect("where datetime", cur.fetchone()[0], sum(1 for e in fixture if e["ts"] >= when))

        for owner in ("O'Brien", "李小龙", "Zoë Müller"):
            cur.execute("SELECT entity_id FROM events WHERE payload->>'owner' = %(owner)s",
                        {"owner": owner})
            want = [e["entity_id"] for e in fixture if e["doc"].get("owner") == owner]
            expect("named param owner=%s" % owner, [r[0] for r in cur.fetchall()], want)

        cur.execute("SELECT count(*) FROM events WHERE entity_id IN %s AND event_type = %s",
                    (entities, "credited"))
        expect("where tuple IN", cur.fetchone()[0],
               sum(1 for e in fixture if e["event_type"] == "credited"))
    conn.rollback()


def typed_results():
    with conn.cursor() as cur:
        cur.execute("SELECT sum((payload->>'amount')::numeric) FROM events "
                    "WHERE entity_id IN %s AND event_type = 'credited'", (entities,))
        got = cur.fetchone()[0]
        want = sum(decimal.Decimal(json.dumps(e["doc"]["amount"])) for e in fixture
                   if e["event_type"] == "credited")
        expect_true("sum numeric is Decimal", isinstance(got, decimal.Decimal), "got %r" % (got,))
        expect("sum numeric", got, want)

        cur.execute("SELECT count(*), max(version) FROM events WHERE entity_id IN %s", (entities,))
        n, v = cur.fetchone()
        expect_true("count(*) is int", type(n) is int, "got %r" % (n,))
        expect("max(version)", v, max(e["version"] for e in fixture))

        cur.execute("SELECT payload->'limits', payload->'tags' FROM events "
                    "WHERE entity_id = 'acct-3' AND version = 1")
        limits, tags = cur.fetchone()
        expect("nested json object", limits, {"daily": 500, "monthly": None})
        expect("missing json key", tags, None)

        cur.execute("SELECT payload FROM events WHERE entity_id = 'acct-3' AND event_type = 'closed'")
        expect("json string with emoji and tab", cur.fetchone()[0]["reason"], "party 🎉\tdone")

        cur.execute("SELECT min(\"timestamp\"), max(\"timestamp\") FROM events WHERE entity_id IN %s",
                    (entities,))
        lo, hi = cur.fetchone()
        expect("min timestamp", lo, min(e["ts"] for e in fixture))
        expect("max timestamp", hi, max(e["ts"] for e in fixture))
    conn.rollback()


def errors():
    with conn.cursor() as cur:
        try:
            cur.execute("SELEC 1")
            fail("syntax error", "no error raised")
        except psycopg2.Error as e:
            expect("syntax error pgcode", e.pgcode, "42601")
            expect_true("syntax error class", isinstance(e, psycopg2.errors.SyntaxError),
                        "got %s" % type(e).__name__)
        # Inside the failed transaction block every statement is refused.
        try:
            cur.execute("SELECT 1")
            fail("in failed transaction", "no error raised")
        except psycopg2.Error as e:
            expect("in failed transaction pgcode", e.pgcode, "25P02")
        conn.rollback()
        cur.execute("SELECT 2")
        expect("recovered after rollback", cur.fetchone(), (2,))
        try:
            cur.execute("SELECT * FROM no_such_table")
            fail("missing table", "no error raised")
        except psycopg2.Error as e:
            expect("missing table pgcode", e.pgcode, "42P01")
            expect_true("missing table class", isinstance(e, psycopg2.errors.UndefinedTable),
                        "got %s" % type(e).__name__)
            expect_true("missing table message names it", "no_such_table" in str(e), str(e))
        conn.rollback()
        cur.execute("SELECT 3")
        expect("recovered after second rollback", cur.fetchone(), (3,))
    conn.rollback()

    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            try:
                cur.execute("SELECT * FROM no_such_table")
                fail("autocommit missing table", "no error raised")
            except psycopg2.Error as e:
                expect("autocommit missing table pgcode", e.pgcode, "42P01")
            cur.execute("SELECT 4")
            expect("autocommit recovers without rollback", cur.fetchone(), (4,))
    finally:
        conn.autocommit = False


def copy_to():
    buf = io.StringIO()
    with conn.cursor() as cur:
        cur.copy_expert(
            'COPY (SELECT entity_id, event_type, version, "timestamp", payload FROM events '
            "WHERE entity_id IN ('%s') ORDER BY entity_id, version) TO STDOUT WITH CSV HEADER"
            % "', '".join(entities), buf)
    conn.rollback()
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    expect("copy header", rows[0], ["entity_id", "event_type", "version", "timestamp", "payload"])
    want = [[e["entity_id"], e["event_type"], str(e["version"]), pg_timestamptz(e["ts"]), e["payload"]]
            for e in fixture_sorted]
    expect("copy row count", len(rows) - 1, len(want))
    for got, w in zip(rows[1:], want):
        expect("copy row %s v%s" % (w[0], w[2]), got, w)


def funnel_and_named_cursor():
    with conn.cursor() as cur:
        cur.execute("SELECT version()")
        if "AllSource" in cur.fetchone()[0]:
            cur.execute("SELECT entities FROM funnel(%s) ORDER BY step", (json.dumps(FUNNEL),))
            expect("funnel with a bound parameter", [r[0] for r in cur.fetchall()], [3, 2, 1])
    # A named cursor is a server-side cursor (DECLARE … FETCH FORWARD).
    with conn.cursor(name="pg2_named") as cur:
        cur.itersize = 3
        cur.execute("SELECT entity_id, version FROM events WHERE entity_id IN %s ORDER BY entity_id, version",
                    (entities,))
        expect("named cursor", [tuple(r) for r in cur], [(e["entity_id"], e["version"]) for e in fixture_sorted])
    conn.rollback()


def sqlalchemy_checks():
    url = dsn
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg2://" + url[len(scheme):]
            break
    else:
        fail("sqlalchemy url", "DSN is not a postgres:// URL: %r" % dsn)
        return
    engine = sqlalchemy.create_engine(url, future=True)
    try:
        insp = inspect(engine)
        expect_true("get_schema_names has public", "public" in insp.get_schema_names(),
                    repr(insp.get_schema_names()))
        expect_true("get_table_names has events", "events" in insp.get_table_names(),
                    repr(insp.get_table_names()))
        expect("has_table events", insp.has_table("events"), True)
        expect("has_table missing", insp.has_table("no_such_table"), False)

        cols = insp.get_columns("events")
        expect("column names", [c["name"] for c in cols],
               ["seq", "id", "tenant_id", "entity_id", "event_type", "version",
                "timestamp", "ingested_at", "payload", "metadata"])
        want_types = {
            "seq": sqlalchemy.BIGINT, "id": sa_pg.UUID, "tenant_id": sqlalchemy.TEXT,
            "entity_id": sqlalchemy.TEXT, "event_type": sqlalchemy.TEXT,
            "version": sqlalchemy.BIGINT, "timestamp": sqlalchemy.TIMESTAMP,
            "ingested_at": sqlalchemy.TIMESTAMP, "payload": sa_pg.JSON, "metadata": sa_pg.JSON,
        }
        for c in cols:
            want = want_types.get(c["name"])
            # isinstance: the dialect reflects its own TIMESTAMP subclass;
            # JSONB (a subclass of JSON) is not json.
            ok = want is not None and isinstance(c["type"], want) and not isinstance(c["type"], sa_pg.JSONB)
            expect_true("column %s type" % c["name"], ok,
                        "got %r, want %s" % (c["type"], want and want.__name__))
            if want is sqlalchemy.TIMESTAMP:
                expect("column %s timezone" % c["name"], c["type"].timezone, True)

        pk = insp.get_pk_constraint("events")
        expect("pk columns", pk.get("constrained_columns"), [])
        expect("foreign keys", insp.get_foreign_keys("events"), [])
        expect("indexes", insp.get_indexes("events"), [])

        with engine.connect() as c:
            stmt = text("SELECT entity_id, version, payload FROM events "
                        "WHERE entity_id = :e AND version >= :v ORDER BY version").bindparams(e="acct-1", v=2)
            rows = c.execute(stmt).all()
            want = [(e["entity_id"], e["version"], e["doc"]) for e in fixture_sorted
                    if e["entity_id"] == "acct-1" and e["version"] >= 2]
            expect("text() with bindparams", [tuple(r) for r in rows], want)

            stmt = text("SELECT count(*) FROM events WHERE entity_id IN :ids").bindparams(
                bindparam("ids", expanding=True))
            expect("text() expanding IN", c.execute(stmt, {"ids": list(entities)}).scalar(), len(fixture))

            events = Table("events", MetaData(), autoload_with=c)
            q = (select(events.c.event_type, func.count().label("n"))
                 .where(events.c.entity_id.in_(list(entities)))
                 .group_by(events.c.event_type).order_by(events.c.event_type))
            got = {r.event_type: r.n for r in c.execute(q)}
            want = {}
            for e in fixture:
                want[e["event_type"]] = want.get(e["event_type"], 0) + 1
            expect("core select on reflected table", got, want)

            q = select(events.c.timestamp, events.c.payload).where(
                events.c.entity_id == "acct-2").order_by(events.c.version)
            got = [tuple(r) for r in c.execute(q)]
            want = [(e["ts"], e["doc"]) for e in fixture_sorted if e["entity_id"] == "acct-2"]
            expect("core select typed columns", got, want)
    finally:
        engine.dispose()


for g in (connection, fixture_rows, parameters, typed_results, errors, copy_to, funnel_and_named_cursor):
    group(g)
    if conn.closed:
        print("FAIL: %s closed the connection; reconnecting" % g.__name__)
        conn = psycopg2.connect(dsn)
    elif conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        conn.rollback()
conn.close()
group(sqlalchemy_checks)

finish("psycopg2 %s, SQLAlchemy %s" % (psycopg2.__version__.split()[0], sqlalchemy.__version__))
