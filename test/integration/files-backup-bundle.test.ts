/**
 * The files archive beside the database (docs/files.md), through the bundle (dist/index.js) as a
 * runner runs it, against a real PostgreSQL cluster, s3rver and a folder destination: a tree with
 * nested folders, unicode and space names, links, an empty folder, a fifo (skipped), a 5 MB file
 * and 500 small files. The files object is under the contract's key in every destination with the
 * manifest's sha256; its tar lists relative paths only; the encrypted one restores through the
 * bundle identical to the source (content, modes, mtimes, links); the CLI takes the same flags and
 * runs the files tap too; retention deletes both parts of a backup together; `files` matching
 * nothing fails before any dump; no sentinel secret is written anywhere.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import type { Manifest } from '../../src/manifest.js';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { filesKey } from '../../src/storage/keys.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { buildUploads, MiB, observeTree } from '../support/files-tree.js';
import { repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';
import { eventually } from '../support/poll.js';
import {
  answerS3Error,
  startS3Proxy,
  startS3Server,
  testS3Inputs,
  testS3Settings,
  type S3Server,
} from '../support/s3-server.js';
import { scanForSecrets } from '../support/secret-scan.js';

const DB_PASSWORD = 'SENTINEL-files-dbpw-41c7e2';
const PASSPHRASE = 'SENTINEL-files-passphrase-9b02fd';
const BUCKET = 'files-test';
const SMALL = 500;

let cluster: Cluster;
let s3: S3Server;
let client: S3Client;
let workspace: string;
let folder: string;
const runs: ActionRun[] = [];
const manifests: string[] = [];

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await cluster.createDatabase('app');
  await cluster.psql(
    'app',
    'CREATE TABLE uploads (id int PRIMARY KEY, path text); INSERT INTO uploads SELECT g, g::text FROM generate_series(1, 100) g',
  );
  await cluster.psql('postgres', `CREATE ROLE filer LOGIN SUPERUSER PASSWORD '${DB_PASSWORD}'`);
  await s3.createBucket(BUCKET);
  client = new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
  workspace = mkdtempSync(path.join(os.tmpdir(), 'files-ws-'));
  folder = mkdtempSync(path.join(os.tmpdir(), 'files-dest-'));
  buildUploads(workspace, { smallFiles: SMALL, bigBytes: 5 * MiB });
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await Promise.all([cluster?.stop(), s3?.stop()]);
  for (const dir of [workspace, folder]) if (dir) rmSync(dir, { recursive: true, force: true });
});

async function backup(prefix: string, inputs: Record<string, string>): Promise<ActionRun> {
  const run = await runAction({
    inputs: {
      'database-url': cluster.url('app', 'filer', DB_PASSWORD),
      destination: `s3://${BUCKET}/${prefix}\nfile://${folder}/${prefix}`,
      ...testS3Inputs(s3.endpoint),
      files: 'uploads',
      ...inputs,
    },
    env: { GITHUB_WORKSPACE: workspace },
    timeoutMs: 180_000,
  });
  runs.push(run);
  return run;
}

async function s3Object(key: string): Promise<Buffer> {
  const answer = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function s3Keys(prefix: string): Promise<string[]> {
  const answer = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
  return (answer.Contents ?? []).map((o) => o.Key as string).sort();
}

/** The manifest the run wrote in the folder destination (its keys relative to `folder/prefix`). */
function folderManifest(run: ActionRun, prefix: string): Manifest {
  const s3Key = run.outputs['backup-key'] as string;
  expect(s3Key.startsWith(`${prefix}/`)).toBe(true);
  const text = readFileSync(path.join(folder, prefix, `${s3Key.slice(prefix.length + 1)}.manifest.json`), 'utf8');
  manifests.push(text);
  return JSON.parse(text) as Manifest;
}

