/**
 * End to end, in process: Pagila in a real PostgreSQL 15 cluster, dumped by the real pg_dump,
 * streamed into a real S3-compatible server (s3rver) and a local folder, then restored with the real
 * pg_restore/psql and checked table by table against the manifest.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runBackup, type BackupDeps } from '../../src/commands/backup.js';
import type { BackupResult } from '../../src/report/backup-report.js';
import type { Log } from '../../src/log.js';
import { parseConfig, resolveConfig } from '../../src/config/parse.js';
import type { BackupConfig } from '../../src/config/types.js';
import { asBackup } from '../support/config.js';
import { DumpError, EncryptError, UploadError } from '../../src/errors.js';
import type { Manifest } from '../../src/manifest.js';
import { realDeps } from '../../src/run.js';
import { detectGpg, type GpgTool } from '../../src/crypto/gpg.js';
import { rejectionOf } from '../support/rejection.js';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { loadPagila, startCluster, type Cluster, manifestCounts, restoredCounts } from '../support/pg-cluster.js';
import { answerS3Error, startS3Proxy, startS3Server, testS3Settings, testS3Inputs } from '../support/s3-server.js';

const execFileAsync = promisify(execFile);
const SENTINEL = 'Sentinel-P@ss:/%#? w0rd';

let cluster: Cluster;
let s3: Awaited<ReturnType<typeof startS3Server>>;
let work: string;
const logged: string[] = [];

const log: Log = {
  info: (m) => logged.push(m),
  warning: (m) => logged.push(`WARNING ${m}`),
  group: async (name, fn) => {
    logged.push(`## ${name}`);
    return fn();
  },
};

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'backup-e2e-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await loadPagila(cluster, 'pagila');
  await cluster.psql('postgres', `CREATE ROLE backup LOGIN SUPERUSER PASSWORD '${SENTINEL.replace(/'/g, "''")}'`);
  await s3.createBucket('backups');
}, 120_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

function config(inputs: Record<string, string>): BackupConfig {
  const all: Record<string, string> = {
    'database-url': cluster.url('pagila', 'backup', SENTINEL),
    ...testS3Inputs(s3.endpoint),
    ...inputs,
  };
  return asBackup(parseConfig((name) => all[name] ?? ''));
}

function s3Client(): S3Client {
  return new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
}

async function download(bucket: string, key: string, to: string): Promise<void> {
  const { Body } = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(to, await (Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function manifestFromS3(key: string): Promise<Manifest> {
  const { Body } = await s3Client().send(new GetObjectCommand({ Bucket: 'backups', Key: key }));
  return JSON.parse(await (Body as { transformToString(): Promise<string> }).transformToString()) as Manifest;
}

async function backup(
  inputs: Record<string, string>,
  resolve = false,
  deps: Partial<BackupDeps> = {},
): Promise<BackupResult> {
  try {
    const all: Record<string, string> = {
      'database-url': cluster.url('pagila', 'backup', SENTINEL),
      ...testS3Inputs(s3.endpoint),
      ...inputs,
    };
    const cfg = resolve ? asBackup(await resolveConfig((name) => all[name] ?? '')) : config(inputs);
    const result = await runBackup(cfg, { ...realDeps(cfg, undefined, log), tempDir: work, ...deps });
    logged.push(JSON.stringify(result));
    return result;
  } catch (error) {
    logged.push(`ERROR ${(error as Error).message}`);
    throw error;
  }
}

/** The "Format …; streaming to …" line logged for the backup stored under `key`. */
function formatLine(key: string): string {
  const line = logged.find((l) => l.startsWith('Format ') && l.includes(key));
  if (!line) throw new Error(`no Format line for ${key}`);
  return line;
}

