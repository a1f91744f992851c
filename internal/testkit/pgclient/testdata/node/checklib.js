'use strict';
// What the node client checks share: counting checks, reporting each
// failure as a "FAIL: name: message" line, running groups of checks (an
// exception fails its group, not the run), the summary line and exit
// status, and the fixture (pgclient.Fixture) as the runners pass it.

const assert = require('assert');
const fs = require('fs');

const state = { checks: 0, failures: 0 };

function fail(name, msg) {
  state.failures++;
  console.log('FAIL: ' + name + ': ' + msg);
}

function expect(name, got, want) {
  state.checks++;
  try {
    assert.deepStrictEqual(got, want);
  } catch (e) {
    fail(name, 'got ' + JSON.stringify(got) + ', want ' + JSON.stringify(want));
  }
}

function expectTrue(name, cond, msg) {
  state.checks++;
  if (!cond) fail(name, msg || 'condition false');
}

// countFailure counts a check that failed without an expectation.
function countFailure(name, msg) {
  state.checks++;
  fail(name, msg);
}

async function group(name, fn) {
  try {
    await fn();
  } catch (e) {
    countFailure(name, (e && e.stack) || String(e));
  }
}

// finish prints the summary line and sets the exit status.
function finish(what) {
  console.log(what + ': ' + state.checks + ' checks, ' + state.failures + ' failed');
  process.exitCode = state.failures ? 1 : 0;
}

// loadFixture reads the fixture, with parsed times (ts) and payloads
// (doc), the same sorted by entity and version, and the entity ids.
function loadFixture(path) {
  const fixture = JSON.parse(fs.readFileSync(path, 'utf8')).map((e) => ({
    ...e,
    ts: new Date(e.timestamp),
    doc: JSON.parse(e.payload),
  }));
  const sorted = [...fixture].sort((a, b) =>
    a.entity_id < b.entity_id ? -1 : a.entity_id > b.entity_id ? 1 : a.version - b.version);
  const entities = [...new Set(fixture.map((e) => e.entity_id))].sort();
  return { fixture, sorted, entities };
}

// libpqDSN makes node-postgres read sslmode=require as libpq does
// (encrypted, certificate not verified: the server's may be self-signed);
// it reads it as verify-full otherwise.
function libpqDSN(dsn) {
  return /[?&]sslmode=require/.test(dsn) ? dsn + '&uselibpqcompat=true' : dsn;
}

// FUNNEL asks about the fixture's accounts only (other checks add
// entities), over 100 days: acct-1, 2 and 3 opened, acct-1 and 2
// credited, acct-1 closed after; its answer is [3, 2, 1].
const FUNNEL = {
  steps: [{ event_type: 'opened', where: "subject == 'acct-1' OR subject == 'acct-2' OR subject == 'acct-3'" }, 'credited', 'closed'],
  window: '100d',
};

module.exports = { fail, expect, expectTrue, countFailure, group, finish, loadFixture, libpqDSN, FUNNEL, state };
