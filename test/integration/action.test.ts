/**
 * Black box: the committed bundle dist/index.js run as a process with INPUT_* variables, on Node 20
 * and Node 24 (the runtime of `runs.using: node24`), against real PostgreSQL and S3 servers.
 * Every run's stdout, stderr, outputs and summary are scanned for the sentinel password.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Manifest } from '../../src/manifest.js';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { nodeBinaries, runAction, type ActionRun } from '../support/action-runner.js';
import { FakeGitHub } from '../support/fake-github.js';
import { keyTime } from '../support/key-time.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import { clockReaches } from '../support/poll.js';
import { startS3Server, testS3Settings } from '../support/s3-server.js';

const execFileAsync = promisify(execFile);
const SENTINEL = 'Sentinel-P@ss:/%#? w0rd';
const SENTINEL_FORMS = [SENTINEL, encodeURIComponent(SENTINEL), 'Sentinel-P%40ss', 'P@ss:/%#?'];

let cluster: Cluster;
let s3: Awaited<ReturnType<typeof startS3Server>>;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'action-bb-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  await loadSampleDb(cluster, 'shop');
  await cluster.psql('postgres', `CREATE ROLE backup LOGIN SUPERUSER PASSWORD '${SENTINEL.replace(/'/g, "''")}'`);
  await s3.createBucket('bb-test');
}, 120_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/**
 * The secret must never be printed at all (stronger than the runner's masking, which the bundle
 * asks for with ::add-mask:: before anything else).
 */
function expectNoSecret(run: ActionRun, password = SENTINEL): void {
  expect(run.masks).toEqual(expect.arrayContaining([password, encodeURIComponent(password)]));
  expect(run.firstNonMaskLine).toBeGreaterThanOrEqual(run.masks.length);
  const everything = [run.stdout, run.stderr, run.summary, JSON.stringify(run.outputs)].join('\n');
  for (const form of SENTINEL_FORMS) expect(everything).not.toContain(form);
}

/** Node ≥ 22.15 has zstd in zlib; process.execPath is asked directly, other binaries by version. */
function nodeHasZlibZstd(node: string): boolean {
  if (node === process.execPath) return 'createZstdCompress' in zlib;
  const [major, minor] = execFileSyncText(node, ['-p', 'process.versions.node']).split('.').map(Number) as [
    number,
    number,
  ];
  return major > 22 || (major === 22 && minor >= 15);
}

function execFileSyncText(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8' }).trim();
}

/** A PATH with every program of the current PATH except `names` (a folder of symlinks). */
function pathWithout(names: string[]): string {
  const dir = mkdtempSync(path.join(work, 'path-'));
  for (const entry of (process.env.PATH ?? '').split(':').filter(Boolean).reverse()) {
    let files: string[];
    try {
      files = readdirSync(entry);
    } catch {
      continue;
    }
    for (const file of files) {
      if (names.includes(file)) continue;
      rmSync(path.join(dir, file), { force: true });
      symlinkSync(path.join(entry, file), path.join(dir, file));
    }
  }
  return dir;
}

const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

