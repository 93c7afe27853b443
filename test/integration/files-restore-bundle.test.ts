/**
 * The read side of the files archive through the bundle (dist/index.js run as a process, as the
 * runner does): `restore` with files-target (after the database, and alone with files-only), a
 * non-empty target refused then allowed with files-overwrite, a planted tar with `../` entries
 * refused with nothing written outside, the drill's `files` category passing and failing on one
 * changed byte, and an encrypted files archive.
 *
 * The backups are real (the sample shop backed up by the bundle); their files archives are planted
 * by hand the way the write side stores them (docs/files.md): the tar stream of src/files/, `zstd`,
 * gpg for the encrypted one, under `<stem>.files.tar.zst[.gpg]`, and the manifest's `files` field
 * with the real SHA-256 and listing fingerprint.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { Header } from 'tar';

import { openFilesArchive } from '../../src/files/archive.js';
import type { ListingFingerprint } from '../../src/files/fingerprint.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { buildUploads, MiB, observeTree, type Observed } from '../support/files-tree.js';
import { loadSampleDb, repoRoot, startCluster, type Cluster } from '../support/pg-cluster.js';

jest.setTimeout(300_000);
const run = promisify(execFile);

let cluster: Cluster;
let work: string;
let folder: string;
/** The workspace the files were archived from (holds `uploads/`). */
let workspace: string;
/** RUNNER_TEMP of every run: the drill's scratch folder must not stay there. */
let runnerTemp: string;
let gpgHome: string;
let publicKey: string;
let secretKey: string;
let fingerprint: string;
let products: number;
/** Archive keys of the backups, by label. */
const keys: Record<string, string> = {};

/** The manifest's `files` field (docs/manifest.md). */
interface FilesRecord {
  key: string;
  bytes: number;
  sha256: string;
  compression: 'zstd';
  encrypted: boolean;
  fileCount: number;
  totalBytes: number;
  entries: number;
  listingFingerprint: string;
  fingerprintVersion: 1;
  skipped: string[];
}

/** The ::error:: lines the bundle printed (core.setFailed), unescaped. */
function errors(result: ActionRun): string[] {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'));
}

function action(inputs: Record<string, string>): Promise<ActionRun> {
  return runAction({
    inputs: {
      ...(inputs.command === 'backup' ? {} : { database: 'shop' }),
      destination: `file://${folder}`,
      'issue-on-failure': 'false',
      ...inputs,
    },
    env: { RUNNER_TEMP: runnerTemp },
    timeoutMs: 240_000,
  });
}

