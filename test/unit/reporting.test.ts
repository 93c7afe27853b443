import { ConfigError } from '../../src/errors.js';
import { reportOutcome } from '../../src/report/failure-report.js';
import { githubContext, runUrl } from '../../src/report/issue-client.js';
import { buildFailureMarker, buildMarker, parseFailureMarker, parseMarker } from '../../src/report/issue-marker.js';
import {
  checklistFor,
  formatAge,
  issueTitle,
  renderFailureComment,
  renderIssueBody,
  renderRecoveryComment,
  type FailureContext,
  type RenderRun,
} from '../../src/report/issue-render.js';
import { createIssueReporter, type IssueReporter } from '../../src/report/issue-reporter.js';
import { parseReportingInputs, reportingSecrets, REPORTING_INPUTS } from '../../src/config/reporting.js';
import type { ReportingConfig } from '../../src/report/reporting-config.js';
import {
  eventText,
  genericPayload,
  isSlackUrl,
  shouldNotify,
  slackPayload,
  type ReportEvent,
} from '../../src/report/webhook.js';
import { redact } from '../../src/redact.js';

const TOKEN = 'ghs_SENTINELtoken0123456789abcdef';
const PASSWORD = 'pw-SENTINEL-9f8e7d';

function reader(inputs: Record<string, string>): (name: string) => string {
  const defaults = Object.fromEntries(
    REPORTING_INPUTS.map((i) => [i.name, i.name === 'github-token' ? TOKEN : i.default]),
  );
  return (name) => inputs[name] ?? defaults[name] ?? '';
}

function capture(): { info: string[]; warning: string[]; log: { info(m: string): void; warning(m: string): void } } {
  const info: string[] = [];
  const warning: string[] = [];
  return { info, warning, log: { info: (m) => info.push(m), warning: (m) => warning.push(m) } };
}

