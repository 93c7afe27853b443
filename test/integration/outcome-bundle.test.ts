/**
 * Damaged stores and failed runs through the bundle (dist/index.js run as a process, as the runner
 * does), against a real PostgreSQL cluster with the sample shop and a real S3 server (s3rver):
 *
 * - `check` fails when the newest backup is damaged (no manifest, manifest not JSON, of an unknown
 *   format version, lacking its sha256, for another archive, or an archive whose listed size is not
 *   the manifest's byte count), in a folder and in S3, naming the key and the damage; a healthy
 *   backup passes;
 * - `restore` with `latest` warns by name about a newer archive without manifest and restores the
 *   older complete one;
 * - two destinations, one refusing writes: the other gets archive and manifest, outputs, its
 *   summary row and retention; the refusing one is named; the run exits 1;
 * - a failed run writes a job summary (command, phase, error, hint, newest good backup), and none
 *   with `summary: false`.
 *
 * Damage is made by hand from a real backup's archive and manifest (copied under new keys); the
 * expected values come from that backup's outputs and manifest, never from the run under test.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Manifest } from '../../src/manifest.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import {
  answerS3Error,
  startS3Proxy,
  startS3Server,
  testS3Inputs,
  type S3Proxy,
  type S3Server,
} from '../support/s3-server.js';
import { claimObjectKey } from '../../src/storage/claim.js';
import { WRITTEN_BY_METADATA } from '../../src/storage/types.js';

const PASSWORD = 'Outcome-pw-4d2a-Sentinel';
const BUCKET = 'outcome';

let cluster: Cluster;
let s3: S3Server;
let client: S3Client;
let work: string;
/** The reference backup: a folder copy and an S3 copy of one run's archive and manifest. */
let good: { folder: string; key: string; manifest: Manifest; archive: Buffer; extension: string };

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'outcome-bundle-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await loadSampleDb(cluster, 'shop');
  await s3.createBucket(BUCKET);
  await cluster.psql('postgres', `CREATE ROLE backup LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });

  const folder = path.join(work, 'good');
  const run = await runAction({ inputs: { 'database-url': dbUrl(), destination: `file://${folder}` } });
  expect(run.exitCode).toBe(0);
  const key = run.outputs['backup-key'] as string;
  const manifest = JSON.parse(readFileSync(path.join(folder, `${key}.manifest.json`), 'utf8')) as Manifest;
  const extension = key.slice(key.indexOf('.', key.lastIndexOf('/')) + 1);
  good = { folder, key, manifest, archive: readFileSync(path.join(folder, key)), extension };
}, 180_000);