/** The tar of `uploads` under `root` as the write side streams it, and its listing fingerprint. */
async function tarOf(root: string): Promise<{ tar: Buffer; listing: ListingFingerprint; skipped: string[] }> {
  const archive = await openFilesArchive({ workspace: root, entries: ['uploads'], log: { warning: () => undefined } });
  const chunks: Buffer[] = [];
  await pipeline(
    archive.source as Readable,
    new Writable({
      write: (chunk: Buffer, _e, callback) => {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  await archive.done;
  return {
    tar: Buffer.concat(chunks),
    listing: archive.listing(),
    skipped: archive.selection.skipped.map((s) => s.path),
  };
}

function zstd(data: Buffer): Buffer {
  return spawnSync('zstd', ['-3', '-q', '-c'], { input: data, maxBuffer: 1 << 28 }).stdout;
}

function gpgEncrypt(data: Buffer): Buffer {
  const out = spawnSync(
    'gpg',
    ['--batch', '--trust-model', 'always', '--encrypt', '--recipient', fingerprint, '--output', '-'],
    { input: data, maxBuffer: 1 << 28, env: { ...process.env, GNUPGHOME: gpgHome } },
  );
  if (out.status !== 0) throw new Error(`gpg --encrypt failed: ${out.stderr.toString()}`);
  return out.stdout;
}

/** The files key of an archive key (docs/files.md): the stem, `.files.tar.zst`, `.gpg` when encrypted. */
function filesKeyOf(archiveKey: string, encrypted: boolean): string {
  return `${archiveKey.replace(/\.(dump|sql|tar)(\.(zst|lz4|gz))?(\.gpg)?$/, '')}.files.tar.zst${encrypted ? '.gpg' : ''}`;
}

/**
 * Stores `stored` as the files archive of the backup `archiveKey` and records it in its manifest.
 * `listing` is what the manifest claims (the real one, or an older one for the changed-file case).
 */
function plant(
  archiveKey: string,
  stored: Buffer,
  listing: ListingFingerprint,
  options: { encrypted?: boolean; skipped?: string[] } = {},
): FilesRecord {
  const encrypted = options.encrypted ?? false;
  const record: FilesRecord = {
    key: filesKeyOf(archiveKey, encrypted),
    bytes: stored.length,
    sha256: createHash('sha256').update(stored).digest('hex'),
    compression: 'zstd',
    encrypted,
    fileCount: listing.files,
    totalBytes: listing.bytes,
    entries: listing.entries,
    listingFingerprint: listing.fingerprint,
    fingerprintVersion: 1,
    skipped: options.skipped ?? [],
  };
  writeFileSync(path.join(folder, record.key), stored);
  const manifestPath = path.join(folder, `${archiveKey}.manifest.json`);
  chmodSync(manifestPath, 0o644);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(manifestPath, JSON.stringify({ ...manifest, files: record }, null, 2));
  return record;
}

/** The tree under `root` without the special files (never archived). */
function tree(root: string): Map<string, Observed> {
  const observed = observeTree(root);
  for (const [k, v] of observed) if (v.type === 'other') observed.delete(k);
  return observed;
}

/** A tar written block by block, with the paths a tampered archive may hold. */
function plantedTar(entries: { path: string; body: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body);
    const header = new Header({
      path: e.path,
      type: 'File',
      size: body.length,
      mode: 0o644,
      mtime: new Date('2022-01-01T00:00:00Z'),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function backup(label: string, extra: Record<string, string> = {}): Promise<string> {
  const result = await action({ command: 'backup', 'database-url': cluster.url('shop'), label, ...extra });
  expect(errors(result)).toEqual([]);
  const key = result.outputs['backup-key'];
  if (result.exitCode !== 0 || !key) throw new Error(`backup ${label} failed: ${result.stdout}`);
  return key;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'files-restore-bundle-'));
  folder = path.join(work, 'backups');
  workspace = path.join(work, 'ws');
  runnerTemp = path.join(work, 'runner-temp');
  mkdirSync(runnerTemp);
  buildUploads(workspace, { smallFiles: 500, bigBytes: 5 * MiB });
  gpgHome = mkdtempSync(path.join(os.tmpdir(), 'gpg-'));
  const gpg = async (args: string[]): Promise<string> =>
    (await run('gpg', ['--batch', ...args], { env: { ...process.env, GNUPGHOME: gpgHome }, maxBuffer: 1 << 22 }))
      .stdout;
  await gpg(['--passphrase', '', '--quick-gen-key', 'Files <files@example.com>', 'default', 'default', 'never']);
  fingerprint = (await gpg(['--with-colons', '--list-keys', 'files@example.com']))
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'fpr')?.[9] as string;
  publicKey = await gpg(['--armor', '--export', 'files@example.com']);
  secretKey = await gpg(['--armor', '--export-secret-keys', 'files@example.com']);
  cluster = await startCluster();
  await loadSampleDb(cluster, 'shop');
  products = Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.products'));
  for (const label of ['plain', 'evil', 'changed', 'corrupt']) keys[label] = await backup(label);
  keys.enc = await backup('enc', { 'encryption-public-key': publicKey });
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
  if (gpgHome) {
    await run('gpgconf', ['--homedir', gpgHome, '--kill', 'gpg-agent']).catch(() => undefined);
    rmSync(gpgHome, { recursive: true, force: true });
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a backup without files and a files-target: refused naming files-target, nothing touched', async () => {
  const target = path.join(work, 'none');
  const result = await action({
    command: 'restore',
    'backup-key': keys.plain as string,
    'files-target': target,
    'target-database-url': cluster.url('never_made'),
    'create-database': 'true',
  });
  expect(result.exitCode).not.toBe(0);
  expect(errors(result).join('\n')).toMatch(/Input 'files-target': the backup .*-plain\.dump.* has no files archive/);
  expect(existsSync(target)).toBe(false);
  expect(await cluster.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'never_made'")).toBe('0');
});

test('a files-target that is a file, and files-only without files-target: refused before any work', async () => {
  const file = path.join(work, 'a-file');
  writeFileSync(file, 'x');
  const asFile = await action({ command: 'restore', 'files-target': file, 'files-only': 'true' });
  expect(asFile.exitCode).not.toBe(0);
  expect(errors(asFile).join('\n')).toContain(`Input 'files-target': ${file} is a file`);
  const alone = await action({ command: 'restore', 'files-only': 'true' });
  expect(alone.exitCode).not.toBe(0);
  expect(errors(alone).join('\n')).toContain("Input 'files-only': needs files-target");
});

describe('with files archives planted', () => {
  let record: FilesRecord;
  let source: Map<string, Observed>;

  beforeAll(async () => {
    const built = await tarOf(workspace);
    source = tree(workspace);
    expect(built.listing.files).toBeGreaterThan(500);
    record = plant(keys.plain as string, zstd(built.tar), built.listing, { skipped: built.skipped });
    plant(keys.enc as string, gpgEncrypt(zstd(built.tar)), built.listing, { encrypted: true });
    // One byte changed in one file; the manifest keeps the listing of the original tree.
    const copy = path.join(work, 'changed-ws');
    mkdirSync(copy);
    execFileSync('cp', ['-a', path.join(workspace, 'uploads'), copy]);
    const victim = path.join(copy, 'uploads/nested/deep/er/a.txt');
    const bytes = readFileSync(victim);
    bytes[0] = (bytes[0] as number) ^ 0x01;
    writeFileSync(victim, bytes);
    execFileSync('touch', ['-r', path.join(workspace, 'uploads/nested/deep/er/a.txt'), victim]);
    plant(keys.changed as string, zstd((await tarOf(copy)).tar), built.listing);
    // Stored with one byte flipped after the digest was taken: the manifest records the original.
    const damaged = zstd(built.tar);
    const planted = plant(keys.corrupt as string, damaged, built.listing);
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = (damaged[middle] as number) ^ 0xff;
    writeFileSync(path.join(folder, planted.key), damaged);
    plant(
      keys.evil as string,
      zstd(
        plantedTar([
          { path: 'uploads/fine.txt', body: 'fine' },
          { path: '../escaped.txt', body: 'evil' },
        ]),
      ),
      built.listing,
    );
  });

  test('restore: the database, then the files into a new folder, identical in content, modes, mtimes and links', async () => {
    const target = path.join(work, 'restored-files');
    const result = await action({
      command: 'restore',
      'backup-key': keys.plain as string,
      'target-database-url': cluster.url('restored_plain'),
      'create-database': 'true',
      'files-target': target,
    });
    expect(errors(result)).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(await cluster.psql('restored_plain', 'SELECT count(*) FROM shop.products')).toBe(String(products));
    expect(tree(target)).toEqual(source);
    expect(result.stdout).toContain(`Restored ${record.fileCount} files`);
    expect(result.summary).toMatch(new RegExp(`\\| Files \\| ${record.fileCount} files .*SHA-256 verified`));
    expect(result.outputs['restored-key']).toBe(keys.plain);
  });

  test('files-only: no database needed; a non-empty target is refused, then extracted over with files-overwrite', async () => {
    const target = path.join(work, 'only');
    const first = await action({
      command: 'restore',
      'backup-key': keys.plain as string,
      'files-target': target,
      'files-only': 'true',
    });
    expect(errors(first)).toEqual([]);
    expect(first.exitCode).toBe(0);
    expect(tree(target)).toEqual(source);
    expect(first.summary).toContain('not restored (files-only)');

    writeFileSync(path.join(target, 'mine.txt'), 'kept');
    const refused = await action({
      command: 'restore',
      'backup-key': keys.plain as string,
      'files-target': target,
      'files-only': 'true',
    });
    expect(refused.exitCode).not.toBe(0);
    expect(errors(refused).join('\n')).toMatch(/Input 'files-target': .*only is not empty.*files-overwrite: true/);
    expect(readFileSync(path.join(target, 'mine.txt'), 'utf8')).toBe('kept');

    writeFileSync(path.join(target, 'uploads/run.sh'), 'changed locally');
    const again = await action({
      command: 'restore',
      'backup-key': keys.plain as string,
      'files-target': target,
      'files-only': 'true',
      'files-overwrite': 'true',
    });
    expect(errors(again)).toEqual([]);
    expect(again.exitCode).toBe(0);
    const after = tree(target);
    expect(after.get('mine.txt')?.type).toBe('file');
    after.delete('mine.txt');
    expect(after).toEqual(source);
  });

  test('a planted tar with a ../ entry is refused, nothing written outside the target', async () => {
    const parent = path.join(work, 'evil');
    const target = path.join(parent, 'target');
    mkdirSync(parent);
    const result = await action({
      command: 'restore',
      'backup-key': keys.evil as string,
      'files-target': target,
      'files-only': 'true',
    });
    expect(result.exitCode).not.toBe(0);
    expect(errors(result).join('\n')).toContain('The files archive holds an unsafe entry "../escaped.txt"');
    expect(readdirSync(parent)).toEqual(['target']);
    expect(existsSync(path.join(work, 'escaped.txt'))).toBe(false);
  });

  test('encrypted: the files archive is decrypted with the private key and restored identical', async () => {
    const target = path.join(work, 'restored-enc');
    const result = await action({
      command: 'restore',
      'backup-key': keys.enc as string,
      'files-target': target,
      'files-only': 'true',
      'decryption-private-key': secretKey,
    });
    expect(errors(result)).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(tree(target)).toEqual(source);
  });

  test('drill: the files category passes with its line, and its scratch folder is removed', async () => {
    const result = await action({
      command: 'drill',
      'backup-key': keys.plain as string,
      'target-database-url': cluster.url('drill_scratch'),
    });
    expect(errors(result)).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.outputs['drill-passed']).toBe('true');
    expect(result.stdout).toContain(`PASS files: 3 checks, ${record.fileCount} files, fingerprint identical`);
    expect(result.summary).toContain(`${record.fileCount} files, fingerprint identical`);
    expect(readdirSync(runnerTemp).filter((n) => n.startsWith('files-drill-'))).toEqual([]);
  });

  test('drill of the encrypted backup: decrypts the files archive and passes', async () => {
    const result = await action({
      command: 'drill',
      'backup-key': keys.enc as string,
      'target-database-url': cluster.url('drill_scratch'),
      'decryption-private-key': secretKey,
    });
    expect(errors(result)).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`${record.fileCount} files, fingerprint identical`);
  });

  test('drill: one changed byte in one file fails it, naming the listing fingerprint', async () => {
    const result = await action({
      command: 'drill',
      'backup-key': keys.changed as string,
      'target-database-url': cluster.url('drill_scratch'),
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.outputs['drill-passed']).toBe('false');
    const message = errors(result).join('\n');
    expect(message).toContain('files: listing fingerprint (expected ');
    expect(message).not.toContain('files: file count');
    expect(result.stdout).toContain('FAIL files: 3 checks, 1 failed');
    expect(readdirSync(runnerTemp).filter((n) => n.startsWith('files-drill-'))).toEqual([]);
  });

  test('a files archive damaged in storage: refused naming its key, the extraction never completes', async () => {
    const target = path.join(work, 'corrupt');
    const result = await action({
      command: 'restore',
      'backup-key': keys.corrupt as string,
      'files-target': target,
      'files-only': 'true',
    });
    expect(result.exitCode).not.toBe(0);
    const filesKey = filesKeyOf(keys.corrupt as string, false);
    expect(errors(result).join('\n')).toContain(`The archive ${filesKey} in file://${folder} is corrupt`);
    expect(existsSync(path.join(target, 'uploads/big.bin')) && tree(target).size === source.size).toBe(false);
  });

  test('the CLI takes the same flags: postgres-backup restore --files-target … --files-only', async () => {
    const cli = path.join(repoRoot(), 'dist', 'cli.js');
    const help = (await run(process.execPath, [cli, 'restore', '--help'])).stdout;
    for (const flag of ['--files-target <value>', '--files-only [true|false]', '--files-overwrite [true|false]'])
      expect(help).toContain(flag);
    const target = path.join(work, 'cli-target');
    const args = [
      'restore',
      '--database',
      'shop',
      '--destination',
      `file://${folder}`,
      '--backup-key',
      keys.plain as string,
    ];
    await run(process.execPath, [cli, ...args, '--files-target', target, '--files-only'], {
      env: { PATH: process.env.PATH ?? '', HOME: work },
    });
    expect(tree(target)).toEqual(source);
    const refused = await run(process.execPath, [cli, ...args, '--files-target', target, '--files-only'], {
      env: { PATH: process.env.PATH ?? '', HOME: work },
    }).catch((error: { code: number; stderr: string }) => error);
    expect('code' in refused && refused.code).toBe(2);
    expect(refused.stderr).toContain('is not empty');
    expect(refused.stderr).toContain('--files-overwrite');
  });
});