test("custom format, zstd in the stream, to S3: restores with pg_restore to the manifest's row counts", async () => {
  const result = await backup({ destination: 's3://backups/prod', label: 'daily' });
  const { manifest } = result;
  expect(manifest.archive.key).toMatch(/^prod\/pagila\/\d{4}-\d{2}-\d{2}T\d{6}Z-daily\.dump\.zst$/);
  expect(manifest.compression).toEqual({
    method: 'zstd',
    level: 3,
    where: 'stream',
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
    engine: expect.stringMatching(/^(node-zlib|zstd-cli)$/),
  });
  expect(manifest.server.major).toBe(15);
  expect(manifest.rowCounts.tables.length).toBeGreaterThanOrEqual(15);
  expect(manifest.rowCounts.tables.find((t) => t.table === 'film')?.rows).toBe(
    Number(await cluster.psql('pagila', 'SELECT count(*) FROM film')),
  );
  expect(await manifestFromS3(result.destinations[0]!.manifestKey)).toEqual(manifest);
  // pg_dump writes into the zstd pipe through a 1 MiB stdout buffer (test/integration/stdbuf.test.ts).
  expect(formatLine(manifest.archive.key)).toContain('; pg_dump stdout buffer 1 MiB (stdbuf);');

  const archive = path.join(work, 'a.dump.zst');
  await download('backups', manifest.archive.key, archive);
  const { stdout: sha } = await execFileAsync('sha256sum', [archive]);
  expect(sha.split(' ')[0]).toBe(manifest.archive.sha256);
  expect(statSync(archive).size).toBe(manifest.archive.bytes);
  await execFileAsync('zstd', ['-q', '-d', archive, '-o', path.join(work, 'a.dump')]);
  await cluster.createDatabase('restored_custom');
  await execFileAsync(`${cluster.binDir}/pg_restore`, [
    '--exit-on-error',
    '--no-owner',
    '-h',
    cluster.socketDir,
    '-p',
    String(cluster.port),
    '-U',
    'postgres',
    '-d',
    'restored_custom',
    path.join(work, 'a.dump'),
  ]);
  expect(await restoredCounts(cluster, 'restored_custom', manifest)).toEqual(manifestCounts(manifest));
}, 120_000);

test('plain format with gzip to a local folder and S3 at once: same bytes in both, psql restores it', async () => {
  const folder = path.join(work, 'folder');
  const result = await backup({
    destination: `s3://backups/plain\nfile://${folder}`,
    format: 'plain',
    compression: 'gzip:6',
    globals: 'true',
  });
  expect(result.destinations.map((d) => d.ok)).toEqual([true, true]);
  const [remote, local] = result.destinations;
  expect(local!.key).toMatch(/^pagila\/.*\.sql\.gz$/);
  const localFile = path.join(folder, local!.key);
  const { stdout: sha } = await execFileAsync('sha256sum', [localFile]);
  expect(sha.split(' ')[0]).toBe(result.manifest.archive.sha256);
  expect((await manifestFromS3(remote!.manifestKey)).archive.sha256).toBe(result.manifest.archive.sha256);
  expect(readdirSync(path.dirname(localFile)).sort()).toEqual(
    [
      path.basename(local!.key),
      `${path.basename(local!.key)}.manifest.json`,
      path.basename(local!.key).replace(/\.sql\.gz$/, '.globals.sql'),
    ].sort(),
  );
  expect(result.manifest.globals?.bytes).toBeGreaterThan(0);

  await cluster.createDatabase('restored_plain');
  const sql = path.join(work, 'plain.sql');
  await execFileAsync('sh', ['-c', 'gzip -dc "$1" > "$2"', 'sh', localFile, sql]);
  await execFileAsync(`${cluster.binDir}/psql`, [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    cluster.socketDir,
    '-p',
    String(cluster.port),
    '-U',
    'postgres',
    '-d',
    'restored_plain',
    '-f',
    sql,
  ]);
  expect(await restoredCounts(cluster, 'restored_plain', result.manifest)).toEqual(manifestCounts(result.manifest));
}, 120_000);