afterAll(async () => {
  client?.destroy();
  await Promise.all([cluster?.stop(), s3?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

function dbUrl(password = PASSWORD): string {
  return cluster.url('shop', 'backup', password);
}

/** `shop/<UTC time offset from now>.<extension>` under `prefix`, as the backup command names archives. */
function keyAt(offsetSeconds: number, prefix = ''): string {
  const stamp = new Date(Date.now() + offsetSeconds * 1000)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '');
  return `${prefix ? `${prefix}/` : ''}shop/${stamp}.${good.extension}`;
}

/** The reference manifest, rewritten for the archive at `key` (and changed by `change`). */
function manifestFor(key: string, change: (m: Record<string, unknown>) => void = () => {}): string {
  const m = JSON.parse(JSON.stringify(good.manifest)) as Record<string, unknown> & Manifest;
  m.archive = { ...m.archive, key };
  change(m);
  return `${JSON.stringify(m, null, 2)}\n`;
}

/**
 * Writes an archive (and its manifest unless `manifest` is null) into a folder destination. Without
 * a manifest it is left as an interrupted run of this action leaves it: with its claim beside it
 * (an archive-named file with neither is another tool's, which the action ignores).
 */
function putFile(folder: string, key: string, archive: Buffer, manifest: string | null): void {
  mkdirSync(path.dirname(path.join(folder, key)), { recursive: true });
  writeFileSync(path.join(folder, key), archive);
  if (manifest !== null) writeFileSync(path.join(folder, `${key}.manifest.json`), manifest);
  else writeFileSync(path.join(folder, claimObjectKey(key, new Date(), '0123456789ab')), '{}');
}

/** Writes an archive (and its manifest unless null) into the test bucket, with this action's marker metadata. */
async function putS3(key: string, archive: Buffer, manifest: string | null): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: archive, Metadata: { ...WRITTEN_BY_METADATA } }),
  );
  if (manifest !== null)
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${key}.manifest.json`, Body: manifest }));
}

async function check(destination: string): Promise<ActionRun> {
  return runAction({ inputs: { command: 'check', database: 'shop', destination, ...testS3Inputs(s3.endpoint) } });
}

/** The `::error::` line of a run (the message core.setFailed printed). */
function errorLine(run: ActionRun): string {
  return run.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
}

describe('check: a damaged newest backup fails the check, naming the key and the damage', () => {
  test('a healthy backup passes, in a folder and in S3: manifest and archive size are checked', async () => {
    const key = keyAt(-60, 'healthy');
    await putS3(key, good.archive, manifestFor(key));
    for (const [destination, latest] of [
      [`file://${good.folder}`, good.key],
      [`s3://${BUCKET}/healthy`, key],
    ] as const) {
      const run = await check(destination);
      expect(errorLine(run)).toBe('');
      expect(run.exitCode).toBe(0);
      expect(run.outputs['latest-key']).toBe(latest);
      expect(run.summary).toContain(
        `| archive size | ${good.manifest.archive.bytes} bytes (the manifest's archive.bytes) | ${good.archive.length} bytes | ✅ |`,
      );
      expect(run.summary).toMatch(
        /\| manifest \| readable, valid, format version 1 to 2 \| .*\.manifest\.json: format version 2, sha256 [0-9a-f]{12}… \| ✅ \|/,
      );
    }
  }, 60_000);

  // Each case: a folder with one backup, damaged one way; the message must name the key and the damage.
  const cases: { name: string; make: (folder: string) => string; expected: (key: string) => RegExp }[] = [
    {
      name: 'the newest archive has no manifest (an older complete one exists)',
      make(folder) {
        const older = keyAt(-3600);
        putFile(folder, older, good.archive, manifestFor(older));
        const newest = keyAt(-60);
        putFile(folder, newest, good.archive, null);
        return newest;
      },
      expected: (key) =>
        new RegExp(
          `newest archive expected has a manifest, actual ${esc(key)} has no manifest \\(${esc(key)}\\.manifest\\.json is missing\\)`,
        ),
    },
    {
      name: 'the only archive has no manifest',
      make(folder) {
        const key = keyAt(-60);
        putFile(folder, key, good.archive, null);
        return key;
      },
      expected: (key) =>
        new RegExp(
          `complete backup expected at least one, actual none: the newest archive ${esc(key)} has no manifest`,
        ),
    },
    {
      name: 'the manifest is not valid JSON',
      make(folder) {
        const key = keyAt(-60);
        putFile(folder, key, good.archive, manifestFor(key).slice(0, 200));
        return key;
      },
      expected: (key) =>
        new RegExp(
          `manifest expected readable, valid, format version 1 to 2, actual The manifest ${esc(key)}\\.manifest\\.json is not valid JSON`,
        ),
    },
    {
      name: 'the manifest has an unknown format version',
      make(folder) {
        const key = keyAt(-60);
        putFile(
          folder,
          key,
          good.archive,
          manifestFor(key, (m) => (m.formatVersion = 7)),
        );
        return key;
      },
      expected: (key) =>
        new RegExp(
          `actual The manifest ${esc(key)}\\.manifest\\.json has format version 7; this version of the action reads versions 1 to 2`,
        ),
    },
    {
      name: "the archive is truncated (listed size below the manifest's bytes)",
      make(folder) {
        const key = keyAt(-60);
        putFile(folder, key, good.archive.subarray(0, Math.floor(good.archive.length / 2)), manifestFor(key));
        return key;
      },
      expected: (key) =>
        new RegExp(
          `archive size expected ${good.manifest.archive.bytes} bytes \\(the manifest's archive\\.bytes\\), actual ${esc(key)} is ${Math.floor(good.archive.length / 2)} bytes in the listing: truncated`,
        ),
    },
    {
      name: "the manifest's sha256 is not a SHA-256",
      make(folder) {
        const key = keyAt(-60);
        putFile(
          folder,
          key,
          good.archive,
          manifestFor(key, (m) => ((m.archive as Record<string, unknown>).sha256 = 'd41d8cd98f00b204e9800998ecf8427e')),
        );
        return key;
      },
      expected: (key) =>
        new RegExp(
          `actual The manifest ${esc(key)}\\.manifest\\.json lacks fields a restore needs \\(archive\\.sha256`,
        ),
    },
    {
      name: 'the manifest describes another archive',
      make(folder) {
        const key = keyAt(-60);
        putFile(folder, key, good.archive, manifestFor(good.key));
        return key;
      },
      expected: (key) =>
        new RegExp(
          `actual The manifest ${esc(key)}\\.manifest\\.json is for the archive ${esc(good.key)}, not ${esc(key)}`,
        ),
    },
  ];

  test.each(cases)(
    '$name: exit 1',
    async ({ name, make, expected }) => {
      const folder = path.join(work, `damaged-${cases.findIndex((c) => c.name === name)}`);
      const key = make(folder);
      const run = await check(`file://${folder}`);
      expect(run.exitCode).toBe(1);
      expect(errorLine(run)).toMatch(/^::error::The backups of 'shop' failed the check: file:\/\//);
      expect(errorLine(run)).toMatch(expected(key));
      // The check's own table and the failure summary are both written.
      expect(run.summary).toContain('## PostgreSQL backup check: shop');
      expect(run.summary).toContain('## ❌ Check failed: shop');
    },
    60_000,
  );

  test('S3: a truncated archive and a newest archive without manifest each fail, naming the key', async () => {
    const truncated = keyAt(-60, 'truncated');
    await putS3(truncated, good.archive.subarray(0, 1000), manifestFor(truncated));
    const run = await check(`s3://${BUCKET}/truncated`);
    expect(run.exitCode).toBe(1);
    expect(errorLine(run)).toMatch(
      new RegExp(
        `s3://${BUCKET}/truncated: archive size expected ${good.manifest.archive.bytes} bytes .*actual ${esc(truncated)} is 1000 bytes in the listing: truncated`,
      ),
    );

    const older = keyAt(-3600, 'interrupted');
    await putS3(older, good.archive, manifestFor(older));
    const newest = keyAt(-60, 'interrupted');
    await putS3(newest, good.archive.subarray(0, 5000), null);
    const interrupted = await check(`s3://${BUCKET}/interrupted`);
    expect(interrupted.exitCode).toBe(1);
    expect(errorLine(interrupted)).toMatch(
      new RegExp(
        `s3://${BUCKET}/interrupted: newest archive expected has a manifest, actual ${esc(newest)} has no manifest`,
      ),
    );
    // The older complete backup is still named as the newest complete one.
    expect(interrupted.outputs['latest-key']).toBe(older);
  }, 60_000);
});

