/**
 * Content fingerprints against a real cluster: a small database with the categories the drill
 * proves (edge values of common types, equal rows, a sequence, large objects, a populated and an
 * unpopulated materialized view, a NOT VALID constraint, a disabled trigger, an event trigger) is
 * backed up through the bundle (dist/index.js) and drilled (passes, the summary's one line says
 * what was proven). Then the archive is restored with pg_restore into copies of a database, each
 * copy tampered one way, and readRestoredState + verifyDrill must fail naming the object.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Log } from '../../src/log.js';
import type { Manifest } from '../../src/manifest.js';
import { connectInspector } from '../../src/postgres/inspect.js';
import type { Connection } from '../../src/postgres/types.js';
import { readRestoredState } from '../../src/restore/restored-state.js';
import { verifyDrill } from '../../src/restore/verify.js';
import { runAction } from '../support/action-runner.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';

const run = promisify(execFile);
const T = 120_000;

const FIXTURE = `
CREATE SCHEMA app;
CREATE TABLE app.items (
  id int PRIMARY KEY, f8 float8, f4 float4, ts timestamptz, d date, iv interval, b bytea, m money,
  n numeric, j jsonb, t text, r regclass, arr int[], flag boolean
);
INSERT INTO app.items VALUES
  (1, 0.1, 1.5, '2024-02-29 23:59:59.123456+05:30', '2024-02-29', '1 year 2 mons -3 days 04:05:06.7',
   '\\xdeadbeef', 12.34, 3.14159265358979323846264338327950288, '{"a": [1, 2.50, null]}', 'a A ä b B', 'app.items', '{1,NULL,3}', true),
  (2, 'NaN', '-Infinity', 'infinity', '4713-01-01 BC', '-178000000 years', '', -0.01,
   'NaN', '"\\u00e9"', E'tab\\there\\nnewline "quoted" \\\\ back', 'pg_class', '{}', NULL),
  (3, 1e308, 1e-38, '1970-01-01 00:00:00+00', 'epoch', '0', NULL, NULL, -0.0, 'null', NULL, NULL, NULL, false);
CREATE TABLE app.dups (x int, y text);
INSERT INTO app.dups VALUES (1, 'same'), (1, 'same'), (2, 'other');
CREATE SEQUENCE app.counter;
SELECT setval('app.counter', 41);
SELECT nextval('app.counter');
CREATE MATERIALIZED VIEW app.item_ids AS SELECT id FROM app.items;
CREATE MATERIALIZED VIEW app.later AS SELECT 1 AS one WITH NO DATA;
ALTER TABLE app.items ADD CONSTRAINT positive_id CHECK (id > 1) NOT VALID;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER items_touch BEFORE UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.items DISABLE TRIGGER items_touch;
CREATE FUNCTION app.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER ddl_watch ON ddl_command_end EXECUTE FUNCTION app.on_ddl();
ALTER EVENT TRIGGER ddl_watch DISABLE;
SELECT lo_from_bytea(70001, '\\x0102030405');
SELECT lo_from_bytea(70002, convert_to(repeat('large object ', 10000), 'UTF8'));
`;

const log: Log = { info: () => undefined, warning: () => undefined, group: (_name, fn) => fn() };

let cluster: Cluster;
let work: string;
let folder: string;
let manifest: Manifest;
let archive: string;

function connection(database: string): Connection {
  return { host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.password, database, params: {} };
}

/** The failing check names of a drill verdict on database `db`. */
async function failures(db: string): Promise<string[]> {
  const state = await readRestoredState({ log, connect: connectInspector }, connection(db), [], manifest);
  return verifyDrill(manifest, state)
    .checks.filter((c) => !c.passed)
    .map((c) => c.name);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'drill-content-'));
  folder = path.join(work, 'backups');
  cluster = await startCluster();
  await cluster.createDatabase('src');
  await cluster.psql('src', FIXTURE);
  const backup = await runAction({
    inputs: {
      'database-url': cluster.url('src'),
      destination: `file://${folder}`,
      verify: 'content',
      'issue-on-failure': 'false',
    },
  });
  if (backup.exitCode !== 0) throw new Error(`backup failed:\n${backup.stdout}\n${backup.stderr}`);
  const files = readdirSync(folder, { recursive: true }).map(String);
  const manifestFile = files.find((f) => f.endsWith('.manifest.json')) as string;
  manifest = JSON.parse(readFileSync(path.join(folder, manifestFile), 'utf8')) as Manifest;
  // Restore the archive once (uncompressed through zstd -d), then copy the database per tampering.
  archive = path.join(work, 'archive.dump');
  await run('sh', ['-c', `zstd -dc "${path.join(folder, manifest.archive.key)}" > "${archive}"`]);
  await cluster.createDatabase('restored');
  await run(path.join(cluster.binDir, 'pg_restore'), [
    '-h',
    cluster.socketDir,
    '-p',
    String(cluster.port),
    '-U',
    'postgres',
    '-d',
    'restored',
    archive,
  ]);
}, T);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, T);