describe('parseReportingInputs', () => {
  test('action.yml defaults', () => {
    expect(parseReportingInputs(reader({}))).toEqual({
      githubToken: TOKEN,
      issueOnFailure: true,
      issueLabels: ['backup-failure'],
      issueAssignees: [],
      failureThreshold: 1,
      closeIssueOnSuccess: true,
      webhookUrl: '',
      notifyOn: 'failure',
    });
  });

  test('empty values take the defaults, except the token and the webhook', () => {
    const config = parseReportingInputs(() => '');
    expect(config.githubToken).toBe('');
    expect(config.webhookUrl).toBe('');
    expect(config.issueLabels).toEqual(['backup-failure']);
    expect(config.failureThreshold).toBe(1);
    expect(config.notifyOn).toBe('failure');
  });

  test('lists, booleans, threshold, webhook and notify-on', () => {
    const config = parseReportingInputs(
      reader({
        'issue-on-failure': 'False',
        'issue-labels': 'backup-failure, ops\nurgent,,ops',
        'issue-assignees': '@octocat\nhubot, mona-lisa',
        'failure-threshold': ' 3 ',
        'close-issue-on-success': 'FALSE',
        'webhook-url': 'https://hooks.slack.com/services/T000/B000/XXXXXXXX',
        'notify-on': 'always',
      }),
    );
    expect(config).toMatchObject({
      issueOnFailure: false,
      issueLabels: ['backup-failure', 'ops', 'urgent'],
      issueAssignees: ['octocat', 'hubot', 'mona-lisa'],
      failureThreshold: 3,
      closeIssueOnSuccess: false,
      webhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXXXXXX',
      notifyOn: 'always',
    });
  });

  test.each([
    ['http://localhost:8080/hook'],
    ['http://127.0.0.1:9/x'],
    ['http://[::1]:9/x'],
    ['https://example.com/webhooks/abc?token=1'],
  ])('webhook %s is accepted', (url) => {
    expect(parseReportingInputs(reader({ 'webhook-url': url })).webhookUrl).toBe(url);
  });

  const SECRET_URL_PART = 'SENTINELwebhookpath';
  test.each<[string, Record<string, string>, string]>([
    [
      'issue-on-failure yes',
      { 'issue-on-failure': 'yes' },
      "Input 'issue-on-failure': 'yes' is not a boolean; use true or false.",
    ],
    [
      'close-issue-on-success 1',
      { 'close-issue-on-success': '1' },
      "Input 'close-issue-on-success': '1' is not a boolean; use true or false.",
    ],
    [
      'threshold 0',
      { 'failure-threshold': '0' },
      "Input 'failure-threshold': 0 is out of range; use a whole number of consecutive failed runs from 1 to 50.",
    ],
    [
      'threshold -2',
      { 'failure-threshold': '-2' },
      "Input 'failure-threshold': -2 is out of range; use a whole number of consecutive failed runs from 1 to 50.",
    ],
    [
      'threshold 51',
      { 'failure-threshold': '51' },
      "Input 'failure-threshold': 51 is out of range; use a whole number of consecutive failed runs from 1 to 50.",
    ],
    [
      'threshold 1.5',
      { 'failure-threshold': '1.5' },
      "Input 'failure-threshold': '1.5' is not a whole number; use a whole number of consecutive failed runs from 1 to 50.",
    ],
    [
      'threshold three',
      { 'failure-threshold': 'three' },
      "Input 'failure-threshold': 'three' is not a whole number; use a whole number of consecutive failed runs from 1 to 50.",
    ],
    [
      'webhook not a URL',
      { 'webhook-url': `hooks.slack.com/services/${SECRET_URL_PART}` },
      "Input 'webhook-url': not a valid URL; pass the full incoming-webhook URL (e.g. https://hooks.slack.com/services/…) from a secret.",
    ],
    [
      'webhook plain http',
      { 'webhook-url': `http://alerts.example.com/${SECRET_URL_PART}` },
      "Input 'webhook-url': uses http://; use https:// (plain http is allowed only for localhost and 127.0.0.1).",
    ],
    [
      'webhook ftp',
      { 'webhook-url': `ftp://example.com/${SECRET_URL_PART}` },
      "Input 'webhook-url': scheme 'ftp' is not supported; use an https:// URL.",
    ],
    [
      'notify-on errors',
      { 'notify-on': 'errors' },
      "Input 'notify-on': 'errors' is not one of: failure, always, never.",
    ],
    [
      'notify-on case',
      { 'notify-on': 'Failure' },
      "Input 'notify-on': 'Failure' is not one of: failure, always, never.",
    ],
    [
      'assignee with a space',
      { 'issue-assignees': 'octocat, mona lisa' },
      "Input 'issue-assignees': 'mona lisa' is not a GitHub login; use logins such as octocat, comma or newline separated.",
    ],
    [
      'assignee with a trailing hyphen',
      { 'issue-assignees': 'octocat-' },
      "Input 'issue-assignees': 'octocat-' is not a GitHub login; use logins such as octocat, comma or newline separated.",
    ],
    [
      'eleven assignees',
      { 'issue-assignees': 'a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,a11' },
      "Input 'issue-assignees': 11 logins given; GitHub assigns at most 10 people to an issue.",
    ],
    [
      'label over 50 characters',
      { 'issue-labels': `ok, ${'x'.repeat(51)}` },
      `Input 'issue-labels': label '${'x'.repeat(20)}…' is longer than 50 characters, GitHub's limit.`,
    ],
  ])('%s → ConfigError', (_name, inputs, message) => {
    let caught: unknown;
    try {
      parseReportingInputs(reader(inputs));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(message);
    expect((caught as ConfigError).phase).toBe('config');
    expect((caught as ConfigError).message).not.toContain(SECRET_URL_PART);
    expect((caught as ConfigError).message).not.toContain(TOKEN);
  });
});

describe('reportingSecrets', () => {
  test('the token and every form of the webhook URL', () => {
    const url = 'https://hooks.slack.com/services/T0AB/B0CD/s3cr3tPathValue';
    const secrets = reportingSecrets(reader({ 'webhook-url': url }));
    expect(secrets).toEqual(expect.arrayContaining([TOKEN, url, '/services/T0AB/B0CD/s3cr3tPathValue']));
  });

  test('query tokens and passwords in a generic URL; nothing for empty inputs', () => {
    const url = 'https://user:hunter2pw@alerts.example.com/hook?token=abcdef123456';
    expect(reportingSecrets(reader({ 'webhook-url': url }))).toEqual(
      expect.arrayContaining([url, 'abcdef123456', 'hunter2pw']),
    );
    expect(reportingSecrets(() => '')).toEqual([]);
    expect(reportingSecrets(reader({ 'webhook-url': 'not a url' }))).toEqual([TOKEN, 'not a url']);
  });

  test('REPORTING_INPUTS lists each input once with a description', () => {
    expect(REPORTING_INPUTS.map((i) => [i.name, i.default])).toEqual([
      ['github-token', '${{ github.token }}'],
      ['issue-on-failure', 'true'],
      ['issue-labels', 'backup-failure'],
      ['issue-assignees', ''],
      ['failure-threshold', '1'],
      ['close-issue-on-success', 'true'],
      ['webhook-url', ''],
      ['notify-on', 'failure'],
    ]);
    for (const input of REPORTING_INPUTS) expect(input.description.length).toBeGreaterThan(20);
  });
});

describe('markers', () => {
  test.each([
    [{ workflow: 'Nightly backups', job: 'backup', database: 'shop' }],
    [{ workflow: 'a=b --> c', job: 'job_1', database: 'my db' }],
    [{ workflow: 'ünïcødé 🚀', job: 'x', database: '' }],
  ])('round trip %j', (identity) => {
    const marker = buildMarker(identity);
    expect(marker).toMatch(/^<!-- postgres-backup-action:v1 workflow=\S* job=\S* database=\S* -->$/);
    expect(parseMarker(`${marker}\n## Some title\nbody text`)).toEqual(identity);
  });

  test('exact form for simple names', () => {
    expect(buildMarker({ workflow: 'backup', job: 'nightly', database: 'shop' })).toBe(
      '<!-- postgres-backup-action:v1 workflow=backup job=nightly database=shop -->',
    );
  });

  test('bodies without a marker, with another kind, or missing a field', () => {
    expect(parseMarker(undefined)).toBeUndefined();
    expect(parseMarker(null)).toBeUndefined();
    expect(parseMarker('Backups are failing, please look')).toBeUndefined();
    expect(
      parseMarker('<!-- postgres-backup-action:v1 failure run=1 attempt=1 command=backup consecutive=2 -->'),
    ).toBeUndefined();
    expect(parseMarker('<!-- postgres-backup-action:v1 workflow=a job=b -->')).toBeUndefined();
    expect(parseMarker('<!-- postgres-backup-action:v2 workflow=a job=b database=c -->')).toBeUndefined();
  });

  test('failure markers', () => {
    const marker = buildFailureMarker({ runId: '123', attempt: 2, command: 'restore-drill', consecutive: 4 });
    expect(marker).toBe(
      '<!-- postgres-backup-action:v1 failure run=123 attempt=2 command=restore-drill consecutive=4 -->',
    );
    expect(parseFailureMarker(`text\n${marker}\nmore`)).toEqual({
      runId: '123',
      attempt: 2,
      command: 'restore-drill',
      consecutive: 4,
    });
    expect(parseFailureMarker(buildMarker({ workflow: 'w', job: 'j', database: 'd' }))).toBeUndefined();
    expect(parseFailureMarker('<!-- postgres-backup-action:v1 failure run=9 consecutive=x -->')).toEqual({
      runId: '9',
      attempt: 1,
      command: '',
      consecutive: 1,
    });
  });
});

describe('rendering', () => {
  const identity = { workflow: 'Nightly backups', job: 'backup', database: 'shop' };
  const ctx: FailureContext = {
    command: 'backup',
    database: 'shop',
    error: `pg_dump: error: connection to server failed: FATAL: password authentication failed for user "app" (password ${PASSWORD}, token ${TOKEN})`,
    phase: 'connect',
    lastSuccess: { key: 'prod/shop/2026-05-01T030000Z.dump.zst', time: new Date('2026-05-01T03:00:00Z') },
    time: new Date('2026-05-03T05:30:00Z'),
  };
  const run: RenderRun = {
    identity,
    runUrl: 'https://github.com/acme/shop/actions/runs/42/attempts/2',
    runId: '42',
    runAttempt: 2,
    consecutive: 3,
    threshold: 3,
    secrets: [TOKEN, PASSWORD],
  };

  test.each([
    ['backup', 'Backup failed: shop (Nightly backups)'],
    ['restore-drill', 'Restore drill failed: shop (Nightly backups)'],
    ['prune', 'Prune failed: shop (Nightly backups)'],
    ['check_freshness', 'Check freshness failed: shop (Nightly backups)'],
  ])('title for %s', (command, title) => {
    expect(issueTitle(command, 'shop', 'Nightly backups')).toBe(title);
  });

  test('issue body: marker first, facts, error, checklist, failure record; no secret', () => {
    const body = renderIssueBody(ctx, run);
    expect(body.split('\n')[0]).toBe(buildMarker(identity));
    expect(parseMarker(body)).toEqual(identity);
    expect(parseFailureMarker(body)).toEqual({ runId: '42', attempt: 2, command: 'backup', consecutive: 3 });
    expect(body).toContain('| Failed phase | **connect** |');
    expect(body).toContain('[run 42, attempt 2](https://github.com/acme/shop/actions/runs/42/attempts/2)');
    expect(body).toContain(
      '| Last successful backup | `prod/shop/2026-05-01T030000Z.dump.zst`, 2 days 2 hours before this failure (2026-05-01 03:00:00 UTC) |',
    );
    expect(body).toContain('| Consecutive failed runs | 3 (failure-threshold 3) |');
    expect(body).toContain('password authentication failed');
    expect(body).toContain('IPv4 session pooler');
    expect(body).not.toContain(TOKEN);
    expect(body).not.toContain(PASSWORD);
  });

  test('unknown last success, no run URL, error with backticks cannot close the fence', () => {
    const body = renderIssueBody(
      {
        ...ctx,
        lastSuccess: undefined,
        error: 'boom ``` <!-- postgres-backup-action:v1 workflow=x job=y database=z -->',
      },
      { ...run, runUrl: undefined, threshold: 1, consecutive: 1 },
    );
    expect(body).toContain('| Last successful backup | unknown |');
    expect(body).toContain('| Run | unknown (not run by GitHub Actions) |');
    expect(body).toContain('````text\nboom ```');
    expect(parseMarker(body)).toEqual(identity);
    expect(body).toContain('| Consecutive failed runs | 1 |');
  });

  test('failure comment and recovery comment', () => {
    const comment = renderFailureComment(ctx, { ...run, consecutive: 4 });
    expect(parseFailureMarker(comment)?.consecutive).toBe(4);
    expect(comment).toContain('**Failed again** (4th consecutive failed run): `backup` in phase **connect**');
    expect(comment).not.toContain(TOKEN);
    expect(comment).not.toContain(PASSWORD);
    const recovered = renderRecoveryComment(
      {
        command: 'backup',
        database: 'shop',
        backupKey: 'prod/shop/2026-05-04T030000Z.dump.zst',
        time: new Date('2026-05-04T03:01:00Z'),
      },
      { runUrl: 'https://github.com/acme/shop/actions/runs/43', runId: '43', runAttempt: 1 },
    );
    expect(recovered).toContain('**Recovered**');
    expect(recovered).toContain('New backup: `prod/shop/2026-05-04T030000Z.dump.zst`');
    expect(recovered.split('\n')[0]).toBe('<!-- postgres-backup-action:v1 recovered run=43 attempt=1 -->');
  });

  test.each(['config', 'connect', 'client', 'dump', 'upload', 'verify', 'manifest', 'restore'])(
    'checklist for %s',
    (phase) => {
      const list = checklistFor(phase);
      expect(list.length).toBeGreaterThanOrEqual(2);
      expect(list[0]).toContain("failed step's log");
    },
  );

  test.each([
    [0, '0 seconds'],
    [1_000, '1 second'],
    [59_999, '59 seconds'],
    [60_000, '1 minute'],
    [3_600_000, '1 hour'],
    [5 * 3_600_000 + 3 * 60_000, '5 hours 3 minutes'],
    [47 * 3_600_000, '47 hours'],
    [48 * 3_600_000, '2 days'],
    [50 * 3_600_000, '2 days 2 hours'],
    [-5_000, '0 seconds'],
  ])('formatAge(%d) = %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });

  test('redact replaces longer secrets first', () => {
    expect(redact('a abcdefgh b abcd', ['abcd', 'abcdefgh'])).toBe('a *** b ***');
    expect(redact('abc', ['ab'])).toBe('abc');
  });
});

describe('run context', () => {
  const env = {
    GITHUB_API_URL: 'https://ghes.example/api/v3/',
    GITHUB_SERVER_URL: 'https://ghes.example',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_WORKFLOW: 'Nightly backups',
    GITHUB_JOB: 'backup',
    GITHUB_RUN_ID: '77',
    GITHUB_RUN_ATTEMPT: '3',
    GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/backup.yml@refs/heads/main',
    GITHUB_REF_NAME: 'main',
    RUNNER_NAME: 'GitHub Actions 12',
  };

  test('reads the GitHub Actions variables', () => {
    const { context } = githubContext(env);
    expect(context).toEqual({
      apiUrl: 'https://ghes.example/api/v3',
      serverUrl: 'https://ghes.example',
      owner: 'acme',
      repo: 'shop',
      workflow: 'Nightly backups',
      job: 'backup',
      runId: '77',
      runAttempt: 3,
      workflowFile: 'backup.yml',
      branch: 'main',
      runnerName: 'GitHub Actions 12',
    });
    expect(runUrl(context!)).toBe('https://ghes.example/acme/shop/actions/runs/77/attempts/3');
    expect(runUrl({ ...context!, runAttempt: 1 })).toBe('https://ghes.example/acme/shop/actions/runs/77');
  });

  test('outside a runner', () => {
    expect(githubContext({})).toEqual({ missing: ['GITHUB_REPOSITORY', 'GITHUB_WORKFLOW', 'GITHUB_JOB'] });
    expect(githubContext({ ...env, GITHUB_REPOSITORY: 'justone' }).missing).toEqual(['GITHUB_REPOSITORY']);
  });

  test('no token or no runner: a warning on failure, silence on success; disabled: nothing', async () => {
    const config = parseReportingInputs(reader({ 'github-token': '' }));
    const out = capture();
    const reporter = createIssueReporter({ ...config, githubToken: '' }, env, out.log);
    const ctx = { command: 'backup', database: 'shop', error: 'x', phase: 'dump', time: new Date() };
    expect(await reporter.reportFailure(ctx)).toEqual({ action: 'skipped' });
    expect(await reporter.reportSuccess({ command: 'backup', database: 'shop', time: new Date() })).toEqual({
      action: 'skipped',
    });
    expect(out.warning).toEqual([
      "No failure issue opened: the 'github-token' input is empty (set it to ${{ github.token }} or a token with issues: write).",
    ]);

    const outside = capture();
    await createIssueReporter({ ...config, githubToken: TOKEN }, {}, outside.log).reportFailure(ctx);
    expect(outside.warning[0]).toContain(
      'not running in GitHub Actions (GITHUB_REPOSITORY, GITHUB_WORKFLOW, GITHUB_JOB unset)',
    );

    const disabled = capture();
    expect(
      await createIssueReporter({ ...config, issueOnFailure: false }, env, disabled.log).reportFailure(ctx),
    ).toEqual({ action: 'disabled' });
    expect(disabled.warning).toEqual([]);
  });
});

describe('webhook payloads', () => {
  const failure: ReportEvent = {
    event: 'failure',
    command: 'backup',
    database: 'shop',
    phase: 'upload',
    error: 'UploadError: <AccessDenied> & more',
    runUrl: 'https://github.com/acme/shop/actions/runs/42',
    lastSuccess: { key: 'prod/shop/a.dump', time: new Date('2026-05-01T03:00:00Z') },
    issueUrl: 'https://github.com/acme/shop/issues/7',
    consecutiveFailures: 2,
    repository: 'acme/shop',
    workflow: 'Nightly',
    job: 'backup',
    time: new Date('2026-05-02T03:00:00Z'),
  };

  test('generic shape: every field, nulls for unknowns', () => {
    expect(genericPayload(failure)).toEqual({
      text: 'Backup failed: shop (Nightly) in phase upload, 2 consecutive failures',
      event: 'failure',
      command: 'backup',
      database: 'shop',
      phase: 'upload',
      error: 'UploadError: <AccessDenied> & more',
      runUrl: 'https://github.com/acme/shop/actions/runs/42',
      backupKey: null,
      lastSuccessKey: 'prod/shop/a.dump',
      lastSuccessAt: '2026-05-01T03:00:00.000Z',
      issueUrl: 'https://github.com/acme/shop/issues/7',
      consecutiveFailures: 2,
      repository: 'acme/shop',
      workflow: 'Nightly',
      job: 'backup',
      time: '2026-05-02T03:00:00.000Z',
    });
    const success = genericPayload({
      event: 'success',
      command: 'backup',
      database: 'shop',
      backupKey: 'k',
      time: new Date(0),
    });
    expect(success).toMatchObject({
      event: 'success',
      backupKey: 'k',
      phase: null,
      error: null,
      runUrl: null,
      issueUrl: null,
    });
    expect(success.text).toBe('Backup succeeded: shop, backup k');
  });

  test('Slack shape: text plus Block Kit, escaped error in a code block, links', () => {
    const payload = slackPayload(failure);
    expect(payload.text).toBe(':rotating_light: Backup failed: shop (Nightly) in phase upload, 2 consecutive failures');
    expect(payload.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: eventText(failure), emoji: true },
    });
    expect(payload.blocks[1]).toMatchObject({ type: 'section' });
    expect(JSON.stringify(payload.blocks[1])).toContain('*Phase*\\nupload');
    expect(payload.blocks[2]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: '```UploadError: &lt;AccessDenied&gt; &amp; more```' },
    });
    expect(payload.blocks[3]).toEqual({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: '<https://github.com/acme/shop/actions/runs/42|Workflow run> · <https://github.com/acme/shop/issues/7|Issue>',
        },
      ],
    });
    expect(slackPayload({ event: 'recovered', command: 'backup', database: 'shop', time: new Date(0) }).text).toBe(
      ':white_check_mark: Backup recovered: shop',
    );
  });

  test.each([
    ['https://hooks.slack.com/services/T1/B2/abc', true],
    ['https://hooks.slack-gov.com/services/T1/B2/abc', true],
    ['http://127.0.0.1:9/services/T0ABC/B0DEF/xyz123', true],
    ['https://discord.com/api/webhooks/1/abc', false],
    ['https://example.com/hook', false],
    ['nonsense', false],
  ])('isSlackUrl(%s) = %s', (url, slack) => {
    expect(isSlackUrl(url)).toBe(slack);
  });

  test.each([
    ['failure', 'failure', true],
    ['failure', 'recovered', true],
    ['failure', 'success', false],
    ['always', 'success', true],
    ['always', 'failure', true],
    ['never', 'failure', false],
    ['never', 'recovered', false],
  ] as const)('notify-on %s, event %s → %s', (notifyOn, event, expected) => {
    expect(shouldNotify(notifyOn, event)).toBe(expected);
  });
});