describe('restore/drill latest when the newest archive has no manifest', () => {
  test('restore warns naming that archive, then restores the older complete backup; drill latest:<label> likewise', async () => {
    const folder = path.join(work, 'restore-skip');
    const older = keyAt(-3600);
    putFile(folder, older, good.archive, manifestFor(older));
    const newest = keyAt(-60);
    putFile(folder, newest, good.archive.subarray(0, 4096), null);
    const run = await runAction({
      inputs: {
        command: 'restore',
        database: 'shop',
        destination: `file://${folder}`,
        'target-database-url': cluster.url('restored_skip', 'backup', PASSWORD),
        'create-database': 'true',
      },
      timeoutMs: 180_000,
    });
    expect(errorLine(run)).toBe('');
    expect(run.exitCode).toBe(0);
    const warning = run.stdout.split('\n').find((l) => l.startsWith('::warning::') && l.includes(newest));
    expect(warning).toBe(
      `::warning::The newest archive in file://${folder} has no manifest and is not used: ${newest} (no ${newest}.manifest.json). An interrupted backup (or one still running) leaves an archive without its manifest; using the older ${older} instead.`,
    );
    // The warning comes before the restore of the older backup starts.
    expect(run.stdout.indexOf(warning as string)).toBeLessThan(run.stdout.indexOf(`Restored ${older}`));
    expect(run.outputs['restored-key']).toBe(older);
    const products = await cluster.psql('shop', 'SELECT count(*) FROM shop.products');
    expect(Number(products)).toBeGreaterThan(0);
    expect(await cluster.psql('restored_skip', 'SELECT count(*) FROM shop.products')).toBe(products);

    // drill with latest:<label> warns the same way (labelled keys: `<time>-<label>.<ext>`).
    const labelled = (key: string): string => key.replace(/Z\./, 'Z-nightly.');
    putFile(folder, labelled(older), good.archive, manifestFor(labelled(older)));
    putFile(folder, labelled(newest), good.archive.subarray(0, 4096), null);
    const drill = await runAction({
      inputs: {
        command: 'drill',
        database: 'shop',
        destination: `file://${folder}`,
        'backup-key': 'latest:nightly',
        'target-database-url': cluster.url('drill_skip', 'backup', PASSWORD),
      },
      timeoutMs: 180_000,
    });
    expect(errorLine(drill)).toBe('');
    expect(drill.exitCode).toBe(0);
    expect(drill.stdout).toContain(
      `::warning::The newest archive in file://${folder} has no manifest and is not used: ${labelled(newest)} (no ${labelled(newest)}.manifest.json). An interrupted backup (or one still running) leaves an archive without its manifest; using the older ${labelled(older)} instead.`,
    );
    expect(drill.outputs['restored-key']).toBe(labelled(older));
    expect(drill.outputs['drill-passed']).toBe('true');
  }, 200_000);
});

