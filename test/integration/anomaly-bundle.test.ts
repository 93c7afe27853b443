/**
 * Per-table anomalies through the bundle (dist/index.js run as a process), against a real cluster
 * and a folder destination: between two backups 60 % of one table's rows are deleted and another
 * table is dropped; the second backup warns (default) or fails (`anomaly: fail`) naming both
 * tables, with a summary table; the prune after it, and a `command: prune` on its own, keep the
 * previous good backup; `check` fails on the anomaly by default; a later normal backup lifts the
 * protection.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { startCluster, type Cluster } from '../support/pg-cluster.js';
import { clockReaches } from '../support/poll.js';

let cluster: Cluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'anomaly-bundle-'));
  cluster = await startCluster();
  await cluster.createDatabase('anom');
  await cluster.psql(
    'anom',
    `CREATE TABLE orders (id int PRIMARY KEY, note text);
     INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g;
     CREATE TABLE notes (id int PRIMARY KEY);
     INSERT INTO notes SELECT generate_series(1, 50);
     CREATE TABLE customers (id int PRIMARY KEY);
     INSERT INTO customers SELECT generate_series(1, 20);`,
  );
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const PRUNE = { 'keep-last': '1', prune: 'true' };

async function backup(folder: string, inputs: Record<string, string> = {}): Promise<ActionRun> {
  const run = await runAction({
    inputs: { 'database-url': cluster.url('anom'), destination: `file://${folder}`, ...PRUNE, ...inputs },
  });
  // The next backup needs a later key second.
  await clockReaches(Math.floor(Date.now() / 1000) * 1000 + 1000);
  return run;
}

const stored = (folder: string, key: string | undefined): boolean =>
  key !== undefined && existsSync(path.join(folder, key)) && existsSync(path.join(folder, `${key}.manifest.json`));

async function damage(): Promise<void> {
  await cluster.psql('anom', 'DELETE FROM orders WHERE id <= 600; DROP TABLE notes;');
}
async function repair(): Promise<void> {
  await cluster.psql(
    'anom',
    `INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 600) g;
     CREATE TABLE notes (id int PRIMARY KEY); INSERT INTO notes SELECT generate_series(1, 50);`,
  );
}

test('warns by default, keeps the previous good backup, check fails, a normal backup lifts it', async () => {
  const folder = path.join(work, 'warn');
  const first = await backup(folder);
  expect(first.exitCode).toBe(0);
  const good = first.outputs['backup-key'];
  await damage();
  try {
    const second = await backup(folder);
    expect(second.exitCode).toBe(0);
    const bad = second.outputs['backup-key'];
    const warning = second.stdout.split('\n').find((l) => l.startsWith('::warning::') && l.includes('anomalous'));
    expect(warning).toContain('public.orders 1000 → 400 (-60.0%25)'); // % is escaped in workflow commands
    expect(warning).toContain('public.notes 50 → 0 (table gone)');
    expect(second.summary).toContain('| public.orders | 1000 | 400 | -60.0% |');
    expect(second.summary).toContain('| public.notes | 50 | 0 | table gone |');
    expect(second.stdout).toContain(`last good before anomalous`);
    expect(stored(folder, good)).toBe(true);
    expect(stored(folder, bad)).toBe(true);

    // A prune on its own recomputes the anomaly from the manifests and keeps the good one too.
    const prune = await runAction({
      inputs: { command: 'prune', database: 'anom', destination: `file://${folder}`, 'keep-last': '1' },
    });
    expect(prune.exitCode).toBe(0);
    expect(stored(folder, good)).toBe(true);

    // check fails on the anomaly by default, and reports the schedule.
    const check = await runAction({
      inputs: { command: 'check', database: 'anom', destination: `file://${folder}`, 'max-age': '1d' },
    });
    expect(check.exitCode).toBe(1);
    expect(check.stdout).toMatch(/anomalies.*public\.(orders|notes).*public\.(orders|notes)/);
    expect(check.summary).toContain('| public.orders | 1000 | 400 | -60.0% |');
    expect(check.summary).toContain('**Schedule:** a backup in each of the last 1 days.');
    const lenient = await runAction({
      inputs: { command: 'check', database: 'anom', destination: `file://${folder}`, anomaly: 'warn' },
    });
    expect(lenient.exitCode).toBe(0);

    // A later normal backup (no change since the anomalous one) lifts the protection.
    const third = await backup(folder);
    expect(third.exitCode).toBe(0);
    expect(third.stdout).not.toContain('last good before anomalous');
    expect(stored(folder, good)).toBe(false);
    expect(stored(folder, bad)).toBe(false);
    expect(stored(folder, third.outputs['backup-key'])).toBe(true);
  } finally {
    await repair();
  }
}, 300_000);

test('anomaly: fail fails the run naming the tables; retention still keeps the previous good backup', async () => {
  const folder = path.join(work, 'fail');
  const first = await backup(folder, { anomaly: 'fail' });
  expect(first.exitCode).toBe(0);
  const good = first.outputs['backup-key'];
  await damage();
  try {
    const second = await backup(folder, { anomaly: 'fail' });
    expect(second.exitCode).toBe(1);
    const error = second.stdout.split('\n').find((l) => l.startsWith('::error::'));
    expect(error).toMatch(/anomalous .*\(anomaly: fail\)/);
    expect(error).toContain('public.orders 1000 → 400');
    expect(error).toContain('public.notes 50 → 0 (table gone)');
    expect(stored(folder, good)).toBe(true);
    expect(stored(folder, second.outputs['backup-key'])).toBe(true);
  } finally {
    await repair();
  }
}, 300_000);

test('a bad max-row-drop or anomaly is refused before any work, naming the input', async () => {
  const folder = path.join(work, 'bad');
  for (const [name, value] of [
    ['max-row-drop', '1.5'],
    ['anomaly', 'error'],
  ] as const) {
    const run = await runAction({
      inputs: { 'database-url': cluster.url('anom'), destination: `file://${folder}`, [name]: value },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stdout + run.stderr).toContain(`Input '${name}'`);
    expect(existsSync(folder)).toBe(false);
  }
}, 120_000);
