/**
 * Restore, drill and check end to end, in process: the sample shop (scripts/sample-db) in a real
 * PostgreSQL 15 cluster, backed up with the real runBackup (custom with zstd in the stream, directory with 2 jobs, plain gzip) to
 * a real S3-compatible server (s3rver) and local folders, then restored and drilled with the real
 * pg_restore/psql. Corrupt archives, tampered manifests, failing assertions, non-empty targets,
 * globals and freshness checks against synthetic listings.
 */
import { claimObjectKey } from '../../src/storage/claim.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runBackup } from '../../src/commands/backup.js';
import type { BackupResult } from '../../src/report/backup-report.js';
import type { Log } from '../../src/log.js';
import { runCheck } from '../../src/commands/check.js';
import { CheckError, checkOutputs } from '../../src/report/check-report.js';
import { runDrill } from '../../src/commands/drill.js';
import { DrillError, drillOutputs, drillSummary, type DrillResult } from '../../src/report/drill-report.js';
import { runRestore } from '../../src/commands/restore.js';
import { restoreOutputs } from '../../src/report/restore-report.js';
import type { RestoreDeps } from '../../src/restore/deps.js';
import { openTarget } from '../../src/restore/target.js';
import { parseConfig, resolveConfig } from '../../src/config/parse.js';
import { DecryptError } from '../../src/crypto/openpgp.js';
import { parseDecryptionInputs } from '../../src/config/openpgp-inputs.js';
import type { BackupConfig, CheckConfig, DrillConfig, RestoreConfig } from '../../src/config/types.js';
import { asBackup } from '../support/config.js';
import { ConfigError, VerifyError } from '../../src/errors.js';
import type { Manifest } from '../../src/manifest.js';
import { realDeps, restoreDeps } from '../../src/run.js';
import { parseAnomalyInputs } from '../../src/config/anomaly.js';
import { parseRestoreInputs } from '../../src/config/restore.js';
import { CorruptArchiveError, RestoreError } from '../../src/restore/errors.js';
import { createStore, parseDestination } from '../../src/storage/index.js';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { loadSampleDb, startCluster, type Cluster, manifestCounts, restoredCounts } from '../support/pg-cluster.js';
import { startS3Server, testS3Settings, testS3Inputs } from '../support/s3-server.js';

const SENTINEL = 'Target-P@ss:/%#? w0rd';

let cluster: Cluster;
let s3: Awaited<ReturnType<typeof startS3Server>>;
let work: string;
/** Rows of shop.products in the loaded database (read in beforeAll). */
let products: number;
const logged: string[] = [];
/** Set DEBUG_RESTORE=1 to see the log as it happens. */
const log: Log = {
  info: (m) => {
    logged.push(m);
    if (process.env.DEBUG_RESTORE) process.stderr.write(`${m}\n`);
  },
  warning: (m) => logged.push(`WARNING ${m}`),
  group: async (name, fn) => {
    logged.push(`## ${name}`);
    return fn();
  },
};

const backups: Record<'custom' | 'directory' | 'plain', BackupResult> = {} as never;

function backupConfig(inputs: Record<string, string>): BackupConfig {
  const all: Record<string, string> = {
    'database-url': cluster.url('shop'),
    ...testS3Inputs(s3.endpoint),
    ...inputs,
  };
  return asBackup(parseConfig((name) => all[name] ?? ''));
}

function deps(): RestoreDeps {
  return { ...restoreDeps({ installClient: true }, undefined, log), tempDir: work };
}

async function backup(inputs: Record<string, string>): Promise<BackupResult> {
  const config = backupConfig(inputs);
  return runBackup(config, { ...realDeps(config, undefined, log), tempDir: work });
}

function fileUrl(name: string): string {
  return `file://${path.join(work, name)}`;
}

/** The restore/drill/check inputs as the action reads them, plus where the backups are. */
function options<T>(inputs: Record<string, string>, destination: string, database = 'shop'): T {
  const parsed = parseRestoreInputs((name) => inputs[name] ?? '');
  return {
    ...parsed,
    anomaly: parseAnomalyInputs((name) => inputs[name] ?? '', parsed.command),
    database,
    destinations: destination.split('\n').map(parseDestination),
    s3: testS3Settings(s3.endpoint),
  } as T;
}

