'use strict';
// node-postgres compatibility check, run by pgclient.RunNode.
//
// Usage: node check.js DSN FIXTURE_JSON
//
// The server behind DSN must hold the fixture (pgclient.Fixture) in the
// events relation. Prints one "FAIL: ..." line per failed check and a
// summary line; exits 1 if any check failed, 3 if the pg module is missing.

const { fail, expect, expectTrue, countFailure, group, finish, loadFixture, libpqDSN, FUNNEL } = require('./checklib');

let pg;
try {
  pg = require('pg');
} catch (e) {
  console.log('MISSING MODULE: pg (' + e.message.split('\n')[0] + ')');
  process.exit(3);
}

// PostgreSQL type OIDs the events columns must be described with.
const OID = { text: 25, int8: 20, timestamptz: 1184, json: 114 };

const [givenDSN, fixturePath] = process.argv.slice(2);
const dsn = libpqDSN(givenDSN);
const { fixture, sorted, entities } = loadFixture(fixturePath);
// "$1, $2, $3" for the fixture entities, and the values to bind.
const inList = entities.map((_, i) => '$' + (i + 1)).join(', ');

// expectError runs a query that must fail and returns the error.
async function expectError(name, client, query) {
  try {
    await client.query(query);
  } catch (e) {
    return e;
  }
  countFailure(name, 'no error raised');
  return null;
}

