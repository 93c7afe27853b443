/**
 * Failure reporting against a fake GitHub REST API (test/support/fake-github.ts, node:http on
 * 127.0.0.1) with the real Octokit and its retry/throttling plugins, and against a local webhook
 * receiver: the requests made, issue deduplication, the threshold, recovery, the missing-permission
 * and API-down paths (warnings, bounded time), and that no secret reaches GitHub or the webhook.
 */
import { jest } from '@jest/globals';
import { reportOutcome, type Outcome, type ReportDeps } from '../../src/report/failure-report.js';
import { parseFailureMarker, parseMarker } from '../../src/report/issue-marker.js';
import { createIssueReporter } from '../../src/report/issue-reporter.js';
import { parseReportingInputs } from '../../src/config/reporting.js';
import type { ReportingConfig } from '../../src/report/reporting-config.js';
import { notifyWebhook } from '../../src/report/webhook.js';
import { FakeGitHub, forbiddenBody, type FakeIssue } from '../support/fake-github.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

jest.setTimeout(30_000);

const TOKEN = 'ghs_SENTINELtoken0123456789abcdef';
const PASSWORD = 'pw-SENTINEL-9f8e7d';
const LABEL = 'backup-failure';
/** Short retry waits; the API-down test uses the production defaults. */
const FAST = { retryAfterBaseMs: 20 };

let fake: FakeGitHub;
const servers: { stop(): Promise<void> }[] = [];