describe('several destinations, one refusing writes', () => {
  let proxy: S3Proxy;
  beforeAll(async () => {
    // A bucket policy that denies s3:PutObject: reads and listings pass, every write is refused.
    proxy = await startS3Proxy(s3.port, ({ method }, req, res, forward) => {
      if (method === 'PUT' || method === 'POST') answerS3Error(req, res, 403, 'AccessDenied', 'Access Denied');
      else forward();
    });
  });
  afterAll(async () => proxy?.stop());

  test('the other destination gets archive, manifest, outputs, its summary row and retention; the refusing one is named; exit 1', async () => {
    const folder = path.join(work, 'two');
    // An old complete backup there, which keep-last: 1 must prune after the new one is stored.
    const old = 'shop/2020-01-01T000000Z.dump';
    putFile(folder, old, good.archive, manifestFor(old));
    const refusing = `s3://${BUCKET}/refused`;
    const run = await runAction({
      inputs: {
        'database-url': dbUrl(),
        destination: `${refusing}\nfile://${folder}`,
        'keep-last': '1',
        ...testS3Inputs(proxy.endpoint),
      },
    });
    expect(run.exitCode).toBe(1);
    const error = errorLine(run);
    expect(error).toMatch(
      new RegExp(`^::error::1 of 2 destinations failed: ${esc(refusing)}: .*(AccessDenied|Access Denied)`),
    );
    expect(error).toMatch(/\[upload\]$/);

    // The folder holds the new backup, complete, and the old one is gone.
    const key = run.outputs['backup-key'] as string;
    expect(key).toMatch(/^shop\/\d{4}-\d{2}-\d{2}T\d{6}Z\./);
    expect(run.outputs['manifest-key']).toBe(`${key}.manifest.json`);
    expect(run.outputs['backup-urls']).toBe(`file://${folder} ${key}`);
    expect(readdirSync(path.join(folder, 'shop')).sort()).toEqual(
      [path.basename(key), `${path.basename(key)}.manifest.json`].sort(),
    );
    const manifest = JSON.parse(readFileSync(path.join(folder, `${key}.manifest.json`), 'utf8')) as Manifest;
    expect(manifest.archive.key).toBe(key);
    expect(manifest.archive.bytes).toBe(statSync(path.join(folder, key)).size);
    expect(run.outputs['size-bytes']).toBe(String(manifest.archive.bytes));
    expect(run.outputs['sha256']).toBe(manifest.archive.sha256);
    expect(existsSync(path.join(folder, old))).toBe(false);
    expect(existsSync(path.join(folder, `${old}.manifest.json`))).toBe(false);
    expect(run.outputs['pruned-count']).toBe('1');
    // Nothing under the refusing destination's prefix.
    expect(s3.requests.filter((r) => r.startsWith('PUT') && r.includes('/refused/'))).toEqual([]);

    // Summary: both destinations, the failed one named with its error; retention; the failure section.
    expect(run.summary).toContain(`(❌ 1 of 2 destinations failed: ${refusing})`);
    expect(run.summary).toMatch(new RegExp(`\\| ${esc(refusing)} \\| — \\| ❌ failed: .*Access ?Denied.* \\|`));
    expect(run.summary).toContain(`| file://${folder} | \`${key}\` | ✅ stored and verified |`);
    expect(run.summary).toContain('2020-01-01T000000Z');
    expect(run.summary).toContain('## ❌ Backup failed: shop');
    expect(run.summary).toContain('| Failed phase | **upload** |');
    expect(run.summary).toContain(`| Newest good backup | \`${key}\` in file://${folder}, `);
    expect(run.summary).not.toContain(PASSWORD);
  }, 120_000);
});

