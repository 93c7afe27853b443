/**
 * Keepalive through the committed bundle (dist/index.js run as a process, as the runner does), with
 * the fake GitHub REST API (test/support/fake-github.ts) reached through GITHUB_API_URL. The command
 * is the cheapest that runs the hook: `list` of a local folder (no database needed); a failing run is
 * `check` of an empty folder.
 *
 * - a scheduled run in a public repository last pushed 46 days ago re-enables the workflow named by
 *   GITHUB_WORKFLOW_REF (the caller's file, as for a reusable workflow) and says so in the summary;
 * - private, pushed 10 days ago, a push event, or keepalive off: no enable call;
 * - a 403 on the enable call: a warning and a summary line with the day the schedule will be
 *   disabled and the fix; the run still succeeds;
 * - a failing run with that 403: the failure issue carries the same note;
 * - the token is in no output, summary, issue or request body.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { FakeGitHub, forbiddenBody } from '../support/fake-github.js';

const TOKEN = 'ghs_KeepaliveBundleToken_5f3a9c';
const DAY = 86_400_000;
const ENABLE_DOC = 'https://docs.github.com/rest/actions/workflows#enable-a-workflow';

let github: FakeGitHub;
let work: string;
let folder: string;
let runId = 7000;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'keepalive-bundle-'));
  folder = path.join(work, 'backups');
  mkdirSync(folder);
  github = await FakeGitHub.start({ token: TOKEN, secrets: [TOKEN] });
});

afterAll(async () => {
  await github?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  github.requests.length = 0;
  github.enabled.length = 0;
  github.override = undefined;
});

/** `pushed_at` of a push `days` days ago, and the day GitHub disables a schedule after it (+60 days). */
function pushed(days: number): { pushedAt: string; disableOn: string } {
  const time = Date.now() - days * DAY;
  return {
    pushedAt: new Date(time).toISOString(),
    disableOn: new Date(time + 60 * DAY).toISOString().slice(0, 10),
  };
}

/** A run of `command` in workflow `nightly.yml` (the caller of a reusable workflow), on `event`. */
function run(event: string, inputs: Record<string, string> = {}, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: {
      command: 'list',
      database: 'shop',
      destination: `file://${folder}`,
      'github-token': TOKEN,
      keepalive: 'true',
      ...inputs,
    },
    env: {
      GITHUB_API_URL: github.url,
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_WORKFLOW: 'Nightly backup',
      GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/nightly.yml@refs/heads/main',
      GITHUB_JOB: 'backup',
      GITHUB_RUN_ID: String(++runId),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_EVENT_NAME: event,
      ...env,
    },
  });
}

/** The `::warning::` lines of a run that mention keepalive. */
function keepaliveWarnings(r: ActionRun): string[] {
  return r.stdout.split('\n').filter((l) => l.startsWith('::warning::') && l.includes('Keepalive'));
}

/** Method and path of each request to the fake, but the failure issue's (a success looks for an open one). */
function calls(): string[] {
  return github.requests.filter((r) => !r.path.includes('/issues')).map((r) => `${r.method} ${r.path}`);
}

function expectNoToken(r: ActionRun): void {
  expect(r.stdout).not.toContain(TOKEN);
  expect(r.stderr).not.toContain(TOKEN);
  expect(r.summary).not.toContain(TOKEN);
  expect(github.leaks).toEqual([]);
}

test('scheduled, public, last push 46 days ago: re-enables the calling workflow and says so', async () => {
  github.repository = { private: false, pushed_at: pushed(46).pushedAt };
  const r = await run('schedule');
  expect(r.exitCode).toBe(0);
  expect(calls()).toEqual(['GET /repos/acme/shop', 'PUT /repos/acme/shop/actions/workflows/nightly.yml/enable']);
  expect(github.enabled).toEqual(['nightly.yml']);
  expect(r.summary).toMatch(
    /Keepalive: the last push to this public repository was 46 days ago \(\d{4}-\d\d-\d\d\); re-enabled workflow `nightly\.yml`/,
  );
  expect(r.stdout).toMatch(/^Keepalive: .*re-enabled workflow `nightly\.yml`/m);
  expect(keepaliveWarnings(r)).toEqual([]);
  // The token went in the Authorization header, as GitHub wants it.
  expect(github.requests.every((q) => q.authorization === `token ${TOKEN}`)).toBe(true);
  expectNoToken(r);
}, 60_000);

