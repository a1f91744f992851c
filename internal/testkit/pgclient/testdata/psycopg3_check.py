#!/usr/bin/python3
"""psycopg 3 compatibility check, run by pgclient.RunPsycopg3.

Usage: /usr/bin/python3 psycopg3_check.py DSN FIXTURE_JSON

The server behind DSN must hold the fixture (pgclient.Fixture) in the events
relation. Prints one "FAIL: ..." line per failed check and a summary line;
exits 1 if any check failed, 3 if psycopg 3 is missing. The same checks pass
against PostgreSQL 15; those about AllSource's own functions run only there.
"""

import datetime
import json
import sys
import uuid

from checklib import FUNNEL, expect, fail, finish, group, load_fixture

try:
    import psycopg
    from psycopg.types import TypeInfo
    from psycopg.types.json import Json
except ImportError as e:
    print("MISSING MODULE: %s" % e)
    sys.exit(3)

dsn = sys.argv[1]
fixture, fixture_sorted, entities = load_fixture(sys.argv[2])

conn = psycopg.connect(dsn, autocommit=True)
allsource = "AllSource" in conn.execute("SELECT version()").fetchone()[0]


def connection():
    expect("server_version", conn.info.server_version >= 100000, True)
    expect("encoding", conn.info.encoding, "utf-8")
    expect("select 1", conn.execute("SELECT 1 AS one").fetchone(), (1,))


def browse():
    cols = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'events' ORDER BY ordinal_position").fetchall()
    expect("events columns", [c[0] for c in cols],
           ["seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp",
            "ingested_at", "payload", "metadata"])
    info = TypeInfo.fetch(conn, "json")
    expect("TypeInfo json", (info.name, info.oid, info.array_oid), ("json", 114, 199))
    info = TypeInfo.fetch(conn, "text[]")
    expect("TypeInfo text[]", info.oid, 1009)


def parameters():
    when = datetime.datetime(2024, 2, 1, tzinfo=datetime.timezone.utc)
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    row = conn.execute("SELECT %s::int8, %s::text, %s::timestamptz, %s::bool, %s::json, %s::uuid, %s::text[], %s::int8[]",
                       (2 ** 40, "O'Brien ü", when, True, Json({"a": [1, None]}), u, ["a", "b,c"], [1, 2])).fetchone()
    expect("typed round trip", row, (2 ** 40, "O'Brien ü", when, True, {"a": [1, None]}, u, ["a", "b,c"], [1, 2]))
    expect("untyped arithmetic", conn.execute("SELECT %s + 1", (1,)).fetchone(), (2,))
    n = conn.execute("SELECT count(*) FROM events WHERE entity_id = ANY(%s)", (entities[:2],)).fetchone()[0]
    expect("= ANY(list)", n, sum(1 for e in fixture if e["entity_id"] in entities[:2]))
    n = conn.execute('SELECT count(*) FROM events WHERE entity_id = ANY(%s) AND "timestamp" >= %s',
                     (entities, when)).fetchone()[0]
    expect("= ANY(list) and timestamptz", n, sum(1 for e in fixture if e["ts"] >= when))
    n = conn.execute("SELECT count(*) FROM events WHERE entity_id = ANY(%s) AND version = ANY(%s)",
                     (entities, [1, 2])).fetchone()[0]
    expect("= ANY(int list)", n, sum(1 for e in fixture if e["version"] in (1, 2)))


def binary_results():
    cur = conn.cursor(binary=True)
    cur.execute('SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata '
                "FROM events WHERE entity_id = ANY(%s) ORDER BY entity_id, version", (entities,))
    rows = cur.fetchall()
    expect("binary row count", len(rows), len(fixture))
    for got, ev in zip(rows, fixture_sorted):
        key = "binary %s v%d" % (ev["entity_id"], ev["version"])
        expect(key, (got[3], got[4], got[5], got[6], got[8]),
               (ev["entity_id"], ev["event_type"], ev["version"], ev["ts"], ev["doc"]))
        expect(key + " seq is int", type(got[0]), int)


def errors_and_recovery():
    try:
        conn.execute("SELECT no_such_column FROM events")
        fail("error", "no error")
    except psycopg.errors.UndefinedColumn:
        pass
    expect("after error", conn.execute("SELECT count(*) FROM events WHERE entity_id = ANY(%s)", (entities,)).fetchone()[0],
           len(fixture))
    with psycopg.connect(dsn) as c:  # a transaction block: failed until rollback
        try:
            c.execute("SELECT 'abc'::int")
            fail("invalid integer", "no error")
        except psycopg.errors.InvalidTextRepresentation:
            pass
        try:
            c.execute("SELECT 1")
            fail("in failed transaction", "no error")
        except psycopg.errors.InFailedSqlTransaction:
            pass
        c.rollback()
        expect("after rollback", c.execute("SELECT 2").fetchone(), (2,))


def copy_out_and_in():
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT entity_id, version FROM events WHERE entity_id = ANY(%s) "
                      "ORDER BY entity_id, version) TO STDOUT (FORMAT binary)", (entities,)) as cp:
            cp.set_types(["text", "int8"])
            rows = list(cp.rows())
        expect("binary COPY TO", rows, [(e["entity_id"], e["version"]) for e in fixture_sorted])
        with cur.copy("COPY (SELECT entity_id FROM events WHERE entity_id = ANY(%s) ORDER BY 1 LIMIT 1) TO STDOUT",
                      (entities,)) as cp:
            text = b"".join(bytes(b) for b in cp)
        expect("text COPY TO", text, (entities[0] + "\n").encode())
        tag = "pg3-" + uuid.uuid4().hex[:8]
        with cur.copy("COPY events (entity_id, event_type, payload) FROM STDIN") as cp:
            for i in range(3):
                cp.write_row((tag, "copied", json.dumps({"i": i})))
        expect("text COPY FROM", cur.execute("SELECT count(*) FROM events WHERE entity_id = %s", (tag,)).fetchone(), (3,))
        with cur.copy("COPY events (entity_id, event_type, payload) FROM STDIN (FORMAT binary)") as cp:
            cp.set_types(["text", "text", "json"])
            for i in range(2):
                cp.write_row((tag + "-b", "copied", Json({"i": i})))
        expect("binary COPY FROM", cur.execute("SELECT count(*) FROM events WHERE entity_id = %s", (tag + "-b",)).fetchone(), (2,))


def named_cursor():
    with psycopg.connect(dsn) as c:
        with c.cursor(name="pg3_cur") as cur:
            cur.execute("SELECT entity_id, version FROM events WHERE entity_id = ANY(%s) ORDER BY entity_id, version",
                        (entities,))
            first = cur.fetchmany(3)
            rest = cur.fetchall()
        expect("named cursor", first + rest, [(e["entity_id"], e["version"]) for e in fixture_sorted])
        c.rollback()


def allsource_functions():
    if not allsource:
        return
    rows = conn.execute("SELECT step, entities FROM funnel(%s) ORDER BY step",
                        (json.dumps(FUNNEL),)).fetchall()
    expect("funnel with a bound parameter", [r[1] for r in rows], [3, 2, 1])


for g in (connection, browse, parameters, binary_results, errors_and_recovery, copy_out_and_in, named_cursor,
          allsource_functions):
    group(g)
finish("psycopg %s" % psycopg.__version__)