test('the manifest (format 2) records fingerprints, sequences, large objects, matviews, NOT VALID, triggers', () => {
  expect(manifest.formatVersion).toBe(2);
  const c = manifest.content!;
  expect(c.algorithm).toBe('sum-hashtextextended');
  expect(c.settings).toMatchObject({ TimeZone: 'UTC', DateStyle: 'ISO, MDY', extra_float_digits: '3' });
  expect(c.tables!.map((t) => [t.table, t.rows])).toEqual([
    ['dups', 3],
    ['items', 3],
  ]);
  expect(manifest.rowCounts.tables.map((t) => t.rows)).toEqual([3, 3]);
  for (const t of c.tables!) expect(t.fingerprint).toMatch(/^-?\d+$/);
  expect(c.sequences).toEqual([
    {
      schema: 'app',
      name: 'counter',
      before: { lastValue: '42', isCalled: true },
      after: { lastValue: '42', isCalled: true },
    },
  ]);
  expect(c.largeObjects).toMatchObject({ count: 2, objects: [{ oid: 70001 }, { oid: 70002 }] });
  expect(c.matviews).toEqual([
    { schema: 'app', name: 'item_ids', populated: true },
    { schema: 'app', name: 'later', populated: false },
  ]);
  expect(c.notValidConstraints).toEqual(['app.items.positive_id']);
  expect(c.triggers).toEqual([{ schema: 'app', table: 'items', name: 'items_touch', enabled: 'D' }]);
  expect(c.eventTriggers).toEqual([{ name: 'ddl_watch', enabled: 'D' }]);
});

test(
  'the drill through the bundle passes on the faithful restore (NOT VALID kept) and says in one line what it proved',
  async () => {
    const drill = await runAction({
      inputs: {
        command: 'drill',
        database: 'src',
        destination: `file://${folder}`,
        'target-database-url': cluster.url('scratch'),
        'issue-on-failure': 'false',
      },
    });
    if (drill.exitCode !== 0) throw new Error(`drill failed:\n${drill.stdout}\n${drill.stderr}`);
    expect(drill.summary).toMatch(
      /^Proven: 2 tables content-identical \(6 rows\), \d+ object counts, 1 sequences, 2 large objects, NOT VALID constraints as in the source \(1\), indexes valid, 2 triggers, 2 materialized views, \d+ database properties\.$/m,
    );
    // The log is compact: one line per category, no per-table PASS lines.
    expect(drill.stdout).toMatch(/PASS tables: 4 checks, 2 tables content-identical/);
    expect(drill.stdout).not.toMatch(/PASS rows of/);
  },
  T,
);

test('the same restore read directly passes', async () => {
  expect(await failures('restored')).toEqual([]);
});

