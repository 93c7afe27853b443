/**
 * Failure reporting and `command: check` end to end through the committed bundle (dist/index.js run
 * as a process, as the runner does), with nothing faked but the GitHub REST API:
 *
 * - a real PostgreSQL cluster with the sample shop, backed up into a real S3 server (s3rver) on 127.0.0.1;
 * - the fake GitHub REST API (test/support/fake-github.ts) on 127.0.0.1, reached through GITHUB_API_URL.
 *
 * Lifecycle: a good backup, then two runs that fail for real reasons (a wrong password, then a role
 * that may not read a table) open ONE issue naming the good backup as the last successful one and
 * then comment on it; a good run closes it. Then `command: check` on a local folder: outputs and job
 * summary describe the newest backup; a too-small max-age and an empty folder fail with clear errors.
 *
 * Expected values come from the earlier runs' outputs (backup-key, size-bytes), from the clock around
 * each run and from the server itself, never from the run under test.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { FakeGitHub, type FakeIssue } from '../support/fake-github.js';
import { keyTime } from '../support/key-time.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import { clockReaches } from '../support/poll.js';
import { startS3Server, testS3Inputs, type S3Server } from '../support/s3-server.js';

const TOKEN = 'ghs_ReportBundleToken_0123456789';
const GOOD_PASSWORD = 'Report-Bundle-pw-7c1d';
const WRONG_PASSWORD = 'Wrong-pw-3e9a';
const READER_PASSWORD = 'Reader-pw-5b2f';
const BUCKET = 'reports';
const WORKFLOW = 'Nightly backup';

let cluster: Cluster;
let s3: S3Server;
let github: FakeGitHub;
let work: string;
/** PostgreSQL major of the cluster, asked from the server. */
let serverMajor: number;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'report-bundle-'));
  [cluster, s3, github] = await Promise.all([startCluster(), startS3Server(), FakeGitHub.start({ token: TOKEN })]);
  await loadSampleDb(cluster, 'shop');
  await s3.createBucket(BUCKET);
  await cluster.psql('postgres', `CREATE ROLE backup LOGIN SUPERUSER PASSWORD '${GOOD_PASSWORD}'`);
  // A role that can read every table but one: pg_dump stops on `payments`.
  await cluster.psql('postgres', `CREATE ROLE reader LOGIN PASSWORD '${READER_PASSWORD}'`);
  await cluster.psql(
    'shop',
    'GRANT USAGE ON SCHEMA shop TO reader; GRANT SELECT ON ALL TABLES IN SCHEMA shop TO reader; ' +
      'GRANT SELECT ON ALL SEQUENCES IN SCHEMA shop TO reader; REVOKE SELECT ON shop.payments FROM reader;',
  );
  serverMajor = Math.floor(Number(await cluster.psql('postgres', 'SHOW server_version_num')) / 10_000);
}, 180_000);