test('directory format with 2 jobs: a tar that pg_restore -j reads; the temporary folder is removed', async () => {
  const result = await backup({ destination: 's3://backups/dir', format: 'directory', jobs: '2', compression: 'gzip' });
  expect(result.manifest.archive.key).toMatch(/\.tar$/);
  // pg_dump writes files here, not stdout: no stdbuf.
  expect(formatLine(result.manifest.archive.key)).not.toContain('stdbuf');
  const tarFile = path.join(work, 'd.tar');
  await download('backups', result.manifest.archive.key, tarFile);
  const extracted = path.join(work, 'd');
  await execFileAsync('mkdir', ['-p', extracted]);
  await execFileAsync('tar', ['-xf', tarFile, '-C', extracted]);
  expect(readdirSync(extracted)).toContain('toc.dat');
  await cluster.createDatabase('restored_dir');
  await execFileAsync(`${cluster.binDir}/pg_restore`, [
    '--exit-on-error',
    '-j',
    '2',
    '-h',
    cluster.socketDir,
    '-p',
    String(cluster.port),
    '-U',
    'postgres',
    '-d',
    'restored_dir',
    extracted,
  ]);
  expect(await restoredCounts(cluster, 'restored_dir', result.manifest)).toEqual(manifestCounts(result.manifest));
  expect(readdirSync(work).filter((f) => f.startsWith('pg-backup-'))).toEqual([]);
}, 120_000);

test('wrong password: a classified error, nothing stored', async () => {
  const inputs = {
    destination: 's3://backups/wrongpw',
    'database-url': cluster.url('pagila', 'backup', 'not-the-password'),
  };
  await expect(backup(inputs)).rejects.toThrow(/password authentication failed/);
  const keys = await listKeys('wrongpw/');
  expect(keys).toEqual([]);
});

test('unreachable server: connection refused, named host and port', async () => {
  const inputs = { destination: 's3://backups/refused', 'database-url': `postgres://backup:x@127.0.0.1:1/pagila` };
  await expect(backup(inputs)).rejects.toThrow(/127\.0\.0\.1:1|port 1/);
});

test('missing bucket: UploadError naming the bucket, nothing left', async () => {
  const error = await backup({ destination: 's3://no-such-bucket/x' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UploadError);
  expect((error as Error).message).toContain('no-such-bucket');
});

test('one destination of two failing (missing bucket): the other keeps a verified archive and its manifest, then UploadError names both', async () => {
  const folder = path.join(work, 'partial');
  const error = await backup({ destination: `s3://no-such-bucket/x\nfile://${folder}` }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UploadError);
  expect((error as Error).message).toMatch(/^1 of 2 destinations failed: s3:\/\/no-such-bucket\/x: /);
  const stored = readdirSync(path.join(folder, 'pagila')).sort();
  expect(stored).toHaveLength(2);
  const [archive, manifestFile] = stored as [string, string];
  expect(manifestFile).toBe(`${archive}.manifest.json`);
  expect((error as Error).message).toContain(`(stored and verified: file://${folder} pagila/${archive})`);
  const manifest = JSON.parse(readFileSync(path.join(folder, 'pagila', manifestFile), 'utf8')) as Manifest;
  expect(manifest.archive.bytes).toBe(statSync(path.join(folder, 'pagila', archive)).size);
}, 60_000);

test('a pg_dump that fails mid-way (permission denied on a table) leaves no archive, and says which table', async () => {
  await cluster.psql(
    'pagila',
    `CREATE ROLE reader LOGIN PASSWORD 'r'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO reader; REVOKE SELECT ON public.staff FROM reader;`,
  );
  const error = await backup({
    destination: 's3://backups/denied',
    'database-url': cluster.url('pagila', 'reader', 'r'),
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DumpError);
  expect((error as Error).message).toMatch(/permission denied for table staff/);
  expect(await listKeys('denied/')).toEqual([]);
}, 60_000);

test('a table the role cannot read, excluded from the dump, does not fail the backup or its counts', async () => {
  const result = await backup({
    destination: 's3://backups/excluded',
    'database-url': cluster.url('pagila', 'reader', 'r'),
    'exclude-table': 'public.staff',
    'no-owner': 'true',
  });
  const tables = result.manifest.rowCounts.tables.map((t) => t.table);
  expect(tables).toContain('film');
  expect(tables).not.toContain('staff');
  expect(await listKeys('excluded/')).toEqual(
    expect.arrayContaining([result.manifest.archive.key, result.destinations[0]!.manifestKey]),
  );
}, 60_000);

async function listKeys(prefix: string): Promise<string[]> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const out = await s3Client().send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string);
}

