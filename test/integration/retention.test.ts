/**
 * Retention against real stores: s3rver (real HTTP, real AWS SDK) and a local folder. Needs
 * NODE_OPTIONS=--openssl-legacy-provider (s3rver's listing tokens use DES).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Log } from '../../src/log.js';
import { runList as listCommand } from '../../src/commands/list.js';
import { pruneAfterBackup, runPrune as pruneCommand, type RetentionCommandOptions } from '../../src/commands/prune.js';
import { parseReportingInputs } from '../../src/config/reporting.js';
import {
  listJson,
  listSummary,
  pruneOutputs,
  pruneSummary,
  type ListResult,
  type PruneResult,
} from '../../src/report/retention-report.js';
import { executePrune } from '../../src/retention/execute.js';
import { planRetention, type RetentionPlan } from '../../src/retention/plan.js';
import type { RetentionPolicy } from '../../src/retention/policy.js';
import { readCatalog, type BackupEntry } from '../../src/storage/catalog.js';
import { claimObjectKey } from '../../src/storage/claim.js';
import { parseDestination } from '../../src/storage/destination.js';
import { createStore } from '../../src/storage/index.js';
import { archiveKey, globalsKey, manifestKey } from '../../src/storage/keys.js';
import type { Destination, ObjectStore } from '../../src/storage/types.js';
import {
  bounded,
  speedUpS3rverDeletes,
  startS3Proxy,
  startS3Server,
  testS3Settings,
  type S3Proxy,
  type S3Server,
} from '../support/s3-server.js';

/** Reporting as with no reporting inputs set (runPrune and runList do not read it). */
const REPORTING = parseReportingInputs(() => '');

/** runPrune over the option objects these tests build (the config's fields and the I/O in one). */
function runPrune(options: RetentionCommandOptions): Promise<PruneResult> {
  const { destinations, s3, database, policy, dryRun, now, log } = options;
  if (!policy) throw new Error('these tests always give prune a policy');
  const config = { command: 'prune' as const, destinations, s3, database, policy, dryRun };
  return pruneCommand(
    { ...config, summary: true, reporting: REPORTING, keepalive: false },
    { now, log, createStore: storeMaker(options) },
  );
}

/** runList over the same option objects. */
function runList(options: Omit<RetentionCommandOptions, 'dryRun'>): Promise<ListResult> {
  const { destinations, s3, database, policy, now, log } = options;
  const config = { command: 'list' as const, destinations, s3, database, ...(policy ? { policy } : {}) };
  return listCommand(
    { ...config, summary: true, reporting: REPORTING, keepalive: false },
    { now, log, createStore: storeMaker(options) },
  );
}

/** The options' createStore as a free function (the commands' deps take it unbound). */
function storeMaker(options: Pick<RetentionCommandOptions, 'createStore'>): RetentionCommandOptions['createStore'] {
  return (destination, settings) => options.createStore(destination, settings);
}

const BUCKET = 'retention';
/** The 10,000 backups get a bucket of their own (s3rver walks the whole bucket folder on each listing page). */
const BIG_BUCKET = 'retention-big';
const NOW = new Date('2026-11-25T12:30:00Z');
const HOUR = 3_600_000;
const GFS: RetentionPolicy = { daily: 7, weekly: 4, monthly: 12, yearly: 5, labels: [] };

interface RecordingLog extends Log {
  infos: string[];
  warnings: string[];
}

function recordingLog(): RecordingLog {
  const infos: string[] = [];
  const warnings: string[] = [];
  return {
    infos,
    warnings,
    info: (m) => void infos.push(m),
    warning: (m) => void warnings.push(m),
    group: (_name, fn) => fn(),
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).map((o) => o.key).sort();
}

interface Synthetic {
  time: Date;
  label?: string;
  manifest?: boolean;
  globals?: boolean;
}

