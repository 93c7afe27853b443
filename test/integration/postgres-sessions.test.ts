/**
 * The backup's own sessions against a hostile role and real lock holders, through the bundle
 * (dist/index.js) with a real PostgreSQL 15 cluster, a folder and s3rver as destinations:
 * - a role with `ALTER ROLE … SET statement_timeout / idle_in_transaction_session_timeout /
 *   lock_timeout` does not fail the counts (they run in the dump's snapshot, as pg_dump does);
 * - a count that fails stops pg_dump at once and nothing is stored under the final keys;
 * - a second session holding ACCESS EXCLUSIVE: the wait is logged naming the table and the holder,
 *   and `lock-wait-timeout` ends it with an error naming both.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { startCluster, type Cluster } from '../support/pg-cluster.js';
import { until } from '../support/poll.js';
import { startS3Server, testS3Inputs, type S3Server } from '../support/s3-server.js';

const T = 120_000;
const BIG_ROWS = 2_000_000;

let cluster: Cluster;
let s3: S3Server;
let s3Dir: string;
let work: string;
const holders: pg.Client[] = [];

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'pg-sessions-'));
  s3Dir = mkdtempSync(path.join(os.tmpdir(), 's3-sessions-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server({ dir: s3Dir })]);
  await s3.createBucket('sessions');
  await cluster.createDatabase('shop');
  await cluster.psql(
    'shop',
    `CREATE TABLE big AS SELECT g AS id FROM generate_series(1, ${BIG_ROWS}) g;
     CREATE TABLE orders AS SELECT g AS id, 'order ' || g AS note FROM generate_series(1, 1000) g;
     ANALYZE;
     CREATE ROLE tight LOGIN PASSWORD 'tight-pw';
     GRANT SELECT ON ALL TABLES IN SCHEMA public TO tight;
     -- Lets the role see other roles' query_start and state in pg_stat_activity (the lock holder's).
     GRANT pg_read_all_stats TO tight;
     -- The role's own limits, as a careful DBA sets them for application roles. count(*) of big
     -- takes several times 50 ms (checked below), the snapshot session sits idle in its
     -- transaction while pg_dump runs, and any lock wait would end after 10 ms.
     ALTER ROLE tight SET statement_timeout = '50ms';
     ALTER ROLE tight SET idle_in_transaction_session_timeout = '100ms';
     ALTER ROLE tight SET lock_timeout = '10ms';`,
  );
}, T);

afterEach(async () => {
  await Promise.all(holders.splice(0).map((c) => c.end().catch(() => undefined)));
});

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
  rmSync(s3Dir, { recursive: true, force: true });
});

function inputs(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'database-url': cluster.url('shop', 'tight', 'tight-pw'),
    destination: `file://${path.join(work, name)}\ns3://sessions/${name}`,
    ...testS3Inputs(s3.endpoint),
    ...extra,
  };
}

/** Every file under a folder, relative paths. */
function filesUnder(dir: string): string[] {
  const walk = (d: string, rel: string): string[] =>
    !existsSync(d)
      ? []
      : readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(path.join(d, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`],
        );
  return walk(dir, '');
}

/** Objects (and anything else) s3rver stored under the destination's prefix. */
function objectsUnder(name: string): string[] {
  return filesUnder(path.join(s3Dir, 'sessions', name));
}

/** A second session holding ACCESS EXCLUSIVE on public.orders in an open transaction, as a migration would. */
async function holdOrders(): Promise<{ client: pg.Client; pid: number }> {
  const client = await connect('migration-42');
  await client.query('BEGIN');
  await client.query('LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { client, pid: rows[0]!.pid };
}

async function connect(applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: cluster.url('shop'), application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  holders.push(client);
  return client;
}

function errorLine(run: ActionRun): string {
  return run.stdout.split('\n').find((l) => l.startsWith('::error')) ?? `(no ::error line) ${run.stdout.slice(-2000)}`;
}

test(
  "the role's statement_timeout, idle_in_transaction_session_timeout and lock_timeout do not fail the counts: exact rows in the manifest",
  async () => {
    // The premise: under the role's settings, the count the manifest needs does not finish.
    const asRole = new pg.Client({ connectionString: cluster.url('shop', 'tight', 'tight-pw') });
    await asRole.connect();
    try {
      await expect(asRole.query('SELECT count(*) FROM big')).rejects.toThrow(
        /canceling statement due to statement timeout/,
      );
    } finally {
      await asRole.end();
    }

    const run = await runAction({ inputs: inputs('immune', { compression: 'zstd:1' }), timeoutMs: T });
    expect(run.stdout).not.toContain('::error');
    expect(run.exitCode).toBe(0);
    const stored = filesUnder(path.join(work, 'immune'));
    const manifestFile = stored.find((f) => f.endsWith('.manifest.json'));
    expect(manifestFile).toBeDefined();
    const manifest = JSON.parse(
      (await import('node:fs')).readFileSync(path.join(work, 'immune', manifestFile!), 'utf8'),
    ) as {
      rowCounts: { mode: string; tables: { schema: string; table: string; rows: number }[] };
    };
    expect(manifest.rowCounts).toEqual({
      mode: 'exact',
      tables: [
        { schema: 'public', table: 'big', rows: BIG_ROWS },
        { schema: 'public', table: 'orders', rows: 1000 },
      ],
    });
    // s3rver stores an object as files named after its key.
    expect(objectsUnder('immune').some((k) => k.includes('.manifest.json'))).toBe(true);
  },
  T,
);

test(
  'a count that fails (its session terminated) stops pg_dump at once: exit 1 naming the table and the cause, nothing under the final keys',
  async () => {
    // pg_dump and the count both queue behind the migration's lock; lock-wait-timeout 0 lets pg_dump
    // wait forever, so only stopping it on the count's failure can end the run.
    await holdOrders();
    const running = runAction({ inputs: inputs('count-failed', { 'lock-wait-timeout': '0' }), timeoutMs: 60_000 });
    // Outside a transaction: pg_stat_activity is read once per transaction.
    const observer = await connect('observer');
    const counting = await until(
      'the count of public.orders waiting for the lock',
      async () => {
        const { rows } = await observer.query<{ pid: number }>(
          `SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE NOT l.granted AND l.relation = 'public.orders'::regclass AND a.query LIKE 'SELECT count(*)%'`,
        );
        return rows[0]?.pid;
      },
      // As long as the run itself may take (30 s ran out once on a loaded machine).
      { timeoutMs: 60_000 },
    );
    await observer.query('SELECT pg_terminate_backend($1)', [counting]);
    const run = await running;
    expect(run.exitCode).toBe(1);
    const error = errorLine(run);
    expect(error).toContain('Counting the rows of public.orders');
    expect(error).toContain('terminating connection due to administrator command');
    expect(error).not.toMatch(/network|firewall|S3|upload/i);
    // The holder still holds its lock: pg_dump did not finish, it was stopped.
    const { rows } = await observer.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_locks WHERE relation = 'public.orders'::regclass AND mode = 'AccessExclusiveLock' AND granted",
    );
    expect(rows[0]!.n).toBe('1');
    expect(filesUnder(path.join(work, 'count-failed'))).toEqual([]);
    expect(objectsUnder('count-failed')).toEqual([]);
    expect(await s3.pendingMultipartUploads('sessions')).toEqual([]);
  },
  T,
);

test('lock-wait-timeout=3s with a session holding ACCESS EXCLUSIVE: exit 1 naming the table, the holder and the input; nothing stored', async () => {
  const holder = await holdOrders();
  const started = Date.now();
  const run = await runAction({ inputs: inputs('lock-timeout', { 'lock-wait-timeout': '3s' }), timeoutMs: 150_000 });
  const seconds = (Date.now() - started) / 1000;
  expect(run.exitCode).toBe(1);
  const error = errorLine(run);
  expect(error).toContain('public.orders is locked by pid ' + holder.pid + ' (application "migration-42"');
  expect(error).toContain('AccessExclusiveLock');
  expect(error).toContain('`lock-wait-timeout`');
  expect(error).not.toMatch(/firewall|connect_timeout/);
  // Generous (measured 10.6 s on a loaded machine): the wait is bounded by the input, not by a job's time limit.
  expect(seconds).toBeLessThan(120);
  expect(filesUnder(path.join(work, 'lock-timeout'))).toEqual([]);
  expect(objectsUnder('lock-timeout')).toEqual([]);
}, 180_000);

test(
  'a wait of 30 s is logged naming the table and the holder; once the lock is released the backup completes',
  async () => {
    const holder = await holdOrders();
    const line = new RegExp(
      `pg_dump \\(backend pid \\d+\\) has waited \\d+ s for AccessShareLock on public\\.orders, blocked by pid ${holder.pid} \\(application "migration-42", user postgres, holds AccessExclusiveLock, idle in transaction, query started \\d{4}-\\d\\d-\\d\\dT`,
    );
    let released = false;
    const run = await runAction({
      inputs: inputs('logged'),
      timeoutMs: T,
      onStdout: (out) => {
        if (!released && line.test(out)) {
          released = true;
          void holder.client.query('COMMIT');
        }
      },
    });
    expect(released).toBe(true);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(line);
    expect(run.stdout).toContain('or fails after lock-wait-timeout (300 s)');
    expect(filesUnder(path.join(work, 'logged')).some((f) => f.endsWith('.manifest.json'))).toBe(true);
  },
  T,
);

test(
  'the directory format (pg_dump writes files before the stream starts): the same lock-wait-timeout failure naming the holder',
  async () => {
    const holder = await holdOrders();
    const run = await runAction({
      inputs: inputs('lock-timeout-dir', { 'lock-wait-timeout': '2s', format: 'directory', jobs: '2' }),
      timeoutMs: 60_000,
    });
    expect(run.exitCode).toBe(1);
    const error = errorLine(run);
    expect(error).toContain('public.orders is locked by pid ' + holder.pid + ' (application "migration-42"');
    expect(filesUnder(path.join(work, 'lock-timeout-dir'))).toEqual([]);
    expect(objectsUnder('lock-timeout-dir')).toEqual([]);
  },
  T,
);
