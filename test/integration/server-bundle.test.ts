/**
 * Backing up every database of a server in one run (issue 22), through the bundle (dist/index.js run
 * as a process) against a real cluster built by test/support/multi-db.ts: a non-superuser backup
 * role; `analytics`, `app`, `my db ü` and `postgres` that it dumps; `ledger` whose dump fails at a
 * COPY once row-level security is on; `locked` it cannot connect to. Two destinations per scenario:
 * s3rver (first) and a folder.
 *
 * - `database: all` with `exclude-database: locked`, sequential (database-url naming `app`) and with
 *   `parallel-databases: 2` (host inputs):
 *   a first run (ledger healthy) plants a backup of every database; a second run (ledger broken)
 *   stores every other database (each archive restores into a fresh database with the manifest's and
 *   the source's row counts, and has the sha256 and size that `backups-json` gives in both stores),
 *   reports ledger failed in `backups-json`, the error and the summary, exits 1, and `keep-last: 1`
 *   prunes only the databases whose backup was verified: ledger's first backup stays. The globals are
 *   stored once, beside the first database's archive. pg_stat_activity, polled during the second
 *   run, shows the role in one database at a time sequentially and in exactly two with
 *   `parallel-databases: 2`.
 * - without exclude-database, `locked` is named in one error and nothing is dumped;
 * - `list`, `check`, `prune` and `drill` with `database: all` and with a list;
 * - bad input is refused before any work;
 * - the role's password (a sentinel) is in no output, log, summary or manifest.
 *
 * Expected values come from the fixture, the source databases and the stores, never from the run
 * under test alone.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Manifest } from '../../src/manifest.js';
import type { DatabaseOutcome } from '../../src/report/databases-report.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { createMultiDbServer, restoreArchive, watchSessions, type MultiDbServer } from '../support/multi-db.js';
import { manifestCounts, restoredCounts, startCluster, type Cluster } from '../support/pg-cluster.js';
import { clockReaches } from '../support/poll.js';
import { startS3Server, testS3Inputs, type S3Server } from '../support/s3-server.js';
import { scanForSecrets } from '../support/secret-scan.js';

const PASSWORD = 'Srv-Sentinel-pw-7d3e91';
const BUCKET = 'servers';
/** The databases `all` backs up once `locked` is excluded, sorted. */
const BACKED = ['analytics', 'app', 'ledger', 'my db ü', 'postgres'];
/** The key segment of a database, written out here (percent-encoding of a name with a space or ü). */
const segment = (db: string): string => (db === 'my db ü' ? 'my%20db%20%C3%BC' : db);

let cluster: Cluster;
let server: MultiDbServer;
let s3: S3Server;
let client: S3Client;
let monitor: WebhookReceiver;
let work: string;
/** Every run of the bundle, for the secret scan. */
const runs: ActionRun[] = [];

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'server-bundle-'));
  [cluster, s3, monitor] = await Promise.all([
    startCluster(),
    startS3Server(),
    startWebhookReceiver({ status: 200 }, [PASSWORD]),
  ]);
  server = await createMultiDbServer(cluster, PASSWORD);
  await s3.createBucket(BUCKET);
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}, 180_000);

