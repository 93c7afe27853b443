/**
 * Keepalive's planner and texts (src/report/keepalive.ts), and its input: when a run reads the
 * repository, when it re-enables its workflow, and the day GitHub will disable the schedule.
 */
import { parseConfig } from '../../src/config/parse.js';
import {
  renderFailureComment,
  renderIssueBody,
  type FailureContext,
  type RenderRun,
} from '../../src/report/issue-render.js';
import {
  disableText,
  enabledText,
  keepSchedule,
  planKeepalive,
  type KeepaliveFacts,
  type KeepalivePlan,
} from '../../src/report/keepalive.js';

const NOW = new Date('2026-12-07T14:00:00Z');
const DAY = 86_400_000;
/** `pushed_at` of a push `days` days before NOW. */
const pushedDaysAgo = (days: number): string => new Date(NOW.getTime() - days * DAY).toISOString();

const PUBLIC_OLD = { private: false, pushedAt: pushedDaysAgo(46) };

describe('planKeepalive', () => {
  const base: KeepaliveFacts = { enabled: true, eventName: 'schedule', workflowFile: 'backup.yml', now: NOW };
  test.each<[string, Partial<KeepaliveFacts>, KeepalivePlan['action']]>([
    ['scheduled, repository not read yet', {}, 'read-repository'],
    ['keepalive off', { enabled: false, repository: PUBLIC_OLD }, 'skip'],
    ['push event', { eventName: 'push', repository: PUBLIC_OLD }, 'skip'],
    ['workflow_dispatch', { eventName: 'workflow_dispatch', repository: PUBLIC_OLD }, 'skip'],
    ['outside a runner (no event)', { eventName: '' }, 'skip'],
    ['private, 46 days', { repository: { private: true, pushedAt: pushedDaysAgo(46) } }, 'none'],
    ['public, 44 days', { repository: { private: false, pushedAt: pushedDaysAgo(44) } }, 'none'],
    ['public, exactly 45 days', { repository: { private: false, pushedAt: pushedDaysAgo(45) } }, 'none'],
    ['public, 46 days', { repository: PUBLIC_OLD }, 'enable'],
    ['public, 90 days (already past 60)', { repository: { private: false, pushedAt: pushedDaysAgo(90) } }, 'enable'],
    ['public, pushed_at null', { repository: { private: false, pushedAt: null } }, 'none'],
    ['public, pushed_at garbage', { repository: { private: false, pushedAt: 'yesterday' } }, 'none'],
    [
      'public, 46 days, GITHUB_WORKFLOW_REF unset',
      { workflowFile: undefined, repository: PUBLIC_OLD },
      'unknown-workflow',
    ],
  ])('%s → %s', (_name, facts, action) => {
    expect(planKeepalive({ ...base, ...facts }).action).toBe(action);
  });

  test('enable names the workflow, the days since the push and the day GitHub disables the schedule', () => {
    expect(planKeepalive({ ...base, repository: { private: false, pushedAt: '2026-10-20T23:30:00Z' } })).toEqual({
      action: 'enable',
      workflowFile: 'backup.yml',
      idleDays: 47,
      lastPush: '2026-10-20',
      // 60 days after 2026-10-20T23:30Z is 2026-12-19T23:30Z.
      disableOn: '2026-12-19',
    });
  });

  test.each([
    ['2026-10-01T00:00:00Z', '2026-11-30'],
    ['2026-01-01T12:00:00Z', '2026-03-02'],
    ['2024-01-01T00:00:00Z', '2024-03-01'], // leap year: Feb 29 counts
    ['2026-10-07T23:59:59Z', '2026-12-06'],
  ])('pushed %s → disabled on %s', (pushedAt, disableOn) => {
    const plan = planKeepalive({ ...base, repository: { private: false, pushedAt } });
    expect(plan).toMatchObject({ disableOn });
  });

  test('none says why, for the debug line', () => {
    expect(planKeepalive({ ...base, repository: { private: false, pushedAt: pushedDaysAgo(10) } })).toEqual({
      action: 'none',
      reason: 'the last push was 10 days ago (threshold 45 days).',
    });
    expect(planKeepalive({ ...base, repository: { private: true, pushedAt: pushedDaysAgo(100) } })).toEqual({
      action: 'none',
      reason: 'the repository is private (GitHub keeps its schedules).',
    });
  });
});