async function main() {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();

  await group('simple query', async () => {
    const r = await client.query('SELECT 1 AS one');
    expect('select 1', r.rows, [{ one: 1 }]);
    expect('select 1 command', r.command, 'SELECT');
    expect('select 1 rowCount', r.rowCount, 1);
    const n = await client.query(`SELECT count(*) AS n FROM events WHERE entity_id IN ('${entities.join("', '")}')`);
    expect('count is a string (bigint)', n.rows[0].n, String(fixture.length));
    const v = await client.query('SHOW server_version');
    expectTrue('server_version', /^\d+/.test(v.rows[0].server_version), JSON.stringify(v.rows));
  });

  await group('parameterised', async () => {
    const r = await client.query({
      text: 'SELECT entity_id, event_type, version, "timestamp", payload FROM events ' +
        `WHERE entity_id IN (${inList}) ORDER BY entity_id, version`,
      values: entities,
    });
    expect('field names', r.fields.map((f) => f.name),
      ['entity_id', 'event_type', 'version', 'timestamp', 'payload']);
    expect('field type OIDs', r.fields.map((f) => f.dataTypeID),
      [OID.text, OID.text, OID.int8, OID.timestamptz, OID.json]);
    expect('row count', r.rows.length, fixture.length);
    r.rows.forEach((row, i) => {
      const e = sorted[i];
      if (!e) return;
      const key = `${e.entity_id} v${e.version}`;
      expect(key + ' entity/type', [row.entity_id, row.event_type], [e.entity_id, e.event_type]);
      expect(key + ' version (bigint as string)', row.version, String(e.version));
      expectTrue(key + ' timestamp is Date', row.timestamp instanceof Date, typeof row.timestamp);
      // Date has millisecond precision; node-postgres truncates the rest.
      expect(key + ' timestamp', row.timestamp instanceof Date && row.timestamp.getTime(),
        Math.floor(e.ts.getTime()));
      expect(key + ' payload (object from json)', row.payload, e.doc);
    });

    const w = await client.query({
      text: 'SELECT version FROM events WHERE entity_id = $1 AND version >= $2 ORDER BY version',
      values: ['acct-1', 2],
    });
    expect('where text and int', w.rows.map((x) => x.version),
      sorted.filter((e) => e.entity_id === 'acct-1' && e.version >= 2).map((e) => String(e.version)));

    const when = new Date('2024-02-01T00:00:00Z');
    const t = await client.query(
      `SELECT count(*) AS n FROM events WHERE entity_id IN (${inList}) AND "timestamp" >= $${entities.length + 1}`,
      [...entities, when]);
    expect('where Date', t.rows[0].n, String(fixture.filter((e) => e.ts >= when).length));

    for (const owner of ["O'Brien", '李小龙', 'Zoë Müller']) {
      const o = await client.query("SELECT entity_id FROM events WHERE payload->>'owner' = $1", [owner]);
      expect('owner=' + owner, o.rows.map((x) => x.entity_id),
        fixture.filter((e) => e.doc.owner === owner).map((e) => e.entity_id));
    }

    const rt = await client.query(
      'SELECT $1::text AS s, $2::bigint AS i, $3::float8 AS f, $4::boolean AS b, $5::text AS n, $6::timestamptz AS t',
      ['O\'Brien \\ "q" ü', '1099511627776', 1.5, true, null, when]);
    expect('round trip', rt.rows[0],
      { s: 'O\'Brien \\ "q" ü', i: '1099511627776', f: 1.5, b: true, n: null, t: when });
  });

  await group('named prepared statement', async () => {
    const text = 'SELECT entity_id, version, event_type FROM events WHERE entity_id = $1 ORDER BY version';
    for (const id of ['acct-1', 'acct-2', 'acct-1']) {
      const r = await client.query({ name: 'by_entity', text, values: [id] });
      expect('by_entity ' + id, r.rows.map((x) => [x.entity_id, x.version, x.event_type]),
        sorted.filter((e) => e.entity_id === id).map((e) => [e.entity_id, String(e.version), e.event_type]));
    }
  });

  await group('rowMode array', async () => {
    const r = await client.query({
      text: `SELECT entity_id, version FROM events WHERE entity_id IN (${inList}) ORDER BY entity_id, version`,
      values: entities,
      rowMode: 'array',
    });
    expect('rows as arrays', r.rows, sorted.map((e) => [e.entity_id, String(e.version)]));
    expect('fields still named', r.fields.map((f) => f.name), ['entity_id', 'version']);
  });

  await group('typed results', async () => {
    const r = await client.query(
      "SELECT payload->'limits' AS limits, payload->>'owner' AS owner, payload->'missing' AS missing " +
      "FROM events WHERE entity_id = 'acct-3' AND version = 1");
    expect('json object, text, null', r.rows[0],
      { limits: { daily: 500, monthly: null }, owner: "O'Brien", missing: null });
    const c = await client.query(
      "SELECT payload FROM events WHERE entity_id = 'acct-3' AND event_type = 'closed'");
    expect('emoji and tab', c.rows[0].payload.reason, 'party 🎉\tdone');
    const b = await client.query(
      "SELECT payload FROM events WHERE entity_id = 'acct-1' AND version = 2");
    expect('quote and backslash', [b.rows[0].payload.ref, b.rows[0].payload.note], ['inv "42"', 'C:\\temp\\x']);
  });

  await group('errors', async () => {
    const e1 = await expectError('missing table', client, 'SELECT * FROM no_such_table');
    if (e1) {
      expect('missing table code', e1.code, '42P01');
      expect('missing table position', e1.position, '15');
      expect('missing table severity', e1.severity, 'ERROR');
    }
    const e2 = await expectError('syntax error', client, 'SELEC 1');
    if (e2) {
      expect('syntax error code', e2.code, '42601');
      expect('syntax error position', e2.position, '1');
    }
    const e3 = await expectError('extended protocol error', client,
      { text: 'SELECT * FROM no_such_table WHERE x = $1', values: [1] });
    if (e3) expect('extended protocol error code', e3.code, '42P01');
    const r = await client.query('SELECT 2 AS two');
    expect('client usable after errors', r.rows, [{ two: 2 }]);
  });

  await group('pipelined on one client', async () => {
    const qs = entities.map((id) => client.query(
      'SELECT $1::text AS id, count(*) AS n FROM events WHERE entity_id = $1', [id]));
    qs.push(client.query('SELECT 42 AS answer'));
    const rs = await Promise.all(qs);
    entities.forEach((id, i) => {
      expect('pipelined ' + id, rs[i].rows[0],
        { id, n: String(fixture.filter((e) => e.entity_id === id).length) });
    });
    expect('pipelined last', rs[rs.length - 1].rows, [{ answer: 42 }]);
  });

  await group('funnel with a bound parameter', async () => {
    const v = await client.query('SELECT version() AS v');
    if (!v.rows[0].v.includes('AllSource')) return;
    const r = await client.query('SELECT entities FROM funnel($1) ORDER BY step', [JSON.stringify(FUNNEL)]);
    expect('funnel($1)', r.rows.map((x) => Number(x.entities)), [3, 2, 1]);
  });

  await client.end();

  await group('pool of 10', async () => {
    const pool = new pg.Pool({ connectionString: dsn, max: 10 });
    try {
      // Hold ten clients at once so that the pool opens ten connections.
      const clients = await Promise.all(Array.from({ length: 10 }, () => pool.connect()));
      expect('pool size', pool.totalCount, 10);
      const rs = await Promise.all(clients.map((c, i) => c.query({
        text: 'SELECT $1::int AS i, count(*) AS n FROM events WHERE entity_id = $2',
        values: [i, entities[i % entities.length]],
      })));
      // Each connection has its own BackendKeyData (needed to cancel).
      const pids = new Set(clients.map((c) => c.processID));
      clients.forEach((c) => c.release());
      rs.forEach((r, i) => {
        const id = entities[i % entities.length];
        expect('pool query ' + i, r.rows[0],
          { i, n: String(fixture.filter((e) => e.entity_id === id).length) });
      });
      expect('distinct backend process ids', pids.size, 10);
      const r = await pool.query('SELECT 1 AS one');
      expect('pool.query', r.rows, [{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  finish(`node ${process.version}, pg ${require('pg/package.json').version}`);
}

main().catch((e) => {
  console.log('FAIL: fatal: ' + ((e && e.stack) || e));
  process.exitCode = 1;
});