describe.each(nodeBinaries())('dist/index.js on $name', ({ path: node }) => {
  test('backup to a local folder: exit 0, outputs, summary, file matches size and sha256', async () => {
    const folder = path.join(
      work,
      `folder-${path.basename(path.dirname(node))}-${Math.random().toString(36).slice(2)}`,
    );
    const run = await runAction({
      node,
      inputs: {
        'database-url': cluster.url('shop', 'backup', SENTINEL),
        destination: `file://${folder}`,
        label: 'manual',
      },
    });
    expect(run.stderr + run.stdout).not.toMatch(/::error::/);
    expect(run.exitCode).toBe(0);
    expectNoSecret(run);
    const key = run.outputs['backup-key'] as string;
    expect(key).toMatch(/^shop\/\d{4}-\d{2}-\d{2}T\d{6}Z-manual\.dump(\.zst)?$/);
    const file = path.join(folder, key);
    expect(String(statSync(file).size)).toBe(run.outputs['size-bytes']);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(run.outputs['sha256']);
    expect(run.outputs['manifest-key']).toBe(`${key}.manifest.json`);
    expect(run.outputs['server-version']).toMatch(/^15\./);
    expect(Number(run.outputs['duration-seconds'])).toBeGreaterThan(0);
    const manifest = JSON.parse(
      readFileSync(path.join(folder, run.outputs['manifest-key'] as string), 'utf8'),
    ) as Manifest;
    expect(manifest.archive.sha256).toBe(run.outputs['sha256']);
    // The zstd CLI is on PATH, so it compresses (pg_dump writes straight into it).
    expect(manifest.compression.engine).toBe('zstd-cli');
    const { stdout: toc } = await execFileAsync(
      'sh',
      ['-c', 'zstd -q -d -c "$1" | "$2" --list', 'sh', file, `${cluster.binDir}/pg_restore`],
      { maxBuffer: 1 << 24 },
    );
    expect(toc).toMatch(/TABLE DATA shop products /);
    expect(run.summary).toContain('## PostgreSQL backup: shop');
    expect(run.summary).toContain(key);
    for (const phase of ['Connect', 'PostgreSQL client', 'Dump and upload', 'Verify', 'Manifest'])
      expect(run.stdout).toContain(`::group::${phase}`);
  }, 120_000);

  test('without the zstd CLI: Node 24 compresses with its own zlib zstd, older Node stops with a clear error', async () => {
    const folder = path.join(
      work,
      `no-zstd-${path.basename(path.dirname(node))}-${Math.random().toString(36).slice(2)}`,
    );
    const run = await runAction({
      node,
      inputs: { 'database-url': cluster.url('shop', 'backup', SENTINEL), destination: `file://${folder}` },
      env: { PATH: pathWithout(['zstd']) },
    });
    expectNoSecret(run);
    if (!nodeHasZlibZstd(node)) {
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(
        /::error::.*compression zstd needs pg_dump 16 or newer, Node 24's zlib or the zstd command-line tool/,
      );
      expect(existsSync(folder)).toBe(false);
      return;
    }
    expect(run.exitCode).toBe(0);
    const manifest = JSON.parse(
      readFileSync(path.join(folder, run.outputs['manifest-key'] as string), 'utf8'),
    ) as Manifest;
    expect(manifest.compression.engine).toBe('node-zlib');
    const file = path.join(folder, run.outputs['backup-key'] as string);
    const { stdout: toc } = await execFileAsync(
      'sh',
      ['-c', 'zstd -q -d -c "$1" | "$2" --list', 'sh', file, `${cluster.binDir}/pg_restore`],
      { maxBuffer: 1 << 24 },
    );
    expect(toc).toMatch(/TABLE DATA shop products /);
  }, 120_000);

  test('backup to S3 with host/port/username/password inputs and credentials from the environment', async () => {
    const run = await runAction({
      node,
      env: S3_ENV,
      inputs: {
        host: '127.0.0.1',
        port: String(cluster.port),
        username: 'backup',
        password: SENTINEL,
        database: 'shop',
        destination: 's3://bb-test/gh',
        's3-endpoint': s3.endpoint,
        summary: 'false',
      },
    });
    expect(run.exitCode).toBe(0);
    expectNoSecret(run);
    expect(run.summary).toBe('');
    const client = new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'bb-test', Prefix: 'gh/shop/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key);
    expect(keys).toContain(run.outputs['backup-key']);
    expect(keys).toContain(run.outputs['manifest-key']);
    expect(listed.Contents?.find((o) => o.Key === run.outputs['backup-key'])?.Size).toBe(
      Number(run.outputs['size-bytes']),
    );
  }, 120_000);

  test('a bad input fails before any work, naming the input', async () => {
    const run = await runAction({
      node,
      inputs: {
        'database-url': cluster.url('shop', 'backup', SENTINEL),
        destination: 's3://bb-test/x',
        format: 'tar',
      },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain("::error::Input 'format': 'tar' is not one of: custom, directory, plain.");
    expect(run.stdout).not.toContain('::group::Connect');
    expectNoSecret(run);
  });

  test('a wrong password fails with the cause and no secret in the log', async () => {
    const run = await runAction({
      node,
      inputs: { 'database-url': cluster.url('shop', 'backup', `${SENTINEL}x`), destination: `file://${work}/never` },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::.*password authentication failed/);
    expectNoSecret(run, `${SENTINEL}x`);
  });
});

describe('failure issue through the bundle (fake GitHub REST API on 127.0.0.1)', () => {
  let github: FakeGitHub;
  const TOKEN = 'ghs_Sentinel_Token_123';
  beforeAll(async () => {
    github = await FakeGitHub.start({ token: TOKEN });
  });
  afterAll(async () => {
    await github?.stop();
  });
  const env = () => ({
    GITHUB_API_URL: github.url,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_WORKFLOW: 'Nightly backup',
    GITHUB_JOB: 'backup',
    GITHUB_RUN_ID: '4242',
  });

  test('two failed runs: one issue, then a comment; a good run closes it; no secret in any of it', async () => {
    const bad = {
      'database-url': cluster.url('shop', 'backup', `${SENTINEL}x`),
      destination: `file://${work}/issue-flow`,
      'github-token': TOKEN,
    };
    const first = await runAction({ env: env(), inputs: bad });
    expect(first.exitCode).toBe(1);
    expect(first.stdout).toMatch(/::error::.*password authentication failed/);
    expect(github.issues).toHaveLength(1);
    const issue = github.issues[0]!;
    expect(issue.title).toBe('Backup failed: shop (Nightly backup)');
    expect(issue.labels).toEqual(['backup-failure']);
    expect(issue.body).toContain('password authentication failed');
    expect(issue.body).toContain('https://github.example/acme/shop/actions/runs/4242');

    const second = await runAction({ env: { ...env(), GITHUB_RUN_ID: '4243' }, inputs: bad });
    expect(second.exitCode).toBe(1);
    expect(github.issues).toHaveLength(1);
    expect(issue.comments).toHaveLength(1);

    const good = await runAction({
      env: { ...env(), GITHUB_RUN_ID: '4244' },
      inputs: { ...bad, 'database-url': cluster.url('shop', 'backup', SENTINEL) },
    });
    expect(good.exitCode).toBe(0);
    expect(issue.state).toBe('closed');
    expect(issue.comments.at(-1)?.body).toContain(good.outputs['backup-key']);

    const everything = JSON.stringify(github.issues) + first.stdout + second.stdout + good.stdout;
    for (const form of [...SENTINEL_FORMS, TOKEN]) expect(everything).not.toContain(form);
    expect(
      github.requests.every((r) => r.authorization === `token ${TOKEN}` || r.authorization === `Bearer ${TOKEN}`),
    ).toBe(true);
  }, 120_000);

  test('a token without issues: write: the warning names the permission, the run still fails with the original error', async () => {
    github.override = (request) =>
      request.method === 'POST'
        ? {
            status: 403,
            body: {
              message: 'Resource not accessible by integration',
              documentation_url: 'https://docs.github.com/rest',
              status: '403',
            },
          }
        : undefined;
    try {
      const run = await runAction({
        env: { ...env(), GITHUB_JOB: 'other-job' },
        inputs: {
          'database-url': cluster.url('shop', 'backup', 'wrong'),
          destination: `file://${work}/perm`,
          'github-token': TOKEN,
        },
      });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/::error::.*password authentication failed/);
      expect(run.stdout).toMatch(/::warning::.*issues: write/);
    } finally {
      github.override = undefined;
    }
  }, 60_000);
});

describe('retention through the bundle', () => {
  test('backups with keep-last 2 prune the oldest after each verified backup; list and prune commands work without database-url', async () => {
    const folder = path.join(work, 'retention');
    const backupInputs = {
      'database-url': cluster.url('shop', 'backup', SENTINEL),
      destination: `file://${folder}`,
      'keep-last': '2',
      compression: 'none',
      format: 'plain',
      'schema-only': 'true',
    };
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) {
      // Keys have whole seconds: each backup must get a later one than the one before.
      if (i > 0) await clockReaches(keyTime(keys[i - 1] as string).getTime() + 1000);
      const run = await runAction({ inputs: backupInputs });
      expect(run.exitCode).toBe(0);
      expectNoSecret(run);
      keys.push(run.outputs['backup-key'] as string);
      expect(run.outputs['kept-count']).toBe(String(Math.min(i + 1, 2)));
      expect(run.outputs['pruned-count']).toBe(i === 2 ? '1' : '0');
    }
    const list = await runAction({
      inputs: { command: 'list', database: 'shop', destination: `file://${folder}`, 'keep-last': '1' },
    });
    expect(list.exitCode).toBe(0);
    const listed = JSON.parse(list.outputs['backups'] as string) as {
      key: string;
      complete: boolean;
      retention?: { action: string };
    }[];
    expect(listed.map((b) => b.key).sort()).toEqual([keys[1], keys[2]].sort());
    expect(listed.find((b) => b.key === keys[2])?.retention?.action).toBe('keep');
    expect(listed.find((b) => b.key === keys[1])?.retention?.action).toBe('delete');
    expect(list.summary).toContain(keys[2]);

    const dry = await runAction({
      inputs: {
        command: 'prune',
        database: 'shop',
        destination: `file://${folder}`,
        'keep-last': '1',
        'prune-dry-run': 'true',
      },
    });
    expect(dry.exitCode).toBe(0);
    expect(existsSync(path.join(folder, keys[1] as string))).toBe(true);

    const prune = await runAction({
      inputs: { command: 'prune', database: 'shop', destination: `file://${folder}`, 'keep-last': '1' },
    });
    expect(prune.exitCode).toBe(0);
    expect(prune.outputs['pruned-count']).toBe('1');
    expect(existsSync(path.join(folder, keys[1] as string))).toBe(false);
    expect(existsSync(path.join(folder, `${keys[1]}.manifest.json`))).toBe(false);
    expect(existsSync(path.join(folder, keys[2] as string))).toBe(true);
  }, 120_000);
});

describe('restore drill and freshness check through the bundle (no production credentials)', () => {
  test('backup, then check and a drill into a scratch database that is dropped afterwards', async () => {
    const folder = path.join(work, 'drill');
    const backup = await runAction({
      inputs: {
        'database-url': cluster.url('shop', 'backup', SENTINEL),
        destination: `file://${folder}`,
        label: 'daily',
      },
    });
    expect(backup.exitCode).toBe(0);

    const check = await runAction({
      inputs: {
        command: 'check',
        database: 'shop',
        destination: `file://${folder}`,
        'max-age': '1h',
        'expect-label': 'daily',
      },
    });
    expect(check.exitCode).toBe(0);
    expect(check.outputs['latest-key']).toBe(backup.outputs['backup-key']);
    expect(Number(check.outputs['latest-age-seconds'])).toBeLessThan(3600);
    expect(check.outputs['latest-server-major']).toBe('15');

    const products = Number(await cluster.psql('shop', 'SELECT count(*) FROM shop.products'));
    expect(products).toBeGreaterThan(7);
    const drill = await runAction({
      inputs: {
        command: 'drill',
        database: 'shop',
        destination: `file://${folder}`,
        'target-database-url': cluster.url('drill_scratch', 'backup', SENTINEL),
        'drill-sql':
          `SELECT count(*) = ${products} FROM shop.products\n` +
          "SELECT exists (SELECT 1 FROM shop.customers WHERE email = 'customer1@example.org')",
      },
    });
    expect(drill.stdout + drill.stderr).not.toMatch(/::error::/);
    expect(drill.exitCode).toBe(0);
    expectNoSecret(drill);
    expect(drill.outputs['drill-passed']).toBe('true');
    expect(drill.outputs['restored-key']).toBe(backup.outputs['backup-key']);
    expect(Number(drill.outputs['restore-seconds'])).toBeGreaterThan(0);
    expect(drill.summary).toMatch(/products/);
    expect(await cluster.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'drill_scratch'")).toBe(
      '0',
    );

    const failing = await runAction({
      inputs: {
        command: 'drill',
        database: 'shop',
        destination: `file://${folder}`,
        'target-database-url': cluster.url('drill_scratch', 'backup', SENTINEL),
        'drill-sql': 'SELECT count(*) = 7 FROM shop.products',
      },
    });
    expect(failing.exitCode).toBe(1);
    expect(failing.outputs['drill-passed']).toBe('false');
    expect(failing.stdout).toMatch(/::error::.*drill/i);
  }, 180_000);
});
