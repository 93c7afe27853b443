/**
 * Through the bundle (dist/index.js run as the runner runs it), against a real PostgreSQL cluster,
 * s3rver (which ignores If-None-Match: only the claims keep two runs apart there) and a folder:
 * - two backups of one database to one destination started in the same second: exactly one exits
 *   0, the other fails saying another run holds or wrote the key, and the stored archive's sha256
 *   equals its manifest's and the winner's `sha256` output;
 * - prune never deletes an archive-named object another tool wrote (no manifest, no marker), still
 *   deletes an interrupted archive of ours, and temporary files of killed runs are shown by `list`
 *   and removed by the next backup once older than 24 h.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

import type { Manifest } from '../../src/manifest.js';
import { claimObjectKey } from '../../src/storage/claim.js';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { startCluster, type Cluster } from '../support/pg-cluster.js';
import { clockReaches, eventually } from '../support/poll.js';
import {
  answerS3Error,
  startS3Proxy,
  startS3Server,
  testS3Inputs,
  testS3Settings,
  type S3Proxy,
  type S3Server,
} from '../support/s3-server.js';

let cluster: Cluster;
let s3: S3Server;
let work: string;
let client: S3Client;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'ownership-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await s3.createBucket('owned');
  await cluster.createDatabase('shop');
  await cluster.psql(
    'shop',
    'CREATE TABLE items AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 300000) g',
  );
  client = new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

function backupInputs(destination: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'database-url': cluster.url('shop'), destination, ...testS3Inputs(s3.endpoint), ...extra };
}

function retentionInputs(
  command: string,
  destination: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { command, database: 'shop', destination, ...testS3Inputs(s3.endpoint), ...extra };
}

async function s3Text(key: string): Promise<string> {
  const { Body } = await client.send(new GetObjectCommand({ Bucket: 'owned', Key: key }));
  return (Body as { transformToString(): Promise<string> }).transformToString();
}

async function s3Sha256(key: string): Promise<string> {
  const { Body } = await client.send(new GetObjectCommand({ Bucket: 'owned', Key: key }));
  return createHash('sha256')
    .update(await (Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())
    .digest('hex');
}

async function s3Keys(prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: 'owned', Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}

function filesIn(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

/** Waits until the wall clock is within the first 150 ms of a second, so two runs started now get one key. */
async function startOfSecond(): Promise<void> {
  const ms = (): number => Date.now() % 1000;
  if (!(await eventually(() => ms() >= 20 && ms() <= 150, { intervalMs: 5 }))) throw new Error('the clock stood still');
}

const RACE_MESSAGE =
  /another run holds .*Nothing was written under that key|an object already exists at .*Nothing was overwritten|was refused: a file already exists under that name \(another run wrote it first\)\. Nothing was overwritten|was refused: an object already exists under that key/;

/**
 * A proxy in front of s3rver that holds each archive's completing request (PutObject or
 * CompleteMultipartUpload of `…/shop/<time>.dump.zst`) until two HeadObject requests of that key
 * arrived (or 10 s passed): so both runs have checked the key before either stores it, the
 * interleaving in which a check before the upload alone lets both runs write (s3rver ignores
 * If-None-Match).
 */
async function bothCheckFirst(): Promise<S3Proxy> {
  const heads = new Map<string, number>();
  const held = new Map<string, (() => void)[]>();
  const archive = /\/shop\/[^/]+\.dump\.zst$/;
  return startS3Proxy(s3.port, ({ method, key, query }, _req, _res, forward) => {
    if (!archive.test(key)) return forward();
    if (method === 'HEAD') {
      heads.set(key, (heads.get(key) ?? 0) + 1);
      if ((heads.get(key) ?? 0) >= 2) for (const go of held.get(key)?.splice(0) ?? []) go();
      return forward();
    }
    const completes = (method === 'PUT' && !query.has('partNumber')) || (method === 'POST' && query.has('uploadId'));
    if (!completes || (heads.get(key) ?? 0) >= 2) return forward();
    let sent = false;
    const go = (): void => {
      if (!sent) forward();
      sent = true;
    };
    held.set(key, [...(held.get(key) ?? []), go]);
    setTimeout(go, 10_000);
  });
}

/**
 * Starts two backups to `destination(attempt)` at the same instant until both picked the same key
 * (a run's key has whole-second time; at most 5 tries), and returns both runs. `endpoint` is the S3
 * endpoint the runs use (default: s3rver itself).
 */