afterAll(async () => {
  client?.destroy();
  await Promise.all([cluster?.stop(), s3?.stop(), monitor?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** One entry of the `backups-json` output (its public shape: no phase, no summary). */
type Entry = Omit<DatabaseOutcome, 'phase' | 'summary'>;

const folderOf = (prefix: string): string => path.join(work, 'files', prefix);
const destinations = (prefix: string): string => `s3://${BUCKET}/${prefix}\nfile://${folderOf(prefix)}`;

async function action(inputs: Record<string, string>): Promise<ActionRun> {
  const run = await runAction({
    inputs: { ...testS3Inputs(s3.endpoint), 'issue-on-failure': 'false', ...inputs },
    timeoutMs: 300_000,
  });
  runs.push(run);
  return run;
}

/**
 * A backup of `database: all` (locked excluded, keep-last 1, globals) into both stores of `prefix`;
 * the connection names another database of the server (`app`) unless `extra` says otherwise.
 */
async function backupAll(prefix: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const run = await action({
    'database-url': server.url('app'),
    database: 'all',
    'exclude-database': 'locked',
    destination: destinations(prefix),
    'keep-last': '1',
    globals: 'true',
    ...extra,
  });
  // The next backup needs a later key second.
  await clockReaches(Math.floor(Date.now() / 1000) * 1000 + 1000);
  return run;
}

function entries(run: ActionRun): Entry[] {
  const text = run.outputs['backups-json'];
  expect(text).toBeDefined();
  return JSON.parse(text as string) as Entry[];
}

const byDatabase = (list: Entry[]): Map<string, Entry> => new Map(list.map((e) => [e.database, e]));
const errors = (run: ActionRun): string[] => run.stdout.split('\n').filter((l) => l.startsWith('::error::'));
const warnings = (run: ActionRun): string[] => run.stdout.split('\n').filter((l) => l.startsWith('::warning::'));

/** Keys under `<prefix>/` in the bucket, without the prefix, sorted. */
async function s3Keys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/`, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => (o.Key as string).slice(prefix.length + 1)));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** Files under the folder store of `prefix`, as keys relative to it, sorted. */
function folderKeys(prefix: string): string[] {
  const root = folderOf(prefix);
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

/** The archive key relative to the store (backups-json gives the first destination's key, `<prefix>/…`). */
function relative(prefix: string, key: string | undefined): string {
  expect(key?.startsWith(`${prefix}/`)).toBe(true);
  return (key as string).slice(prefix.length + 1);
}

/** The globals key beside an archive key (written out here: the archive's extension replaced). */
const globalsOf = (archive: string): string =>
  archive.replace(/\.(dump|sql|tar)(\.(zst|lz4|gz))?$/, '') + '.globals.sql';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function s3Object(key: string): Promise<Buffer> {
  const answer = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

let restores = 0;

/**
 * Restores the folder copy of `entry`'s archive into a fresh database (pg_restore as postgres) and
 * compares its row counts with the manifest's, and the manifest's with the source database's; the
 * fresh database is dropped afterwards.
 */
async function expectRestores(prefix: string, entry: Entry): Promise<Manifest> {
  const archive = path.join(folderOf(prefix), relative(prefix, entry.key));
  const manifest = JSON.parse(readFileSync(`${archive}.manifest.json`, 'utf8')) as Manifest;
  expect(manifest.database).toBe(entry.database);
  const target = `restored_${++restores}`;
  await cluster.createDatabase(target);
  try {
    await restoreArchive(cluster, archive, target);
    const expected = manifestCounts(manifest);
    // postgres has no tables; every other database has some.
    expect(manifest.rowCounts.tables.length > 0).toBe(entry.database !== 'postgres');
    if (manifest.rowCounts.tables.length === 0) return manifest;
    expect({ db: entry.database, counts: await restoredCounts(cluster, target, manifest) }).toEqual({
      db: entry.database,
      counts: expected,
    });
    expect(await restoredCounts(cluster, entry.database, manifest)).toEqual(expected);
    return manifest;
  } finally {
    // Gone before the next run: `all` would back it up too.
    await cluster.psql('postgres', `DROP DATABASE ${target}`);
  }
}

interface Scenario {
  first: Map<string, Entry>;
  second: Map<string, Entry>;
  run2: ActionRun;
  /** Row counts per database of the second run's manifests. */
  counts: Map<string, Record<string, number>>;
  /** Most databases other than postgres the role had sessions in at once during the second run. */
  concurrent: number;
}

/** The two-run scenario of the header on the stores of `prefix`. */
async function scenario(prefix: string, extra: Record<string, string> = {}): Promise<Scenario> {
  await server.repairDump();
  const run1 = await backupAll(prefix, extra);
  expect(errors(run1)).toEqual([]);
  expect(run1.exitCode).toBe(0);
  const first = byDatabase(entries(run1));
  for (const db of BACKED) expect({ db, status: first.get(db)?.status }).toEqual({ db, status: 'ok' });
  // locked is excluded: skipped with a warning, never backed up.
  expect(first.get('locked')?.status ?? 'skipped').toBe('skipped');
  expect(warnings(run1).some((l) => l.includes('locked'))).toBe(true);

  await server.breakDump();
  const beat = monitor.received.length;
  const { value: run2, most: concurrent } = await watchSessions(cluster, server.role, () =>
    backupAll(prefix, { ...extra, 'heartbeat-url': `${monitor.url}/${prefix}` }),
  );
  expect(run2.exitCode).toBe(1);
  // One start and one fail ping for the run (not one per database); the fail body names ledger.
  const pings = monitor.received.slice(beat);
  expect(pings.map((p) => p.path)).toEqual([`/${prefix}/start`, `/${prefix}/fail`]);
  expect(pings[1]?.raw).toMatch(/ledger/);
  const list2 = entries(run2);
  const second = byDatabase(list2);
  expect([...second.keys()].filter((db) => db !== 'locked').sort()).toEqual(BACKED);
  const ledger = second.get('ledger') as Entry;
  expect(ledger.status).toBe('failed');
  expect(ledger.key).toBeUndefined();
  expect(ledger.error).toContain('row-level security');
  expect(typeof ledger.seconds).toBe('number');
  const ok = BACKED.filter((db) => db !== 'ledger');
  for (const db of ok) {
    const e = second.get(db) as Entry;
    expect({ db, status: e.status, error: e.error }).toEqual({ db, status: 'ok', error: undefined });
    expect(e.key).toMatch(new RegExp(`^${prefix}/${segment(db)}/\\d{4}-\\d{2}-\\d{2}T\\d{6}Z\\.dump\\.zst$`));
    expect(e.manifestKey).toBe(`${e.key}.manifest.json`);
    expect(e.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(e.seconds).toBeGreaterThanOrEqual(0);
  }
  // The failure is named at the end; the first database's keys stay the step's outputs.
  expect(errors(run2).some((l) => l.includes('ledger'))).toBe(true);
  expect(list2[0]?.status).toBe('ok');
  expect(run2.outputs['backup-key']).toBe(list2[0]?.key);
  expect(run2.outputs['manifest-key']).toBe(list2[0]?.manifestKey);
  // The summary: one row per database (ledger's says failed) and a total.
  const rows = run2.summary.split('\n').filter((l) => l.startsWith('|'));
  for (const db of BACKED) expect({ db, row: rows.some((r) => r.includes(db)) }).toEqual({ db, row: true });
  expect(rows.find((r) => r.includes('ledger'))).toMatch(/failed/i);
  expect(rows.some((r) => /^\|\s*\**total/i.test(r))).toBe(true);

  // Both stores hold exactly: each verified database's new backup, ledger's first one (retention
  // did not touch the database whose backup failed), and one globals file beside the first archive.
  const firstLedger = relative(prefix, first.get('ledger')?.key);
  const expected = [
    ...ok.flatMap((db) => {
      const key = relative(prefix, second.get(db)?.key);
      return [key, `${key}.manifest.json`];
    }),
    firstLedger,
    `${firstLedger}.manifest.json`,
    globalsOf(relative(prefix, run2.outputs['backup-key'])),
  ].sort();
  expect(await s3Keys(prefix)).toEqual(expected);
  expect(folderKeys(prefix)).toEqual(expected);
  const planted = first.get('ledger') as Entry;
  expect(sha256(await s3Object(planted.key as string))).toBe(planted.sha256);
  expect(sha256(readFileSync(path.join(folderOf(prefix), firstLedger)))).toBe(planted.sha256);

  const counts = new Map<string, Record<string, number>>();
  for (const db of ok) {
    const e = second.get(db) as Entry;
    const local = readFileSync(path.join(folderOf(prefix), relative(prefix, e.key)));
    const remote = await s3Object(e.key as string);
    expect({ db, local: sha256(local), remote: sha256(remote), bytes: local.length }).toEqual({
      db,
      local: e.sha256,
      remote: e.sha256,
      bytes: e.bytes,
    });
    counts.set(db, manifestCounts(await expectRestores(prefix, e)));
  }
  return { first, second, run2, counts, concurrent };
}

let sequential: Scenario;

describe('database: all through the bundle', () => {
  test('sequential: every other database stored and restorable, ledger failed, retention spares it', async () => {
    sequential = await scenario('seq');
    expect(sequential.concurrent).toBe(1);
  }, 600_000);

  test('parallel-databases: 2 gives the same result', async () => {
    // With host inputs this time: the run connects to postgres, as pg_dumpall does.
    const parallel = await scenario('par', {
      'parallel-databases': '2',
      'database-url': '',
      host: '127.0.0.1',
      port: String(cluster.port),
      username: server.role,
      password: PASSWORD,
    });
    const statuses = (s: Scenario): Record<string, string> =>
      Object.fromEntries([...s.second].map(([db, e]) => [db, e.status]));
    expect(statuses(parallel)).toEqual(statuses(sequential));
    expect(parallel.counts).toEqual(sequential.counts);
    // Two databases at a time, never more.
    expect(parallel.concurrent).toBe(2);
  }, 600_000);

  test('without exclude-database, locked is named in one error and nothing is dumped', async () => {
    const run = await action({
      'database-url': server.url('postgres'),
      database: 'all',
      destination: destinations('noexclude'),
    });
    expect(run.exitCode).toBe(1);
    const lines = errors(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('locked');
    for (const db of ['analytics', 'app', 'my db ü']) expect(lines[0]).not.toContain(db);
    const archives = (keys: string[]): string[] => keys.filter((k) => /\.(dump|sql|tar)|manifest|globals/.test(k));
    expect(archives(await s3Keys('noexclude'))).toEqual([]);
    expect(archives(folderKeys('noexclude'))).toEqual([]);
  }, 120_000);
});

describe('list, check, prune and drill with database: all', () => {
  const stored = (db: string): string => {
    const e = db === 'ledger' ? sequential.first.get(db) : sequential.second.get(db);
    return relative('seq', e?.key);
  };

  test('list: every database found in the store, or the listed ones', async () => {
    const all = await action({ command: 'list', database: 'all', destination: destinations('seq') });
    expect(errors(all)).toEqual([]);
    expect(all.exitCode).toBe(0);
    for (const db of BACKED)
      expect({ db, listed: (all.outputs['backups'] ?? '').includes(stored(db)) }).toEqual({ db, listed: true });
    expect(all.summary).toContain('my db ü');

    const some = await action({ command: 'list', database: 'app\nmy db ü', destination: destinations('seq') });
    expect(some.exitCode).toBe(0);
    expect(some.outputs['backups']).toContain(stored('app'));
    expect(some.outputs['backups']).toContain(stored('my db ü'));
    expect(some.outputs['backups']).not.toContain(stored('analytics'));
  }, 120_000);

  test('check: all fresh; a listed database without backups fails, named', async () => {
    const all = await action({ command: 'check', database: 'all', destination: destinations('seq'), 'max-age': '1d' });
    expect(errors(all)).toEqual([]);
    expect(all.exitCode).toBe(0);
    for (const db of BACKED) expect({ db, named: all.summary.includes(db) }).toEqual({ db, named: true });

    const missing = await action({ command: 'check', database: 'app\nnope', destination: destinations('seq') });
    expect(missing.exitCode).toBe(1);
    expect(errors(missing).join('\n')).toContain('nope');
  }, 120_000);

  test('prune: keep-last 1 per database deletes nothing more', async () => {
    const before = await s3Keys('seq');
    const prune = await action({
      command: 'prune',
      database: 'all',
      destination: destinations('seq'),
      'keep-last': '1',
    });
    expect(errors(prune)).toEqual([]);
    expect(prune.exitCode).toBe(0);
    expect(await s3Keys('seq')).toEqual(before);
    expect(folderKeys('seq')).toEqual(before);
  }, 120_000);

  test('drill: every database of the store restored into a scratch database and verified', async () => {
    const databasesBefore = await cluster.psql('postgres', 'SELECT datname FROM pg_database ORDER BY 1');
    const drill = await action({
      command: 'drill',
      database: 'all',
      destination: destinations('seq'),
      'target-database-url': cluster.url('drill_scratch'),
    });
    expect(errors(drill)).toEqual([]);
    expect(drill.exitCode).toBe(0);
    expect(drill.outputs['drill-passed']).toBe('true');
    for (const db of BACKED) expect({ db, drilled: drill.summary.includes(db) }).toEqual({ db, drilled: true });
    expect(await cluster.psql('postgres', 'SELECT datname FROM pg_database ORDER BY 1')).toBe(databasesBefore);
  }, 300_000);
});

describe('bad input is refused before any work', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['all with a table filter', { table: 'public.orders' }, /Input '(table|database)'/],
    ['all with a schema filter', { schema: 'public' }, /Input '(schema|database)'/],
    ['parallel-databases 0', { 'parallel-databases': '0' }, /Input 'parallel-databases'/],
    ['parallel-databases 17', { 'parallel-databases': '17' }, /Input 'parallel-databases'/],
    ['parallel-databases two', { 'parallel-databases': 'two' }, /Input 'parallel-databases'/],
    ['exclude-database excluding everything', { 'exclude-database': '*' }, /Input 'exclude-database'/],
    [
      'exclude-database excluding every listed database',
      { database: 'app\nanalytics', 'exclude-database': 'a*' },
      /Input 'exclude-database'/,
    ],
  ];
  let attempt = 0;
  test.each(cases)(
    '%s',
    async (_name, inputs, message) => {
      const prefix = `bad-${++attempt}`;
      const run = await action({
        'database-url': server.url('postgres'),
        database: 'all',
        destination: destinations(prefix),
        ...inputs,
      });
      expect(run.exitCode).toBe(1);
      expect(errors(run).join('\n')).toMatch(message);
      expect(await s3Keys(prefix)).toEqual([]);
      expect(folderKeys(prefix)).toEqual([]);
    },
    120_000,
  );
});

test("the role's password is in no output, log, summary, manifest or globals file", () => {
  expect(monitor.leaks).toEqual([]);
  expect(runs.length).toBeGreaterThan(10);
  const found: string[] = [];
  runs.forEach((run, i) => {
    found.push(...scanForSecrets(`run ${i} stdout`, run.stdout, [PASSWORD]));
    found.push(...scanForSecrets(`run ${i} stderr`, run.stderr, [PASSWORD]));
    found.push(...scanForSecrets(`run ${i} summary`, run.summary, [PASSWORD]));
    for (const [name, value] of Object.entries(run.outputs))
      found.push(...scanForSecrets(`run ${i} output ${name}`, value, [PASSWORD]));
  });
  for (const prefix of ['seq', 'par']) {
    for (const key of folderKeys(prefix).filter((k) => /\.(manifest\.json|globals\.sql)$/.test(k))) {
      const file = path.join(folderOf(prefix), key);
      if (statSync(file).isFile()) found.push(...scanForSecrets(key, readFileSync(file, 'utf8'), [PASSWORD]));
    }
  }
  expect(found).toEqual([]);
});