test.each<[string, string, string[]]>([
  ['one changed value', `UPDATE app.items SET t = 'tab' WHERE id = 2`, ['content of app.items']],
  [
    'one deleted duplicate row',
    `DELETE FROM app.dups WHERE ctid = (SELECT min(ctid) FROM app.dups WHERE x = 1)`,
    ['rows of app.dups', 'content of app.dups'],
  ],
  [
    'a float changed in its last digit',
    `UPDATE app.items SET f8 = 1.0000000000000002e308 WHERE id = 3`,
    ['content of app.items'],
  ],
  ['an unlinked large object', `SELECT lo_unlink(70001)`, ['large object 70001', 'large objects']],
  ['an altered large object', `SELECT lo_put(70002, 5, '\\x00')`, ['large object 70002', 'large objects']],
  ['a sequence set', `SELECT setval('app.counter', 43)`, ['sequence app.counter']],
  [
    'a NOT VALID constraint validated',
    `ALTER TABLE app.items VALIDATE CONSTRAINT positive_id`,
    ['constraint app.items.positive_id'],
  ],
  ['a trigger enabled', `ALTER TABLE app.items ENABLE TRIGGER items_touch`, ['trigger app.items.items_touch']],
  ['a materialized view refreshed', `REFRESH MATERIALIZED VIEW app.later`, ['materialized view app.later']],
  [
    'nothing changed, other output settings on the restored database (pinned by the drill)',
    [
      "TimeZone = ''Asia/Tokyo''",
      "DateStyle = ''German, DMY''",
      'extra_float_digits = 0',
      'bytea_output = escape',
      'IntervalStyle = sql_standard',
    ]
      .map((set) => `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET ${set}', current_database()); END $$;`)
      .join('\n'),
    [],
  ],
])(
  '%s: the drill fails naming exactly the tampered objects',
  async (_kind, tamper, names) => {
    const db = `t_${Math.random().toString(36).slice(2, 8)}`;
    await cluster.psql('postgres', `CREATE DATABASE ${db} TEMPLATE restored`);
    // The copy's event trigger is disabled (as in the source), so DDL here is not watched.
    if (tamper.includes('VALIDATE CONSTRAINT')) await cluster.psql(db, `DELETE FROM app.items WHERE id <= 1`);
    await cluster.psql(db, tamper);
    const failed = await failures(db);
    if (tamper.includes('VALIDATE CONSTRAINT')) expect(failed).toEqual(expect.arrayContaining(names));
    else expect(failed).toEqual(names);
  },
  T,
);

test(
  'the fingerprint is order-independent (same rows, another physical order or after CLUSTER) and equal rows do not cancel',
  async () => {
    await cluster.psql(
      'src',
      `CREATE TABLE app.a (x int PRIMARY KEY, y text); INSERT INTO app.a SELECT g, md5(g::text) FROM generate_series(1, 500) g;
       CREATE TABLE app.b (x int PRIMARY KEY, y text); INSERT INTO app.b SELECT g, md5(g::text) FROM generate_series(500, 1, -1) g;
       UPDATE app.b SET y = y WHERE x % 7 = 0; CLUSTER app.a USING a_pkey;
       CREATE TABLE app.once (x int); INSERT INTO app.once VALUES (1), (2);
       CREATE TABLE app.twice (x int); INSERT INTO app.twice VALUES (1), (1), (2);
       CREATE TABLE app.none (x int); INSERT INTO app.none VALUES (2);`,
    );
    const inspector = await connectInspector(connection('src'));
    try {
      const session = await inspector.openSnapshot();
      const prints = new Map(
        (await session.tableContents('sum-hashtextextended')).map((t) => [t.table, t.fingerprint]),
      );
      const md5 = new Map((await session.tableContents('sum-md5-64')).map((t) => [t.table, t.fingerprint]));
      await session.close();
      for (const p of [prints, md5]) {
        expect(p.get('a')).toBe(p.get('b'));
        // x = 1 twice: a sum counts it twice (an xor would cancel it and equal app.none's).
        expect(p.get('twice')).not.toBe(p.get('none'));
        expect(p.get('twice')).not.toBe(p.get('once'));
        expect(BigInt(p.get('twice')!) - BigInt(p.get('once')!)).toBe(BigInt(p.get('once')!) - BigInt(p.get('none')!));
      }
    } finally {
      await inspector.close();
    }
  },
  T,
);

test(
  'the sample shop (partitions, large objects, jsonb, bytea) backed up with verify: content drills green',
  async () => {
    await loadSampleDb(cluster, 'shop');
    const shopFolder = path.join(work, 'shop');
    const backup = await runAction({
      inputs: {
        'database-url': cluster.url('shop'),
        destination: `file://${shopFolder}`,
        verify: 'content',
        'issue-on-failure': 'false',
      },
    });
    if (backup.exitCode !== 0) throw new Error(`backup failed:\n${backup.stdout}\n${backup.stderr}`);
    const drill = await runAction({
      inputs: {
        command: 'drill',
        database: 'shop',
        destination: `file://${shopFolder}`,
        'target-database-url': cluster.url('shop_drill'),
        jobs: '2',
        'issue-on-failure': 'false',
      },
    });
    if (drill.exitCode !== 0) throw new Error(`drill failed:\n${drill.stdout}\n${drill.stderr}`);
    expect(drill.summary).toMatch(/^Proven: \d+ tables content-identical \([\d,]+ rows\), .*\d+ large objects/m);
  },
  T,
);