/** The claim an interrupted run leaves beside an archive without manifest (it marks the archive as ours). */
function leftClaim(key: string, time: Date): string {
  return claimObjectKey(key, time, 'c1a1c1a1c1a1');
}

/** The catalog entry readCatalog makes for a synthetic backup under `prefix`. */
function entryOf(prefix: string, s: Synthetic): BackupEntry {
  const key = archiveKey({
    prefix,
    database: 'shop',
    time: s.time,
    ...(s.label ? { label: s.label } : {}),
    extension: 'dump.zst',
  });
  const hasManifest = s.manifest ?? true;
  return {
    key,
    manifestKey: manifestKey(key),
    database: 'shop',
    time: s.time,
    ...(s.label ? { label: s.label } : {}),
    extension: 'dump.zst',
    size: 1,
    hasManifest,
    ...(hasManifest ? {} : { claims: [leftClaim(key, s.time)] }),
  };
}

/**
 * Writes archives (1 byte), manifests and globals files, 32 at a time, with `put` (by default
 * the store's own PUT); an archive without manifest gets the claim an interrupted run leaves.
 */
async function seed(
  store: ObjectStore,
  backups: Synthetic[],
  put: (key: string, body: string) => Promise<unknown> = (key, body) =>
    store.put(key, body, 'application/octet-stream'),
): Promise<BackupEntry[]> {
  const entries = backups.map((b) => entryOf(store.destination.prefix, b));
  const writes: [string, string][] = [];
  backups.forEach((b, i) => {
    const e = entries[i] as BackupEntry;
    writes.push([e.key, 'x']);
    if (b.manifest ?? true) writes.push([e.manifestKey, '{}']);
    for (const claim of e.claims ?? []) writes.push([claim, '{}']);
    if (b.globals) writes.push([globalsKey(e.key), '-- globals']);
  });
  await bounded(writes, 32, async ([key, body]) => void (await put(key, body)));
  return entries;
}

/**
 * A writer that stores objects straight into s3rver's storage folder, in its own layout
 * (`<key>._S3rver_object`, `.md5`, `._S3rver_metadata.json`): 20,000 PUTs through the in-process
 * server take minutes on a 2-core runner, while listing and deleting go through its HTTP API anyway.
 */
function s3rverDiskWriter(server: S3Server, bucket: string): (key: string, body: string) => Promise<void> {
  const folders = new Set<string>();
  return async (key, body) => {
    const parts = key.split('/');
    const name = parts.pop() as string;
    const folder = join(server.dir, bucket, ...parts);
    if (!folders.has(folder)) {
      await mkdir(folder, { recursive: true });
      folders.add(folder);
    }
    const base = join(folder, `${name}._S3rver_`);
    await writeFile(`${base}object`, body);
    await writeFile(`${base}object.md5`, createHash('md5').update(body).digest('hex'));
    await writeFile(`${base}metadata.json`, JSON.stringify({ 'content-type': 'application/octet-stream' }));
  };
}

/** Hourly backups for the `hours` before NOW, then daily ones for `days` before that. */
function hourlyThenDaily(hours: number, days: number): Synthetic[] {
  const out: Synthetic[] = [];
  for (let h = 1; h <= hours; h++) out.push({ time: new Date(NOW.getTime() - h * HOUR) });
  const start = NOW.getTime() - hours * HOUR;
  for (let d = 1; d <= days; d++) out.push({ time: new Date(start - d * 24 * HOUR) });
  return out;
}

/** Keys that should remain after executing `plan` (archives, manifests, globals of kept backups) plus `extra`. */
function remainingAfter(plan: RetentionPlan, extra: string[], globals: Set<string> = new Set()): string[] {
  const keys = [...extra];
  for (const { backup } of plan.kept) {
    keys.push(backup.key);
    if (backup.hasManifest) keys.push(backup.manifestKey);
    keys.push(...(backup.claims ?? []));
    if (globals.has(backup.key)) keys.push(globalsKey(backup.key));
  }
  return keys.sort();
}

