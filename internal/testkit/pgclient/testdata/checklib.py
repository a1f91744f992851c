"""What the Python client checks share: counting checks, reporting each
failure as a "FAIL: name: message" line, running groups of checks (an
exception fails its group, not the run), the summary and exit status, and
the fixture (pgclient.Fixture) as the runners pass it."""

import datetime
import json
import sys
import traceback

checks = 0
failures = 0

# The fixture's accounts only (other checks add entities), over 100 days:
# acct-1, 2 and 3 opened, acct-1 and 2 credited, acct-1 closed after.
FUNNEL = {"steps": [{"event_type": "opened", "where": "subject == 'acct-1' OR subject == 'acct-2' OR subject == 'acct-3'"},
                    "credited", "closed"], "window": "100d"}


def fail(name, msg):
    global failures
    failures += 1
    print("FAIL: %s: %s" % (name, msg))


def expect(name, got, want):
    global checks
    checks += 1
    if got != want:
        fail(name, "got %r, want %r" % (got, want))


def expect_true(name, cond, msg=""):
    global checks
    checks += 1
    if not cond:
        fail(name, msg or "condition false")


def crashed(name, e):
    """Counts an exception that ended a group of checks as one failure."""
    global checks
    checks += 1
    fail(name, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))


def group(fn, *args):
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - report and go on
        crashed(fn.__name__, e)


async def agroup(fn, *args):
    try:
        await fn(*args)
    except Exception as e:  # noqa: BLE001 - report and go on
        crashed(fn.__name__, e)


def finish(what):
    """Prints the summary line and exits: 1 if any check failed."""
    print("%s: %d checks, %d failed" % (what, checks, failures))
    sys.exit(1 if failures else 0)


def load_fixture(path):
    """The fixture with parsed times ("ts") and payloads ("doc"), the same
    sorted by entity and version, and the entity ids sorted."""
    with open(path, encoding="utf-8") as f:
        fixture = json.load(f)
    for ev in fixture:
        ev["ts"] = datetime.datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00"))
        ev["doc"] = json.loads(ev["payload"])
    fixture_sorted = sorted(fixture, key=lambda e: (e["entity_id"], e["version"]))
    entities = sorted({e["entity_id"] for e in fixture})
    return fixture, fixture_sorted, entities