describe('reportOutcome with a stub reporter', () => {
  const config: ReportingConfig = { ...parseReportingInputs(reader({})), webhookUrl: '' };

  test('passes the failure through and never throws', async () => {
    const calls: unknown[] = [];
    const reporter: IssueReporter = {
      reportFailure: (ctx) => {
        calls.push(ctx);
        return Promise.reject(new Error('reporter exploded'));
      },
      reportSuccess: () => Promise.resolve({ action: 'none' }),
    };
    const out = capture();
    const time = new Date('2026-05-05T00:00:00Z');
    await expect(
      reportOutcome(
        { ok: false, command: 'prune', database: 'shop', error: 'boom', phase: 'upload' },
        { config, env: {}, log: out.log, reporter, now: () => time },
      ),
    ).resolves.toBeUndefined();
    expect(calls).toEqual([{ command: 'prune', database: 'shop', error: 'boom', phase: 'upload', time }]);
    expect(out.warning).toEqual([
      "Failure reporting stopped unexpectedly: reporter exploded. The step's result is unchanged.",
    ]);
  });

  test('a success goes to reportSuccess with the backup key', async () => {
    const calls: unknown[] = [];
    const reporter: IssueReporter = {
      reportFailure: () => Promise.resolve({ action: 'skipped' }),
      reportSuccess: (ctx) => {
        calls.push(ctx);
        return Promise.resolve({ action: 'none' });
      },
    };
    const out = capture();
    const time = new Date(0);
    await reportOutcome(
      { ok: true, command: 'backup', database: 'shop', backupKey: 'k' },
      { config, env: {}, log: out.log, reporter, now: () => time },
    );
    expect(calls).toEqual([{ command: 'backup', database: 'shop', backupKey: 'k', time }]);
    expect(out.warning).toEqual([]);
  });
});
