#!/usr/bin/python3
"""asyncpg compatibility check, run by pgclient.RunAsyncpg.

Usage: /usr/bin/python3 asyncpg_check.py DSN FIXTURE_JSON

The server behind DSN must hold the fixture (pgclient.Fixture) in the events
relation. Prints one "FAIL: ..." line per failed check and a summary line;
exits 1 if any check failed, 3 if asyncpg is missing. asyncpg reads every
result in binary and introspects types it does not know through pg_type,
so this also checks the catalog's column types. The same checks pass
against PostgreSQL 15; those about AllSource's own functions run only there.
"""

import asyncio
import datetime
import io
import json
import sys
import uuid

from checklib import FUNNEL, agroup, expect, fail, finish, load_fixture

try:
    import asyncpg
except ImportError as e:
    print("MISSING MODULE: %s" % e)
    sys.exit(3)

dsn = sys.argv[1]
fixture, fixture_sorted, entities = load_fixture(sys.argv[2])


async def basics(c):
    expect("select 1", await c.fetchval("SELECT 1"), 1)
    cols = await c.fetch("SELECT column_name FROM information_schema.columns "
                         "WHERE table_schema = 'public' AND table_name = 'events' ORDER BY ordinal_position")
    expect("events columns", [r[0] for r in cols][:4], ["seq", "id", "tenant_id", "entity_id"])
    # Types asyncpg has no codec for are looked up in pg_type.
    expect("int4[]", await c.fetchval("SELECT ARRAY[1, 2, 3]"), [1, 2, 3])
    expect("text[]", await c.fetchval("SELECT ARRAY['a', NULL]"), ["a", None])


async def rows(c):
    got = await c.fetch('SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata '
                        "FROM events WHERE entity_id = ANY($1) ORDER BY entity_id, version", entities)
    expect("row count", len(got), len(fixture))
    for r, ev in zip(got, fixture_sorted):
        key = "%s v%d" % (ev["entity_id"], ev["version"])
        expect(key, (r["entity_id"], r["event_type"], r["version"], r["timestamp"], json.loads(r["payload"])),
               (ev["entity_id"], ev["event_type"], ev["version"], ev["ts"], ev["doc"]))


async def parameters(c):
    when = datetime.datetime(2024, 2, 1, tzinfo=datetime.timezone.utc)
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    r = await c.fetchrow("SELECT $1::int8, $2::text, $3::timestamptz, $4::bool, $5::uuid, $6::text[], $7::int8[]",
                         2 ** 40, "O'Brien ü", when, True, u, ["a", "b,c"], [1, 2])
    expect("typed round trip", tuple(r), (2 ** 40, "O'Brien ü", when, True, u, ["a", "b,c"], [1, 2]))
    n = await c.fetchval('SELECT count(*) FROM events WHERE entity_id = ANY($1) AND "timestamp" >= $2', entities, when)
    expect("= ANY($1) and a timestamptz", n, sum(1 for e in fixture if e["ts"] >= when))
    n = await c.fetchval("SELECT count(*) FROM events WHERE entity_id = ANY($1) AND version = ANY($2)", entities, [1, 2])
    expect("= ANY(int8[])", n, sum(1 for e in fixture if e["version"] in (1, 2)))


async def codecs(c):
    await c.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    doc = await c.fetchval("SELECT payload FROM events WHERE entity_id = $1 AND version = 1", "acct-3")
    expect("json codec", doc, [e["doc"] for e in fixture if e["entity_id"] == "acct-3" and e["version"] == 1][0])
    expect("json parameter", await c.fetchval("SELECT $1::json", {"a": 1}), {"a": 1})
    await c.reset_type_codec("json", schema="pg_catalog")


async def errors(c):
    try:
        await c.fetch("SELECT no_such_column FROM events")
        fail("error", "no error")
    except asyncpg.exceptions.UndefinedColumnError:
        pass
    expect("after error", await c.fetchval("SELECT count(*) FROM events WHERE entity_id = ANY($1)", entities), len(fixture))


async def copy(c):
    buf = io.BytesIO()
    await c.copy_from_query("SELECT entity_id, version FROM events WHERE entity_id = ANY($1) ORDER BY entity_id, version",
                            entities, output=buf, format="csv")
    expect("COPY TO (csv)", buf.getvalue().decode(),
           "".join("%s,%d\n" % (e["entity_id"], e["version"]) for e in fixture_sorted))
    tag = "apg-" + uuid.uuid4().hex[:8]
    res = await c.copy_records_to_table("events", columns=["entity_id", "event_type", "timestamp", "payload"],
                                        records=[(tag, "copied", datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc),
                                                  json.dumps({"i": i})) for i in range(4)])
    expect("copy_records_to_table", res, "COPY 4")
    expect("rows copied", await c.fetchval("SELECT count(*) FROM events WHERE entity_id = $1", tag), 4)


async def cursor(c):
    got = []
    async with c.transaction():
        async for r in c.cursor("SELECT entity_id, version FROM events WHERE entity_id = ANY($1) ORDER BY entity_id, version",
                                entities, prefetch=3):
            got.append((r[0], r[1]))
    expect("cursor", got, [(e["entity_id"], e["version"]) for e in fixture_sorted])


async def allsource_functions(c):
    if "AllSource" not in await c.fetchval("SELECT version()"):
        return
    rows = await c.fetch("SELECT step, entities FROM funnel($1) ORDER BY step",
                         json.dumps(FUNNEL))
    expect("funnel with a bound parameter", [r[1] for r in rows], [3, 2, 1])


async def pool():
    p = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    for _ in range(3):  # each release resets the connection (pg_advisory_unlock_all, …)
        async with p.acquire() as c:
            expect("pool query", await c.fetchval("SELECT count(*) FROM events WHERE entity_id = ANY($1)", entities),
                   len(fixture))
            expect("advisory lock", await c.fetchval("SELECT pg_try_advisory_lock(4242)"), True)
    await p.close()


async def main():
    c = await asyncpg.connect(dsn)
    for g in (basics, rows, parameters, codecs, errors, copy, cursor, allsource_functions):
        await agroup(g, c)
    await c.close()
    await agroup(pool)


asyncio.run(main())
finish("asyncpg %s" % asyncpg.__version__)
