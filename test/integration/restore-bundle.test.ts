/**
 * Encrypted round trip through the committed bundle (dist/index.js run as a process, as the runner
 * does): the sample shop (scripts/sample-db) in a throwaway PostgreSQL cluster is backed up to a local folder, encrypted to an
 * OpenPGP public key made by the real gpg CLI, then restored with `command: restore` and the
 * matching private key into a new database on the same cluster. A private key that is not a
 * recipient must stop the restore with an error naming decryption-private-key and leave the target
 * database as it was.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { detectGpg } from '../../src/crypto/gpg.js';
import type { Manifest } from '../../src/manifest.js';
import { nodeBinaries, runAction, type ActionRun } from '../support/action-runner.js';
import { loadSampleDb, manifestCounts, restoredCounts, startCluster, type Cluster } from '../support/pg-cluster.js';

const run = promisify(execFile);

interface GpgKey {
  home: string;
  /** Primary key fingerprint, upper-case hex. */
  fingerprint: string;
  /** Key ID of the encryption subkey (what a PKESK packet names), upper-case hex. */
  encryptionKeyId: string;
  publicKey: string;
  secretKey: string;
}

let cluster: Cluster;
let work: string;
let folder: string;
let right: GpgKey;
let wrong: GpgKey;
/** Rows of shop.products in the loaded database (read in beforeAll). */
let products: number;
let backup: ActionRun;
let manifest: Manifest;

/** Makes a key pair the way the docs tell users to: its own GNUPGHOME, no passphrase, exported armored. */
async function makeKey(name: string, email: string): Promise<GpgKey> {
  // Short path: gpg-agent's socket lives in the home and Unix socket paths are limited to ~108 bytes.
  const home = mkdtempSync(path.join(os.tmpdir(), 'gpg-'));
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = async (args: string[]): Promise<string> =>
    (await run('gpg', ['--batch', ...args], { env, maxBuffer: 1 << 22 })).stdout;
  await gpg(['--passphrase', '', '--quick-gen-key', `${name} <${email}>`, 'default', 'default', 'never']);
  const colons = (await gpg(['--with-colons', '--list-keys', email])).split('\n').map((l) => l.split(':'));
  const fingerprint = colons.find((f) => f[0] === 'fpr')?.[9];
  const encryptionKeyId = colons.find((f) => f[0] === 'sub' && (f[11] ?? '').includes('e'))?.[4];
  if (!fingerprint || !encryptionKeyId) throw new Error(`gpg listed no fingerprint or encryption subkey for ${email}`);
  return {
    home,
    fingerprint: fingerprint.toUpperCase(),
    encryptionKeyId: encryptionKeyId.toUpperCase(),
    publicKey: await gpg(['--armor', '--export', email]),
    secretKey: await gpg(['--armor', '--export-secret-keys', email]),
  };
}

/** Everything in `db` that is not part of a fresh database: schemas, relations, functions, types. */
async function userObjects(db: string): Promise<string> {
  const system = `NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%'`;
  return cluster.psql(
    db,
    `SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname ${system} AND nspname <> 'public'
     UNION ALL SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname ${system}
     UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname ${system}
     UNION ALL SELECT 'type ' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname ${system}
     ORDER BY 1`,
  );
}