function s3Destination(prefix: string, bucket = BUCKET): Destination {
  return parseDestination(`s3://${bucket}/${prefix}`);
}

function fileDestination(root: string): Destination {
  return parseDestination(pathToFileURL(root).href);
}

describe('retention against s3rver', () => {
  let server: S3Server;
  const consoleError = console.error;

  let restoreS3rverDeletes: (() => void) | undefined;
  beforeAll(async () => {
    // s3rver's silent logger has no transports, so winston reports each deleted object on
    // console.error ("Attempt to write logs with no transports"); jest would buffer 20,000 of them.
    console.error = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('[winston] Attempt to write logs with no transports'))
        return;
      consoleError(...args);
    };
    restoreS3rverDeletes = speedUpS3rverDeletes();
    server = await startS3Server();
    await server.createBucket(BUCKET);
    await server.createBucket(BIG_BUCKET);
  });

  afterAll(async () => {
    await server?.stop();
    restoreS3rverDeletes?.();
    console.error = consoleError;
  }, 30_000);

  const options = (
    destination: Destination,
    log: Log,
    extra: Partial<RetentionCommandOptions> = {},
  ): RetentionCommandOptions => ({
    destinations: [destination],
    s3: testS3Settings(server.endpoint),
    database: 'shop',
    policy: GFS,
    dryRun: false,
    now: NOW,
    log,
    createStore,
    ...extra,
  });

  describe('10,000 backups (hourly for a year, daily for 3.4 years before)', () => {
    const destination = s3Destination('big', BIG_BUCKET);
    let store: ObjectStore;
    let entries: BackupEntry[];
    const foreign = [
      'big/shop/notes.txt',
      'big/shop/2020-01-01T000000Z.dump.bak',
      'big/shop/sub/2020-01-01T000000Z.dump',
      'big/shop/2020-01-01T000000Z-Upper.dump',
    ];
    const otherDatabase = ['big/shop2/2019-01-01T000000Z.dump', 'big/shop2/2019-01-01T000000Z.dump.manifest.json'];

    beforeAll(async () => {
      store = createStore(destination, testS3Settings(server.endpoint));
      entries = await seed(store, hourlyThenDaily(8760, 1240), s3rverDiskWriter(server, BIG_BUCKET));
      await bounded(
        [...foreign, ...otherDatabase],
        8,
        async (key) => void (await store.put(key, 'not ours', 'text/plain')),
      );
    }, 60_000);

    afterAll(() => store.close());

    test('a dry run plans but deletes nothing', async () => {
      expect(entries).toHaveLength(10_000);
      const log = recordingLog();
      const result = await runPrune(options(destination, log, { dryRun: true }));
      const execution = result.destinations[0]?.execution;
      expect(execution?.plan.deleted.length).toBeGreaterThan(9_900);
      expect(execution?.deleted).toEqual([]);
      expect(result.prunedCount).toBe(0);
      expect(result.plannedDeleteCount).toBe(execution?.plan.deleted.length);
      expect(await listKeys(store, 'big/shop/')).toHaveLength(20_000 + foreign.length);
      expect(pruneSummary(result)).toContain('(dry run: nothing deleted)');
      expect(log.infos.some((line) => line.startsWith('would delete  big/shop/'))).toBe(true);
    }, 60_000);

    test('a GFS prune leaves exactly the planned set, and foreign objects', async () => {
      const expected = planRetention(entries, GFS, NOW);
      const log = recordingLog();
      const before = server.responses.length;
      const result = await runPrune(options(destination, log));
      const requests = server.responses.slice(before);
      const execution = result.destinations[0]?.execution;
      expect(execution?.failed).toEqual([]);
      expect(execution?.plan.kept.map((k) => [k.backup.key, k.reasons])).toEqual(
        expected.kept.map((k) => [k.backup.key, k.reasons]),
      );
      expect(execution?.deleted.map((d) => d.backup.key)).toEqual(expected.deleted.map((d) => d.backup.key));
      expect(expected.kept.length).toBeLessThanOrEqual(7 + 4 + 12 + 5 + 1);
      expect(await listKeys(store, 'big/shop/')).toEqual(remainingAfter(expected, foreign));
      expect(await listKeys(store, 'big/shop2/')).toEqual(otherDatabase);
      expect(pruneOutputs(result)).toEqual({
        'pruned-count': String(expected.deleted.length),
        'kept-count': String(expected.kept.length),
      });
      expect(result.warnings).toEqual([]);
      // At most 1000 keys per DeleteObjects request: archives, then manifests, per 1000 backups
      // (no globals request: the listing had no globals files).
      const deletes = server.responses.filter((line) => /^POST \/retention-big\/?\?delete/.test(line));
      expect(deletes.filter((line) => line.endsWith(' 200')).length).toBe(
        2 * Math.ceil(expected.deleted.length / 1000),
      );
      // What keeps a prune of 10,000 backups fast (a wall-clock bound of 60 s failed at 156 s and 235 s on a
      // loaded machine): requests per thousand keys (listing pages, batched deletes), none per backup.
      expect(requests.length).toBeLessThan(entries.length / 50);
      const summary = pruneSummary(result);
      expect(summary).toContain(
        '| `big/shop/2026-11-25T113000Z.dump.zst` | 2026-11-25T11:30:00.000Z | newest complete, daily 1/7, weekly 1/4, monthly 1/12, yearly 1/5 |',
      );
      expect(summary).toContain(`Deleted (${expected.deleted.length})`);

      // A second run finds nothing more to delete.
      const again = await runPrune(options(destination, recordingLog()));
      expect(again.prunedCount).toBe(0);
      expect(again.keptCount).toBe(expected.kept.length);
    }, 90_000);
  });

  describe('a small set', () => {
    const destination = s3Destination('small');
    let store: ObjectStore;

    beforeEach(async () => {
      store = createStore(destination, testS3Settings(server.endpoint));
      const existing = await listKeys(store, 'small/');
      if (existing.length > 0) await store.delete(existing);
    });

    afterEach(() => store.close());

    test('archives without manifest: the one older than the oldest kept goes, the newer one stays; globals go with their archive', async () => {
      const days = (n: number) => new Date(NOW.getTime() - n * 24 * HOUR);
      const backups: Synthetic[] = [
        { time: days(30), manifest: false },
        { time: days(20), globals: true },
        { time: days(10), globals: true },
        { time: days(3) },
        { time: days(2) },
        { time: days(1.5), manifest: false },
        { time: days(1), globals: true },
      ];
      const entries = await seed(store, backups);
      const log = recordingLog();
      const result = await runPrune(options(destination, log, { policy: { last: 3, labels: [] } }));
      const execution = result.destinations[0]?.execution;
      const file = (e: BackupEntry | undefined) => e?.key as string;
      expect(execution?.kept.map((k) => [k.backup.key, k.reasons])).toEqual([
        [file(entries[6]), ['newest complete', 'last 1/3']],
        [file(entries[5]), ['incomplete (no manifest), not older than the oldest kept backup']],
        [file(entries[4]), ['last 2/3']],
        [file(entries[3]), ['last 3/3']],
      ]);
      expect(execution?.deleted.map((d) => [d.backup.key, d.why])).toEqual([
        [file(entries[2]), 'no rule keeps it'],
        [file(entries[1]), 'no rule keeps it'],
        [file(entries[0]), 'incomplete (no manifest), older than the oldest kept backup'],
      ]);
      const globals = new Set([file(entries[6])]);
      expect(await listKeys(store, 'small/')).toEqual(remainingAfter(execution!.plan, [], globals));
      expect(result.prunedCount).toBe(3);
      expect(result.keptCount).toBe(4);
    }, 30_000);

    test('pruneAfterBackup never deletes the just-written backup, even when the plan says so', async () => {
      // Another job wrote an unlabelled backup in the same second: by key order it is the newer one,
      // so keep-last 1 would keep it and delete ours.
      const t = new Date('2026-11-25T12:00:00Z');
      const [ours, theirs, old] = await seed(store, [
        { time: t, label: 'pre-migration' },
        { time: t },
        { time: new Date('2026-11-20T12:00:00Z') },
      ]);
      const plan = planRetention((await readCatalog(store, 'shop')).backups, { last: 1, labels: [] }, NOW);
      expect(plan.deleted.map((d) => d.backup.key)).toEqual([ours?.key, old?.key]);

      const log = recordingLog();
      const result = await pruneAfterBackup(
        {
          destinations: [
            { url: destination.url, key: ours?.key as string, manifestKey: ours?.manifestKey as string, ok: true },
          ],
        },
        { ...options(destination, log, { policy: { last: 1, labels: [] } }) },
      );
      const execution = result.destinations[0]?.execution;
      expect(execution?.kept.map((k) => [k.backup.key, k.reasons])).toEqual([
        [theirs?.key, ['newest complete', 'last 1/1']],
        [ours?.key, ['protected: just written']],
      ]);
      expect(execution?.deleted.map((d) => d.backup.key)).toEqual([old?.key]);
      expect(log.warnings).toEqual([
        `${destination.url}: the plan deletes ${ours?.key}, but it is kept (just written).`,
      ]);
      expect(await listKeys(store, 'small/')).toEqual(
        [ours?.key, ours?.manifestKey, theirs?.key, theirs?.manifestKey].sort(),
      );
    }, 30_000);

    test('pruneAfterBackup skips destinations where the backup failed, and one whose listing lacks the new backup', async () => {
      await seed(store, [{ time: new Date('2026-11-01T00:00:00Z') }, { time: new Date('2026-11-02T00:00:00Z') }]);
      const log = recordingLog();
      const failed = await pruneAfterBackup(
        {
          destinations: [
            { url: destination.url, key: 'small/shop/2026-11-25T120000Z.dump.zst', manifestKey: 'x', ok: false },
          ],
        },
        options(destination, log, { policy: { last: 1, labels: [] } }),
      );
      expect(failed.destinations).toEqual([]);
      const missing = await pruneAfterBackup(
        {
          destinations: [
            { url: destination.url, key: 'small/shop/2026-11-25T120000Z.dump.zst', manifestKey: 'x', ok: true },
          ],
        },
        options(destination, log, { policy: { last: 1, labels: [] } }),
      );
      expect(missing.destinations[0]?.error).toBe(
        `${destination.url}: not pruned: the new backup small/shop/2026-11-25T120000Z.dump.zst is not in the listing as a complete backup.`,
      );
      expect(missing.prunedCount).toBe(0);
      expect(await listKeys(store, 'small/')).toHaveLength(4);
    }, 30_000);

    test('the executor never deletes the newest complete backup nor foreign keys, whatever the plan', async () => {
      const [a, b] = await seed(store, [
        { time: new Date('2026-11-01T00:00:00Z') },
        { time: new Date('2026-11-02T00:00:00Z') },
      ]);
      await store.put('small/shop/README', 'not ours', 'text/plain');
      const catalog = await readCatalog(store, 'shop');
      const doctored: RetentionPlan = {
        now: NOW,
        policy: { labels: [] },
        kept: [],
        deleted: [
          { backup: b as BackupEntry, why: 'bug' },
          { backup: a as BackupEntry, why: 'bug' },
          { backup: { ...(a as BackupEntry), key: 'small/shop/README' }, why: 'bug' },
        ],
        warnings: [],
      };
      const log = recordingLog();
      const execution = await executePrune(store, catalog, doctored, { dryRun: false, log });
      expect(execution.deleted.map((d) => d.backup.key)).toEqual([a?.key]);
      expect(execution.kept.map((k) => k.reasons)).toEqual([
        ['protected: newest complete'],
        ['protected: not a backup this action wrote'],
      ]);
      expect(await listKeys(store, 'small/')).toEqual([b?.key, b?.manifestKey, 'small/shop/README'].sort());
    }, 30_000);

    test('runList: table, JSON and the policy preview; deletes nothing', async () => {
      const [old, labelled, newest] = await seed(store, [
        { time: new Date('2026-10-01T00:00:00Z') },
        { time: new Date('2026-11-20T00:00:00Z'), label: 'pre-migration' },
        { time: new Date('2026-11-25T00:00:00Z') },
      ]);
      const log = recordingLog();
      const result = await runList({
        ...options(destination, log),
        policy: { last: 1, labels: [{ label: 'pre-migration', within: { seconds: 90 * 86_400, text: '90d' } }] },
      });
      expect(JSON.parse(listJson(result))).toEqual([
        {
          destination: destination.url,
          key: old?.key,
          manifestKey: old?.manifestKey,
          time: '2026-10-01T00:00:00.000Z',
          label: null,
          sizeBytes: 1,
          complete: true,
          retention: { action: 'delete', reasons: ['no rule keeps it'] },
        },
        {
          destination: destination.url,
          key: labelled?.key,
          manifestKey: labelled?.manifestKey,
          time: '2026-11-20T00:00:00.000Z',
          label: 'pre-migration',
          sizeBytes: 1,
          complete: true,
          retention: { action: 'keep', reasons: ['label pre-migration within 90d'] },
        },
        {
          destination: destination.url,
          key: newest?.key,
          manifestKey: newest?.manifestKey,
          time: '2026-11-25T00:00:00.000Z',
          label: null,
          sizeBytes: 1,
          complete: true,
          retention: { action: 'keep', reasons: ['newest complete', 'last 1/1'] },
        },
      ]);
      const summary = listSummary(result);
      expect(summary).toContain('| Backup | Time (UTC) | Label | Size | Manifest | Retention |');
      expect(summary).toContain(
        `| \`${labelled?.key}\` | 2026-11-20T00:00:00.000Z | pre-migration | 1 B | yes | keep: label pre-migration within 90d |`,
      );
      expect(await listKeys(store, 'small/')).toHaveLength(6);

      const plain = await runList({ ...options(destination, recordingLog()), policy: undefined });
      expect((JSON.parse(listJson(plain)) as unknown[])[0]).not.toHaveProperty('retention');
      expect(listSummary(plain)).toContain('No retention policy set.');
    }, 30_000);
  });

  describe('when the store refuses to delete one key (proxy answering AccessDenied for it)', () => {
    let proxy: S3Proxy;
    let endpoint: string;
    let direct: ObjectStore;
    const denied = new Set<string>();

    beforeAll(async () => {
      direct = createStore(s3Destination('denied'), testS3Settings(server.endpoint));
      proxy = await startS3Proxy(server.port, ({ method, query }, req, res, forward) => {
        if (method === 'POST' && query.has('delete')) {
          // DeleteObjects: delete the allowed keys upstream, answer AccessDenied for the others.
          const answer = async (body: string): Promise<void> => {
            const keys = [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1] as string));
            const allowed = keys.filter((k) => !denied.has(k));
            const outcome = await direct.delete(allowed);
            const errors = [
              ...keys
                .filter((k) => denied.has(k))
                .map((k) => ({ key: k, code: 'AccessDenied', message: 'Access Denied' })),
              ...outcome.errors.map((e) => ({ key: e.key, code: 'InternalError', message: e.message })),
            ];
            res.setHeader('Content-Type', 'application/xml');
            res.end(
              `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${errors
                .map((e) => `<Error><Key>${e.key}</Key><Code>${e.code}</Code><Message>${e.message}</Message></Error>`)
                .join('')}</DeleteResult>`,
            );
          };
          readBody(req)
            .then(answer)
            .catch((error: unknown) => {
              res.statusCode = 500;
              res.end(String(error));
            });
          return;
        }
        forward();
      });
      endpoint = proxy.endpoint;
    });

    afterAll(async () => {
      direct.close();
      await proxy?.stop();
    });

    test('a prune failure is a warning with the keys left, not a throw', async () => {
      const destination = s3Destination('denied');
      const days = (n: number) => ({ time: new Date(NOW.getTime() - n * 24 * HOUR) });
      const entries = await seed(direct, [days(5), days(4), days(3), days(2), days(1)]);
      const blockedArchive = entries[1] as BackupEntry;
      const blockedManifest = entries[2] as BackupEntry;
      denied.add(blockedArchive.key);
      denied.add(blockedManifest.manifestKey);
      const log = recordingLog();
      const result = await runPrune({
        ...options(destination, log, { policy: { last: 2, labels: [] } }),
        s3: testS3Settings(endpoint),
      });
      const execution = result.destinations[0]?.execution;
      expect(execution?.failed).toEqual([
        { key: blockedArchive.key, message: 'AccessDenied: Access Denied' },
        { key: blockedManifest.manifestKey, message: 'AccessDenied: Access Denied' },
      ]);
      expect(execution?.deleted.map((d) => d.backup.key)).toEqual([entries[0]?.key]);
      expect(result.destinations[0]?.ok).toBe(false);
      expect(result.prunedCount).toBe(1);
      expect(log.warnings).toHaveLength(1);
      expect(log.warnings[0]).toBe(
        `${destination.url}: 2 object(s) could not be deleted and stay in place (the next prune tries again): ${blockedArchive.key}: AccessDenied: Access Denied; ${blockedManifest.manifestKey}: AccessDenied: Access Denied`,
      );
      expect(result.warnings).toEqual(log.warnings);
      // The blocked archive keeps its manifest; the other lost its archive first (manifest last).
      expect(await listKeys(direct, 'denied/')).toEqual(
        [
          blockedArchive.key,
          blockedArchive.manifestKey,
          blockedManifest.manifestKey,
          entries[3]?.key,
          entries[3]?.manifestKey,
          entries[4]?.key,
          entries[4]?.manifestKey,
        ].sort() as string[],
      );
      expect((await readCatalog(direct, 'shop')).orphanManifests).toEqual([blockedManifest.manifestKey]);
      expect(pruneSummary(result)).toContain(`| \`${blockedArchive.key}\` | AccessDenied: Access Denied |`);
    }, 30_000);

    test('an unreachable destination is a warning result, not a throw', async () => {
      const log = recordingLog();
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const result = await runPrune({
        ...options(s3Destination('denied'), log),
        s3: { ...testS3Settings(`http://127.0.0.1:${port}`) },
      });
      expect(result.destinations[0]?.ok).toBe(false);
      expect(result.destinations[0]?.error).toMatch(
        /^s3:\/\/retention\/denied: retention skipped, nothing was deleted: /,
      );
      expect(log.warnings).toHaveLength(1);
    }, 60_000);
  });
});