async function race(
  destination: (attempt: number) => string,
  endpoint?: string,
): Promise<{ runs: ActionRun[]; destination: string }> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    await startOfSecond();
    const target = destination(attempt);
    const extra: Record<string, string> = endpoint ? { 's3-endpoint': endpoint } : {};
    const runs = await Promise.all([
      runAction({ inputs: backupInputs(target, extra) }),
      runAction({ inputs: backupInputs(target, extra) }),
    ]);
    // Both succeeded (with distinct keys): they started in different seconds; try again.
    if (runs.every((r) => r.exitCode === 0) && runs[0]?.outputs['backup-key'] !== runs[1]?.outputs['backup-key'])
      continue;
    return { runs, destination: target };
  }
  throw new Error('two runs started together never picked the same key in 5 tries');
}

describe('two backups of one database to one destination in the same second', () => {
  test('s3rver (ignores If-None-Match): one exits 0, the other fails saying so; archive, manifest and output agree', async () => {
    const proxy = await bothCheckFirst();
    const { runs, destination } = await race((n) => `s3://owned/race${n}`, proxy.endpoint).finally(() => proxy.stop());
    const winners = runs.filter((r) => r.exitCode === 0);
    const losers = runs.filter((r) => r.exitCode !== 0);
    if (winners.length !== 1)
      console.log(
        runs
          .map((r) =>
            r.stdout
              .split('\n')
              .filter((l) => /::error::|::warning::|claim|Storage|Verify/.test(l))
              .join('\n'),
          )
          .join('\n-----\n'),
      );
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]?.stdout).toMatch(RACE_MESSAGE);
    const winner = winners[0] as ActionRun;
    const key = winner.outputs['backup-key'] as string;
    const manifest = JSON.parse(await s3Text(winner.outputs['manifest-key'] as string)) as Manifest;
    expect(manifest.archive.key).toBe(key);
    expect(await s3Sha256(key)).toBe(manifest.archive.sha256);
    expect(manifest.archive.sha256).toBe(winner.outputs.sha256);
    // No claim is left behind by either run.
    const prefix = destination.replace('s3://owned/', '');
    expect(await s3Keys(`${prefix}/`)).toEqual([key, `${key}.manifest.json`].sort());
  }, 180_000);

  test('a folder: one exits 0, the other fails saying so; archive, manifest and output agree, no file left behind', async () => {
    const { runs, destination } = await race((n) => `file://${path.join(work, `race${n}`)}`);
    const winners = runs.filter((r) => r.exitCode === 0);
    const losers = runs.filter((r) => r.exitCode !== 0);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]?.stdout).toMatch(RACE_MESSAGE);
    const winner = winners[0] as ActionRun;
    const root = destination.slice('file://'.length);
    const key = winner.outputs['backup-key'] as string;
    const manifest = JSON.parse(
      readFileSync(path.join(root, winner.outputs['manifest-key'] as string), 'utf8'),
    ) as Manifest;
    expect(
      createHash('sha256')
        .update(readFileSync(path.join(root, key)))
        .digest('hex'),
    ).toBe(manifest.archive.sha256);
    expect(manifest.archive.sha256).toBe(winner.outputs.sha256);
    expect(filesIn(path.join(root, 'shop'))).toEqual(
      [path.basename(key), `${path.basename(key)}.manifest.json`].sort(),
    );
  }, 180_000);
});