describe('texts', () => {
  const stale = { lastPush: '2026-10-20', idleDays: 47, disableOn: '2026-12-19' };
  test('the summary line after a re-enable', () => {
    const text = enabledText('backup.yml', stale);
    expect(text).toMatch(/^Keepalive: the last push to this public repository was 47 days ago \(2026-10-20\)/);
    expect(text).toContain('re-enabled workflow `backup.yml`');
    expect(text).toContain('docs/keepalive.md');
    expect(text).not.toContain('\n');
  });
  test('the warning names the date, the reason and the fix', () => {
    const text = disableText(stale, 'GitHub refused it (403)');
    expect(text).toBe(
      "Keepalive: GitHub will disable this workflow's schedule on 2026-12-19 (60 days after the last push, 2026-10-20): GitHub refused it (403). Fix: add `permissions: actions: write` to the calling workflow (the one with the `schedule`), or push a commit.",
    );
  });
});

describe('the keepalive input', () => {
  const read = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? '';
  const URL = 'postgres://app:pw@db.example.com/shop';
  const BASE = { destination: 'file:///tmp/backups' };
  test.each([
    ['backup', { 'database-url': URL }, false],
    ['backup', { 'database-url': URL, keepalive: 'true' }, true],
    ['list', { database: 'shop', keepalive: 'True' }, true],
    ['check', { keepalive: 'TRUE', database: 'shop' }, true],
    ['drill', { keepalive: 'false', database: 'shop', 'target-database-url': 'postgres://u:p@h/scratch' }, false],
  ])('%s %j → %s (every command reads it)', (command, inputs, expected) => {
    expect(parseConfig(read({ ...BASE, command, ...inputs })).keepalive).toBe(expected);
  });
  test('not a boolean: refused, naming the input', () => {
    expect(() => parseConfig(read({ ...BASE, 'database-url': URL, keepalive: 'on' }))).toThrow(
      "Input 'keepalive': 'on' is not a boolean; use true or false.",
    );
  });
});

describe('the note in the failure issue', () => {
  const TOKEN = 'ghs_NoteToken_0123456789';
  const note = disableText(
    { lastPush: '2026-10-20', idleDays: 47, disableOn: '2026-12-19' },
    `GitHub refused it (403, token ${TOKEN})`,
  );
  const ctx: FailureContext = {
    command: 'backup',
    database: 'shop',
    error: 'boom',
    phase: 'dump',
    note,
    time: new Date('2026-12-07T03:00:00Z'),
  };
  const run: RenderRun = {
    identity: { workflow: 'Nightly', job: 'backup', database: 'shop' },
    runId: '42',
    runAttempt: 1,
    consecutive: 1,
    threshold: 1,
    secrets: [TOKEN],
  };
  test.each([
    ['new issue', renderIssueBody(ctx, run)],
    ['comment', renderFailureComment(ctx, { ...run, consecutive: 2 })],
  ])('%s: quoted after the error, secrets redacted', (_name, text) => {
    expect(text).toMatch(/```\n\n> Keepalive: GitHub will disable this workflow's schedule on 2026-12-19 /);
    expect(text).not.toContain(TOKEN);
  });
  test('no note: no quote', () => {
    const { note: _unused, ...without } = ctx;
    expect(renderIssueBody(without, run)).not.toContain('> Keepalive');
  });
});

describe('keepSchedule never throws', () => {
  const TOKEN = 'ghs_GuardToken_0123456789';
  const logged: string[] = [];
  const host = {
    log: { info: (m: string) => logged.push(`info ${m}`), warning: (m: string) => logged.push(`warning ${m}`) },
    debug: (m: string) => logged.push(`debug ${m}`),
    writeSummary: () => Promise.resolve(),
  };
  const config = { keepalive: true, summary: true, reporting: { githubToken: TOKEN } };
  beforeEach(() => (logged.length = 0));

  test('not a scheduled run: nothing, not even a log line', async () => {
    await expect(keepSchedule(config, host, { env: { GITHUB_EVENT_NAME: 'push' }, secrets: [] })).resolves.toBe(
      undefined,
    );
    expect(logged).toEqual([]);
  });

  test('an unexpected error is one redacted warning', async () => {
    const env: NodeJS.ProcessEnv = new Proxy(
      {},
      {
        get: () => {
          throw new Error(`broken environment ${TOKEN}`);
        },
      },
    );
    await expect(keepSchedule(config, host, { env, secrets: [] })).resolves.toBe(undefined);
    expect(logged).toEqual(['warning Keepalive stopped unexpectedly: broken environment ***; the run goes on.']);
  });
});