describe('a key already taken (another backup of this database started in the same second)', () => {
  const at = new Date('2026-03-01T04:05:06Z');
  const sameSecond = { now: () => at };
  const takenMessage = (url: string, key: string): string =>
    `${url}: an object already exists at ${key}; another backup of this database started in the same second. Nothing was overwritten; use a concurrency group so backups of one database never overlap.`;

  async function sha256Of(file: string): Promise<string> {
    return (await execFileAsync('sha256sum', [file])).stdout.split(' ')[0] as string;
  }

  test('S3: UploadError naming the key; the stored archive and manifest are untouched', async () => {
    const first = await backup({ destination: 's3://backups/taken' }, false, sameSecond);
    const before = await listKeys('taken/');
    const error = await rejectionOf(backup({ destination: 's3://backups/taken' }, false, sameSecond), UploadError);
    expect(error.message).toBe(takenMessage('s3://backups/taken', first.manifest.archive.key));
    expect(await listKeys('taken/')).toEqual(before);
    await download('backups', first.manifest.archive.key, path.join(work, 'taken.dump.zst'));
    expect(await sha256Of(path.join(work, 'taken.dump.zst'))).toBe(first.manifest.archive.sha256);
    expect(await manifestFromS3(first.destinations[0]!.manifestKey)).toEqual(first.manifest);
  }, 60_000);

  test('the check answering after the dump has ended still holds the upload back: nothing is written under the key', async () => {
    const first = await backup({ destination: 's3://backups/late' }, false, sameSecond);
    // HeadObject of the archive's key answers 1.5 s late (the whole Pagila dump takes ~0.1 s).
    let answered = 0;
    const proxy = await startS3Proxy(s3.port, ({ method, key }, _req, _res, forward) => {
      if (method === 'HEAD' && key === first.manifest.archive.key) {
        setTimeout(() => {
          answered = Date.now();
          forward();
        }, 1500);
      } else forward();
    });
    try {
      const started = Date.now();
      const error = await rejectionOf(
        backup({ destination: 's3://backups/late', 's3-endpoint': proxy.endpoint }, false, sameSecond),
        UploadError,
      );
      expect(error.message).toBe(takenMessage('s3://backups/late', first.manifest.archive.key));
      expect(answered - started).toBeGreaterThanOrEqual(1500);
      // The dump ran while the check waited, and its stream was held at its end: no PutObject,
      // no CreateMultipartUpload for the archive, only the HeadObject.
      expect(proxy.requests.filter((r) => r.key === first.manifest.archive.key).map((r) => r.method)).toEqual(['HEAD']);
    } finally {
      await proxy.stop();
    }
    await download('backups', first.manifest.archive.key, path.join(work, 'late.dump.zst'));
    expect(await sha256Of(path.join(work, 'late.dump.zst'))).toBe(first.manifest.archive.sha256);
  }, 60_000);

  test('a local folder: the same refusal, the file untouched', async () => {
    const folder = path.join(work, 'taken-folder');
    const first = await backup({ destination: `file://${folder}` }, false, sameSecond);
    const error = await rejectionOf(backup({ destination: `file://${folder}` }, false, sameSecond), UploadError);
    expect(error.message).toBe(takenMessage(`file://${folder}`, first.manifest.archive.key));
    expect(await sha256Of(path.join(folder, first.manifest.archive.key))).toBe(first.manifest.archive.sha256);
    expect(readdirSync(path.join(folder, 'pagila')).sort()).toEqual(
      [path.basename(first.manifest.archive.key), path.basename(first.destinations[0]!.manifestKey)].sort(),
    );
  }, 60_000);

  test('a store that cannot be asked (HeadObject refused): UploadError with its answer, nothing written', async () => {
    const proxy = await startS3Proxy(s3.port, ({ method }, req, res, forward) => {
      if (method === 'HEAD') answerS3Error(req, res, 403, 'AccessDenied', 'Access Denied');
      else forward();
    });
    try {
      const error = await rejectionOf(
        backup({ destination: 's3://backups/headless', 's3-endpoint': proxy.endpoint }),
        UploadError,
      );
      expect(error.message).toMatch(
        /^Reading the metadata of s3:\/\/backups\/headless\/pagila\/.+\.dump\.zst failed: .*403/,
      );
      // Only the preflight listing (ListObjectsV2, max-keys 1) came before the HEAD; nothing was written.
      expect(proxy.requests[0]?.line).toMatch(/^GET \/backups\/\?list-type=2&max-keys=1&prefix=headless$/);
      expect(proxy.requests.slice(1).filter((r) => r.method !== 'HEAD')).toEqual([]);
    } finally {
      await proxy.stop();
    }
    expect(await listKeys('headless/')).toEqual([]);
  }, 60_000);
});