describe("after the write, the object under the key must be the run's own (a store that let another writer replace it)", () => {
  /** A proxy that answers HeadObject of keys matching `pattern` with another ETag, as if another writer had replaced the object. */
  function replacedOnHead(pattern: RegExp): Promise<S3Proxy> {
    return startS3Proxy(s3.port, ({ method, key }, _req, _res, forward) => {
      if (method === 'HEAD' && pattern.test(key))
        forward((headers) => ({ ...headers, etag: '"0123456789abcdef0123456789abcdef"' }));
      else forward();
    });
  }

  test('the archive: the run fails naming the replaced key, and writes no manifest', async () => {
    const proxy = await replacedOnHead(/\/shop\/[^/]+\.dump\.zst$/);
    try {
      const run = await runAction({ inputs: backupInputs('s3://owned/replaced', { 's3-endpoint': proxy.endpoint }) });
      expect(run.exitCode).not.toBe(0);
      expect(run.stdout).toMatch(
        /replaced\/shop\/\S+\.dump\.zst has ETag 0123456789abcdef0123456789abcdef but the upload was answered with [0-9a-f]{32}: another writer replaced the archive after this run stored it/,
      );
      expect((await s3Keys('replaced/')).filter((k) => k.endsWith('.manifest.json'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  test('the manifest: the run fails saying another writer replaced it', async () => {
    const proxy = await replacedOnHead(/\.manifest\.json$/);
    try {
      const run = await runAction({
        inputs: backupInputs('s3://owned/replaced-manifest', { 's3-endpoint': proxy.endpoint }),
      });
      expect(run.exitCode).not.toBe(0);
      expect(run.stdout).toMatch(
        /the object under replaced-manifest\/shop\/\S+\.manifest\.json is not the one this run wrote \(\d+ bytes, ETag 0123456789abcdef0123456789abcdef; written \d+ bytes, ETag [0-9a-f]{32}\): another writer replaced it/,
      );
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});

describe('a run that fails after the upload leaves nothing under the final keys', () => {
  test('S3: the manifest write is refused; the stored archive and its claim are removed', async () => {
    const proxy = await startS3Proxy(s3.port, ({ method, key }, req, res, forward) => {
      if (method === 'PUT' && key.endsWith('.manifest.json'))
        answerS3Error(req, res, 400, 'InvalidRequest', 'manifests refused by this test');
      else forward();
    });
    try {
      const run = await runAction({ inputs: backupInputs('s3://owned/unfinished', { 's3-endpoint': proxy.endpoint }) });
      expect(run.exitCode).not.toBe(0);
      expect(run.stdout).toMatch(/removed unfinished\/shop\/\S+\.dump\.zst, stored by this run before it failed/);
      expect(await s3Keys('unfinished/')).toEqual([]);
    } finally {
      await proxy.stop();
    }
  }, 120_000);
});

describe('only what this action wrote is deleted', () => {
  const FOREIGN = '2020-01-01T000000Z.dump';

  test("S3: prune keep-last=1 keeps another tool's 2020-01-01T000000Z.dump (no manifest, no marker) and deletes an interrupted archive of ours", async () => {
    const first = await runAction({ inputs: backupInputs('s3://owned/foreign') });
    expect(first.exitCode).toBe(0);
    // Interrupted run of ours: the archive (with the marker metadata) is stored, its manifest is not.
    await client.send(new DeleteObjectCommand({ Bucket: 'owned', Key: first.outputs['manifest-key'] }));
    // Another tool's object with an archive-like name: no metadata, no manifest.
    await client.send(new PutObjectCommand({ Bucket: 'owned', Key: `foreign/shop/${FOREIGN}`, Body: 'not ours' }));
    await afterThisSecond(); // a backup in the same second would find the key taken
    const second = await runAction({ inputs: backupInputs('s3://owned/foreign') });
    expect(second.exitCode).toBe(0);

    const prune = await runAction({ inputs: retentionInputs('prune', 's3://owned/foreign', { 'keep-last': '1' }) });
    expect(prune.exitCode).toBe(0);
    expect(prune.stdout).toContain(`delete  ${first.outputs['backup-key']}`);
    expect(prune.stdout).not.toContain(FOREIGN + '  ');
    expect(await s3Keys('foreign/')).toEqual(
      [`foreign/shop/${FOREIGN}`, second.outputs['backup-key'], second.outputs['manifest-key']].sort(),
    );
  }, 180_000);

  test('a folder: the same; the interrupted archive of ours is known by the claim its run kept', async () => {
    const root = path.join(work, 'foreign');
    const folder = path.join(root, 'shop');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, FOREIGN), 'not ours');
    const first = await runAction({ inputs: backupInputs(`file://${root}`) });
    expect(first.exitCode).toBe(0);
    // A run that fails after storing the archive (its globals file cannot be written: a folder holds
    // the name, for each second the run may start in) removes the archive itself: nothing is left
    // under a final key, and its claim goes too.
    // (From the next second on: in the first run's second the key is taken, a failure of another kind.)
    const next = await afterThisSecond();
    const blocked = Array.from({ length: 10 }, (_, i) => keyTime(new Date(next + i * 1000)));
    for (const time of blocked) mkdirSync(path.join(folder, `${time}.globals.sql`));
    const failed = await runAction({ inputs: backupInputs(`file://${root}`, { globals: 'true' }) });
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stdout).toMatch(/globals\.sql .*was refused: a file already exists under that name/);
    expect(failed.stdout).toMatch(/removed shop\/\S+\.dump\.zst, stored by this run before it failed/);
    for (const time of blocked) rmSync(path.join(folder, `${time}.globals.sql`), { recursive: true });
    expect(filesIn(folder)).toEqual(
      [
        FOREIGN,
        path.basename(first.outputs['backup-key'] as string),
        path.basename(first.outputs['manifest-key'] as string),
      ].sort(),
    );

    // A run killed after storing the archive (SIGKILL: no clean-up) leaves it with its claim beside
    // it, which marks it as this action's.
    const killedAt = new Date(next - 3_600_000);
    const killed = `${keyTime(killedAt)}.dump.zst`;
    writeFileSync(path.join(folder, killed), readFileSync(path.join(root, first.outputs['backup-key'] as string)));
    writeFileSync(path.join(folder, path.basename(claimObjectKey(`shop/${killed}`, killedAt, '0123456789ab'))), '{}');
    await afterThisSecond();
    const third = await runAction({ inputs: backupInputs(`file://${root}`) });
    expect(third.exitCode).toBe(0);

    const prune = await runAction({ inputs: retentionInputs('prune', `file://${root}`, { 'keep-last': '1' }) });
    expect(prune.exitCode).toBe(0);
    expect(filesIn(folder)).toEqual(
      [
        FOREIGN,
        path.basename(third.outputs['backup-key'] as string),
        path.basename(third.outputs['manifest-key'] as string),
      ].sort(),
    );
  }, 180_000);
});

/** Resolves once the wall clock is in the next whole second; returns that second (ms). */
async function afterThisSecond(): Promise<number> {
  const next = Math.ceil((Date.now() + 1) / 1000) * 1000;
  await clockReaches(next);
  return next;
}

/** The key time of `time` (`2026-12-07T011503Z`). */
function keyTime(time: Date): string {
  return time
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '');
}

describe('temporary files of killed runs', () => {
  test('list shows .partial files (log and temporary-files output); the next backup removes the one older than 24 h and keeps the fresh one', async () => {
    const root = path.join(work, 'partials');
    const folder = path.join(root, 'shop');
    mkdirSync(folder, { recursive: true });
    const old = '.2026-01-01T000000Z.dump.zst.0123456789ab.partial';
    const fresh = '.2026-01-02T000000Z.dump.zst.ba9876543210.partial';
    writeFileSync(path.join(folder, old), Buffer.alloc(4096, 1));
    writeFileSync(path.join(folder, fresh), Buffer.alloc(1024, 2));
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(path.join(folder, old), twoDaysAgo, twoDaysAgo);

    const listed = await runAction({ inputs: retentionInputs('list', `file://${root}`) });
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toContain(`temporary  shop/${old}  partial  4.1 kB`);
    expect(listed.stdout).toContain(`temporary  shop/${fresh}  partial  1.0 kB`);
    const temporaries = JSON.parse(listed.outputs['temporary-files'] as string) as {
      key: string;
      kind: string;
      sizeBytes: number;
      stale: boolean;
    }[];
    expect(temporaries.map(({ key, kind, sizeBytes, stale }) => ({ key, kind, sizeBytes, stale }))).toEqual([
      { key: `shop/${old}`, kind: 'partial', sizeBytes: 4096, stale: true },
      { key: `shop/${fresh}`, kind: 'partial', sizeBytes: 1024, stale: false },
    ]);
    expect(JSON.parse(listed.outputs.backups as string)).toEqual([]);
    expect(listed.summary).toContain(`\`shop/${old}\``);

    const backup = await runAction({ inputs: backupInputs(`file://${root}`) });
    expect(backup.exitCode).toBe(0);
    expect(backup.stdout).toContain(`removed 1 temporary object(s) older than 24 h left by killed runs: shop/${old}.`);
    expect(filesIn(folder)).toEqual(
      [
        fresh,
        path.basename(backup.outputs['backup-key'] as string),
        path.basename(backup.outputs['manifest-key'] as string),
      ].sort(),
    );
  }, 120_000);
});
