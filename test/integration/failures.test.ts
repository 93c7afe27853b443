/**
 * Failures in the middle of a stream, against real servers: the action cancelled (SIGTERM), the S3
 * server stopped, PostgreSQL killed — each while parts of a multipart upload are already stored.
 * In every case: the run fails with the real cause, pg_dump is gone, and nothing exists under the
 * final key (the multipart upload is aborted whenever the server can still be reached).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBackup } from '../../src/commands/backup.js';
import type { Log } from '../../src/log.js';
import { parseConfig } from '../../src/config/parse.js';
import { asBackup } from '../support/config.js';
import { DumpError, UploadError } from '../../src/errors.js';
import { realDeps } from '../../src/run.js';
import { runAction } from '../support/action-runner.js';
import { startCluster, type Cluster } from '../support/pg-cluster.js';
import { startS3Server, type S3Server, testS3Inputs } from '../support/s3-server.js';
import { eventually } from '../support/poll.js';

let cluster: Cluster;
let s3: S3Server;
let s3Dir: string;
let work: string;
const quiet: Log = { info: () => undefined, warning: () => undefined, group: (_n, fn) => fn() };

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'failures-'));
  s3Dir = mkdtempSync(path.join(os.tmpdir(), 's3-failures-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server({ dir: s3Dir })]);
  await s3.createBucket('fail');
  await cluster.createDatabase('big');
  // ≈ 330 MB of dump text, so the stream is still running when the failure is injected.
  await cluster.psql(
    'big',
    'CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 50) AS payload FROM generate_series(1, 200000) g',
  );
}, 180_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
  rmSync(s3Dir, { recursive: true, force: true });
});

function inputs(prefix: string): Record<string, string> {
  return {
    'database-url': cluster.url('big'),
    destination: `s3://fail/${prefix}`,
    ...testS3Inputs(s3.endpoint),
    compression: 'none',
  };
}

/** Resolves once the S3 server has stored at least one part of a multipart upload. */
async function firstPartStored(server: S3Server): Promise<void> {
  const start = server.requests.length;
  const stored = await eventually(
    () => server.requests.slice(start).some((r) => r.startsWith('PUT ') && r.includes('partNumber=')),
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  if (!stored) throw new Error('no multipart part was uploaded within 30 s');
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const { readdirSync, existsSync } = await import('node:fs');
  const walk = (dir: string, rel: string): string[] =>
    !existsSync(dir)
      ? []
      : readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(path.join(dir, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`],
        );
  return walk(path.join(s3Dir, 'fail', prefix), '');
}

async function pgDumpSessions(): Promise<number> {
  return Number(
    await cluster.psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'"),
  );
}

test('the action cancelled with SIGTERM mid-upload: exit 1, pg_dump stopped, multipart aborted, no object', async () => {
  let pid = 0;
  const running = runAction({ inputs: inputs('cancelled'), onStart: (p) => (pid = p) });
  await firstPartStored(s3);
  process.kill(pid, 'SIGTERM');
  const run = await running;
  expect(run.exitCode).toBe(1);
  expect(run.stdout).toMatch(/::error::The backup was cancelled/);
  expect((await s3.pendingMultipartUploads('fail')).filter((u) => u.key.startsWith('cancelled/'))).toEqual([]);
  expect(await objectsUnder('cancelled')).toEqual([]);
  // pg_dump's backend ends shortly after the process: wait for it (no fixed sleep).
  expect(await eventually(async () => (await pgDumpSessions()) === 0)).toBe(true);
}, 120_000);

test('the S3 server stopped mid-upload: UploadError, pg_dump stopped, nothing under the key after restart', async () => {
  const config = asBackup(parseConfig((name) => inputs('s3-down')[name] ?? ''));
  const running = runBackup(config, { ...realDeps(config, undefined, quiet), tempDir: work }).catch((e: unknown) => e);
  await firstPartStored(s3);
  await s3.stop();
  const error = await running;
  s3 = await startS3Server({ dir: s3Dir, port: s3.port });
  expect(error).toBeInstanceOf(UploadError);
  expect((error as Error).message).toMatch(/s3:\/\/fail\/s3-down/);
  // Only the run's claim of the key may remain (it could not be deleted from a stopped server; a
  // later run removes it after 24 h, docs/retention.md).
  expect(
    (await objectsUnder('s3-down')).filter((file) => !/\.claim-\d{8}T\d{9}Z-[0-9a-f]{12}\._S3rver_/.test(file)),
  ).toEqual([]);
  // The abort could not reach a stopped server: its parts wait for the bucket's lifecycle rule
  // (AbortIncompleteMultipartUpload, see README) — but no object exists under the key.
  expect(
    (await s3.pendingMultipartUploads('fail')).filter((u) => u.key.startsWith('s3-down/')).length,
  ).toBeLessThanOrEqual(1);
  // pg_dump's backend ends shortly after the process: wait for it (no fixed sleep).
  expect(await eventually(async () => (await pgDumpSessions()) === 0)).toBe(true);
}, 120_000);

test('PostgreSQL killed mid-dump: DumpError with the cause, multipart aborted, no object', async () => {
  const config = asBackup(parseConfig((name) => inputs('pg-killed')[name] ?? ''));
  const running = runBackup(config, { ...realDeps(config, undefined, quiet), tempDir: work }).catch((e: unknown) => e);
  await firstPartStored(s3);
  await cluster.stop('immediate');
  const error = await running;
  expect(error).toBeInstanceOf(DumpError);
  expect((error as Error).message).toMatch(/pg_dump/);
  expect((error as Error).message).toMatch(/terminat|connection|server closed/i);
  expect((await s3.pendingMultipartUploads('fail')).filter((u) => u.key.startsWith('pg-killed/'))).toEqual([]);
  expect(await objectsUnder('pg-killed')).toEqual([]);
}, 120_000);