describe('retention in a file:// destination', () => {
  let base: string;
  let root: string;
  let destination: Destination;
  let store: ObjectStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'retention-'));
    root = join(base, 'backups');
    destination = fileDestination(root);
    store = createStore(destination, testS3Settings('http://127.0.0.1:9'));
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const options = (log: Log, extra: Partial<RetentionCommandOptions> = {}): RetentionCommandOptions => ({
    destinations: [destination],
    s3: testS3Settings('http://127.0.0.1:9'),
    database: 'shop',
    policy: GFS,
    dryRun: false,
    now: NOW,
    log,
    createStore,
    ...extra,
  });

  test('1,000 backups: dry run deletes nothing, then exactly the planned set remains; foreign files survive', async () => {
    const backups = hourlyThenDaily(500, 500);
    backups[999] = { ...(backups[999] as Synthetic), manifest: false }; // the oldest, older than the oldest kept: goes
    backups[0] = { ...(backups[0] as Synthetic), manifest: false }; // newest, maybe still being written: stays
    backups[1] = { ...(backups[1] as Synthetic), globals: true };
    backups[600] = { ...(backups[600] as Synthetic), globals: true };
    const entries = await seed(store, backups);
    await mkdir(join(root, 'shop', 'notes'), { recursive: true });
    await writeFile(join(root, 'shop', 'notes', 'README.md'), 'mine');
    await writeFile(join(root, 'shop', 'restore.sh'), 'mine');
    const foreign = ['shop/notes/README.md', 'shop/restore.sh'];

    const dry = await runPrune(options(recordingLog(), { dryRun: true }));
    expect(dry.prunedCount).toBe(0);
    expect(await listKeys(store, '')).toHaveLength(1000 + 998 + 2 + 2 + foreign.length);

    const expected = planRetention(entries, GFS, NOW);
    expect(expected.kept.find((k) => k.backup.key === entries[0]?.key)?.reasons).toEqual([
      'incomplete (no manifest), not older than the oldest kept backup',
    ]);
    expect(expected.deleted.find((d) => d.backup.key === entries[999]?.key)?.why).toBe(
      'incomplete (no manifest), older than the oldest kept backup',
    );
    const result = await runPrune(options(recordingLog()));
    const execution = result.destinations[0]?.execution;
    expect(execution?.failed).toEqual([]);
    expect(execution?.deleted.map((d) => d.backup.key)).toEqual(expected.deleted.map((d) => d.backup.key));
    expect(await listKeys(store, '')).toEqual(remainingAfter(expected, foreign, new Set([entries[1]?.key as string])));
    expect(result.warnings).toEqual([]);
  }, 60_000);

  test('a file that cannot be deleted: a warning result with the key left, not a throw', async () => {
    const days = (n: number) => ({ time: new Date(NOW.getTime() - n * 24 * HOUR) });
    const entries = await seed(store, [days(4), days(3), days(2), days(1)]);
    const stuck = entries[0] as BackupEntry;
    const path = join(root, ...stuck.key.split('/'));
    const undo = await makeUndeletable(path);
    try {
      const log = recordingLog();
      const result = await runPrune(options(log, { policy: { last: 1, labels: [] } }));
      const execution = result.destinations[0]?.execution;
      expect(result.destinations[0]?.ok).toBe(false);
      expect(execution?.failed.map((f) => f.key)).toContain(stuck.key);
      expect(execution?.kept.find((k) => k.backup.key === stuck.key)?.reasons[0]).toMatch(
        new RegExp(`^delete failed: ${stuck.key}: `),
      );
      expect(log.warnings).toHaveLength(1);
      expect(log.warnings[0]).toContain('could not be deleted and stay in place');
      // Its manifest was not deleted either: the backup is still whole.
      const left = await listKeys(store, '');
      expect(left).toEqual(
        expect.arrayContaining([stuck.key, stuck.manifestKey, entries[3]?.key, entries[3]?.manifestKey]),
      );
    } finally {
      await undo();
    }
  }, 30_000);
});

/**
 * Makes `path` impossible to unlink: as root (who ignores permissions) with the immutable
 * attribute, else by making its folder read-only (then every file in it is stuck). Returns undo.
 */
async function makeUndeletable(path: string): Promise<() => Promise<void>> {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', path]);
    return () => {
      execFileSync('chattr', ['-i', path]);
      return Promise.resolve();
    };
  }
  const folder = path.slice(0, path.lastIndexOf('/'));
  await chmod(folder, 0o555);
  return () => chmod(folder, 0o755);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
