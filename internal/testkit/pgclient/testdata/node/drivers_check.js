'use strict';
// postgres.js and knex compatibility check, run by pgclient.RunNodeDrivers.
//
// Usage: node drivers_check.js DSN FIXTURE_JSON
//
// The server behind DSN must hold the fixture (pgclient.Fixture) in the
// events relation. Prints one "FAIL: ..." line per failed check and a
// summary line; exits 1 if any check failed, 3 if a module is missing. The
// same checks pass against PostgreSQL 15; those about AllSource's own
// functions run only there.

const fs = require('fs');
const path = require('path');
const shared = require('./checklib');
const { expect, group, finish, loadFixture, libpqDSN } = shared;

let postgres, knexLib;
try {
  postgres = require('postgres');
  knexLib = require('knex');
} catch (e) {
  console.log('MISSING MODULE: ' + e.message.split('\n')[0]);
  process.exit(3);
}

const [givenDSN, fixturePath] = process.argv.slice(2);
const dsn = libpqDSN(givenDSN);
const { fixture, sorted, entities } = loadFixture(fixturePath);
const when = new Date('2024-02-01T00:00:00Z');
const FUNNEL = JSON.stringify(shared.FUNNEL);

async function postgresJS() {
  const sql = postgres(dsn, { max: 2, onnotice: () => {} });
  try {
    const allsource = (await sql`SELECT version() AS v`)[0].v.includes('AllSource');
    await group('postgres.js browse', async () => {
      const cols = await sql`SELECT column_name FROM information_schema.columns WHERE table_name = 'events' ORDER BY ordinal_position`;
      expect('postgres.js columns', cols.map((c) => c.column_name).slice(0, 4), ['seq', 'id', 'tenant_id', 'entity_id']);
    });
    await group('postgres.js parameters', async () => {
      const [r] = await sql`SELECT ${2 ** 40}::int8 AS i, ${"O'Brien ü"}::text AS s, ${when}::timestamptz AS t,
        ${true}::bool AS b, ${sql.json({ a: 1 })}::json AS j, ${'12345678-1234-5678-1234-567812345678'}::uuid AS u`;
      expect('postgres.js round trip', [String(r.i), r.s, r.t.toISOString(), r.b, r.j, r.u],
        [String(2 ** 40), "O'Brien ü", when.toISOString(), true, { a: 1 }, '12345678-1234-5678-1234-567812345678']);
      const [n] = await sql`SELECT count(*)::int AS n FROM events WHERE entity_id = ANY(${entities}) AND "timestamp" >= ${when}`;
      expect('postgres.js = ANY(array)', n.n, fixture.filter((e) => e.ts >= when).length);
      const [m] = await sql`SELECT count(*)::int AS n FROM events WHERE entity_id IN ${sql(entities)}`;
      expect('postgres.js IN list', m.n, fixture.length);
    });
    await group('postgres.js rows', async () => {
      const rows = await sql`SELECT entity_id, event_type, version, "timestamp", payload FROM events
        WHERE entity_id = ANY(${entities}) ORDER BY entity_id, version`;
      expect('postgres.js rows', rows.map((r) => [r.entity_id, r.event_type, Number(r.version), r.timestamp.toISOString(), r.payload]),
        sorted.map((e) => [e.entity_id, e.event_type, e.version, e.ts.toISOString(), e.doc]));
    });
    await group('postgres.js error and recovery', async () => {
      let code = '';
      try {
        await sql`SELECT no_such_column FROM events`;
      } catch (e) {
        code = e.code;
      }
      expect('postgres.js error code', code, '42703');
      const [r] = await sql`SELECT count(*)::int AS n FROM events WHERE entity_id = ANY(${entities})`;
      expect('postgres.js after error', r.n, fixture.length);
    });
    await group('postgres.js cursor', async () => {
      const got = [];
      await sql.begin(async (tx) => {
        await tx`SELECT entity_id, version FROM events WHERE entity_id = ANY(${entities}) ORDER BY entity_id, version`
          .cursor(3, (rows) => { for (const r of rows) got.push([r.entity_id, Number(r.version)]); });
      });
      expect('postgres.js cursor rows', got, sorted.map((e) => [e.entity_id, e.version]));
    });
    await group('postgres.js copy', async () => {
      const tag = 'pjs-' + Math.random().toString(36).slice(2, 10);
      const w = await sql`COPY events (entity_id, event_type, payload) FROM STDIN`.writable();
      await new Promise((resolve, reject) => {
        w.on('error', reject);
        w.on('finish', resolve);
        w.write(tag + '\tcopied\t{"i":1}\n');
        w.write(tag + '\tcopied\t{"i":2}\n');
        w.end();
      });
      const [r] = await sql`SELECT count(*)::int AS n FROM events WHERE entity_id = ${tag}`;
      expect('postgres.js COPY FROM', r.n, 2);
      const chunks = [];
      const rd = await sql`COPY (SELECT entity_id FROM events WHERE entity_id = ${sql.unsafe("'" + tag + "'")}) TO STDOUT`.readable();
      for await (const c of rd) chunks.push(c.toString());
      expect('postgres.js COPY TO', chunks.join(''), tag + '\n' + tag + '\n');
    });
    if (allsource) {
      await group('postgres.js funnel', async () => {
        const rows = await sql`SELECT entities FROM funnel(${FUNNEL}) ORDER BY step`;
        expect('postgres.js funnel($1)', rows.map((r) => Number(r.entities)), [3, 2, 1]);
      });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function knex() {
  // knex users give TLS options as an object (self-signed certificate:
  // encrypted, not verified).
  const tls = /[?&]sslmode=require/.test(givenDSN);
  const connection = tls
    ? { connectionString: givenDSN.replace(/[?&]sslmode=require/, ''), ssl: { rejectUnauthorized: false } }
    : givenDSN;
  const db = knexLib({ client: 'pg', connection, pool: { min: 0, max: 2 } });
  try {
    await group('knex schema', async () => {
      const info = await db('events').columnInfo();
      expect('knex columnInfo', Object.keys(info).slice(0, 4), ['seq', 'id', 'tenant_id', 'entity_id']);
      expect('knex hasTable', await db.schema.hasTable('events'), true);
    });
    await group('knex queries', async () => {
      const rows = await db('events').select('entity_id', 'version').whereIn('entity_id', entities)
        .orderBy(['entity_id', 'version']);
      expect('knex whereIn', rows.map((r) => [r.entity_id, Number(r.version)]), sorted.map((e) => [e.entity_id, e.version]));
      const [c] = await db('events').count({ n: '*' }).whereIn('entity_id', entities).andWhere('timestamp', '>=', when);
      expect('knex count', Number(c.n), fixture.filter((e) => e.ts >= when).length);
      const byType = await db('events').select('event_type').count({ n: '*' }).whereIn('entity_id', entities)
        .groupBy('event_type').orderBy('event_type');
      expect('knex groupBy', byType.map((r) => [r.event_type, Number(r.n)]),
        [...new Set(fixture.map((e) => e.event_type))].sort().map((t) => [t, fixture.filter((e) => e.event_type === t).length]));
      const raw = await db.raw('SELECT count(*) AS n FROM events WHERE entity_id = ANY(?)', [entities]);
      expect('knex raw = ANY(?)', Number(raw.rows[0].n), fixture.length);
    });
    await group('knex error and recovery', async () => {
      let code = '';
      try {
        await db.raw('SELECT no_such_column FROM events');
      } catch (e) {
        code = e.code;
      }
      expect('knex error code', code, '42703');
      const [c] = await db('events').count({ n: '*' }).whereIn('entity_id', entities);
      expect('knex after error', Number(c.n), fixture.length);
    });
  } finally {
    await db.destroy();
  }
}

(async () => {
  await group('postgres.js', postgresJS);
  await group('knex', knex);
  const version = (m) => JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', m, 'package.json'), 'utf8')).version;
  finish('postgres.js ' + version('postgres') + ', knex ' + version('knex'));
  process.exit(process.exitCode);
})();