beforeEach(async () => {
  fake = await FakeGitHub.start({ token: TOKEN });
  servers.push(fake);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function envFor(over: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    GITHUB_API_URL: fake.url,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_WORKFLOW: 'Nightly backups',
    GITHUB_JOB: 'backup',
    GITHUB_RUN_ID: '1001',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/backup.yml@refs/heads/main',
    GITHUB_REF_NAME: 'main',
    RUNNER_NAME: 'runner-A',
    ...over,
  };
}

function configWith(over: Partial<ReportingConfig> = {}): ReportingConfig {
  return { ...parseReportingInputs((name) => (name === 'github-token' ? TOKEN : '')), ...over };
}

interface Captured {
  info: string[];
  warning: string[];
  log: ReportDeps['log'];
}
function capture(): Captured {
  const info: string[] = [];
  const warning: string[] = [];
  return { info, warning, log: { info: (m) => info.push(m), warning: (m) => warning.push(m) } };
}

function failure(over: Partial<Extract<Outcome, { ok: false }>> = {}): Outcome {
  return {
    ok: false,
    command: 'backup',
    database: 'shop',
    error: 'pg_dump: error: query failed: ERROR:  permission denied for table secrets',
    phase: 'dump',
    lastSuccess: { key: 'prod/shop/2026-05-01T030000Z.dump.zst', time: new Date('2026-05-01T03:00:00Z') },
    ...over,
  };
}

async function report(
  outcome: Outcome,
  opts: { env?: Record<string, string>; config?: Partial<ReportingConfig>; deps?: Partial<ReportDeps> } = {},
): Promise<Captured> {
  const out = capture();
  await reportOutcome(outcome, {
    config: configWith(opts.config),
    env: envFor(opts.env),
    log: out.log,
    issueOptions: FAST,
    now: () => new Date('2026-05-03T03:05:00Z'),
    ...opts.deps,
  });
  return out;
}

const openIssues = (): FakeIssue[] => fake.issues.filter((i) => i.state === 'open');
const calls = (): string[] => fake.requests.map((r) => `${r.method} ${r.path}`);

describe('GitHub issue', () => {
  test('a first failure opens one issue with the marker, labels, assignees and a useful body', async () => {
    const out = await report(failure(), { config: { issueAssignees: ['octocat'] } });
    expect(calls()).toEqual(['GET /repos/acme/shop/issues', 'POST /repos/acme/shop/issues']);
    expect(fake.requests[0]?.query).toEqual({ labels: LABEL, state: 'open', per_page: '100' });
    expect(fake.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true);
    expect(fake.issues).toHaveLength(1);
    const issue = fake.issues[0] as FakeIssue;
    expect(issue.title).toBe('Backup failed: shop (Nightly backups)');
    expect(issue.labels).toEqual([LABEL]);
    expect(issue.assignees).toEqual(['octocat']);
    expect(issue.body.split('\n')[0]).toBe(
      '<!-- postgres-backup-action:v1 workflow=Nightly%20backups job=backup database=shop -->',
    );
    expect(issue.body).toContain('| Failed phase | **dump** |');
    expect(issue.body).toContain('[run 1001](https://github.example/acme/shop/actions/runs/1001)');
    expect(issue.body).toContain(
      '`prod/shop/2026-05-01T030000Z.dump.zst`, 2 days before this failure (2026-05-01 03:00:00 UTC)',
    );
    expect(issue.body).toContain('permission denied for table secrets');
    expect(issue.body).toContain('pg_read_all_data');
    expect(out.warning).toEqual([`Opened issue #1 for this failure: https://github.example/acme/shop/issues/1`]);
  });

  test('three failures → one issue and two comments counting the streak', async () => {
    for (const runId of ['1', '2', '3'])
      await report(failure({ error: `failure in run ${runId}` }), { env: { GITHUB_RUN_ID: runId } });
    expect(fake.issues).toHaveLength(1);
    const issue = fake.issues[0] as FakeIssue;
    expect(issue.comments).toHaveLength(2);
    expect(issue.comments.map((c) => parseFailureMarker(c.body))).toEqual([
      { runId: '2', attempt: 1, command: 'backup', consecutive: 2 },
      { runId: '3', attempt: 1, command: 'backup', consecutive: 3 },
    ]);
    expect(issue.comments[1]?.body).toContain('**Failed again** (3rd consecutive failed run)');
    expect(issue.comments[1]?.body).toContain('failure in run 3');
    expect(fake.writes.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /repos/acme/shop/issues',
      'POST /repos/acme/shop/issues/1/comments',
      'POST /repos/acme/shop/issues/1/comments',
    ]);
  });

  test('the same run reported twice adds no second comment', async () => {
    await report(failure(), { env: { GITHUB_RUN_ID: '5' } });
    await report(failure(), { env: { GITHUB_RUN_ID: '6' } });
    await report(failure(), { env: { GITHUB_RUN_ID: '6' } });
    expect(fake.issues[0]?.comments).toHaveLength(1);
    // A re-run (new attempt) is a new failure.
    await report(failure(), { env: { GITHUB_RUN_ID: '6', GITHUB_RUN_ATTEMPT: '2' } });
    expect(fake.issues[0]?.comments).toHaveLength(2);
    expect(fake.issues[0]?.comments[1]?.body).toContain('/actions/runs/6/attempts/2');
  });

  test('two databases, or two workflows, never share an issue', async () => {
    await report(failure({ database: 'shop' }));
    await report(failure({ database: 'billing' }));
    await report(failure({ database: 'shop' }), { env: { GITHUB_WORKFLOW: 'Hourly backups', GITHUB_RUN_ID: '2' } });
    await report(failure({ database: 'billing', command: 'restore-drill', phase: 'restore' }), {
      env: { GITHUB_RUN_ID: '3' },
    });
    expect(fake.issues.map((i) => [i.title, i.comments.length])).toEqual([
      ['Backup failed: shop (Nightly backups)', 0],
      ['Backup failed: billing (Nightly backups)', 1],
      ['Backup failed: shop (Hourly backups)', 0],
    ]);
    expect(fake.issues.map((i) => parseMarker(i.body))).toEqual([
      { workflow: 'Nightly backups', job: 'backup', database: 'shop' },
      { workflow: 'Nightly backups', job: 'backup', database: 'billing' },
      { workflow: 'Hourly backups', job: 'backup', database: 'shop' },
    ]);
    expect(fake.issues[1]?.comments[0]?.body).toContain('`restore-drill` in phase **restore**');
  });

  test('a later command names itself in the title', async () => {
    await report(failure({ command: 'restore-drill', phase: 'restore' }));
    expect(fake.issues[0]?.title).toBe('Restore drill failed: shop (Nightly backups)');
  });

  test('recovery: "Recovered" with the new key, then closed as completed; a second success touches nothing', async () => {
    await report(failure());
    fake.requests.length = 0;
    const out = await report(
      { ok: true, command: 'backup', database: 'shop', backupKey: 'prod/shop/2026-05-04T030000Z.dump.zst' },
      { env: { GITHUB_RUN_ID: '1002' } },
    );
    expect(calls()).toEqual([
      'GET /repos/acme/shop/issues',
      'POST /repos/acme/shop/issues/1/comments',
      'PATCH /repos/acme/shop/issues/1',
    ]);
    expect(fake.requests[2]?.body).toEqual({ state: 'closed', state_reason: 'completed' });
    const issue = fake.issues[0] as FakeIssue;
    expect(issue.state).toBe('closed');
    expect(issue.state_reason).toBe('completed');
    expect(issue.comments[0]?.body).toContain('**Recovered**');
    expect(issue.comments[0]?.body).toContain('New backup: `prod/shop/2026-05-04T030000Z.dump.zst`');
    expect(out.info).toContain('Recovered: closed failure issue #1 (https://github.example/acme/shop/issues/1).');

    fake.requests.length = 0;
    await report({ ok: true, command: 'backup', database: 'shop', backupKey: 'k2' });
    expect(calls()).toEqual(['GET /repos/acme/shop/issues']);
    // After recovery, the next failure opens a fresh issue.
    await report(failure(), { env: { GITHUB_RUN_ID: '1003' } });
    expect(openIssues().map((i) => i.number)).toEqual([2]);
  });

  test('success with no open issue makes no write; close-issue-on-success false leaves it open', async () => {
    const out = await report({ ok: true, command: 'backup', database: 'shop', backupKey: 'k' });
    expect(calls()).toEqual(['GET /repos/acme/shop/issues']);
    expect(out.warning).toEqual([]);

    await report(failure());
    fake.requests.length = 0;
    const kept = await report(
      { ok: true, command: 'backup', database: 'shop', backupKey: 'k' },
      { config: { closeIssueOnSuccess: false } },
    );
    expect(fake.writes).toEqual([]);
    expect(openIssues()).toHaveLength(1);
    expect(kept.info).toContain(
      'Failure issue #1 stays open (close-issue-on-success: false): https://github.example/acme/shop/issues/1',
    );
  });

  test('another database recovering does not close this one', async () => {
    await report(failure({ database: 'shop' }));
    await report({ ok: true, command: 'backup', database: 'billing', backupKey: 'k' });
    expect(openIssues()).toHaveLength(1);
  });

  test('the issue is found on a later page of open issues with the label', async () => {
    await fake.stop();
    fake = await FakeGitHub.start({ token: TOKEN, maxPerPage: 2 });
    servers.push(fake);
    await report(failure({ database: 'shop' }));
    for (const db of ['a', 'b', 'c', 'd', 'e']) await report(failure({ database: db }));
    fake.requests.length = 0;
    await report(failure({ database: 'shop' }), { env: { GITHUB_RUN_ID: '2000' } });
    expect(fake.issues).toHaveLength(6);
    expect(fake.issues[0]?.comments).toHaveLength(1);
    expect(calls().filter((c) => c === 'GET /repos/acme/shop/issues')).toHaveLength(3);
  });

  test('without labels every open issue is searched; a hand-written issue without the marker is ignored', async () => {
    fake.issues.push({
      number: 99,
      title: 'Backups are broken',
      body: 'database shop failing',
      labels: [LABEL],
      assignees: [],
      state: 'open',
      state_reason: null,
      comments: [],
    });
    await report(failure(), { config: { issueLabels: [] } });
    expect(fake.requests[0]?.query).toEqual({ state: 'open', per_page: '100' });
    expect(fake.issues.map((i) => i.number)).toEqual([99, 1]);
    expect(fake.issues[1]?.labels).toEqual([]);
  });

  test('assignees GitHub refuses (422): the issue is opened unassigned, with a warning', async () => {
    await fake.stop();
    fake = await FakeGitHub.start({ token: TOKEN, assignable: ['octocat'] });
    servers.push(fake);
    const out = await report(failure(), { config: { issueAssignees: ['octocat', 'ghost'] } });
    expect(fake.issues).toHaveLength(1);
    expect(fake.issues[0]?.assignees).toEqual([]);
    expect(out.warning[0]).toMatch(/^GitHub refused the assignees octocat, ghost \(Validation Failed/);
  });

  test('GitHub Enterprise Server: API under /api/v3', async () => {
    await fake.stop();
    fake = await FakeGitHub.start({ token: TOKEN, basePath: '/api/v3' });
    servers.push(fake);
    await report(failure());
    expect(fake.url).toMatch(/\/api\/v3$/);
    expect(fake.issues).toHaveLength(1);
  });

  test('no secret reaches a title, body or comment', async () => {
    const leaky = `could not connect: password ${PASSWORD} rejected; Authorization: token ${TOKEN}`;
    await report(failure({ error: leaky, database: 'shop' }), { deps: { secrets: [PASSWORD] } });
    await report(failure({ error: leaky, database: 'shop' }), {
      deps: { secrets: [PASSWORD] },
      env: { GITHUB_RUN_ID: '2' },
    });
    await report({ ok: true, command: 'backup', database: 'shop', backupKey: 'k' }, { deps: { secrets: [PASSWORD] } });
    const written = JSON.stringify(fake.requests.map((r) => r.body));
    expect(written).toContain('could not connect: password *** rejected; Authorization: token ***');
    expect(written).not.toContain(TOKEN);
    expect(written).not.toContain(PASSWORD);
    // The token went where it belongs: the Authorization header.
    expect(fake.requests[0]?.authorization).toBe(`token ${TOKEN}`);
  });
});

describe('failure-threshold (counted from earlier runs of this job)', () => {
  const jobs = [
    { name: 'backup (shop)', runner: 'runner-A' },
    { name: 'backup (billing)', runner: 'runner-B' },
  ];

  async function failRun(runId: number, threshold: number): Promise<Captured> {
    fake.startRun(runId, jobs);
    const out = await report(failure(), {
      env: { GITHUB_RUN_ID: String(runId) },
      config: { failureThreshold: threshold },
    });
    fake.finishRun(runId, { 'backup (shop)': 'failure' });
    return out;
  }

  test('threshold 3: failures 1 and 2 open nothing, the 3rd opens the issue', async () => {
    const first = await failRun(101, 3);
    expect(first.info).toContain('Failure 1 of 3 consecutive failed runs (failure-threshold): no issue opened yet.');
    expect(fake.writes).toEqual([]);
    const second = await failRun(102, 3);
    expect(second.info).toContain('Failure 2 of 3 consecutive failed runs (failure-threshold): no issue opened yet.');
    expect(fake.writes).toEqual([]);
    fake.requests.length = 0;
    await failRun(103, 3);
    expect(calls()).toEqual([
      'GET /repos/acme/shop/issues',
      'GET /repos/acme/shop/actions/runs/103/attempts/1/jobs',
      'GET /repos/acme/shop/actions/workflows/backup.yml/runs',
      'GET /repos/acme/shop/actions/runs/102/jobs',
      'GET /repos/acme/shop/actions/runs/101/jobs',
      'POST /repos/acme/shop/issues',
    ]);
    expect(fake.requests[2]?.query).toEqual({ status: 'completed', branch: 'main', per_page: '12' });
    expect(fake.issues).toHaveLength(1);
    expect(fake.issues[0]?.body).toContain('| Consecutive failed runs | 3 (failure-threshold 3) |');
    // Once open, further failures comment (and keep counting) without reading runs again.
    fake.requests.length = 0;
    await failRun(104, 3);
    expect(calls()).toEqual([
      'GET /repos/acme/shop/issues',
      'GET /repos/acme/shop/issues/1/comments',
      'POST /repos/acme/shop/issues/1/comments',
    ]);
    expect(parseFailureMarker(fake.issues[0]?.comments[0]?.body)?.consecutive).toBe(4);
  });

  test('a success of this job ends the streak; another matrix job failing does not count', async () => {
    await failRun(201, 2); // 1 of 2
    fake.startRun(202, jobs); // shop succeeds, billing fails: the run fails, this job did not
    fake.finishRun(202, { 'backup (billing)': 'failure' });
    const third = await failRun(203, 2);
    expect(third.info).toContain('Failure 1 of 2 consecutive failed runs (failure-threshold): no issue opened yet.');
    fake.startRun(204, jobs); // cancelled runs are passed over
    fake.finishRun(204, {}, 'cancelled');
    await failRun(205, 2);
    expect(fake.issues).toHaveLength(1);
    expect(fake.issues[0]?.body).toContain('| Consecutive failed runs | 2 (failure-threshold 2) |');
  });

  test('without actions: read the issue opens at once, with a warning naming the permission', async () => {
    fake.override = (r) =>
      r.path.includes('/actions/')
        ? { status: 403, body: forbiddenBody('https://docs.github.com/rest/actions/workflow-jobs') }
        : undefined;
    fake.startRun(301, jobs);
    const out = await report(failure(), { env: { GITHUB_RUN_ID: '301' }, config: { failureThreshold: 5 } });
    expect(fake.issues).toHaveLength(1);
    expect(out.warning[0]).toContain('Resource not accessible by integration');
    expect(out.warning[0]).toContain('add `permissions: actions: read` to the job');
    expect(fake.issues[0]?.body).toContain(
      '| Consecutive failed runs | unknown: earlier runs could not be read (failure-threshold 5) |',
    );
  });
});

describe('reporting never hides the failure', () => {
  test('403 "Resource not accessible by integration" → a warning naming issues: write, no retry', async () => {
    fake.override = () => ({ status: 403, body: forbiddenBody() });
    const out = await report(failure());
    expect(calls()).toEqual(['GET /repos/acme/shop/issues']);
    expect(out.warning).toHaveLength(1);
    expect(out.warning[0]).toContain('403 (Resource not accessible by integration');
    expect(out.warning[0]).toContain('permissions: { contents: read, issues: write }');
    expect(out.warning[0]).toContain('the step still fails with the original error');
  });

  test('reading works but creating is forbidden → the same warning, one POST', async () => {
    fake.override = (r) => (r.method === 'POST' ? { status: 403, body: forbiddenBody() } : undefined);
    const out = await report(failure());
    expect(calls()).toEqual(['GET /repos/acme/shop/issues', 'POST /repos/acme/shop/issues']);
    expect(out.warning[0]).toContain('when trying to open the failure issue');
    expect(out.warning[0]).toContain('issues: write');
  });

  test('a bad token (401) and disabled issues (410) are explained', async () => {
    const bad = capture();
    await reportOutcome(failure(), {
      config: configWith({ githubToken: 'ghs_wrong0000' }),
      env: envFor(),
      log: bad.log,
      issueOptions: FAST,
    });
    expect(bad.warning[0]).toContain(
      'GitHub rejected the github-token when trying to list open issues (401 Bad credentials',
    );
    fake.override = () => ({ status: 410, body: { message: 'Issues are disabled for this repo', status: '410' } });
    const gone = await report(failure());
    expect(gone.warning[0]).toContain('Issues are disabled in acme/shop (410');
  });

  test('5xx: retried twice by plugin-retry, then a warning', async () => {
    fake.override = () => ({ status: 502, body: { message: 'Server Error' } });
    const out = await report(failure());
    expect(calls()).toEqual([
      'GET /repos/acme/shop/issues',
      'GET /repos/acme/shop/issues',
      'GET /repos/acme/shop/issues',
    ]);
    expect(out.warning[0]).toContain(
      'could not be reached or failed when trying to list open issues (502: Server Error)',
    );
  });

  test('API down (port closed): a warning within bounded time, with the production retry settings', async () => {
    const port = fake.port;
    await fake.stop();
    servers.splice(servers.indexOf(fake), 1);
    const out = capture();
    const started = Date.now();
    await reportOutcome(failure(), {
      config: configWith(),
      env: envFor({ GITHUB_API_URL: `http://127.0.0.1:${port}` }),
      log: out.log,
    });
    const elapsed = Date.now() - started;
    // 2 retries with waits of 1 s and 4 s (measured 5.1 s in all): bounded, with 10× room for a loaded machine.
    expect(elapsed).toBeLessThan(60_000);
    expect(out.warning).toHaveLength(1);
    expect(out.warning[0]).toMatch(
      /^The GitHub API at 127\.0\.0\.1:\d+ could not be reached or failed when trying to list open issues \(500: .*ECONNREFUSED/,
    );
    expect(out.warning[0]).toContain('after up to 3 attempts');
  }, 120_000);

  test('a hanging API is cut by the request timeout and by the overall budget', async () => {
    fake.override = () => ({ status: 0, hang: true });
    const out = capture();
    let started = Date.now();
    await reportOutcome(failure(), {
      config: configWith(),
      env: envFor(),
      log: out.log,
      issueOptions: { requestTimeoutMs: 300, retries: 1, retryAfterBaseMs: 20 },
    });
    // 2 tries of 300 ms (measured 0.7 s): far below the 60 s default budget that would end it otherwise.
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(fake.requests).toHaveLength(2);
    expect(out.warning[0]).toContain('could not be reached or failed');

    const budget = capture();
    started = Date.now();
    await reportOutcome(failure(), {
      config: configWith(),
      env: envFor(),
      log: budget.log,
      issueOptions: { requestTimeoutMs: 10_000, budgetMs: 500, retryAfterBaseMs: 20 },
    });
    // The 500 ms budget (measured 0.54 s) ends it, not the 10 s request timeout.
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(budget.warning[0]).toContain('could not be reached or failed');
  });

  test('no token: one warning, no request', async () => {
    const out = await report(failure(), { config: { githubToken: '' } });
    expect(fake.requests).toEqual([]);
    expect(out.warning[0]).toContain("the 'github-token' input is empty");
  });

  test('createIssueReporter results', async () => {
    const out = capture();
    const reporter = createIssueReporter(configWith(), envFor(), out.log, FAST);
    const time = new Date('2026-05-03T00:00:00Z');
    expect(await reporter.reportSuccess({ command: 'backup', database: 'shop', time })).toEqual({ action: 'none' });
    expect(
      await reporter.reportFailure({ command: 'backup', database: 'shop', error: 'e', phase: 'dump', time }),
    ).toEqual({
      action: 'created',
      issueNumber: 1,
      issueUrl: 'https://github.example/acme/shop/issues/1',
      consecutiveFailures: 1,
    });
    expect(await reporter.reportSuccess({ command: 'backup', database: 'shop', time })).toEqual({
      action: 'closed',
      issueNumber: 1,
      issueUrl: 'https://github.example/acme/shop/issues/1',
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Webhook

async function startReceiver(): Promise<WebhookReceiver> {
  const receiver = await startWebhookReceiver();
  servers.push(receiver);
  return receiver;
}

describe('webhook', () => {
  const SECRET_PATH = '/hooks/SENTINELwebhookSecret';

  test('generic JSON for a non-Slack URL, with the issue link; no secret in it', async () => {
    const hook = await startReceiver();
    const out = await report(failure({ error: `auth failed for ${PASSWORD}` }), {
      config: { webhookUrl: `${hook.url}${SECRET_PATH}` },
      deps: { secrets: [PASSWORD] },
    });
    expect(hook.received).toHaveLength(1);
    const got = hook.received[0]!;
    expect(got.path).toBe(SECRET_PATH);
    expect(got.contentType).toBe('application/json');
    expect(got.body).toEqual({
      text: 'Backup failed: shop (Nightly backups) in phase dump',
      event: 'failure',
      command: 'backup',
      database: 'shop',
      phase: 'dump',
      error: 'auth failed for ***',
      runUrl: 'https://github.example/acme/shop/actions/runs/1001',
      backupKey: null,
      lastSuccessKey: 'prod/shop/2026-05-01T030000Z.dump.zst',
      lastSuccessAt: '2026-05-01T03:00:00.000Z',
      issueUrl: 'https://github.example/acme/shop/issues/1',
      consecutiveFailures: 1,
      repository: 'acme/shop',
      workflow: 'Nightly backups',
      job: 'backup',
      time: '2026-05-03T03:05:00.000Z',
    });
    expect(out.info).toContain(`Webhook to 127.0.0.1:${hook.port}: failure alert sent.`);
    expect([...out.info, ...out.warning].join('\n')).not.toContain('SENTINELwebhookSecret');
  });

  test('Slack shape for a Slack webhook path; recovery is sent with notify-on failure, plain success is not', async () => {
    const hook = await startReceiver();
    const webhookUrl = `${hook.url}/services/T0ABC/B0DEF/SENTINELslack123`;
    await report(failure(), { config: { webhookUrl } });
    await report(
      { ok: true, command: 'backup', database: 'shop', backupKey: 'prod/shop/new.dump' },
      { config: { webhookUrl } },
    );
    await report(
      { ok: true, command: 'backup', database: 'shop', backupKey: 'prod/shop/newer.dump' },
      { config: { webhookUrl } },
    );
    expect(hook.received.map((r) => (r.body as { text: string }).text)).toEqual([
      ':rotating_light: Backup failed: shop (Nightly backups) in phase dump',
      ':white_check_mark: Backup recovered: shop (Nightly backups), new backup prod/shop/new.dump',
    ]);
    const first = hook.received[0]!.body as { text: string; blocks: { type: string }[] };
    expect(Object.keys(first).sort()).toEqual(['blocks', 'text']);
    expect(first.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
  });

  test('notify-on always sends successes; never sends nothing', async () => {
    const hook = await startReceiver();
    await report(
      { ok: true, command: 'backup', database: 'shop', backupKey: 'k' },
      { config: { webhookUrl: hook.url + '/x', notifyOn: 'always' } },
    );
    expect((hook.received[0]?.body as { event: string }).event).toBe('success');
    await report(failure(), { config: { webhookUrl: hook.url + '/x', notifyOn: 'never' } });
    expect(hook.received).toHaveLength(1);
  });

  test('a run reported twice alerts once', async () => {
    const hook = await startReceiver();
    await report(failure(), { env: { GITHUB_RUN_ID: '7' }, config: { webhookUrl: hook.url + '/x' } });
    await report(failure(), { env: { GITHUB_RUN_ID: '8' }, config: { webhookUrl: hook.url + '/x' } });
    await report(failure(), { env: { GITHUB_RUN_ID: '8' }, config: { webhookUrl: hook.url + '/x' } });
    expect(hook.received.map((r) => (r.body as { consecutiveFailures: number }).consecutiveFailures)).toEqual([1, 2]);
  });

  test('below the failure threshold no webhook is sent either', async () => {
    const hook = await startReceiver();
    fake.startRun(401, [{ name: 'backup', runner: 'runner-A' }]);
    await report(failure(), {
      env: { GITHUB_RUN_ID: '401' },
      config: { webhookUrl: hook.url + '/x', failureThreshold: 2 },
    });
    expect(hook.received).toEqual([]);
  });

  test('a 500 answer is a warning naming only the host', async () => {
    const hook = await startReceiver();
    hook.answer = { status: 500 };
    const out = capture();
    const result = await notifyWebhook(
      { webhookUrl: `${hook.url}${SECRET_PATH}`, notifyOn: 'failure' },
      { event: 'failure', command: 'backup', database: 'shop', phase: 'dump', error: 'x', time: new Date() },
      out.log,
    );
    expect(result).toBe('failed');
    expect(out.warning).toEqual([
      `Webhook to 127.0.0.1:${hook.port} answered HTTP 500 (internal_error); the failure alert was not delivered. Check the webhook-url secret.`,
    ]);
  });

  test('a hanging receiver times out within the bound', async () => {
    const hook = await startReceiver();
    hook.answer = { status: 200, hang: true };
    const out = capture();
    const started = Date.now();
    const result = await notifyWebhook(
      { webhookUrl: `${hook.url}${SECRET_PATH}`, notifyOn: 'failure' },
      { event: 'failure', command: 'backup', database: 'shop', time: new Date() },
      out.log,
      { timeoutMs: 500 },
    );
    // The 500 ms timeout (measured 0.51 s) ends it, not the 10 s default.
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(result).toBe('failed');
    expect(out.warning).toEqual([
      `Webhook to 127.0.0.1:${hook.port} failed: no answer within 500 ms; the failure alert was not delivered.`,
    ]);
  });

  test('a closed port is a warning', async () => {
    const hook = await startReceiver();
    await hook.stop();
    servers.splice(servers.indexOf(hook), 1);
    const out = capture();
    const result = await notifyWebhook(
      { webhookUrl: `${hook.url}${SECRET_PATH}`, notifyOn: 'always' },
      { event: 'success', command: 'backup', database: 'shop', time: new Date() },
      out.log,
    );
    expect(result).toBe('failed');
    expect(out.warning[0]).toMatch(
      /^Webhook to 127\.0\.0\.1:\d+ failed: connect ECONNREFUSED 127\.0\.0\.1:\d+; the success alert was not delivered\.$/,
    );
  });
});
