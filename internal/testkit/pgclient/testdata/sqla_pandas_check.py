#!/usr/bin/python3
"""SQLAlchemy 1.4 over asyncpg, and pandas read_sql, run by
pgclient.RunSQLAlchemyPandas.

Usage: /usr/bin/python3 sqla_pandas_check.py DSN FIXTURE_JSON

The server behind DSN must hold the fixture (pgclient.Fixture) in the events
relation. Prints one "FAIL: ..." line per failed check and a summary line;
exits 1 if any check failed, 3 if a module is missing. The same checks pass
against PostgreSQL 15.
"""

import asyncio
import sys

from checklib import crashed, expect, finish, load_fixture

try:
    import pandas as pd
    import sqlalchemy
    from sqlalchemy import MetaData, Table, bindparam, create_engine, func, inspect, select, text
    from sqlalchemy.ext.asyncio import create_async_engine
    import asyncpg  # noqa: F401 - the async dialect's driver
    import greenlet  # noqa: F401 - SQLAlchemy's asyncio needs it
except ImportError as e:
    print("MISSING MODULE: %s" % e)
    sys.exit(3)

dsn = sys.argv[1]
fixture, fixture_sorted, entities = load_fixture(sys.argv[2])
sync_url = dsn.replace("postgres://", "postgresql+psycopg2://", 1)
# asyncpg names libpq's sslmode "ssl".
async_url = dsn.replace("postgres://", "postgresql+asyncpg://", 1).replace("sslmode=", "ssl=")


async def sqlalchemy_asyncpg():
    engine = create_async_engine(async_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            expect("asyncpg dialect: tables", "events" in names, True)
            cols = await conn.run_sync(lambda c: [x["name"] for x in inspect(c).get_columns("events")])
            expect("asyncpg dialect: columns", cols[:4], ["seq", "id", "tenant_id", "entity_id"])
            events = await conn.run_sync(lambda c: Table("events", MetaData(), autoload_with=c))
            rows = (await conn.execute(
                select(events.c.entity_id, events.c.version)
                .where(events.c.entity_id.in_(entities))
                .order_by(events.c.entity_id, events.c.version))).all()
            expect("asyncpg dialect: select", [tuple(r) for r in rows],
                   [(e["entity_id"], e["version"]) for e in fixture_sorted])
            n = (await conn.execute(text("SELECT count(*) FROM events WHERE entity_id = ANY(:ids)"),
                                    {"ids": entities})).scalar()
            expect("asyncpg dialect: = ANY(:ids)", n, len(fixture))
            stream = await conn.stream(select(events.c.version).where(events.c.entity_id == "acct-1")
                                       .order_by(events.c.version).execution_options(yield_per=2))
            got = [r[0] async for r in stream]
            expect("asyncpg dialect: streamed (server-side cursor)", got,
                   [e["version"] for e in fixture_sorted if e["entity_id"] == "acct-1"])
    finally:
        await engine.dispose()


def pandas_read_sql():
    engine = create_engine(sync_url)
    try:
        df = pd.read_sql(text("SELECT entity_id, version, \"timestamp\" FROM events WHERE entity_id IN :ids "
                              "ORDER BY entity_id, version").bindparams(bindparam("ids", expanding=True)),
                         engine, params={"ids": entities})
        expect("read_sql rows", len(df), len(fixture))
        expect("read_sql columns", list(df.columns), ["entity_id", "version", "timestamp"])
        expect("read_sql timestamp dtype", str(df["timestamp"].dtype).startswith("datetime64"), True)
        expect("read_sql values", list(zip(df["entity_id"], df["version"])),
               [(e["entity_id"], e["version"]) for e in fixture_sorted])
        with engine.connect().execution_options(stream_results=True) as conn:
            chunks = list(pd.read_sql(text("SELECT entity_id, version FROM events WHERE entity_id IN :ids "
                                           "ORDER BY entity_id, version").bindparams(bindparam("ids", expanding=True)),
                                      conn, params={"ids": entities}, chunksize=3))
        expect("read_sql chunks", [len(c) for c in chunks], [3, 3, len(fixture) - 6])
        df = pd.read_sql_table("events", engine, columns=["entity_id"])
        expect("read_sql_table", set(entities) <= set(df["entity_id"]), True)
    finally:
        engine.dispose()


for name, fn in (("sqlalchemy asyncpg", lambda: asyncio.run(sqlalchemy_asyncpg())), ("pandas", pandas_read_sql)):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - report and go on
        crashed(name, e)
finish("SQLAlchemy %s (asyncpg), pandas %s" % (sqlalchemy.__version__, pd.__version__))
