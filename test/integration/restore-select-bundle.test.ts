/**
 * Table- and schema-level restore through the bundle (dist/index.js run as the runner does): the
 * sample shop plus a second schema, backed up to a folder, then one table (`table: shop.orders`)
 * and one schema (`schema: archive`) restored into side databases; a pattern matching nothing fails
 * naming the input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';

let cluster: Cluster;
let work: string;
let folder: string;
let backup: ActionRun;

function restore(extra: Record<string, string>): Promise<ActionRun> {
  return runAction({
    inputs: {
      command: 'restore',
      database: 'shop',
      destination: `file://${folder}`,
      'create-database': 'true',
      'issue-on-failure': 'false',
      ...extra,
    },
  });
}

function errors(result: ActionRun): string[] {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replace(/%0A/g, '\n').replace(/%25/g, '%'));
}

/** The user relations of `db` (schema.name kind), sorted. */
async function relations(db: string): Promise<string[]> {
  const out = await cluster.psql(
    db,
    `SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`,
  );
  return out.split('\n').filter((l) => l !== '');
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'restore-select-'));
  folder = path.join(work, 'backups');
  cluster = await startCluster();
  await loadSampleDb(cluster, 'shop');
  await cluster.psql(
    'shop',
    `CREATE SCHEMA archive;
     CREATE TABLE archive.old_orders (id int PRIMARY KEY, total_cents int NOT NULL CHECK (total_cents >= 0));
     CREATE INDEX old_orders_total_idx ON archive.old_orders (total_cents);
     INSERT INTO archive.old_orders SELECT g, g * 10 FROM generate_series(1, 500) g;`,
  );
  backup = await runAction({
    inputs: { 'database-url': cluster.url('shop'), destination: `file://${folder}`, 'issue-on-failure': 'false' },
  });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('backup of the shop with a second schema', () => {
  expect(errors(backup)).toEqual([]);
  expect(backup.exitCode).toBe(0);
});

test('table: shop.orders into a side database: the table with its data, indexes, key and type; the same rows', async () => {
  const result = await restore({ 'target-database-url': cluster.url('orders_side'), table: 'shop.orders' });
  expect(errors(result)).toEqual([]);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toMatch(/Restoring \d+ of the archive's \d+ entries: 1 table\(s\) \(shop\.orders\)/);
  expect(await relations('orders_side')).toEqual([
    'shop.orders r',
    'shop.orders_customer_idx i',
    'shop.orders_id_seq S',
    'shop.orders_pkey i',
    'shop.orders_placed_at_idx i',
  ]);
  const compare = `SELECT count(*) || ':' || md5(string_agg(o::text, ',' ORDER BY id)) FROM shop.orders o`;
  expect(await cluster.psql('orders_side', compare)).toBe(await cluster.psql('shop', compare));
}, 120_000);

test('schema: archive into a side database: only that schema', async () => {
  const result = await restore({ 'target-database-url': cluster.url('archive_side'), schema: 'archive' });
  expect(errors(result)).toEqual([]);
  expect(result.exitCode).toBe(0);
  expect(await relations('archive_side')).toEqual([
    'archive.old_orders r',
    'archive.old_orders_pkey i',
    'archive.old_orders_total_idx i',
  ]);
  expect(await cluster.psql('archive_side', 'SELECT count(*) FROM archive.old_orders')).toBe('500');
}, 120_000);

test('a table pattern matching nothing in the archive fails naming the input; the created database is dropped', async () => {
  const result = await restore({ 'target-database-url': cluster.url('nothing_side'), table: 'shop.ordres' });
  expect(result.exitCode).not.toBe(0);
  expect(errors(result).join('\n')).toMatch(
    /table: the pattern 'shop\.ordres' matches nothing in .*nothing was restored/,
  );
  expect(await cluster.psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = 'nothing_side'`)).toBe('0');
}, 120_000);