function target(db: string): string {
  return cluster.url(db, 'restorer', SENTINEL);
}

function s3Client(): S3Client {
  return new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
}

async function databaseExists(db: string): Promise<boolean> {
  return (await cluster.psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${db}'`)) === '1';
}

function expectGreen(result: DrillResult): void {
  const failed = result.checks.filter((c) => !c.passed);
  expect(failed).toEqual([]);
  expect(result.passed).toBe(true);
  expect(result.checks.filter((c) => c.name.startsWith('rows of ')).length).toBeGreaterThanOrEqual(15);
  expect(result.checks.find((c) => c.name === 'rows of shop.products')).toMatchObject({
    expected: products,
    actual: products,
    passed: true,
  });
  expect(result.checks.find((c) => c.name === 'count of indexes')).toMatchObject({ passed: true });
  // Manifest format 2: the NOT VALID set equals the source's (content fingerprints: verify: content, not the default).
  expect(result.checks.find((c) => c.name === 'NOT VALID constraints as in the source')).toMatchObject({
    passed: true,
  });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'restore-e2e-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await Promise.all([loadSampleDb(cluster, 'shop'), s3.createBucket('backups')]);
  products = Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.products'));
  expect(products).toBeGreaterThan(0);
  await cluster.psql('postgres', `CREATE ROLE restorer LOGIN SUPERUSER PASSWORD '${SENTINEL.replace(/'/g, "''")}'`);
  const [custom, directory, plain] = await Promise.all([
    backup({ destination: `s3://backups/prod\n${fileUrl('files')}`, label: 'daily' }),
    backup({ destination: 's3://backups/dir', format: 'directory', jobs: '2', compression: 'gzip' }),
    backup({ destination: fileUrl('plain'), format: 'plain', compression: 'gzip:6' }),
  ]);
  Object.assign(backups, { custom, directory, plain });
}, 120_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

test('custom (zstd in the stream) from S3: restore latest:daily into a new database; counts equal the manifest', async () => {
  expect(backups.custom.manifest.archive.key).toMatch(/\.dump\.zst$/);
  const opts = options<RestoreConfig>(
    {
      command: 'restore',
      'backup-key': 'latest:daily',
      'target-database-url': target('restored_custom'),
      'create-database': 'true',
    },
    's3://backups/prod',
  );
  const mark = logged.length;
  const result = await runRestore(opts, deps());
  expect(result.key).toBe(backups.custom.manifest.archive.key);
  expect(result.createdDatabase).toBe(true);
  expect(result.mode).toBe('pg_restore-stdin');
  // The zstd CLI writes straight into pg_restore's stdin (the decompressed archive skips Node).
  expect(logged.slice(mark)).toContainEqual(
    expect.stringContaining('Undoing .zst stream compression with zstd -d straight into pg_restore.'),
  );
  expect(restoreOutputs(result)).toEqual({
    'restored-key': result.key,
    'restore-seconds': String(result.restoreSeconds),
  });
  expect(await restoredCounts(cluster, 'restored_custom', result.manifest)).toEqual(manifestCounts(result.manifest));
}, 60_000);

test('custom from file:// with jobs 2 (temporary file, pg_restore -j): drill passes, scratch dropped, drill-sql true', async () => {
  const opts = options<DrillConfig>(
    {
      command: 'drill',
      'target-database-url': target('drill_custom'),
      jobs: '2',
      'drill-sql': `SELECT count(*) = ${products} FROM shop.products\nSELECT bool_and(price_cents > 0) FROM shop.products`,
    },
    fileUrl('files'),
  );
  const result = await runDrill(opts, deps());
  expectGreen(result);
  expect(result.mode).toBe('pg_restore-file');
  expect(result.checks.filter((c) => c.name.startsWith('drill-sql'))).toHaveLength(2);
  expect(result.dropped).toBe(true);
  expect(await databaseExists('drill_custom')).toBe(false);
  expect(drillOutputs(result)).toEqual({
    'restored-key': result.key,
    'restore-seconds': String(result.restoreSeconds),
    'drill-passed': 'true',
  });
  const summary = drillSummary(result);
  expect(summary).toContain(`| rows of shop.products | ${products} | ${products} | ✅ |`);
  expect(summary).toMatch(/RTO \| [\d.]+ s/);
}, 60_000);

test('directory format (tar from S3, jobs 2): restore and drill green', async () => {
  const restore = await runRestore(
    options<RestoreConfig>(
      { command: 'restore', 'target-database-url': target('restored_dir'), 'create-database': 'true', jobs: '2' },
      's3://backups/dir',
    ),
    deps(),
  );
  expect(restore.mode).toBe('pg_restore-directory');
  expect(await restoredCounts(cluster, 'restored_dir', restore.manifest)).toEqual(manifestCounts(restore.manifest));
  const drill = await runDrill(
    options<DrillConfig>(
      { command: 'drill', 'target-database-url': target('drill_dir'), jobs: '2' },
      's3://backups/dir',
    ),
    deps(),
  );
  expectGreen(drill);
  expect(logged.filter((l) => l.startsWith('Unpacking into')).length).toBeGreaterThan(0);
}, 60_000);

test('plain format (gzip) from file://: restore with psql and drill green', async () => {
  const restore = await runRestore(
    options<RestoreConfig>(
      {
        command: 'restore',
        'target-host': '127.0.0.1',
        'target-port': String(cluster.port),
        'target-username': 'restorer',
        'target-password': SENTINEL,
        'target-database': 'restored_plain',
        'create-database': 'true',
      },
      fileUrl('plain'),
    ),
    deps(),
  );
  expect(restore.mode).toBe('psql');
  expect(restore.key).toMatch(/\.sql\.gz$/);
  expect(await restoredCounts(cluster, 'restored_plain', restore.manifest)).toEqual(manifestCounts(restore.manifest));
  expectGreen(
    await runDrill(
      options<DrillConfig>({ command: 'drill', 'target-database-url': target('drill_plain') }, fileUrl('plain')),
      deps(),
    ),
  );
}, 60_000);

test('a non-empty target without confirm is refused and left untouched; clean on partitioned tables is refused too', async () => {
  await cluster.psql('restored_custom', 'DELETE FROM shop.events_2024_07 WHERE id % 2 = 0');
  const count = () =>
    cluster.psql(
      'restored_custom',
      "SELECT (SELECT count(*) FROM shop.events_2024_07) || ',' || (SELECT count(*) FROM pg_constraint)",
    );
  const before = await count();
  const inputs = { command: 'restore', 'target-database-url': target('restored_custom') };
  const error = await runRestore(options<RestoreConfig>(inputs, 's3://backups/prod'), deps()).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(
    /^Input 'confirm': the target database 'restored_custom' on 127\.0\.0\.1:\d+ already has \d+ user table\(s\); nothing was touched\. To restore into it anyway set confirm: restored_custom/,
  );
  expect(await count()).toBe(before);

  // pg_restore --clean would stop at "cannot drop inherited constraint" after dropping other objects.
  const clean = await runRestore(
    options<RestoreConfig>({ ...inputs, confirm: 'restored_custom', clean: 'true' }, 's3://backups/prod'),
    deps(),
  ).catch((e: unknown) => e);
  expect(clean).toBeInstanceOf(ConfigError);
  expect((clean as Error).message).toMatch(
    /^Input 'clean': the target database 'restored_custom' has partitions .*shop\.events_2024_01\.events_2024_01_pkey.*Nothing was touched\./,
  );
  expect(await count()).toBe(before);
}, 60_000);

test('pg_restore stopping at the first error mid-stream (zstd still decompressing): a clear error, no hang, no leftover process', async () => {
  await cluster.psql('postgres', 'CREATE DATABASE conflict');
  await cluster.psql('conflict', 'CREATE SCHEMA shop');
  const error = await runRestore(
    options<RestoreConfig>(
      { command: 'restore', 'target-database-url': target('conflict'), confirm: 'conflict' },
      's3://backups/prod',
    ),
    deps(),
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RestoreError);
  expect((error as Error).message).toMatch(
    /^Restoring prod\/shop\/\S+\.dump\.zst into database 'conflict' stopped at the first error: pg_restore said "ERROR: schema "shop" already exists" while running `CREATE SCHEMA shop;`\. The target database already holds objects of this archive: restore with clean: true/,
  );
  const { execFileSync } = await import('node:child_process');
  const leftovers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^(\S*\/)?(zstd -d|pg_restore) /.test(l) && l.includes('conflict'));
  expect(leftovers).toEqual([]);
  // A database the restore did not create is never dropped.
  expect(await databaseExists('conflict')).toBe(true);
}, 60_000);

