/**
 * Stalls and faults of an S3 store, through the bundle (dist/index.js run as the runner runs it):
 * a real PostgreSQL cluster, s3rver behind the fault proxy (test/support/fault-proxy.ts).
 * - every UploadPart stalled → the backup fails within the bound of `s3-timeout`, says "stalled",
 *   names the part, leaves nothing under the key and no multipart upload pending;
 * - 5xx on 1 in 3 UploadParts, and a connection reset mid-part → retried, the backup succeeds and
 *   the stored archive has the manifest's sha256;
 * - a slow transfer logs progress lines (upload and download), without any knob: a real 15 s wait;
 * - the restore's download stalling mid-body fails bounded, with "stalled".
 * Needs NODE_OPTIONS=--openssl-legacy-provider (s3rver's listing tokens use DES).
 */
import { createHash } from 'node:crypto';

import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import type { Manifest } from '../../src/manifest.js';
import { S3_MAX_ATTEMPTS, s3ClientConfig, stalledRequestBoundMs } from '../../src/storage/s3.js';
import { nodeBinaries, runAction, type ActionRun } from '../support/action-runner.js';
import { isGetObject, isUploadPart, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startCluster, type Cluster } from '../support/pg-cluster.js';
import { startS3Server, testS3Inputs, testS3Settings, type S3Server } from '../support/s3-server.js';

const BUCKET = 'faults';
/** s3-timeout of the stall tests: Node's own socket timeout would show as tries 6 s apart, the watchdog's as ~3.3 s. */
const TIMEOUT_S = 3;
/** Random rows of 1 KiB: an archive of ~20 MB, 3 parts of 8 MiB, which zstd cannot shrink. */
const ROWS = 20_000;

let cluster: Cluster;
let server: S3Server;
let proxy: FaultProxy;
let direct: S3Client;

beforeAll(async () => {
  [cluster, server] = await Promise.all([startCluster(), startS3Server()]);
  await server.createBucket(BUCKET);
  proxy = await startFaultProxy(server.port);
  direct = new S3Client(s3ClientConfig(testS3Settings(server.endpoint)));
  await cluster.createDatabase('noise');
  await cluster.psql(
    'noise',
    `CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL);
     INSERT INTO blobs SELECT i, (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex') FROM generate_series(1, 64) AS j) FROM generate_series(1, ${ROWS}) AS i;`,
  );
}, 180_000);

afterAll(async () => {
  direct?.destroy();
  await proxy?.stop();
  await Promise.all([cluster?.stop(), server?.stop()]);
});

afterEach(() => proxy.setRules([]));

function backup(prefix: string, extra: Record<string, string> = {}, node?: string): Promise<ActionRun> {
  return runAction({
    ...(node ? { node } : {}),
    inputs: {
      'database-url': cluster.url('noise'),
      destination: `s3://${BUCKET}/${prefix}`,
      ...testS3Inputs(proxy.endpoint),
      'issue-on-failure': 'false',
      ...extra,
    },
    timeoutMs: 180_000,
  });
}

/** The ::error:: lines the bundle printed, with the runner's escaping undone. */
function errors(result: ActionRun): string[] {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'));
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await direct.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '');
}

async function storedSha256(key: string): Promise<string> {
  const { Body } = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const bytes = await (Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  return createHash('sha256').update(bytes).digest('hex');
}

async function manifestOf(run: ActionRun): Promise<Manifest> {
  const { Body } = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: run.outputs['manifest-key'] }));
  return JSON.parse(await (Body as { transformToString(): Promise<string> }).transformToString()) as Manifest;
}

/** Asserts a successful backup whose stored archive has the manifest's sha256 and size; returns the manifest. */
async function expectStored(run: ActionRun): Promise<Manifest> {
  expect(errors(run)).toEqual([]);
  expect(run.exitCode).toBe(0);
  const manifest = await manifestOf(run);
  expect(manifest.archive.bytes).toBeGreaterThan(16 * 1024 * 1024);
  expect(await storedSha256(manifest.archive.key)).toBe(manifest.archive.sha256);
  expect(run.outputs.sha256).toBe(manifest.archive.sha256);
  expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
  return manifest;
}

// The watchdog reads Node's sockets (bytes, write queue): on every Node the bundle supports.
test.each(nodeBinaries())(
  'every UploadPart stalled ($name): the backup fails within the bound of s3-timeout, says "stalled", names the part, leaves nothing',
  async (node) => {
    proxy.setRules([{ match: isUploadPart, stallRequestAfter: { bytes: 64 * 1024 } }]);
    const prefix = `stalled-${node.name.replace(/\W+/g, '')}`;
    const run = await backup(prefix, { 's3-timeout': String(TIMEOUT_S) }, node.path);
    const ended = Date.now();
    expect(run.exitCode).toBe(1);
    const failures = errors(run);
    expect(failures).toHaveLength(1);
    const message = failures[0] as string;
    expect(message).toMatch(
      /the S3 server accepted the connection and then stopped answering for 3 s during UploadPart [1-3]; it stalled/,
    );
    expect(message).toContain('`s3-timeout` (now 3 s)');
    expect(message).not.toMatch(/could not reach/i);
    expect(message).toContain('Nothing was left under the key.');
    // From the first UploadPart to the end of the run: bounded, within twice the documented bound
    // (attempts × (timeout + tick) + backoff) and the abort. Each try ends before 2T: Node's socket
    // timeout took 2 × 3 s per try, so that is the line between the watchdog and it.
    const parts = proxy.tries.filter((t) => isUploadPart(t.request) && t.request.key.startsWith(`${prefix}/`));
    const first = Math.min(...parts.map((t) => t.startedAt));
    const bound = stalledRequestBoundMs({ ...testS3Settings(proxy.endpoint), timeoutSeconds: TIMEOUT_S });
    expect(ended - first).toBeLessThan(2 * bound + 5_000);
    const byPart = new Map<string, number[]>();
    for (const t of parts) {
      const part = t.request.query.get('partNumber') ?? '';
      byPart.set(part, [...(byPart.get(part) ?? []), t.startedAt]);
    }
    for (const [, starts] of byPart) {
      expect(starts).toHaveLength(S3_MAX_ATTEMPTS);
      expect((starts[1] as number) - (starts[0] as number)).toBeLessThan(2 * TIMEOUT_S * 1000);
    }
    expect(await keysUnder(`${prefix}/`)).toEqual([]);
    expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
  },
  180_000,
);