afterAll(async () => {
  await Promise.all([cluster?.stop(), s3?.stop(), github?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The GitHub Actions variables of run `runId` of job `job`. */
function githubEnv(runId: number, job = 'backup'): Record<string, string> {
  return {
    GITHUB_API_URL: github.url,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_WORKFLOW: WORKFLOW,
    GITHUB_JOB: job,
    GITHUB_RUN_ID: String(runId),
    GITHUB_RUN_ATTEMPT: '1',
  };
}

interface TimedRun {
  run: ActionRun;
  /** Clock just before the process started and just after it ended (ms). */
  started: number;
  ended: number;
}

async function timed(options: Parameters<typeof runAction>[0]): Promise<TimedRun> {
  const started = Date.now();
  const run = await runAction(options);
  return { run, started, ended: Date.now() };
}

/** `2026-05-01 03:00:00 UTC`, the form the issue uses for times (written here independently). */
function utcText(time: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${time.getUTCFullYear()}-${p(time.getUTCMonth() + 1)}-${p(time.getUTCDate())} ${p(time.getUTCHours())}:${p(time.getUTCMinutes())}:${p(time.getUTCSeconds())} UTC`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Seconds in a short human age (`12 seconds`, `1 minute`, `2 minutes`). */
function ageSeconds(text: string): number {
  const m = /^(\d+) (second|minute)s?$/.exec(text);
  if (!m) throw new Error(`unexpected age '${text}'`);
  return Number(m[1]) * (m[2] === 'minute' ? 60 : 1);
}

/**
 * Asserts that `text` names `key` as the last successful backup, with its time and an age that fits
 * the clock around the failed run (`line` is the table row or the list item that carries it).
 */
function expectLastSuccess(text: string, prefix: string, key: string, failed: TimedRun): void {
  const time = keyTime(key);
  const re = new RegExp(
    `${escapeRegExp(prefix)}\`${escapeRegExp(key)}\`, (\\d+ (?:second|minute)s?) before this failure \\(${escapeRegExp(utcText(time))}\\)`,
  );
  const m = re.exec(text);
  expect(m).not.toBeNull();
  const age = ageSeconds((m as RegExpExecArray)[1] as string);
  expect(age).toBeGreaterThanOrEqual(Math.floor((failed.started - time.getTime()) / 1000) - 1);
  expect(age).toBeLessThanOrEqual(Math.ceil((failed.ended - time.getTime()) / 1000));
}

async function bucketKeys(): Promise<string[]> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    return (listed.Contents ?? []).map((o) => o.Key as string).sort();
  } finally {
    client.destroy();
  }
}

describe('failure issue lifecycle through the bundle (S3 destination, fake GitHub API)', () => {
  const destination = `s3://${BUCKET}/prod`;
  const inputs = (databaseUrl: string): Record<string, string> => ({
    'database-url': databaseUrl,
    destination,
    ...testS3Inputs(s3.endpoint),
    'github-token': TOKEN,
  });
  const issueCalls = (): string[] => github.writes.map((r) => `${r.method} ${r.path}`);

  test('good backup → failure opens one issue naming it → second failure comments → good backup closes it', async () => {
    // 1. A good backup: no open issue, so nothing is written to GitHub.
    const good1 = await timed({ env: githubEnv(5001), inputs: inputs(cluster.url('shop', 'backup', GOOD_PASSWORD)) });
    expect(good1.run.stdout).not.toMatch(/::error::/);
    expect(good1.run.exitCode).toBe(0);
    const key1 = good1.run.outputs['backup-key'] as string;
    expect(key1).toMatch(/^prod\/shop\/\d{4}-\d{2}-\d{2}T\d{6}Z\.dump(\.zst)?$/);
    expect(keyTime(key1).getTime()).toBeGreaterThanOrEqual(Math.floor(good1.started / 1000) * 1000);
    expect(keyTime(key1).getTime()).toBeLessThanOrEqual(good1.ended);
    expect(github.issues).toEqual([]);
    expect(issueCalls()).toEqual([]);

    // 2. Wrong password: the run fails and opens ONE issue naming key1 as the last good backup.
    const fail1 = await timed({
      env: githubEnv(5002),
      inputs: inputs(cluster.url('shop', 'backup', WRONG_PASSWORD)),
    });
    expect(fail1.run.exitCode).toBe(1);
    expect(fail1.run.stdout).toMatch(/::error::.*password authentication failed for user "backup".*\[connect\]/);
    expect(github.issues).toHaveLength(1);
    const issue = github.issues[0] as FakeIssue;
    expect(issue.state).toBe('open');
    expect(issue.title).toBe(`Backup failed: shop (${WORKFLOW})`);
    expect(issue.labels).toEqual(['backup-failure']);
    expect(issue.body.split('\n')[0]).toBe(
      '<!-- postgres-backup-action:v1 workflow=Nightly%20backup job=backup database=shop -->',
    );
    expect(issue.body).toContain('| Failed phase | **connect** |');
    expect(issue.body).toContain('[run 5002](https://github.example/acme/shop/actions/runs/5002)');
    expect(issue.body).toContain('password authentication failed for user "backup"');
    expectLastSuccess(issue.body, '| Last successful backup | ', key1, fail1);
    expect(issue.comments).toEqual([]);
    expect(issueCalls()).toEqual(['POST /repos/acme/shop/issues']);

    // 3. Another failure, for another reason (no SELECT on one table): a comment on the same issue.
    const fail2 = await timed({
      env: githubEnv(5003),
      inputs: inputs(cluster.url('shop', 'reader', READER_PASSWORD)),
    });
    expect(fail2.run.exitCode).toBe(1);
    expect(fail2.run.stdout).toMatch(/::error::.*permission denied for table payments/);
    expect(github.issues).toHaveLength(1);
    expect(issue.state).toBe('open');
    expect(issue.comments).toHaveLength(1);
    const again = issue.comments[0]?.body as string;
    expect(again).toContain('**Failed again** (2nd consecutive failed run)');
    expect(again).toContain('[run 5003](https://github.example/acme/shop/actions/runs/5003)');
    expect(again).toContain('permission denied for table payments');
    expect(again).not.toContain('password authentication failed');
    expectLastSuccess(again, '- Last successful backup: ', key1, fail2);
    expect(issueCalls()).toEqual(['POST /repos/acme/shop/issues', 'POST /repos/acme/shop/issues/1/comments']);

    // 4. A good backup again: "Recovered" with its key, and the issue is closed as completed.
    const good2 = await timed({ env: githubEnv(5004), inputs: inputs(cluster.url('shop', 'backup', GOOD_PASSWORD)) });
    expect(good2.run.stdout).not.toMatch(/::error::/);
    expect(good2.run.exitCode).toBe(0);
    const key2 = good2.run.outputs['backup-key'] as string;
    expect(key2).toMatch(/^prod\/shop\/\d{4}-\d{2}-\d{2}T\d{6}Z\.dump(\.zst)?$/);
    expect(key2 > key1).toBe(true);
    expect(github.issues).toHaveLength(1);
    expect(issue.state).toBe('closed');
    expect(issue.state_reason).toBe('completed');
    expect(issue.comments).toHaveLength(2);
    const recovered = issue.comments[1]?.body as string;
    expect(recovered).toContain('**Recovered**');
    expect(recovered).toContain('[run 5004](https://github.example/acme/shop/actions/runs/5004)');
    expect(recovered).toContain(`New backup: \`${key2}\``);
    expect(issueCalls()).toEqual([
      'POST /repos/acme/shop/issues',
      'POST /repos/acme/shop/issues/1/comments',
      'POST /repos/acme/shop/issues/1/comments',
      'PATCH /repos/acme/shop/issues/1',
    ]);
    expect(github.writes.at(-1)?.body).toEqual({ state: 'closed', state_reason: 'completed' });

    // Every request carried the token; no password reached GitHub.
    expect(
      github.requests.every((r) => r.authorization === `token ${TOKEN}` || r.authorization === `Bearer ${TOKEN}`),
    ).toBe(true);
    const written = JSON.stringify(github.requests.map((r) => r.body));
    for (const secret of [GOOD_PASSWORD, WRONG_PASSWORD, READER_PASSWORD, TOKEN]) expect(written).not.toContain(secret);

    // The failed runs left nothing behind in the bucket: the two good archives and their manifests only.
    expect(await bucketKeys()).toEqual([key1, `${key1}.manifest.json`, key2, `${key2}.manifest.json`].sort());
    expect(await s3.pendingMultipartUploads(BUCKET)).toEqual([]);
  }, 240_000);
});

describe('command: check through the bundle (local folder)', () => {
  let folder: string;
  let first: TimedRun;
  let newest: TimedRun;

  beforeAll(async () => {
    folder = path.join(work, 'check');
    const backupInputs = {
      'database-url': cluster.url('shop', 'backup', GOOD_PASSWORD),
      destination: `file://${folder}`,
      label: 'daily',
    };
    first = await timed({ inputs: backupInputs });
    if (first.run.exitCode !== 0) throw new Error(`first backup failed:\n${first.run.stdout}`);
    // Keys have whole seconds: the second backup must get a later one.
    await clockReaches(keyTime(first.run.outputs['backup-key'] as string).getTime() + 1000);
    newest = await timed({ inputs: backupInputs });
    if (newest.run.exitCode !== 0) throw new Error(`second backup failed:\n${newest.run.stdout}`);
  }, 180_000);

  test('a passing check: outputs and job summary describe the newest backup', async () => {
    const key = newest.run.outputs['backup-key'] as string;
    expect(key).not.toBe(first.run.outputs['backup-key']);
    const check = await timed({
      inputs: {
        command: 'check',
        database: 'shop',
        destination: `file://${folder}`,
        'max-age': '1h',
        'min-size-ratio': '0.5',
        'expect-label': 'daily',
      },
    });
    expect(check.run.stdout).not.toMatch(/::error::/);
    expect(check.run.exitCode).toBe(0);

    // Outputs: the newest backup's key, an age that fits the clock, the server's major.
    expect(check.run.outputs['latest-key']).toBe(key);
    const time = keyTime(key).getTime();
    const age = Number(check.run.outputs['latest-age-seconds']);
    expect(Number.isInteger(age)).toBe(true);
    expect(age).toBeGreaterThanOrEqual(Math.round((check.started - time) / 1000));
    expect(age).toBeLessThanOrEqual(Math.round((check.ended - time) / 1000));
    expect(age).toBeLessThan(60);
    expect(check.run.outputs['latest-server-major']).toBe(String(serverMajor));
    expect((newest.run.outputs['server-version'] as string).split('.')[0]).toBe(String(serverMajor));

    // Job summary: the verdict, when, and one row per check with the values expected from the backups.
    const summary = check.run.summary;
    expect(summary).toContain('## PostgreSQL backup check: shop');
    const verdict = /✅ passed at (\S+)/.exec(summary);
    expect(verdict).not.toBeNull();
    const checkedAt = Date.parse((verdict as RegExpExecArray)[1] as string);
    expect(checkedAt).toBeGreaterThanOrEqual(check.started);
    expect(checkedAt).toBeLessThanOrEqual(check.ended);
    expect(summary).toContain(`### file://${folder}`);
    expect(summary).toContain(`| complete backup with label 'daily' | at least one | ${key} | ✅ |`);
    expect(summary).toContain(`| age | ≤ 1h | ${age}s | ✅ |`);
    const ratio = ((Number(newest.run.outputs['size-bytes']) / Number(first.run.outputs['size-bytes'])) * 100).toFixed(
      1,
    );
    expect(summary).toMatch(
      new RegExp(
        `\\| size \\| ≥ 50% of the median [\\d.]+ [kMG]?B \\(1 earlier\\) \\| [\\d.]+ [kMG]?B \\(${escapeRegExp(ratio)}%\\) \\| ✅ \\|`,
      ),
    );
    expect(summary).not.toContain('❌');
  }, 60_000);

  test('a too-small max-age fails the step with a clear error, still publishing outputs, summary and an issue', async () => {
    const key = newest.run.outputs['backup-key'] as string;
    const time = keyTime(key).getTime();
    // Make the newest backup at least 3 s old so that max-age 1s cannot pass.
    await clockReaches(time + 3000);
    const before = github.issues.length;
    const check = await timed({
      env: githubEnv(6001, 'check'),
      inputs: {
        command: 'check',
        database: 'shop',
        destination: `file://${folder}`,
        'max-age': '1s',
        'github-token': TOKEN,
      },
    });
    expect(check.run.exitCode).toBe(1);
    const age = Number(check.run.outputs['latest-age-seconds']);
    expect(age).toBeGreaterThanOrEqual(Math.round((check.started - time) / 1000));
    expect(age).toBeLessThanOrEqual(Math.round((check.ended - time) / 1000));
    expect(age).toBeGreaterThan(1);
    expect(check.run.stdout).toContain(
      `::error::The backups of 'shop' failed the check: file://${folder}: age expected ≤ 1s, actual ${age}s. [check]`,
    );
    expect(check.run.outputs['latest-key']).toBe(key);
    expect(check.run.summary).toMatch(/❌ failed at \S+/);
    expect(check.run.summary).toContain(`| age | ≤ 1s | ${age}s | ❌ |`);

    // The failed check reports like any command: its own issue (job `check`), naming the newest backup.
    expect(github.issues).toHaveLength(before + 1);
    const issue = github.issues.at(-1) as FakeIssue;
    expect(issue.title).toBe(`Check failed: shop (${WORKFLOW})`);
    expect(issue.state).toBe('open');
    expect(issue.body.split('\n')[0]).toBe(
      '<!-- postgres-backup-action:v1 workflow=Nightly%20backup job=check database=shop -->',
    );
    expect(issue.body).toContain('| Failed phase | **check** |');
    expect(issue.body).toContain('age expected ≤ 1s');
    expectLastSuccess(issue.body, '| Last successful backup | ', key, check);
  }, 60_000);

  test('an empty destination fails the check: no backups at all', async () => {
    const empty = path.join(work, 'empty');
    mkdirSync(empty, { recursive: true });
    const check = await runAction({
      inputs: { command: 'check', database: 'shop', destination: `file://${empty}`, 'max-age': '26h' },
    });
    expect(check.exitCode).toBe(1);
    expect(check.stdout).toContain(
      `::error::The backups of 'shop' failed the check: file://${empty}: complete backup expected at least one, actual no backups at all. [check]`,
    );
    expect(check.outputs['latest-key']).toBe('');
    expect(check.outputs['latest-age-seconds']).toBe('');
    expect(check.summary).toContain('❌ failed at');
    expect(check.summary).toContain('| complete backup | at least one | no backups at all | ❌ |');
  }, 60_000);
});