test('a missing target without create-database: a clear error naming the fix', async () => {
  const error = await runRestore(
    options<RestoreConfig>(
      { command: 'restore', 'target-database-url': target('does_not_exist') },
      's3://backups/prod',
    ),
    deps(),
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(
    /^Input 'create-database': the target database 'does_not_exist' does not exist on 127\.0\.0\.1:\d+; set create-database: true/,
  );
});

describe('corrupt archives', () => {
  let s3Key: string;
  let fileKey: string;
  beforeAll(async () => {
    const [a, b] = await Promise.all([
      backup({ destination: 's3://backups/corrupt' }),
      backup({ destination: fileUrl('corrupt'), format: 'plain', compression: 'none' }),
    ]);
    s3Key = a.manifest.archive.key;
    fileKey = b.manifest.archive.key;
    // The S3 archive gets one byte flipped in the middle.
    const { Body } = await s3Client().send(new GetObjectCommand({ Bucket: 'backups', Key: s3Key }));
    const bytes = Buffer.from(await (Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0x01, middle);
    await s3Client().send(new PutObjectCommand({ Bucket: 'backups', Key: s3Key, Body: bytes }));
  }, 60_000);

  test('S3 (custom, zstd): one byte flipped in the middle; the drill fails naming the key, no check is reported', async () => {
    const mark = logged.length;
    const error = await runDrill(
      options<DrillConfig>(
        { command: 'drill', 'target-database-url': target('drill_corrupt_s3') },
        's3://backups/corrupt',
      ),
      deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptArchiveError);
    expect(error).toBeInstanceOf(VerifyError);
    log.info(`ERROR ${(error as Error).message}`);
    expect((error as Error).message).toContain(
      `The archive ${s3Key} in s3://backups/corrupt is corrupt: its SHA-256 is`,
    );
    const after = logged.slice(mark);
    expect(after.some((l) => /^PASS |Drill passed|matches the manifest/.test(l))).toBe(false);
    expect(await databaseExists('drill_corrupt_s3')).toBe(false);
  }, 60_000);

  test('restore with create-database: the database it created is dropped when the restore fails, so the same step can run again', async () => {
    const mark = logged.length;
    const error = await runRestore(
      options<RestoreConfig>(
        { command: 'restore', 'target-database-url': target('restore_corrupt'), 'create-database': 'true' },
        's3://backups/corrupt',
      ),
      deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptArchiveError);
    const after = logged.slice(mark);
    expect(after).toContain("Created database 'restore_corrupt' on 127.0.0.1:" + cluster.port + '.');
    expect(after).toContain(
      "The restore failed: dropped 'restore_corrupt', which this run had created, so that a retry starts from a new database.",
    );
    expect(await databaseExists('restore_corrupt')).toBe(false);
  }, 60_000);

  test("when that drop fails, the restore's own error stands and a warning names the database to drop by hand", async () => {
    // The server refuses the drop for real: the database is made a template just before it.
    const connectTarget: RestoreDeps['connectTarget'] = async (connection) => {
      const db = await openTarget(connection);
      return {
        close: () => db.close(),
        query: async (sql, values) => {
          if (sql.startsWith('DROP DATABASE'))
            await cluster.psql('postgres', 'ALTER DATABASE restore_kept IS_TEMPLATE true');
          return db.query(sql, values);
        },
      };
    };
    const mark = logged.length;
    const error = await runRestore(
      options<RestoreConfig>(
        { command: 'restore', 'target-database-url': target('restore_kept'), 'create-database': 'true' },
        's3://backups/corrupt',
      ),
      { ...deps(), connectTarget },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptArchiveError);
    expect(logged.slice(mark)).toContainEqual(
      expect.stringMatching(
        /^WARNING The restore failed, and 'restore_kept', which this run had created, could not be dropped: .*cannot drop a template database.*\. Drop it by hand before retrying with create-database: true\.$/,
      ),
    );
    expect(await databaseExists('restore_kept')).toBe(true);
    await cluster.psql('postgres', 'ALTER DATABASE restore_kept IS_TEMPLATE false; DROP DATABASE restore_kept');
  }, 60_000);

  test('file:// (plain, uncompressed): a flipped letter in table data that psql would accept is caught by the digest before the end', async () => {
    const file = path.join(work, 'corrupt', fileKey);
    const text = readFileSync(file);
    const at = text.indexOf('customer1@example.org');
    expect(at).toBeGreaterThan(0);
    text[at] = 'B'.charCodeAt(0);
    writeFileSync(file, text);
    const mark = logged.length;
    const error = await runDrill(
      options<DrillConfig>(
        { command: 'drill', 'target-database-url': target('drill_corrupt_file'), 'drop-after': 'false' },
        fileUrl('corrupt'),
      ),
      deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptArchiveError);
    expect((error as Error).message).toContain(`The archive ${fileKey} in ${fileUrl('corrupt')} is corrupt`);
    log.info(`ERROR ${(error as Error).message}`);
    expect(logged.slice(mark).some((l) => /^PASS |Drill passed/.test(l))).toBe(false);
    // psql was killed before it saw the end of the script: the post-data section (constraints at
    // the end of a plain dump) never ran, so nothing restored from it can pass for complete.
    expect(await databaseExists('drill_corrupt_file')).toBe(true);
    const constraints = Number(
      await cluster.psql(
        'drill_corrupt_file',
        "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'shop'",
      ),
    );
    expect(constraints).toBeLessThan(backups.plain.manifest.objects.constraints);
    await cluster.psql('postgres', 'DROP DATABASE drill_corrupt_file');
  }, 60_000);
});

describe('failing drills', () => {
  test('a table in the manifest that the restore lacks fails the drill, naming the table', async () => {
    const manifestFile = path.join(work, 'plain', `${backups.plain.manifest.archive.key}.manifest.json`);
    const original = readFileSync(manifestFile, 'utf8');
    const tampered = JSON.parse(original) as Manifest;
    tampered.rowCounts.tables.push({ schema: 'public', table: 'no_such_table', rows: 3 });
    writeFileSync(manifestFile, JSON.stringify(tampered));
    try {
      const error = await runDrill(
        options<DrillConfig>({ command: 'drill', 'target-database-url': target('drill_tampered') }, fileUrl('plain')),
        deps(),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DrillError);
      expect((error as Error).message).toContain('table public.no_such_table (expected present, actual missing)');
      const result = (error as DrillError).result;
      expect(result.passed).toBe(false);
      expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['table public.no_such_table']);
      expect(drillSummary(result)).toContain('| table public.no_such_table | present | missing | ❌ |');
      expect(drillOutputs(result)['drill-passed']).toBe('false');
      expect(await databaseExists('drill_tampered')).toBe(false);
    } finally {
      writeFileSync(manifestFile, original);
    }
  }, 60_000);

  test('a drill-sql assertion that is not true fails the drill', async () => {
    const error = await runDrill(
      options<DrillConfig>(
        {
          command: 'drill',
          'target-database-url': target('drill_sql'),
          'drill-sql': 'SELECT count(*) > 1000000 FROM shop.orders;\nSELECT 1/0 = 1;',
        },
        's3://backups/prod',
      ),
      deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrillError);
    const failed = (error as DrillError).result.checks.filter((c) => !c.passed);
    expect(failed).toEqual([
      {
        name: 'drill-sql 1: SELECT count(*) > 1000000 FROM shop.orders',
        expected: 'true',
        actual: 'false',
        passed: false,
      },
      { name: 'drill-sql 2: SELECT 1/0 = 1', expected: 'true', actual: 'error: division by zero', passed: false },
    ]);
  }, 60_000);

  test('an existing scratch database with tables is refused without confirm', async () => {
    const error = await runDrill(
      options<DrillConfig>({ command: 'drill', 'target-database-url': target('restored_dir') }, 's3://backups/dir'),
      deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /^Input 'confirm': the scratch database 'restored_dir' .* already has \d+ user table\(s\); nothing was touched/,
    );
    expect(await databaseExists('restored_dir')).toBe(true);
  });
});

test('restore-globals: a role dropped after the backup is recreated before the archive needs it', async () => {
  await cluster.psql('postgres', "CREATE ROLE app_owner LOGIN PASSWORD 'x'; CREATE DATABASE globsrc");
  await cluster.psql(
    'globsrc',
    'CREATE TABLE owned (id int PRIMARY KEY); INSERT INTO owned VALUES (1), (2); ALTER TABLE owned OWNER TO app_owner;',
  );
  const taken = await backup({
    destination: fileUrl('globals'),
    'database-url': cluster.url('globsrc'),
    globals: 'true',
  });
  expect(taken.manifest.globals?.bytes).toBeGreaterThan(0);
  await cluster.psql('postgres', 'DROP DATABASE globsrc; DROP ROLE app_owner;');

  const inputs = { command: 'restore', 'target-database-url': target('globdst'), 'create-database': 'true' };
  const without = await runRestore(options<RestoreConfig>(inputs, fileUrl('globals'), 'globsrc'), deps()).catch(
    (e: unknown) => e,
  );
  expect((without as Error).message).toMatch(/role "app_owner" does not exist.*restore-globals: true/);
  // The database this failed restore created is gone: the retry below creates it again.
  expect(await databaseExists('globdst')).toBe(false);
  await runRestore(
    options<RestoreConfig>({ ...inputs, 'restore-globals': 'true' }, fileUrl('globals'), 'globsrc'),
    deps(),
  );
  expect(await cluster.psql('postgres', "SELECT rolname FROM pg_roles WHERE rolname = 'app_owner'")).toBe('app_owner');
  expect(
    await cluster.psql(
      'globdst',
      "SELECT tableowner || ':' || (SELECT count(*) FROM owned) FROM pg_tables WHERE tablename = 'owned'",
    ),
  ).toBe('app_owner:2');

  // Into the now non-empty database again: confirm and clean (pg_restore --clean --if-exists).
  await cluster.psql('globdst', 'INSERT INTO owned VALUES (3)');
  await runRestore(
    options<RestoreConfig>({ ...inputs, confirm: 'globdst', clean: 'true' }, fileUrl('globals'), 'globsrc'),
    deps(),
  );
  expect(await cluster.psql('globdst', 'SELECT count(*) FROM owned')).toBe('2');
}, 60_000);

test('encrypted (OpenPGP passphrase; plain gzip and globals): refused without the passphrase, green with it, a wrong one fails decrypting', async () => {
  const all: Record<string, string> = {
    'database-url': cluster.url('shop'),
    destination: fileUrl('encrypted'),
    format: 'plain',
    compression: 'gzip',
    globals: 'true',
    'encryption-passphrase': 'correct horse',
  };
  const config = asBackup(await resolveConfig((name) => all[name] ?? ''));
  const taken = await runBackup(config, { ...realDeps(config, undefined, log), tempDir: work });
  expect(taken.manifest.archive.key).toMatch(/\.sql\.gz\.gpg$/);
  expect(taken.manifest.encryption?.mode).toBe('passphrase');

  const inputs = { command: 'drill', 'target-database-url': target('drill_encrypted'), 'restore-globals': 'true' };
  const missing = await runDrill(options<DrillConfig>(inputs, fileUrl('encrypted')), deps()).catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(ConfigError);
  expect((missing as Error).message).toBe(
    `Input 'decryption-passphrase': the backup ${taken.manifest.archive.key} is encrypted (OpenPGP, passphrase); set decryption-passphrase (the encryption-passphrase of the backup) from a secret to restore it.`,
  );
  expect(await databaseExists('drill_encrypted')).toBe(false);

  const decryption = await parseDecryptionInputs((name) => ({ 'decryption-passphrase': 'correct horse' })[name] ?? '');
  const drill = await runDrill({ ...options<DrillConfig>(inputs, fileUrl('encrypted')), decryption }, deps());
  expectGreen(drill);

  const wrong = await parseDecryptionInputs((name) => ({ 'decryption-passphrase': 'wrong horse' })[name] ?? '');
  const error = await runDrill(
    { ...options<DrillConfig>(inputs, fileUrl('encrypted')), decryption: wrong },
    deps(),
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DecryptError);
  log.info(`ERROR ${(error as Error).message}`);
  expect(await databaseExists('drill_encrypted')).toBe(false);
}, 60_000);

describe('check', () => {
  const DAY = 86_400_000;
  async function synthetic(
    folder: string,
    entries: { time: Date; size: number; manifest?: boolean; label?: string }[],
  ): Promise<void> {
    const store = createStore(parseDestination(fileUrl(folder)), testS3Settings(s3.endpoint));
    for (const e of entries) {
      const stamp = e.time
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z')
        .replace(/:/g, '');
      const key = `shop/${stamp}${e.label ? `-${e.label}` : ''}.dump`;
      await store.put(key, Buffer.alloc(e.size, 1), 'application/octet-stream');
      // A manifest as the backup command writes it, as far as check reads it (format version, archive, fields a restore needs).
      const manifest = {
        formatVersion: 1,
        database: 'shop',
        format: 'custom',
        server: { major: 15 },
        client: { major: 15 },
        archive: { key, bytes: e.size, sha256: 'a'.repeat(64) },
        rowCounts: { mode: 'exact', tables: [] },
      };
      if (e.manifest !== false) await store.put(`${key}.manifest.json`, JSON.stringify(manifest), 'application/json');
      // An interrupted run keeps its claim beside the archive: what marks it as ours in a folder.
      else await store.put(claimObjectKey(key, e.time, '0123456789ab'), '{}', 'application/json');
    }
  }

  test('an old listing fails max-age; a fresh backup passes; a tiny newest archive fails min-size-ratio', async () => {
    const old = Date.UTC(2020, 0, 1);
    await synthetic(
      'check',
      Array.from({ length: 8 }, (_, i) => ({ time: new Date(old + i * DAY), size: 1000 + i, label: 'daily' })),
    );
    const stale = await runCheck(
      options<CheckConfig>({ command: 'check', 'max-age': '26h' }, fileUrl('check')),
      deps(),
    ).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(CheckError);
    expect((stale as Error).message).toMatch(
      /^The backups of 'shop' failed the check: file:\/\/.*\/check: age expected ≤ 1d 2h, actual \d+d \d+h\.$/,
    );
    expect(checkOutputs((stale as CheckError).result)['latest-key']).toBe('shop/2020-01-08T000000Z-daily.dump');

    await synthetic('check', [
      { time: new Date(Date.now() - 3_600_000), size: 1005, label: 'daily' },
      { time: new Date(), size: 50, manifest: false },
    ]);
    const fresh = await runCheck(
      options<CheckConfig>(
        { command: 'check', 'max-age': '26h', 'min-size-ratio': '0.5', 'expect-label': 'daily' },
        fileUrl('check'),
      ),
      deps(),
    );
    expect(fresh.passed).toBe(true);
    expect(Number(checkOutputs(fresh)['latest-age-seconds'])).toBeGreaterThanOrEqual(3599);
    expect(fresh.destinations[0]?.warnings.join(' ')).toMatch(/1 newer archive\(s\) of 'shop' have no manifest/);

    await synthetic('check', [{ time: new Date(Date.now() - 60_000), size: 10, label: 'daily' }]);
    const tiny = await runCheck(
      options<CheckConfig>({ command: 'check', 'max-age': '26h', 'min-size-ratio': '0.5' }, fileUrl('check')),
      deps(),
    ).catch((e: unknown) => e);
    expect(tiny).toBeInstanceOf(CheckError);
    expect((tiny as Error).message).toMatch(
      /size expected ≥ 50% of the median 1\.0 kB \(7 earlier\), actual 10 B \(1\.0%\)\.$/,
    );
  });

  test('S3: no backups of another database is a failed check', async () => {
    const error = await runCheck(
      options<CheckConfig>({ command: 'check' }, 's3://backups/prod', 'nothing-here'),
      deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckError);
    expect((error as Error).message).toContain('complete backup expected at least one, actual no backups at all');
  });
});

test('no log line or error holds the target password in any form', () => {
  expect(logged.length).toBeGreaterThan(50);
  const text = logged.join('\n');
  for (const form of [SENTINEL, encodeURIComponent(SENTINEL), 'Target-P%40ss', 'P@ss:/%#?'])
    expect(text).not.toContain(form);
});
