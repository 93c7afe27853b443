/**
 * Several databases in one run, through the committed bundle (dist/index.js run as the runner does):
 * a throwaway cluster with `app`, `my db ü` (the sample shop: a name with a space and non-ASCII) and
 * `shop`, backed up with `database: all` (the cluster's own `postgres` left out by
 * exclude-database, two at a time) into a local folder, then `list` and `drill` with `all`.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import type { DatabaseOutcome } from '../../src/report/databases-report.js';

let cluster: Cluster;
let work: string;
let folder: string;
let backup: ActionRun;

const UNICODE = 'my db ü';

function entries(result: ActionRun): DatabaseOutcome[] {
  return JSON.parse(result.outputs['backups-json'] ?? '[]') as DatabaseOutcome[];
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'databases-bundle-'));
  folder = path.join(work, 'backups');
  cluster = await startCluster();
  await loadSampleDb(cluster, UNICODE, 1 / 30);
  for (const db of ['app', 'shop']) {
    await cluster.createDatabase(db);
    await cluster.psql(
      db,
      `CREATE TABLE t (id int PRIMARY KEY, db text); INSERT INTO t SELECT g, '${db}' FROM generate_series(1, 50) g;`,
    );
  }
  backup = await runAction({
    inputs: {
      'database-url': cluster.url('postgres'),
      database: 'all',
      'exclude-database': 'postgres',
      'parallel-databases': '2',
      globals: 'true',
      destination: `file://${folder}`,
      'issue-on-failure': 'false',
    },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('backup with database: all stores each database under its own key, globals once, postgres skipped', () => {
  expect(backup.stderr).toBe('');
  expect(backup.exitCode).toBe(0);
  const list = entries(backup);
  expect(list.map((e) => [e.database, e.status])).toEqual([
    ['app', 'ok'],
    [UNICODE, 'ok'],
    ['shop', 'ok'],
    ['postgres', 'skipped'],
  ]);
  for (const e of list.filter((x) => x.status === 'ok')) {
    expect(existsSync(path.join(folder, e.key as string))).toBe(true);
    expect(existsSync(path.join(folder, e.manifestKey as string))).toBe(true);
    expect(e.bytes).toBeGreaterThan(0);
    expect(e.sha256).toMatch(/^[0-9a-f]{64}$/);
  }
  expect(list[1]?.key).toMatch(/^my%20db%20%C3%BC\//);
  // backup-key keeps meaning the first database's.
  expect(backup.outputs['backup-key']).toBe(list[0]?.key);
  // The globals are stored once, beside the first database's archive.
  const globals = ['app', 'my%20db%20%C3%BC', 'shop'].map(
    (dir) => readdirSync(path.join(folder, dir)).filter((f) => f.includes('.globals.sql')).length,
  );
  expect(globals).toEqual([1, 0, 0]);
  // Two at a time: each database's lines are marked.
  expect(backup.stdout).toContain(`[${UNICODE}] `);
  expect(backup.summary).toContain('| Database | Status | Size | SHA-256 | Duration |');
  expect(backup.summary).toMatch(/\| \*\*Total\*\* \(4\) \| 3 ok, 0 failed, 1 skipped \|/);
});

test('list and drill with database: all go over every database with backups in the destination', async () => {
  const list = await runAction({
    inputs: { command: 'list', database: 'all', destination: `file://${folder}`, 'issue-on-failure': 'false' },
  });
  expect(list.exitCode).toBe(0);
  expect(entries(list).map((e) => [e.database, e.status])).toEqual([
    ['app', 'ok'],
    [UNICODE, 'ok'],
    ['shop', 'ok'],
  ]);
  expect((JSON.parse(list.outputs['backups'] ?? '[]') as unknown[]).length).toBe(3);

  const drill = await runAction({
    inputs: {
      command: 'drill',
      database: 'all',
      destination: `file://${folder}`,
      'target-database-url': cluster.url('drill'),
      'issue-on-failure': 'false',
    },
  });
  expect(drill.stderr).toBe('');
  expect(drill.exitCode).toBe(0);
  expect(drill.outputs['drill-passed']).toBe('true');
  expect(entries(drill).map((e) => [e.database, e.status])).toEqual([
    ['app', 'ok'],
    [UNICODE, 'ok'],
    ['shop', 'ok'],
  ]);
  // Each scratch database was dropped after its drill.
  expect(await cluster.psql('postgres', `SELECT count(*) FROM pg_database WHERE datname LIKE 'drill%'`)).toBe('0');
}, 60_000);

test('a database that fails is reported by name; the others are stored and the run fails at the end; check with all', async () => {
  const failing = await runAction({
    inputs: {
      'database-url': cluster.url('postgres'),
      database: 'nope\napp',
      destination: `file://${folder}`,
      label: 'list',
      'issue-on-failure': 'false',
    },
  });
  expect(failing.exitCode).toBe(1);
  const list = entries(failing);
  expect(list.map((e) => [e.database, e.status])).toEqual([
    ['nope', 'failed'],
    ['app', 'ok'],
  ]);
  expect(list[0]?.error).toMatch(/nope/);
  expect(existsSync(path.join(folder, list[1]?.key as string))).toBe(true);
  // backup-key: the first database that stored one.
  expect(failing.outputs['backup-key']).toBe(list[1]?.key);
  const error = failing.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
  expect(error).toMatch(/^::error::backup failed for 1 of 2 databases: nope \(connect: .*Stored and verified: app\./);
  expect(failing.summary).toContain('| **Total** (2) | 1 ok, 1 failed, 0 skipped |');

  const check = await runAction({
    inputs: { command: 'check', database: 'all', destination: `file://${folder}`, 'issue-on-failure': 'false' },
  });
  expect(check.exitCode).toBe(0);
  expect(entries(check).map((e) => e.status)).toEqual(['ok', 'ok', 'ok']);
}, 60_000);