test('filters, schema-only, extra pg_dump args and estimated row counts reach pg_dump and the manifest', async () => {
  const result = await backup({
    destination: `file://${path.join(work, 'filtered')}`,
    format: 'plain',
    compression: 'none',
    'schema-only': 'true',
    'exclude-table': 'public.staff',
    'pg-dump-args': '--no-comments\n--rows-per-insert=1000',
    'row-counts': 'estimate',
  });
  const { manifest } = result;
  expect(manifest.rowCounts.mode).toBe('estimate');
  expect(manifest.options).toMatchObject({
    schemaOnly: true,
    excludeTables: ['public.staff'],
    extraArgs: ['--no-comments', '--rows-per-insert=1000'],
  });
  const sql = (await import('node:fs')).readFileSync(path.join(work, 'filtered', manifest.archive.key), 'utf8');
  expect(sql).toContain('CREATE TABLE public.film ');
  expect(sql).not.toContain('CREATE TABLE public.staff ');
  expect(sql).not.toMatch(/^COPY /m);
  expect(sql).not.toMatch(/^COMMENT ON /m);
  expect(manifest.archive.key).toMatch(/\.sql$/);
  expect(manifest.objects).toEqual({
    tables: 21,
    partitionedTables: 1,
    indexes: 56,
    constraints: 59,
    views: 7,
    materializedViews: 1,
    functions: 10,
    sequences: 13,
  });
}, 60_000);