async function databaseExists(db: string): Promise<boolean> {
  return (await cluster.psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${db}'`)) === '1';
}

/** The restore inputs shared by every run below: the backups of `shop` in the folder. */
function restoreInputs(key: GpgKey, extra: Record<string, string>): Record<string, string> {
  return {
    command: 'restore',
    database: 'shop',
    destination: `file://${folder}`,
    'decryption-private-key': key.secretKey,
    'issue-on-failure': 'false',
    ...extra,
  };
}

/** The ::error:: lines the bundle printed (core.setFailed), with the runner's escaping undone. */
function errors(result: ActionRun): string[] {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'));
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'restore-bundle-'));
  folder = path.join(work, 'backups');
  // The cluster is kept as soon as it runs, so afterAll stops it even when loading the sample shop fails.
  const loaded = startCluster().then((c) => {
    cluster = c;
    return loadSampleDb(c, 'shop');
  });
  [right, wrong] = await Promise.all([
    makeKey('Backups', 'backups@example.com'),
    makeKey('Stranger', 'stranger@example.com'),
    loaded,
  ]);
  products = Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.products'));
  backup = await runAction({
    inputs: {
      'database-url': cluster.url('shop'),
      destination: `file://${folder}`,
      label: 'enc',
      'encryption-public-key': right.publicKey,
      'issue-on-failure': 'false',
    },
  });
  const manifestKey = backup.outputs['manifest-key'];
  if (backup.exitCode === 0 && manifestKey)
    manifest = JSON.parse(readFileSync(path.join(folder, manifestKey), 'utf8')) as Manifest;
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  for (const key of [right, wrong]) {
    if (!key) continue;
    await run('gpgconf', ['--homedir', key.home, '--kill', 'gpg-agent']).catch(() => undefined);
    rmSync(key.home, { recursive: true, force: true });
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('backup encrypted to a gpg-made public key into file://, by the gpg child: a .gpg archive, its manifest names the recipient, no plaintext dump', async () => {
  expect(errors(backup)).toEqual([]);
  expect(backup.exitCode).toBe(0);
  const key = backup.outputs['backup-key'] as string;
  expect(key).toMatch(/^shop\/\d{4}-\d{2}-\d{2}T\d{6}Z-enc\.dump(\.zst)?\.gpg$/);
  const archive = readFileSync(path.join(folder, key));
  expect(String(archive.length)).toBe(backup.outputs['size-bytes']);
  // pg_dump's custom format starts with PGDMP, zstd frames with 28 b5 2f fd: neither may be stored.
  expect(archive.subarray(0, 5).toString('latin1')).not.toBe('PGDMP');
  expect(archive.subarray(0, 4).toString('hex')).not.toBe('28b52ffd');
  // An OpenPGP packet header (bit 7 set) opens the file, and no table name shows through.
  expect(archive[0]! & 0x80).toBe(0x80);
  expect(archive.includes(Buffer.from('order_items'))).toBe(false);
  expect(manifest.archive.key).toBe(key);
  // The bundle encrypted with the gpg command line (outside its process); the restore below reads it with OpenPGP.js.
  const gpgVersion = (await detectGpg())?.version;
  expect(manifest.encryption).toEqual({
    algorithm: 'AES-256',
    mode: 'public-key',
    recipients: [right.fingerprint],
    engine: 'gpg',
    engineVersion: gpgVersion,
  });
  expect(backup.stdout).toContain(`Encryption: AES-256 to 1 public key, by gpg ${gpgVersion as string} (`);
  expect(products).toBeGreaterThan(0);
  expect(manifest.rowCounts.tables.find((t) => t.schema === 'shop' && t.table === 'products')?.rows).toBe(products);
});

test("restore with the private key through the bundle: exit 0, every table has the manifest's rows, outputs and summary name the backup and target", async () => {
  expect(backup.exitCode).toBe(0);
  const key = backup.outputs['backup-key'] as string;
  expect(await databaseExists('restored_enc')).toBe(false);
  const restore = await runAction({
    inputs: restoreInputs(right, { 'target-database-url': cluster.url('restored_enc'), 'create-database': 'true' }),
    timeoutMs: 180_000,
  });
  expect(errors(restore)).toEqual([]);
  expect(restore.exitCode).toBe(0);

  // Every armored line of the private key was masked before anything else was printed, and none
  // of them was printed anyway.
  const keyLines = right.secretKey.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
  expect(keyLines.length).toBeGreaterThan(5);
  expect(restore.masks).toEqual(expect.arrayContaining(keyLines));
  expect(restore.firstNonMaskLine).toBeGreaterThanOrEqual(restore.masks.length);
  for (const line of keyLines) expect(restore.stdout + restore.stderr + restore.summary).not.toContain(line);

  expect(restore.stdout).toContain(`${key} is encrypted (OpenPGP, public-key): decrypting after the digest check.`);
  expect(restore.stdout).toContain(
    `${key}: ${manifest.archive.bytes} bytes, SHA-256 ${manifest.archive.sha256} matches the manifest.`,
  );
  expect(restore.stdout).toContain(`Restored ${key} into 'restored_enc'`);

  const counts = await restoredCounts(cluster, 'restored_enc', manifest);
  expect(Object.keys(counts).length).toBeGreaterThanOrEqual(15);
  expect(counts['shop.products']).toBe(products);
  expect(counts).toEqual(manifestCounts(manifest));

  expect(Object.keys(restore.outputs).sort()).toEqual(['restore-seconds', 'restored-key']);
  expect(restore.outputs['restored-key']).toBe(key);
  expect(restore.outputs['restore-seconds']).toMatch(/^\d+(\.\d+)?$/);
  expect(Number(restore.outputs['restore-seconds'])).toBeGreaterThan(0);

  expect(restore.summary).toContain('## PostgreSQL restore: shop');
  expect(restore.summary).toContain(`| Backup | \`${key}\` (file://${folder}) |`);
  expect(restore.summary).toContain(`| Restored into | \`restored_enc\` on 127.0.0.1:${cluster.port} (created) |`);
  expect(restore.summary).toContain(`| Archive size | `);
  expect(restore.summary).toContain(`(${manifest.archive.bytes} bytes), SHA-256 verified |`);
  expect(restore.summary).toMatch(/\| Format \| custom via pg_restore-stdin \|/);
}, 200_000);

test('a private key that is not a recipient: exit 1 with an error naming decryption-private-key and both keys; the empty target is untouched', async () => {
  expect(backup.exitCode).toBe(0);
  await cluster.createDatabase('wrong_key_target');
  const before = await userObjects('wrong_key_target');
  expect(before).toBe('');
  const restore = await runAction({
    inputs: restoreInputs(wrong, { 'target-database-url': cluster.url('wrong_key_target') }),
    timeoutMs: 180_000,
  });
  expect(restore.exitCode).toBe(1);
  const failures = errors(restore);
  expect(failures).toHaveLength(1);
  const message = failures[0] as string;
  // Refused from the manifest's recipients, before the target is touched.
  expect(message).toBe(
    `Input 'decryption-private-key': the archive was encrypted to ${right.fingerprint} (its manifest), and the key given (${wrong.fingerprint}) is none of them; ` +
      'set decryption-private-key to the private key of one of the recipients (`gpg --armor --export-secret-keys <fingerprint>`). Nothing was touched. [config]',
  );

  // No restore was reported, and nothing reached the target database.
  expect(restore.outputs['restored-key']).toBeUndefined();
  expect(restore.summary).not.toContain('PostgreSQL restore');
  expect(restore.stdout).not.toMatch(/Restored .* into 'wrong_key_target'/);
  expect(await userObjects('wrong_key_target')).toBe(before);
}, 200_000);

test('a private key that is not a recipient with create-database: exit 1 with the same key error, and no database is created', async () => {
  expect(backup.exitCode).toBe(0);
  expect(await databaseExists('wrong_key_new')).toBe(false);
  const restore = await runAction({
    inputs: restoreInputs(wrong, { 'target-database-url': cluster.url('wrong_key_new'), 'create-database': 'true' }),
    timeoutMs: 180_000,
  });
  expect(restore.exitCode).toBe(1);
  expect(errors(restore)).toEqual([
    expect.stringMatching(
      /^Input 'decryption-private-key': the archive was encrypted to [0-9A-F]{40} \(its manifest\), and the key given .* is none of them; .*Nothing was touched\. \[config\]$/,
    ),
  ]);
  expect(restore.outputs['restored-key']).toBeUndefined();
  expect(restore.stdout).not.toContain('Created database');
  expect(await databaseExists('wrong_key_new')).toBe(false);
}, 200_000);

test('on Node 24 with neither zstd nor gpg on PATH: Node zlib compresses and OpenPGP.js encrypts in the process, and the bundle restores the archive to the manifest row counts', async () => {
  const node24 = nodeBinaries().find((n) => n.name === 'node 24');
  if (!node24) return; // Node 24 is installed by .ci/run (nodeBinaries throws in CI when it is missing)
  // pg_dump and pg_restore are found under /usr/lib/postgresql, not on PATH; nothing else is needed.
  const bare = { PATH: mkdtempSync(path.join(work, 'empty-path-')) };
  const inProcess = path.join(work, 'in-process');
  const made = await runAction({
    node: node24.path,
    env: bare,
    inputs: {
      'database-url': cluster.url('shop'),
      destination: `file://${inProcess}`,
      'encryption-public-key': right.publicKey,
      'issue-on-failure': 'false',
    },
    timeoutMs: 180_000,
  });
  expect(errors(made)).toEqual([]);
  expect(made.stdout).toMatch(
    /Encryption: AES-256 to 1 public key, by OpenPGP\.js \S+ in the action's process: compression runs in the process \(no zstd command line\)\./,
  );
  const madeManifest = JSON.parse(
    readFileSync(path.join(inProcess, made.outputs['manifest-key'] as string), 'utf8'),
  ) as Manifest;
  expect(madeManifest.compression).toEqual({ method: 'zstd', level: 3, where: 'stream', engine: 'node-zlib' });
  expect(madeManifest.encryption).toMatchObject({
    mode: 'public-key',
    recipients: [right.fingerprint],
    engine: 'openpgp.js',
  });

  const restore = await runAction({
    node: node24.path,
    env: bare,
    inputs: {
      ...restoreInputs(right, { 'target-database-url': cluster.url('restored_in_process'), 'create-database': 'true' }),
      destination: `file://${inProcess}`,
    },
    timeoutMs: 180_000,
  });
  expect(errors(restore)).toEqual([]);
  expect(restore.exitCode).toBe(0);
  expect(await restoredCounts(cluster, 'restored_in_process', madeManifest)).toEqual(manifestCounts(madeManifest));
}, 400_000);