test.each([
  ['private, pushed 90 days ago', 'schedule', { private: true, days: 90 }, 'true', ['GET /repos/acme/shop']],
  ['public, pushed 10 days ago', 'schedule', { private: false, days: 10 }, 'true', ['GET /repos/acme/shop']],
  ['a push event', 'push', { private: false, days: 90 }, 'true', []],
  ['keepalive: false', 'schedule', { private: false, days: 90 }, 'false', []],
])(
  '%s: no enable call, nothing in the summary',
  async (_name, event, repo, keepalive, expected) => {
    github.repository = { private: repo.private, pushed_at: pushed(repo.days).pushedAt };
    const r = await run(event, { keepalive });
    expect(r.exitCode).toBe(0);
    expect(calls()).toEqual(expected);
    expect(github.enabled).toEqual([]);
    expect(r.summary).not.toContain('Keepalive');
    expect(keepaliveWarnings(r)).toEqual([]);
    if (expected.length > 0) expect(r.stdout).toMatch(/^::debug::Keepalive: nothing to do: /m);
    expectNoToken(r);
  },
  60_000,
);

test('403 on the enable call: a warning and a summary line with the date and the fix; the run succeeds', async () => {
  const { pushedAt, disableOn } = pushed(50);
  github.repository = { private: false, pushed_at: pushedAt };
  github.override = (q) => (q.method === 'PUT' ? { status: 403, body: forbiddenBody(ENABLE_DOC) } : undefined);
  const r = await run('schedule');
  expect(r.exitCode).toBe(0);
  expect(calls()).toEqual(['GET /repos/acme/shop', 'PUT /repos/acme/shop/actions/workflows/nightly.yml/enable']);
  const warnings = keepaliveWarnings(r);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain(`GitHub will disable this workflow's schedule on ${disableOn}`);
  expect(warnings[0]).toContain('(403)');
  expect(warnings[0]).toContain('Fix: add `permissions: actions: write` to the calling workflow');
  expect(r.summary).toContain(`Keepalive: GitHub will disable this workflow's schedule on ${disableOn}`);
  expect(r.summary).toContain('or push a commit.');
  expect(r.stdout).not.toMatch(/::error::/);
  expectNoToken(r);
}, 60_000);

test('a GitHub API that is down: one warning, the run succeeds', async () => {
  github.repository = { private: false, pushed_at: pushed(50).pushedAt };
  const r = await run('schedule', {}, { GITHUB_API_URL: 'http://127.0.0.1:9' });
  expect(r.exitCode).toBe(0);
  const warnings = keepaliveWarnings(r);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/Keepalive: could not check the schedule: .*could not be reached/);
  expect(r.summary).not.toContain('Keepalive');
  expectNoToken(r);
}, 60_000);

test('a failing scheduled run with the 403: the failure issue carries the note', async () => {
  const { pushedAt, disableOn } = pushed(55);
  github.repository = { private: false, pushed_at: pushedAt };
  github.override = (q) => (q.method === 'PUT' ? { status: 403, body: forbiddenBody(ENABLE_DOC) } : undefined);
  // `check` of an empty folder fails: there is no backup.
  const empty = path.join(work, 'empty');
  mkdirSync(empty);
  const r = await run('schedule', { command: 'check', destination: `file://${empty}`, 'max-age': '1d' });
  expect(r.exitCode).not.toBe(0);
  expect(github.issues).toHaveLength(1);
  const body = github.issues[0]?.body ?? '';
  expect(body).toContain(`> Keepalive: GitHub will disable this workflow's schedule on ${disableOn}`);
  expect(body).toContain('Fix: add `permissions: actions: write` to the calling workflow');
  expect(body).not.toContain(TOKEN);
  expect(r.summary).toContain(`schedule on ${disableOn}`);
  expectNoToken(r);
}, 60_000);