test('a 500 on 1 in 3 UploadParts is retried: the backup succeeds with the manifest sha256', async () => {
  proxy.setRules([{ match: isUploadPart, failOneIn: { k: 3 } }]);
  const run = await backup('flaky');
  await expectStored(run);
  const parts = proxy.tries.filter((t) => isUploadPart(t.request) && t.request.key.startsWith('flaky/'));
  expect(parts.filter((t) => t.fault === 'failed').length).toBeGreaterThanOrEqual(1);
}, 180_000);

test('a connection reset in the middle of a part is retried: the backup succeeds with the manifest sha256', async () => {
  proxy.setRules([{ match: isUploadPart, resetAfter: { bytes: 1024 * 1024, times: 1 } }]);
  const run = await backup('reset');
  await expectStored(run);
  expect(proxy.tries.filter((t) => t.fault === 'reset' && t.request.key.startsWith('reset/'))).toHaveLength(1);
}, 180_000);

describe('slow transfers log progress; a stalled download fails bounded', () => {
  let manifest: Manifest;

  test('an upload slower than 15 s logs a progress line with bytes, MB/s and parts done', async () => {
    // 400 kB/s per request: the ~20 MB archive takes about 20 s.
    proxy.setRules([{ match: isUploadPart, bytesPerSecond: 400_000 }]);
    const run = await backup('slow');
    manifest = await expectStored(run);
    expect(run.stdout).toMatch(
      /^Uploading: [\d.]+ [kM]B of archive so far, [\d.]+ MB\/s \([\d.]+ MB\/s overall\); s3:\/\/faults\/slow: \d+ parts? done \([\d.]+ [kM]?B\)$/m,
    );
  }, 180_000);

  test('a restore download slower than 15 s logs a progress line with bytes, % and MB/s', async () => {
    if (!manifest) throw new Error('the slow backup failed');
    await cluster.createDatabase('restored_slow');
    proxy.setRules([{ match: (r) => isGetObject(r) && r.key === manifest.archive.key, bytesPerSecond: 1_200_000 }]);
    const run = await runAction({
      inputs: {
        command: 'restore',
        database: 'noise',
        destination: `s3://${BUCKET}/slow`,
        ...testS3Inputs(proxy.endpoint),
        'target-database-url': cluster.url('restored_slow'),
        'issue-on-failure': 'false',
      },
      timeoutMs: 180_000,
    });
    expect(errors(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^Downloading ${manifest.archive.key.replace(/\./g, '\\.')}: [\\d.]+ MB of [\\d.]+ MB \\(\\d+%\\), [\\d.]+ MB/s \\([\\d.]+ MB/s overall\\)(, ETA (\\d+s|\\d+m \\d\\ds|\\d+h \\d\\dm))?$`,
        'm',
      ),
    );
    expect(await cluster.psql('restored_slow', 'SELECT count(*) FROM blobs')).toBe(String(ROWS));
  }, 180_000);

  test('a restore whose download stalls mid-body fails within the bound, saying "stalled"', async () => {
    if (!manifest) throw new Error('the slow backup failed');
    await cluster.createDatabase('restored_stalled');
    proxy.setRules([
      { match: (r) => isGetObject(r) && r.key === manifest.archive.key, stallAnswerAfter: { bytes: 1024 * 1024 } },
    ]);
    const started = Date.now();
    const run = await runAction({
      inputs: {
        command: 'restore',
        database: 'noise',
        destination: `s3://${BUCKET}/slow`,
        ...testS3Inputs(proxy.endpoint),
        's3-timeout': String(TIMEOUT_S),
        'target-database-url': cluster.url('restored_stalled'),
        'issue-on-failure': 'false',
      },
      timeoutMs: 180_000,
    });
    const elapsed = Date.now() - started;
    expect(run.exitCode).toBe(1);
    const failures = errors(run);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(
      new RegExp(
        `Reading the archive ${manifest.archive.key.replace(/\./g, '\\.')} from s3://faults/slow failed: the S3 server answered GetObject and then stopped sending its body for 3 s; it stalled`,
      ),
    );
    expect(failures[0]).not.toMatch(/could not reach/i);
    // The download and the check that re-reads the object each stall once (a body is not retried).
    expect(elapsed).toBeLessThan(2 * TIMEOUT_S * 1000 + 30_000);
  }, 180_000);
});
