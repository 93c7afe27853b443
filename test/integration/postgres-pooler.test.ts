/**
 * Connection diagnosis through the bundle against real PostgreSQL 15 servers: the connection check
 * (node-pg) and pg_dump see the same connection (inherited PG* variables count for neither), a
 * setting in `options=` that the server refuses is reported as such (not as a pooler in
 * transaction mode), and a server on 6543 (Supabase's transaction pooler port) is warned about
 * even when the backup succeeds.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction } from '../support/action-runner.js';
import { startCluster, type Cluster } from '../support/pg-cluster.js';

const T = 120_000;

let cluster: Cluster;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'pg-pooler-'));
  cluster = await startCluster();
  await cluster.createDatabase('app');
  await cluster.psql('app', 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g');
}, T);

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

function stored(name: string): string[] {
  const dir = path.join(work, name);
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
}

test(
  'an inherited PGOPTIONS with a setting the server refuses, and a PGAPPNAME, change nothing: the backup succeeds',
  async () => {
    const run = await runAction({
      inputs: { 'database-url': cluster.url('app'), destination: `file://${path.join(work, 'inherited')}` },
      env: { PGOPTIONS: '-c unknown_setting=1', PGAPPNAME: 'inherited' },
    });
    expect(run.stdout).not.toContain('::error');
    expect(run.exitCode).toBe(0);
    expect(stored('inherited').some((f) => f.endsWith('.manifest.json'))).toBe(true);
  },
  T,
);

test(
  "options=-c unknown_setting=1 in the URL: exit 1, the server's refusal of that setting is named, not a pooler",
  async () => {
    const run = await runAction({
      inputs: {
        'database-url': `${cluster.url('app')}?options=-c%20unknown_setting%3D1`,
        destination: `file://${path.join(work, 'options')}`,
      },
    });
    expect(run.exitCode).toBe(1);
    const error = run.stdout.split('\n').find((l) => l.startsWith('::error')) ?? '';
    expect(error).toContain('refused a setting given when the connection starts');
    expect(error).toContain('unrecognized configuration parameter \\"unknown_setting\\"'.replace(/\\"/g, '"'));
    expect(error).toContain('`options=-c name=value` in the connection URL');
    expect(error).not.toMatch(/transaction mode|pooler/);
    expect(stored('options')).toEqual([]);
  },
  T,
);

test(
  'a server on port 6543: the backup succeeds and warns that 6543 is usually a transaction pooler',
  async () => {
    let on6543: Cluster;
    try {
      on6543 = await startCluster({ port: 6543 });
    } catch (error) {
      throw new Error(`port 6543 must be free on 127.0.0.1 for this test: ${String(error)}`, { cause: error });
    }
    try {
      const run = await runAction({
        inputs: { 'database-url': on6543.url('postgres'), destination: `file://${path.join(work, 'p6543')}` },
      });
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toMatch(
        /^::warning::Port 6543 on 127\.0\.0\.1 is usually a transaction-mode pooler .*session pooler on port 5432/m,
      );
      expect(stored('p6543').some((f) => f.endsWith('.manifest.json'))).toBe(true);
    } finally {
      await on6543.stop();
    }
  },
  T,
);