/** A key of the folder destination as a path. */
const inFolder = (prefix: string, key: string): string => path.join(folder, prefix, key);

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The tar's names: `tar -t` of the stored object, decrypted and decompressed. */
function tarNames(stored: Buffer, manifest: NonNullable<Manifest['files']>): string[] {
  let data = stored;
  if (manifest.encrypted)
    data = execFileSync(
      'gpg',
      [
        '--batch',
        '--quiet',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        PASSPHRASE,
        '--homedir',
        mkdtempSync(path.join(os.tmpdir(), 'gpg-')),
        '-d',
      ],
      { input: data, maxBuffer: 64 * MiB },
    );
  const tool = { zstd: ['zstd', '-dc'], gzip: ['gzip', '-dc'], lz4: ['lz4', '-dc'], none: ['cat'] }[
    manifest.compression
  ];
  const plain = execFileSync(tool[0] as string, tool.slice(1), { input: data, maxBuffer: 64 * MiB });
  return execFileSync('tar', ['-t'], { input: plain, maxBuffer: 64 * MiB })
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

function expectFilesStored(run: ActionRun, prefix: string, compression: 'zstd' | 'gzip', encrypted: boolean): Manifest {
  expect(run.exitCode).toBe(0);
  const manifest = folderManifest(run, prefix);
  const files = manifest.files as NonNullable<Manifest['files']>;
  expect(files).toMatchObject({ compression, encrypted, fingerprintVersion: 1, skipped: ['uploads/queue.fifo'] });
  expect(files.key).toBe(filesKey(manifest.archive.key, { compression, encrypted }));
  expect(files.fileCount).toBe(SMALL + 7);
  expect(files.totalBytes).toBeGreaterThan(5 * MiB);
  expect(files.listingFingerprint).toMatch(/^[0-9a-f]{64}$/);
  expect(run.summary).toContain(files.key);
  return manifest;
}

describe('files beside the database, through dist/index.js', () => {
  test('a backup stores the files archive in both destinations, with the sha256 of the manifest', async () => {
    const run = await backup('plain', { compression: 'zstd' });
    const manifest = expectFilesStored(run, 'plain', 'zstd', false);
    const files = manifest.files as NonNullable<Manifest['files']>;
    const local = readFileSync(inFolder('plain', files.key));
    const inS3 = await s3Object(`plain/${files.key}`);
    expect([sha256(local), sha256(inS3), local.length]).toEqual([files.sha256, files.sha256, files.bytes]);
    const names = tarNames(local, files);
    expect(names.filter((n) => n.startsWith('/') || n.split('/').includes('..'))).toEqual([]);
    expect(names).toEqual(
      expect.arrayContaining([
        'uploads/big.bin',
        'uploads/empty/',
        'uploads/link-to-a',
        'uploads/with space/ünïcødé 文件/photo 1.jpg',
      ]),
    );
    expect(names.filter((n) => n.startsWith('uploads/small/') && !n.endsWith('/'))).toHaveLength(SMALL);
    expect(run.stdout).toMatch(/queue\.fifo is a fifo/);
    // the bundle runs the files tap child (dist/files-tap.js), tar's bytes never through the action
    expect(run.stdout).toMatch(/Files archive \(gnu-tar, fingerprinted by files tap\)/);
  }, 240_000);

  test('an encrypted backup encrypts the files archive with the same passphrase', async () => {
    const run = await backup('enc', { compression: 'gzip', 'encryption-passphrase': PASSPHRASE });
    const manifest = expectFilesStored(run, 'enc', 'gzip', true);
    const files = manifest.files as NonNullable<Manifest['files']>;
    expect(files.key).toMatch(/\.files\.tar\.gz\.gpg$/);
    const inS3 = await s3Object(`enc/${files.key}`);
    expect(sha256(inS3)).toBe(files.sha256);
    const names = tarNames(inS3, files);
    expect(names).toContain('uploads/nested/deep/er/a.txt');
    expect(names.filter((n) => n.startsWith('/') || n.split('/').includes('..'))).toEqual([]);
  }, 240_000);

  test('the encrypted backup restores through the bundle into a new folder, identical to the source', async () => {
    const target = mkdtempSync(path.join(os.tmpdir(), 'files-restored-'));
    try {
      const run = await runAction({
        inputs: {
          command: 'restore',
          database: 'app',
          destination: `s3://${BUCKET}/enc`,
          ...testS3Inputs(s3.endpoint),
          'decryption-passphrase': PASSPHRASE,
          'files-target': target,
          'files-only': 'true',
        },
        env: { GITHUB_WORKSPACE: workspace },
        timeoutMs: 180_000,
      });
      runs.push(run);
      expect(run.exitCode).toBe(0);
      const source = observeTree(workspace, 'uploads');
      source.delete('uploads/queue.fifo'); // special files are skipped
      // content (SHA-256), modes, mtimes (whole seconds) and link targets of every entry
      expect(observeTree(target, 'uploads')).toEqual(source);
      expect(run.summary).toContain(`${SMALL + 7} files`);
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  }, 240_000);

  test('the CLI backs up with the same flags: postgres-backup backup --files … --files-exclude …', () => {
    const cli = spawnSync(
      process.execPath,
      [
        path.join(repoRoot(), 'dist', 'cli.js'),
        'backup',
        '--destination',
        `file://${folder}/cli`,
        '--files',
        'uploads',
        '--files-exclude',
        'big.bin',
        '--keep-last',
        '5',
      ],
      {
        cwd: workspace,
        env: { PATH: process.env.PATH ?? '', HOME: workspace, DATABASE_URL: cluster.url('app', 'filer', DB_PASSWORD) },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(cli.status).toBe(0);
    // dist/cli.js finds dist/files-tap.js beside it, as dist/index.js does
    expect(cli.stderr).toMatch(/Files archive \(gnu-tar, fingerprinted by files tap\)/);
    const manifestFile = readdirSync(path.join(folder, 'cli', 'app')).find((n) => n.endsWith('.manifest.json'));
    const text = readFileSync(path.join(folder, 'cli', 'app', manifestFile as string), 'utf8');
    manifests.push(text, cli.stdout, cli.stderr);
    const files = (JSON.parse(text) as Manifest).files as NonNullable<Manifest['files']>;
    expect(files).toMatchObject({ fileCount: SMALL + 6, compression: 'zstd', encrypted: false });
    expect(existsSync(path.join(folder, 'cli', 'app', files.key.split('/').pop() as string))).toBe(true);
  }, 240_000);

  test('retention (keep-last: 1) deletes both parts of the older backup together', async () => {
    const first = await backup('keep', {});
    expect(first.exitCode).toBe(0);
    const older = folderManifest(first, 'keep');
    // The next key must fall in another second than the first's.
    const second = Math.floor(Date.now() / 1000);
    expect(await eventually(() => Math.floor(Date.now() / 1000) > second, { timeoutMs: 5_000 })).toBe(true);
    const run = await backup('keep', { 'keep-last': '1' });
    expect(run.exitCode).toBe(0);
    const newer = folderManifest(run, 'keep');
    const olderFiles = (older.files as NonNullable<Manifest['files']>).key;
    const newerFiles = (newer.files as NonNullable<Manifest['files']>).key;
    const olderParts = [older.archive.key, olderFiles, `${older.archive.key}.manifest.json`];
    const newerParts = [newer.archive.key, newerFiles, `${newer.archive.key}.manifest.json`];
    const keys = await s3Keys('keep');
    expect(olderParts.filter((k) => keys.includes(`keep/${k}`))).toEqual([]);
    expect(newerParts.filter((k) => !keys.includes(`keep/${k}`))).toEqual([]);
    expect(olderParts.filter((k) => existsSync(inFolder('keep', k)))).toEqual([]);
    expect(newerParts.filter((k) => !existsSync(inFolder('keep', k)))).toEqual([]);
  }, 300_000);

  test('list shows the files part; check fails when the newest backup lost its files', async () => {
    const read = { database: 'app', destination: `s3://${BUCKET}/keep`, ...testS3Inputs(s3.endpoint) };
    const list = await runAction({ inputs: { ...read, command: 'list' } });
    runs.push(list);
    expect(list.exitCode).toBe(0);
    const listed = JSON.parse(list.outputs['backups'] as string) as { files?: { fileCount: number | null } }[];
    expect(listed.map((b) => b.files?.fileCount)).toEqual([SMALL + 7]);
    expect(list.stdout).toContain(`files: ${SMALL + 7} file(s)`);

    const passing = await runAction({ inputs: { ...read, command: 'check', 'max-age': '1d' } });
    runs.push(passing);
    expect(passing.exitCode).toBe(0);
    expect(passing.stdout).toMatch(/PASS files archive/);

    const second = Math.floor(Date.now() / 1000);
    expect(await eventually(() => Math.floor(Date.now() / 1000) > second, { timeoutMs: 5_000 })).toBe(true);
    const without = await backup('keep', { files: '' });
    expect(without.exitCode).toBe(0);
    const failing = await runAction({ inputs: { ...read, command: 'check', 'max-age': '1d' } });
    runs.push(failing);
    expect(failing.exitCode).not.toBe(0);
    expect(failing.stdout).toMatch(/FAIL files: expected a files archive/);
  }, 300_000);

  test('a files archive the store refuses fails the run and leaves nothing under final keys', async () => {
    // The store refuses the files archive's upload only (not its claim): the dump's archive was
    // stored and verified by then, and must go too.
    const proxy = await startS3Proxy(s3.port, (request, req, res, forward) => {
      if (/\.files\.tar(\.(zst|lz4|gz))?(\.gpg)?$/.test(request.key) && ['PUT', 'POST'].includes(request.method))
        answerS3Error(req, res, 403, 'AccessDenied', 'Access Denied');
      else forward();
    });
    try {
      const run = await runAction({
        inputs: {
          'database-url': cluster.url('app', 'filer', DB_PASSWORD),
          destination: `s3://${BUCKET}/refused`,
          ...testS3Inputs(proxy.endpoint),
          files: 'uploads',
        },
        env: { GITHUB_WORKSPACE: workspace },
        timeoutMs: 180_000,
      });
      runs.push(run);
      expect(run.exitCode).not.toBe(0);
      expect(run.stdout).toMatch(/::error::.*the files archive refused\/app\/\S+\.files\.tar\.zst could not be stored/);
      expect(run.stdout).toMatch(/removed refused\/app\/\S+\.dump\.zst, stored by this run before it failed/);
      expect(await s3Keys('refused')).toEqual([]);
      expect(await s3.pendingMultipartUploads(BUCKET)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  }, 240_000);

  test('files matching nothing fails before any dump, naming the input and the entry', async () => {
    const run = await backup('none', { files: 'uploads\nnot/there' });
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toMatch(/::error::files: "not\/there" matched nothing/);
    expect(run.stdout).not.toMatch(/pg_dump/);
    expect(await s3Keys('none')).toEqual([]);
    expect(existsSync(path.join(folder, 'none')) ? readdirSync(path.join(folder, 'none')) : []).toEqual([]);
  }, 120_000);

  test('a path outside the workspace that does not exist is refused, even with files-optional', async () => {
    const run = await backup('outside', { files: '/nonexistent/uploads', 'files-optional': 'true' });
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toMatch(/::error::files: "\/nonexistent\/uploads" is outside the workspace/);
    expect(await s3Keys('outside')).toEqual([]);
  }, 120_000);

  test('no sentinel secret in any log, output, summary or manifest', () => {
    expect(runs.length).toBeGreaterThan(0);
    const found = runs.flatMap((run, i) =>
      [
        ['stdout', run.stdout],
        ['stderr', run.stderr],
        ['summary', run.summary],
        ['outputs', JSON.stringify(run.outputs)],
      ].flatMap(([where, text]) =>
        scanForSecrets(`run ${i} ${where as string}`, text as string, [DB_PASSWORD, PASSPHRASE]),
      ),
    );
    const inManifests = manifests.flatMap((text, i) =>
      scanForSecrets(`manifest ${i}`, text, [DB_PASSWORD, PASSPHRASE]),
    );
    expect([...found, ...inManifests]).toEqual([]);
  });
});