describe('encrypted archives', () => {
  let gnupg: string;
  let publicKey: string;
  const gpg = (args: string[], options: { input?: string } = {}) =>
    execFileAsync('gpg', ['--homedir', gnupg, '--batch', '--yes', '--pinentry-mode', 'loopback', ...args], {
      maxBuffer: 1 << 26,
      ...options,
    });

  beforeAll(async () => {
    gnupg = mkdtempSync(path.join(os.tmpdir(), 'gnupg-'));
    await gpg([
      '--passphrase',
      '',
      '--quick-gen-key',
      'Backup Drill <drill@example.com>',
      'default',
      'default',
      'never',
    ]);
    publicKey = (await gpg(['--armor', '--export', 'drill@example.com'])).stdout;
  }, 60_000);
  afterAll(() => rmSync(gnupg, { recursive: true, force: true }));

  test('to a public key, by the gpg child: gpg --decrypt | zstd -d | pg_restore gives back every row; the bucket holds no table name', async () => {
    const from = logged.length;
    const result = await backup(
      { destination: 's3://backups/enc', 'encryption-public-key': publicKey, globals: 'true' },
      true,
    );
    const { manifest } = result;
    expect(manifest.archive.key).toMatch(/\.dump\.zst\.gpg$/);
    const gpgVersion = (await detectGpg())?.version;
    expect(manifest.encryption).toEqual({
      algorithm: 'AES-256',
      mode: 'public-key',
      recipients: [expect.stringMatching(/^[0-9A-F]{40,64}$/)],
      engine: 'gpg',
      engineVersion: gpgVersion,
    });
    expect(logged.slice(from)).toContain(
      `Encryption: AES-256 to 1 public key, by gpg ${gpgVersion} (/usr/bin/gpg) outside the action's process.`,
    );
    // gpg's home (key files) is gone once the backup is done.
    expect(readdirSync(work).filter((name) => name.startsWith('gpg-'))).toEqual([]);
    expect(JSON.stringify(manifest)).not.toContain('BEGIN PGP');
    const encrypted = path.join(work, 'e.dump.zst.gpg');
    await download('backups', manifest.archive.key, encrypted);
    const bytes = (await import('node:fs')).readFileSync(encrypted);
    expect(bytes.includes(Buffer.from('CREATE TABLE'))).toBe(false);
    expect(bytes.includes(Buffer.from('film_actor'))).toBe(false);
    const { stdout: sha } = await execFileAsync('sha256sum', [encrypted]);
    expect(sha.split(' ')[0]).toBe(manifest.archive.sha256);
    await gpg(['--output', path.join(work, 'e.dump.zst'), '--decrypt', encrypted]);
    await execFileAsync('zstd', ['-q', '-f', '-d', path.join(work, 'e.dump.zst'), '-o', path.join(work, 'e.dump')]);
    await cluster.createDatabase('restored_encrypted');
    await execFileAsync(`${cluster.binDir}/pg_restore`, [
      '--exit-on-error',
      '-h',
      cluster.socketDir,
      '-p',
      String(cluster.port),
      '-U',
      'postgres',
      '-d',
      'restored_encrypted',
      path.join(work, 'e.dump'),
    ]);
    expect(await restoredCounts(cluster, 'restored_encrypted', manifest)).toEqual(manifestCounts(manifest));
    // The globals are encrypted as well.
    const globals = path.join(work, 'g.sql.gpg');
    await download('backups', manifest.globals!.key, globals);
    expect(manifest.globals!.key).toMatch(/\.globals\.sql\.gpg$/);
    const { stdout: roles } = await gpg(['--decrypt', globals]);
    expect(roles).toContain('CREATE ROLE backup');
  }, 120_000);

  test('with a passphrase, by the gpg child (plain format, gzip by pg_dump): gpg --decrypt with it reads the archive', async () => {
    const from = logged.length;
    const result = await backup(
      {
        destination: `file://${path.join(work, 'enc-pass')}`,
        'encryption-passphrase': 'correct horse battery staple',
        format: 'plain',
        compression: 'gzip',
      },
      true,
    );
    expect(result.manifest.encryption).toMatchObject({ mode: 'passphrase', recipients: [], engine: 'gpg' });
    expect(logged.slice(from)).toContainEqual(
      expect.stringMatching(
        /^Encryption: AES-256 with a passphrase, by gpg \S+ \(\/usr\/bin\/gpg\) outside the action's process\.$/,
      ),
    );
    const file = path.join(work, 'enc-pass', result.manifest.archive.key);
    const { stdout } = await execFileAsync(
      'sh',
      [
        '-c',
        'gpg --homedir "$1" --batch --pinentry-mode loopback --passphrase "$2" --decrypt "$3" | gzip -dc',
        'sh',
        gnupg,
        'correct horse battery staple',
        file,
      ],
      { maxBuffer: 1 << 26 },
    );
    expect(stdout).toContain('CREATE TABLE public.film ');
  }, 60_000);

  /** A stand-in for gpg: the shell `script`, saved as `work/fake-<name>`, in place of the real one. */
  function fakeGpg(name: string, script: string): GpgTool {
    const file = path.join(work, `fake-${name}`);
    writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return { path: file, version: '2.4.4' };
  }

  test('a gpg whose probe writes packets our restores cannot read (RFC 9580 AEAD) is not used: OpenPGP.js encrypts, gpg 2.2 and pg_restore read the archive', async () => {
    // The probe answer: a message with PKESK v6 + SEIPD v2, as an AEAD-preferring gpg might write.
    const { generateKey, createMessage, encrypt } = await import('openpgp');
    const key = await generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: 'x' }],
      format: 'object',
      config: { aeadProtect: true },
    });
    const aead = (await encrypt({
      message: await createMessage({ binary: new Uint8Array([1]) }),
      encryptionKeys: key.publicKey,
      format: 'binary',
      config: { aeadProtect: true },
    })) as Uint8Array;
    writeFileSync(path.join(work, 'aead.pgp'), aead);
    const tool = fakeGpg('gpg-aead', `cat >/dev/null; cat '${path.join(work, 'aead.pgp')}'`);
    const from = logged.length;
    const result = await backup(
      { destination: 's3://backups/enc-fallback', 'encryption-public-key': publicKey },
      true,
      { detectGpg: () => Promise.resolve(tool) },
    );
    expect(result.manifest.encryption).toMatchObject({ mode: 'public-key', engine: 'openpgp.js' });
    expect(logged.slice(from)).toContainEqual(
      expect.stringMatching(
        /^Encryption: AES-256 to 1 public key, by OpenPGP\.js \S+ in the action's process: gpg 2\.4\.4 \(.*gpg-aead\): its probe message is not what this action's restores read: its data packet is not a version 1 .*last packet version 2\)\.$/,
      ),
    );
    const encrypted = path.join(work, 'fallback.dump.zst.gpg');
    await download('backups', result.manifest.archive.key, encrypted);
    await gpg(['--output', path.join(work, 'fallback.dump.zst'), '--decrypt', encrypted]);
    await execFileAsync('zstd', [
      '-q',
      '-f',
      '-d',
      path.join(work, 'fallback.dump.zst'),
      '-o',
      path.join(work, 'fallback.dump'),
    ]);
    const { stdout: listing } = await execFileAsync(
      `${cluster.binDir}/pg_restore`,
      ['--list', path.join(work, 'fallback.dump')],
      { maxBuffer: 1 << 24 },
    );
    expect(listing).toContain('TABLE DATA public film_actor');
  }, 120_000);

  test('gpg failing in the middle of the stream fails the backup as an encryption error and leaves no object', async () => {
    // The probe is the real gpg; the stream then reads 1 MiB and fails.
    const tool = fakeGpg(
      'gpg-dies',
      `if [ ! -e "$0.probed" ]; then touch "$0.probed"; exec gpg "$@"; fi\nhead -c 1048576 >/dev/null\necho 'gpg: simulated write error' >&2\nexit 2`,
    );
    const error = await rejectionOf(
      backup(
        { destination: 's3://backups/enc-dies', 'encryption-public-key': publicKey, 'row-counts': 'estimate' },
        true,
        { detectGpg: () => Promise.resolve(tool) },
      ),
      EncryptError,
    );
    expect(error.phase).toBe('encrypt');
    expect(error.message).toMatch(
      /^gpg could not encrypt the archive: gpg exited with code 2: gpg: simulated write error$/,
    );
    expect(await listKeys('enc-dies/')).toEqual([]);
    expect(await s3.pendingMultipartUploads('backups')).toEqual([]);
    expect(readdirSync(work).filter((name) => name.startsWith('gpg-'))).toEqual([]);
  }, 120_000);

  test('a malformed public key is refused before any work', async () => {
    await expect(
      backup(
        {
          destination: 's3://backups/bad-key',
          'encryption-public-key':
            '-----BEGIN PGP PUBLIC KEY BLOCK-----\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----',
        },
        true,
      ),
    ).rejects.toThrow(/^Input 'encryption-public-key'/);
    expect(await listKeys('bad-key/')).toEqual([]);
  });
});

test('no log line, result or error of any backup above holds the sentinel password in any form', () => {
  expect(logged.length).toBeGreaterThan(20);
  expect(logged.some((l) => l.startsWith('ERROR '))).toBe(true);
  const text = logged.join('\n');
  for (const form of [SENTINEL, encodeURIComponent(SENTINEL), 'Sentinel-P%40ss', 'P@ss:/%#?'])
    expect(text).not.toContain(form);
});