describe('a failed run writes a job summary', () => {
  test('wrong password after a good backup: command, phase, error, hint and the newest good backup', async () => {
    const folder = path.join(work, 'wrongpw');
    cpSync(good.folder, folder, { recursive: true });
    const wrong = `${PASSWORD}-old`;
    const run = await runAction({ inputs: { 'database-url': dbUrl(wrong), destination: `file://${folder}` } });
    expect(run.exitCode).toBe(1);
    expect(errorLine(run)).toMatch(/password authentication failed/);
    const summary = run.summary;
    expect(summary).toContain('## ❌ Backup failed: shop');
    expect(summary).toContain('| Command | `backup` |');
    expect(summary).toContain('| Failed phase | **connect** |');
    expect(summary).toMatch(/### Error\n\n```text\n.*password authentication failed for user "backup"/);
    expect(summary).toContain('### What to check (phase: connect)');
    expect(summary).toContain('- Credentials and `sslmode`: was the password rotated, does the server require TLS?');
    expect(summary).toMatch(
      new RegExp(
        `\\| Newest good backup \\| \`${esc(good.key)}\` in file://${esc(folder)}, \\d+ (second|minute)s? before this failure \\|`,
      ),
    );
    expect(summary).not.toContain(wrong);
    expect(summary).not.toContain(encodeURIComponent(wrong));
  }, 60_000);

  test('a failure before any backup exists: the newest good backup is unknown; summary: false writes none', async () => {
    const folder = path.join(work, 'empty');
    const run = await runAction({
      inputs: { 'database-url': dbUrl(`${PASSWORD}-x`), destination: `file://${folder}` },
    });
    expect(run.exitCode).toBe(1);
    expect(run.summary).toContain('| Newest good backup | unknown |');

    const quiet = await runAction({
      inputs: { 'database-url': dbUrl(`${PASSWORD}-x`), destination: `file://${folder}`, summary: 'false' },
    });
    expect(quiet.exitCode).toBe(1);
    expect(errorLine(quiet)).toMatch(/password authentication failed/);
    expect(quiet.summary).toBe('');
  }, 60_000);

  test("the lookup of the newest good backup failing does not hide the run's own error", async () => {
    // A good, empty destination first (so the pre-flight passes and the run fails at connect), then
    // one whose listing fails: the lookup tries both and fails on the second.
    const destination = `s3://${BUCKET}/lookup-empty\ns3://no-such-bucket/x`;
    const run = await runAction({
      inputs: { 'database-url': dbUrl(`${PASSWORD}-y`), destination, ...testS3Inputs(s3.endpoint) },
    });
    expect(run.exitCode).toBe(1);
    expect(errorLine(run)).toMatch(/password authentication failed.*\[connect\]$/);
    expect(run.stdout).toMatch(
      /Could not list s3:\/\/no-such-bucket\/x for the last successful backup: .*no-such-bucket/,
    );
    expect(run.summary).toContain('| Failed phase | **connect** |');
    expect(run.summary).toContain('| Newest good backup | unknown |');
    expect(run.summary).toMatch(/password authentication failed/);
  }, 60_000);

  test('a bad input: the summary names the config phase and the input', async () => {
    const run = await runAction({
      inputs: { 'database-url': dbUrl(), destination: `file://${work}/never`, format: 'tar' },
    });
    expect(run.exitCode).toBe(1);
    expect(run.summary).toContain('| Failed phase | **config** |');
    expect(run.summary).toContain("Input 'format': 'tar' is not one of: custom, directory, plain.");
    expect(run.summary).not.toContain(PASSWORD);
  }, 60_000);
});

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
