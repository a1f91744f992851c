#!/usr/bin/python3
"""pgcli compatibility check, run by pgclient.RunPgcli.

Usage: /usr/bin/python3 pgcli_check.py DSN FIXTURE_JSON

Runs the metadata queries pgcli's completion refresh makes (schemata,
tables, views, columns, functions, data types, foreign keys, search path),
its backslash commands (\\dt, \\dv, \\dn, \\df) through pgcli's executor,
and pipes a statement through the pgcli program itself. The server behind
DSN must hold the fixture. Prints one "FAIL: ..." line per failed check;
exits 1 if any failed, 3 if pgcli is missing. The same checks pass against
PostgreSQL 15; those about AllSource's own functions run only there.
"""

import os
import subprocess
import sys
import urllib.parse

from checklib import expect_true, finish, group

try:
    from pgcli.pgexecute import PGExecute
    from pgspecial.main import PGSpecial
except ImportError as e:
    print("MISSING MODULE: %s" % e)
    sys.exit(3)

dsn = sys.argv[1]
# This pgcli passes a dsn= keyword its libpq refuses: give the parts.
u = urllib.parse.urlparse(dsn)
ex = PGExecute(database=u.path.lstrip("/"), user=urllib.parse.unquote(u.username or ""),
               password=urllib.parse.unquote(u.password or ""), host=u.hostname, port=u.port,
               **dict(urllib.parse.parse_qsl(u.query)))
allsource = None


def version():
    global allsource
    for title, rows, headers, status, sql, success, is_special in ex.run("SELECT version()"):
        allsource = "AllSource" in list(rows)[0][0]
    expect_true("version", allsource is not None)


def completion_refresh():
    expect_true("schemata", "public" in list(ex.schemata()))
    tables = list(ex.tables())
    expect_true("tables", ("public", "events") in tables, "got %r" % tables)
    list(ex.views())
    cols = [c for c in ex.table_columns() if c[1] == "events"]
    expect_true("table columns", {c[2] for c in cols} >= {"seq", "entity_id", "payload"}, "got %r" % cols)
    list(ex.view_columns())
    funcs = list(ex.functions())
    expect_true("functions", len(funcs) > 0)
    if allsource:
        names = {f.func_name for f in funcs}
        expect_true("table functions listed", {"funnel", "retention"} <= names, "got %r" % sorted(names)[:20])
    types = list(ex.datatypes())
    list(ex.foreignkeys())
    expect_true("search_path", "public" in ex.search_path())
    list(ex.databases())
    expect_true("datatypes", isinstance(types, list))


def special(cmd):
    out = []
    for title, rows, headers, status, sql, success, is_special in ex.run(cmd, pgspecial=PGSpecial()):
        if not success:
            raise RuntimeError("%s: %s" % (cmd, status))
        out.append((list(rows or []), headers))
    return out


def backslash():
    [(rows, headers)] = special("\\dt")
    expect_true("\\dt lists events", any(r[1] == "events" for r in rows), "got %r" % rows)
    special("\\dv")
    [(rows, headers)] = special("\\dn")
    expect_true("\\dn lists public", any(r[0] == "public" for r in rows), "got %r" % rows)
    [(rows, headers)] = special("\\df")
    if allsource:
        expect_true("\\df lists funnel", any(r[1] == "funnel" for r in rows), "got %r" % rows)
    [(rows, headers)] = special("\\d events")
    expect_true("\\d events", any(r[0] == "entity_id" for r in rows), "got %r" % rows)


def program():
    env = dict(os.environ, PAGER="cat", LESS="")
    out = subprocess.run(["pgcli", "--less-chatty", dsn], input="SELECT count(*) AS n FROM events WHERE entity_id IN ('acct-1', 'acct-2', 'acct-3') AND version = 1;\n",
                         capture_output=True, text=True, timeout=60, env=env)
    expect_true("pgcli runs a statement", "| 3 " in out.stdout or "| 3\n" in out.stdout,
                "exit %d\nstdout: %s\nstderr: %s" % (out.returncode, out.stdout[-2000:], out.stderr[-2000:]))


for g in (version, completion_refresh, backslash, program):
    group(g)
finish("pgcli")
