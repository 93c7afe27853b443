/**
 * The failure issue: one open GitHub issue per workflow, job and database, found again by its labels
 * and a hidden marker in its body, commented on by each further failure and closed by the next
 * success. Uses the GitHub REST API through @octokit/rest (with the retry and throttling plugins),
 * against `GITHUB_API_URL` (GitHub Enterprise Server works).
 *
 * Endpoints (GitHub REST API docs, "Issues" and "Actions" sections):
 * - Issues › List repository issues: `GET /repos/{owner}/{repo}/issues?labels=…&state=open` (paginated)
 * - Issues › Create an issue: `POST /repos/{owner}/{repo}/issues`
 * - Issues › Update an issue: `PATCH /repos/{owner}/{repo}/issues/{issue_number}` (close, state_reason completed)
 * - Issue comments › List / Create: `GET|POST /repos/{owner}/{repo}/issues/{issue_number}/comments`
 * - Workflow runs › List workflow runs for a workflow: `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs`
 *   and Workflow jobs › List jobs for a workflow run (attempt):
 *   `GET /repos/{owner}/{repo}/actions/runs/{run_id}[/attempts/{attempt_number}]/jobs` — only when
 *   failure-threshold > 1 and no issue is open yet.
 *
 * Reporting never hides the original failure: any API error becomes a warning (naming the permission
 * to add when it is one) and the functions return normally.
 */
import { randomUUID } from 'node:crypto';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { errorMessage } from '../errors.js';
import type { ReportingConfig } from './reporting-config.js';
import { redact } from '../redact.js';
import { commandTitle, type ReportLog } from './webhook.js';

// ---------------------------------------------------------------------------------------------
// Markers

/** Prefix of every hidden marker this action writes into issues and comments. */
export const MARKER_PREFIX = 'postgres-backup-action:v1';

/** What one failure issue is about: two databases or two workflows never share an issue. */
export interface IssueIdentity {
  /** `GITHUB_WORKFLOW` (the workflow's name). */
  workflow: string;
  /** `GITHUB_JOB` (the job's id in the workflow file). */
  job: string;
  database: string;
}

const enc = (value: string): string => encodeURIComponent(value);

function markerFields(text: string, kind: string | undefined): Map<string, string> | undefined {
  const pattern = new RegExp(`<!--\\s*${MARKER_PREFIX.replace(/[.:]/g, '\\$&')}\\s+([^>]*?)\\s*-->`, 'g');
  for (const match of text.matchAll(pattern)) {
    const parts = (match[1] ?? '').split(/\s+/).filter((p) => p !== '');
    const first = parts[0] ?? '';
    const isKind = kind === undefined ? first.includes('=') : first === kind;
    if (!isKind) continue;
    const fields = new Map<string, string>();
    for (const part of kind === undefined ? parts : parts.slice(1)) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      try {
        fields.set(part.slice(0, eq), decodeURIComponent(part.slice(eq + 1)));
      } catch {
        fields.set(part.slice(0, eq), part.slice(eq + 1));
      }
    }
    return fields;
  }
  return undefined;
}

/**
 * The identity marker at the top of an issue body:
 * `<!-- postgres-backup-action:v1 workflow=<GITHUB_WORKFLOW> job=<GITHUB_JOB> database=<db> -->`,
 * values percent-encoded (so spaces, `=` and `-->` in names cannot break it).
 */
export function buildMarker(identity: IssueIdentity): string {
  return `<!-- ${MARKER_PREFIX} workflow=${enc(identity.workflow)} job=${enc(identity.job)} database=${enc(identity.database)} -->`;
}

/** The identity in an issue body's marker, or undefined when there is none (or it lacks a field). */
export function parseMarker(body: string | null | undefined): IssueIdentity | undefined {
  if (!body) return undefined;
  const fields = markerFields(body, undefined);
  const workflow = fields?.get('workflow');
  const job = fields?.get('job');
  const database = fields?.get('database');
  if (workflow === undefined || job === undefined || database === undefined) return undefined;
  return { workflow, job, database };
}

export function sameIdentity(a: IssueIdentity, b: IssueIdentity): boolean {
  return a.workflow === b.workflow && a.job === b.job && a.database === b.database;
}

/** A failure record (end of the issue body, top of each failure comment). */
export interface FailureMarker {
  runId: string;
  attempt: number;
  command: string;
  /** Consecutive failed runs up to and including this one. */
  consecutive: number;
}

/** `<!-- postgres-backup-action:v1 failure run=<id> attempt=<n> command=<c> consecutive=<n> -->` */
export function buildFailureMarker(m: FailureMarker): string {
  return `<!-- ${MARKER_PREFIX} failure run=${enc(m.runId)} attempt=${m.attempt} command=${enc(m.command)} consecutive=${m.consecutive} -->`;
}

/** The failure record in a body or comment, or undefined. */
export function parseFailureMarker(text: string | null | undefined): FailureMarker | undefined {
  if (!text) return undefined;
  const fields = markerFields(text, 'failure');
  if (!fields) return undefined;
  const attempt = Number(fields.get('attempt') ?? '1');
  const consecutive = Number(fields.get('consecutive') ?? '1');
  return {
    runId: fields.get('run') ?? '',
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
    command: fields.get('command') ?? '',
    consecutive: Number.isInteger(consecutive) && consecutive > 0 ? consecutive : 1,
  };
}

/** `<!-- postgres-backup-action:v1 recovered run=<id> attempt=<n> -->` */
export function buildRecoveredMarker(runId: string, attempt: number): string {
  return `<!-- ${MARKER_PREFIX} recovered run=${enc(runId)} attempt=${attempt} -->`;
}

// ---------------------------------------------------------------------------------------------
// Run context from the environment

/** What the runner tells us about this run (GitHub Actions default environment variables). */
export interface GitHubContext {
  /** `GITHUB_API_URL`, e.g. https://api.github.com or https://ghes.example/api/v3. */
  apiUrl: string;
  /** `GITHUB_SERVER_URL`. */
  serverUrl: string;
  owner: string;
  repo: string;
  workflow: string;
  job: string;
  /** `GITHUB_RUN_ID` ('' outside a runner). */
  runId: string;
  /** `GITHUB_RUN_ATTEMPT` (1 when unset). */
  runAttempt: number;
  /** The workflow file name (`backup.yml`) from `GITHUB_WORKFLOW_REF`, for the runs API. */
  workflowFile?: string;
  /** Branch whose runs count for the threshold (`GITHUB_HEAD_REF` or `GITHUB_REF_NAME`). */
  branch?: string;
  /** `RUNNER_NAME`: finds this job among the run's jobs (threshold). */
  runnerName?: string;
}

/** Reads {@link GitHubContext} from the environment; `missing` lists the variables that are needed but unset. */
export function githubContext(env: NodeJS.ProcessEnv): { context?: GitHubContext; missing: string[] } {
  const get = (name: string): string => (env[name] ?? '').trim();
  const missing = ['GITHUB_REPOSITORY', 'GITHUB_WORKFLOW', 'GITHUB_JOB'].filter((n) => get(n) === '');
  const [owner, repo, ...rest] = get('GITHUB_REPOSITORY').split('/');
  if (!owner || !repo || rest.length > 0) {
    if (!missing.includes('GITHUB_REPOSITORY')) missing.push('GITHUB_REPOSITORY');
  }
  if (missing.length > 0 || !owner || !repo) return { missing };
  const attempt = Number(get('GITHUB_RUN_ATTEMPT') || '1');
  const workflowFile = /\/\.github\/workflows\/([^@/]+)@/.exec(get('GITHUB_WORKFLOW_REF'))?.[1];
  const branch = get('GITHUB_HEAD_REF') || get('GITHUB_REF_NAME');
  const runnerName = get('RUNNER_NAME');
  return {
    context: {
      apiUrl: (get('GITHUB_API_URL') || 'https://api.github.com').replace(/\/+$/, ''),
      serverUrl: (get('GITHUB_SERVER_URL') || 'https://github.com').replace(/\/+$/, ''),
      owner,
      repo,
      workflow: get('GITHUB_WORKFLOW'),
      job: get('GITHUB_JOB'),
      runId: get('GITHUB_RUN_ID'),
      runAttempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
      ...(workflowFile ? { workflowFile } : {}),
      ...(branch ? { branch } : {}),
      ...(runnerName ? { runnerName } : {}),
    },
    missing: [],
  };
}

/**
 * `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`, with
 * `/attempts/<n>` for a re-run (attempt > 1); undefined without a run id.
 */
export function runUrl(
  ctx: Pick<GitHubContext, 'serverUrl' | 'owner' | 'repo' | 'runId' | 'runAttempt'>,
): string | undefined {
  if (ctx.runId === '') return undefined;
  const base = `${ctx.serverUrl}/${ctx.owner}/${ctx.repo}/actions/runs/${ctx.runId}`;
  return ctx.runAttempt > 1 ? `${base}/attempts/${ctx.runAttempt}` : base;
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** A failed run, as the reporter needs it. `error` is already masked by the caller. */
export interface FailureContext {
  /** The action's command: `backup`, `restore-drill`, `prune`, … */
  command: string;
  database: string;
  error: string;
  /** config, connect, client, dump, upload, verify, manifest, or a later command's own phase. */
  phase: string;
  /** Newest backup with a manifest before this run, when the caller knows it. */
  lastSuccess?: { key: string; time: Date } | undefined;
  /** When the failure is reported. */
  time: Date;
}

/** A successful run. */
export interface SuccessContext {
  command: string;
  database: string;
  /** Key of the backup just made, when the command makes one. */
  backupKey?: string;
  time: Date;
}

/** `Backup failed: <database> (<workflow>)`, `Restore drill failed: …`, `Prune failed: …`. */
export function issueTitle(command: string, database: string, workflow: string): string {
  return `${commandTitle(command)} failed: ${database || '(unknown database)'} (${workflow})`;
}

/** What to check first, by failed phase (markdown task-list lines, without the `- [ ] `). */
export function checklistFor(phase: string): string[] {
  const common = "Read the failed step's log in the run linked above; the error there is the first thing to fix.";
  const byPhase: Record<string, string[]> = {
    config: [
      "The input named in the error: its value in the workflow file (see the action's README for allowed values).",
      'Secrets used by the inputs exist in this repository or environment (runs from forks and Dependabot get no secrets).',
    ],
    connect: [
      'The database host is reachable from the runner: firewall / IP allow-list (GitHub-hosted runners have changing IPs), VPN or self-hosted runner.',
      'IPv6-only hosts (e.g. Supabase `db.<ref>.supabase.co`) are unreachable from hosted runners: use the IPv4 session pooler on port 5432; the transaction pooler (6543) breaks pg_dump.',
      'Credentials and `sslmode`: was the password rotated, does the server require TLS?',
      'The server is up and accepts connections (maintenance, max_connections).',
    ],
    client: [
      "A pg_dump of the server's major version could be installed: `install-client`, `client-version`, and the runner image (PGDG apt, Homebrew, Windows PGBIN).",
      'The server was upgraded to a new major version recently (the client must match or be newer).',
    ],
    dump: [
      'The role can read every dumped table, sequence and schema (e.g. grant `pg_read_all_data`), or exclude what it cannot read.',
      'Locks and timeouts: long DDL or `lock_timeout`/`statement_timeout` on the role; a server restart during the dump.',
      'pg_dump / server version mismatch in the log (`aborting because of server version mismatch`).',
      'Extra `pg-dump-args` and the disk space of RUNNER_TEMP (directory format).',
    ],
    upload: [
      'Storage credentials and permissions (s3:PutObject, s3:AbortMultipartUpload, s3:ListBucket) and that they have not expired.',
      'Endpoint, region and path-style addressing for S3-compatible stores; R2/B2 reject checksum headers (`s3-checksums`).',
      'Bucket quota, object lock or lifecycle rules; for file:// destinations, free disk space and permissions.',
    ],
    verify: [
      "The stored archive differs from what was streamed: the store's consistency, a proxy rewriting bodies, or another process writing the same key.",
      'Re-run the job; if it fails again, test the storage with a small upload.',
    ],
    manifest: [
      'Write permission for `*.manifest.json` next to the archive (a prefix-restricted policy).',
      'The archive without a manifest is not a good backup: re-run the job.',
    ],
  };
  return [
    common,
    ...(byPhase[phase] ?? ['The step log around the error, and the inputs and secrets of this command.']),
  ];
}

/** Human age: `45 seconds`, `12 minutes`, `5 hours 3 minutes`, `2 days 4 hours`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (s < 60) return plural(s, 'second');
  const m = Math.floor(s / 60);
  if (m < 60) return plural(m, 'minute');
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? plural(h, 'hour') : `${plural(h, 'hour')} ${plural(m % 60, 'minute')}`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? plural(d, 'day') : `${plural(d, 'day')} ${plural(h % 24, 'hour')}`;
}

function ordinal(n: number): string {
  const rem100 = n % 100;
  const suffix =
    rem100 >= 11 && rem100 <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** Inline code that survives backticks and table pipes. */
function code(value: string): string {
  const text = value.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return longest > 0 ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

/** A fenced block that the text cannot close; long text keeps its head and tail. */
function codeBlock(text: string, max = 20_000): string {
  let body = text;
  if (body.length > max) {
    const half = Math.floor(max / 2);
    body = `${body.slice(0, half)}\n… (${body.length - 2 * half} characters cut) …\n${body.slice(-half)}`;
  }
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}text\n${body}\n${fence}`;
}

function utc(time: Date): string {
  return `${time
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')} UTC`;
}

/** Everything the renderers need besides the failure itself. */
export interface RenderRun {
  identity: IssueIdentity;
  /** See {@link runUrl}; undefined outside a runner. */
  runUrl?: string | undefined;
  runId: string;
  runAttempt: number;
  /** Consecutive failed runs including this one. */
  consecutive: number;
  threshold: number;
  /** True when earlier runs could not be read (the issue was opened without waiting for the threshold). */
  countUnknown?: boolean;
  /** Scrubbed from the error text (the caller masks already; this is defence in depth). */
  secrets: readonly string[];
}

function lastSuccessText(ctx: FailureContext): string {
  if (!ctx.lastSuccess) return 'unknown';
  const age = formatAge(ctx.time.getTime() - ctx.lastSuccess.time.getTime());
  return `${code(ctx.lastSuccess.key)}, ${age} before this failure (${utc(ctx.lastSuccess.time)})`;
}

function runText(run: RenderRun): string {
  if (!run.runUrl) return 'unknown (not run by GitHub Actions)';
  return `[run ${run.runId}${run.runAttempt > 1 ? `, attempt ${run.runAttempt}` : ''}](${run.runUrl})`;
}

/** The new issue's body: marker, facts table, the error, a checklist by phase, the failure record. */
export function renderIssueBody(ctx: FailureContext, run: RenderRun): string {
  const rows: [string, string][] = [
    ['Command', code(ctx.command)],
    ['Database', code(ctx.database || '(unknown)')],
    ['Failed phase', `**${ctx.phase}**`],
    ['When', utc(ctx.time)],
    ['Run', runText(run)],
    ['Workflow / job', `${code(run.identity.workflow)} / ${code(run.identity.job)}`],
    ['Last successful backup', lastSuccessText(ctx)],
    [
      'Consecutive failed runs',
      run.countUnknown
        ? `unknown: earlier runs could not be read (failure-threshold ${run.threshold})`
        : run.threshold > 1
          ? `${run.consecutive} (failure-threshold ${run.threshold})`
          : String(run.consecutive),
    ],
  ];
  return [
    buildMarker(run.identity),
    `## ${commandTitle(ctx.command)} failed for database ${code(ctx.database || '(unknown)')}`,
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '### Error',
    '',
    codeBlock(redact(ctx.error, run.secrets)),
    '',
    `### What to check (phase: ${ctx.phase})`,
    '',
    ...checklistFor(ctx.phase).map((line) => `- [ ] ${line}`),
    '',
    '---',
    '<sub>Opened by postgres-backup-action. Each further failure of this job adds a comment; the next successful run comments "Recovered" and closes this issue (`close-issue-on-success`). Keep the hidden marker at the top of this description: it is how the action finds this issue again.</sub>',
    '',
    buildFailureMarker({
      runId: run.runId,
      attempt: run.runAttempt,
      command: ctx.command,
      consecutive: run.consecutive,
    }),
    '',
  ].join('\n');
}

/** A repeat failure's comment: failure record, count, phase, run, last good backup, the error. */
export function renderFailureComment(ctx: FailureContext, run: RenderRun): string {
  return [
    buildFailureMarker({
      runId: run.runId,
      attempt: run.runAttempt,
      command: ctx.command,
      consecutive: run.consecutive,
    }),
    `**Failed again** (${ordinal(run.consecutive)} consecutive failed run): ${code(ctx.command)} in phase **${ctx.phase}**, ${utc(ctx.time)}.`,
    '',
    `- Run: ${runText(run)}`,
    `- Last successful backup: ${lastSuccessText(ctx)}`,
    '',
    codeBlock(redact(ctx.error, run.secrets)),
    '',
  ].join('\n');
}

/** The recovery comment posted before closing. */
export function renderRecoveryComment(
  ctx: SuccessContext,
  run: Pick<RenderRun, 'runUrl' | 'runId' | 'runAttempt'>,
): string {
  const runPart = run.runUrl ? ` in [run ${run.runId}](${run.runUrl})` : '';
  return [
    buildRecoveredMarker(run.runId, run.runAttempt),
    `**Recovered**: ${code(ctx.command)} of ${code(ctx.database)} succeeded${runPart} at ${utc(ctx.time)}.`,
    ...(ctx.backupKey ? ['', `New backup: ${code(ctx.backupKey)}`] : []),
    '',
    'Closing this issue; a new failure opens a new one.',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Reporter

/** What reportFailure did. */
export interface FailureReport {
  action: 'created' | 'commented' | 'duplicate' | 'below-threshold' | 'disabled' | 'skipped' | 'failed';
  issueNumber?: number;
  issueUrl?: string;
  /** Consecutive failed runs including this one, when counted. */
  consecutiveFailures?: number;
}

/** What reportSuccess did. */
export interface SuccessReport {
  action: 'closed' | 'kept-open' | 'none' | 'disabled' | 'skipped' | 'failed';
  issueNumber?: number;
  issueUrl?: string;
}

/** Opens, comments on and closes the failure issue. Implementations never throw. */
export interface IssueReporter {
  /** Comment on this job's open issue, or open one once `failure-threshold` consecutive runs failed. */
  reportFailure(ctx: FailureContext): Promise<FailureReport>;
  /** Comment "Recovered" on this job's open issue and close it (close-issue-on-success). */
  reportSuccess(ctx: SuccessContext): Promise<SuccessReport>;
}

/** Bounds of the API calls. Production uses the defaults; tests shorten them. */
export interface ReporterOptions {
  /** One HTTP request, connect to last byte (ms). Default 10 000. */
  requestTimeoutMs?: number;
  /** Retries of a 5xx / network error / timeout (plugin-retry). Default 2. */
  retries?: number;
  /** Retry n waits n² × this (ms; plugin-retry's retryAfterBaseValue). Default 1000. */
  retryAfterBaseMs?: number;
  /** Whole reportFailure / reportSuccess call (ms); past it no new request starts. Default 60 000. */
  budgetMs?: number;
  /** Strings scrubbed from everything written to GitHub and from warnings (the token is always added). */
  secrets?: readonly string[];
}

interface IssueRef {
  number: number;
  html_url: string;
  body?: string | null;
}

class ApiStep extends Error {
  constructor(
    readonly step: string,
    readonly permission: string,
    readonly error: unknown,
  ) {
    super(step);
  }
}

/**
 * The reporter for this run: disabled (`issue-on-failure: false`), a warning-only stub (no token,
 * or not in GitHub Actions), or the Octokit implementation.
 *
 * `env` supplies GITHUB_API_URL, GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_WORKFLOW, GITHUB_JOB,
 * GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, and for failure-threshold > 1 GITHUB_WORKFLOW_REF,
 * GITHUB_REF_NAME/GITHUB_HEAD_REF and RUNNER_NAME. Never throws.
 */
export function createIssueReporter(
  config: ReportingConfig,
  env: NodeJS.ProcessEnv,
  log: ReportLog,
  options: ReporterOptions = {},
): IssueReporter {
  if (!config.issueOnFailure) {
    return { reportFailure: async () => ({ action: 'disabled' }), reportSuccess: async () => ({ action: 'disabled' }) };
  }
  const { context, missing } = githubContext(env);
  if (config.githubToken === '' || !context) {
    const why =
      config.githubToken === ''
        ? "the 'github-token' input is empty (set it to ${{ github.token }} or a token with issues: write)"
        : `not running in GitHub Actions (${missing.join(', ')} unset)`;
    return {
      reportFailure: async () => {
        log.warning(`No failure issue opened: ${why}.`);
        return { action: 'skipped' };
      },
      reportSuccess: async () => ({ action: 'skipped' }),
    };
  }
  return new OctokitIssueReporter(config, context, log, options);
}

const ReportingOctokit = Octokit.plugin(retry, throttling);
type ReportingOctokit = InstanceType<typeof ReportingOctokit>;

class OctokitIssueReporter implements IssueReporter {
  private readonly octokit: ReportingOctokit;
  private deadline: AbortSignal | undefined;
  private readonly secrets: string[];
  private readonly retries: number;
  private readonly budgetMs: number;

  constructor(
    private readonly config: ReportingConfig,
    private readonly gh: GitHubContext,
    private readonly log: ReportLog,
    options: ReporterOptions,
  ) {
    const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.budgetMs = options.budgetMs ?? 60_000;
    this.secrets = [config.githubToken, ...(options.secrets ?? [])].filter((s) => s.length > 0);
    const boundedFetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (this.deadline?.aborted) {
        // Named AbortError so @octokit/request rethrows it as is and plugin-retry does not retry.
        throw Object.assign(
          new Error(`time budget of ${Math.round(this.budgetMs / 1000)} s for GitHub reporting is spent`),
          { name: 'AbortError' },
        );
      }
      const signals = [
        AbortSignal.timeout(requestTimeoutMs),
        ...(this.deadline ? [this.deadline] : []),
        ...(init?.signal ? [init.signal] : []),
      ];
      return fetch(url, { ...init, signal: AbortSignal.any(signals) });
    };
    const limited =
      (kind: string) =>
      (retryAfter: number, opts: { method: string; url: string }, _octokit: unknown, retryCount: number): boolean => {
        const again = retryCount === 0 && retryAfter <= 30;
        log.warning(
          `GitHub API ${kind} rate limit on ${opts.method} ${opts.url}: ${again ? `retrying in ${retryAfter} s` : 'giving up'}.`,
        );
        return again;
      };
    this.octokit = new ReportingOctokit({
      auth: config.githubToken,
      baseUrl: gh.apiUrl,
      userAgent: 'postgres-backup-action',
      request: { fetch: boundedFetch },
      retry: {
        retries: this.retries,
        retryAfterBaseValue: options.retryAfterBaseMs ?? 1000,
        // 403/429 rate limits are the throttling plugin's; the others are not transient.
        doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
      },
      throttle: {
        // A fresh id per reporter: Bottleneck groups are process-wide and keyed by id.
        id: `postgres-backup-action-${randomUUID()}`,
        retryAfterBaseValue: options.retryAfterBaseMs ?? 1000,
        onRateLimit: limited('primary'),
        onSecondaryRateLimit: limited('secondary'),
      },
      log: {
        debug: () => {},
        info: () => {},
        warn: (message: string) => log.info(`GitHub API: ${redact(message, this.secrets)}`),
        error: () => {},
      },
    });
  }

  async reportFailure(ctx: FailureContext): Promise<FailureReport> {
    this.deadline = AbortSignal.timeout(this.budgetMs);
    const identity = this.identity(ctx.database);
    try {
      const open = await this.findOpenIssue(identity);
      const base = {
        identity,
        ...(runUrl(this.gh) ? { runUrl: runUrl(this.gh) as string } : {}),
        runId: this.gh.runId,
        runAttempt: this.gh.runAttempt,
        threshold: this.config.failureThreshold,
        secrets: this.secrets,
      };
      if (open) return await this.commentOnOpen(open, ctx, base);

      let consecutive = 1;
      let countUnknown = false;
      if (this.config.failureThreshold > 1) {
        const counted = await this.countConsecutiveFailures(this.config.failureThreshold - 1);
        if (counted === undefined) {
          countUnknown = true; // Cannot count: open the issue rather than stay silent.
        } else {
          consecutive = 1 + counted;
          if (consecutive < this.config.failureThreshold) {
            this.log.info(
              `Failure ${consecutive} of ${this.config.failureThreshold} consecutive failed runs (failure-threshold): no issue opened yet.`,
            );
            return { action: 'below-threshold', consecutiveFailures: consecutive };
          }
        }
      }
      const created = await this.createIssue(ctx, { ...base, consecutive, ...(countUnknown ? { countUnknown } : {}) });
      this.log.warning(`Opened issue #${created.number} for this failure: ${created.html_url}`);
      return {
        action: 'created',
        issueNumber: created.number,
        issueUrl: created.html_url,
        consecutiveFailures: consecutive,
      };
    } catch (error) {
      this.warn(error, 'failure');
      return { action: 'failed' };
    } finally {
      this.deadline = undefined;
    }
  }

  async reportSuccess(ctx: SuccessContext): Promise<SuccessReport> {
    this.deadline = AbortSignal.timeout(this.budgetMs);
    try {
      const open = await this.findOpenIssue(this.identity(ctx.database));
      if (!open) return { action: 'none' };
      if (!this.config.closeIssueOnSuccess) {
        this.log.info(`Failure issue #${open.number} stays open (close-issue-on-success: false): ${open.html_url}`);
        return { action: 'kept-open', issueNumber: open.number, issueUrl: open.html_url };
      }
      const { owner, repo } = this.gh;
      const body = redact(
        renderRecoveryComment(ctx, {
          ...(runUrl(this.gh) ? { runUrl: runUrl(this.gh) } : {}),
          runId: this.gh.runId,
          runAttempt: this.gh.runAttempt,
        }),
        this.secrets,
      );
      await this.step('comment on the failure issue', 'issues: write', () =>
        this.octokit.rest.issues.createComment({ owner, repo, issue_number: open.number, body }),
      );
      await this.step('close the failure issue', 'issues: write', () =>
        this.octokit.rest.issues.update({
          owner,
          repo,
          issue_number: open.number,
          state: 'closed',
          state_reason: 'completed',
        }),
      );
      this.log.info(`Recovered: closed failure issue #${open.number} (${open.html_url}).`);
      return { action: 'closed', issueNumber: open.number, issueUrl: open.html_url };
    } catch (error) {
      this.warn(error, 'success');
      return { action: 'failed' };
    } finally {
      this.deadline = undefined;
    }
  }

  private identity(database: string): IssueIdentity {
    return { workflow: this.gh.workflow, job: this.gh.job, database };
  }

  private async step<T>(step: string, permission: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new ApiStep(step, permission, error);
    }
  }

  /** Open issues with all the labels (every open issue when there are none), first whose marker matches. */
  private async findOpenIssue(identity: IssueIdentity): Promise<IssueRef | undefined> {
    const { owner, repo } = this.gh;
    return this.step('list open issues', 'issues: read', async () => {
      const pages = this.octokit.paginate.iterator(this.octokit.rest.issues.listForRepo, {
        owner,
        repo,
        state: 'open',
        ...(this.config.issueLabels.length > 0 ? { labels: this.config.issueLabels.join(',') } : {}),
        per_page: 100,
      });
      let n = 0;
      for await (const page of pages) {
        for (const issue of page.data) {
          if (issue.pull_request) continue;
          const found = parseMarker(issue.body);
          if (found && sameIdentity(found, identity))
            return { number: issue.number, html_url: issue.html_url, body: issue.body ?? null };
        }
        if (++n >= 20) break; // 2 000 open issues with these labels: give up rather than page forever.
      }
      return undefined;
    });
  }

  private async commentOnOpen(
    open: IssueRef,
    ctx: FailureContext,
    base: Omit<RenderRun, 'consecutive'>,
  ): Promise<FailureReport> {
    const { owner, repo } = this.gh;
    const records: FailureMarker[] = [];
    const fromBody = parseFailureMarker(open.body);
    if (fromBody) records.push(fromBody);
    await this.step("read the failure issue's comments", 'issues: read', async () => {
      let n = 0;
      for await (const page of this.octokit.paginate.iterator(this.octokit.rest.issues.listComments, {
        owner,
        repo,
        issue_number: open.number,
        per_page: 100,
      })) {
        for (const comment of page.data) {
          const record = parseFailureMarker(comment.body);
          if (record) records.push(record);
        }
        if (++n >= 20) break;
      }
    });
    const previous = Math.max(0, ...records.map((r) => r.consecutive));
    const same = records.find(
      (r) =>
        r.runId === this.gh.runId &&
        r.attempt === this.gh.runAttempt &&
        r.command === ctx.command &&
        this.gh.runId !== '',
    );
    if (same) {
      this.log.info(`This run's failure is already on issue #${open.number}: ${open.html_url}`);
      return { action: 'duplicate', issueNumber: open.number, issueUrl: open.html_url, consecutiveFailures: previous };
    }
    const consecutive = previous + 1;
    const body = redact(renderFailureComment(ctx, { ...base, consecutive }), this.secrets);
    await this.step('comment on the failure issue', 'issues: write', () =>
      this.octokit.rest.issues.createComment({ owner, repo, issue_number: open.number, body }),
    );
    this.log.warning(`Failure ${consecutive} in a row; commented on the open issue #${open.number}: ${open.html_url}`);
    return { action: 'commented', issueNumber: open.number, issueUrl: open.html_url, consecutiveFailures: consecutive };
  }

  private async createIssue(ctx: FailureContext, run: RenderRun): Promise<IssueRef> {
    const { owner, repo } = this.gh;
    const title = redact(issueTitle(ctx.command, ctx.database, this.gh.workflow), this.secrets);
    const body = redact(renderIssueBody(ctx, run), this.secrets);
    const labels = this.config.issueLabels;
    const create = (assignees: string[]) =>
      this.octokit.rest.issues.create({
        owner,
        repo,
        title,
        body,
        ...(labels.length > 0 ? { labels } : {}),
        ...(assignees.length > 0 ? { assignees } : {}),
      });
    const created = await this.step('open the failure issue', 'issues: write', async () => {
      try {
        return await create(this.config.issueAssignees);
      } catch (error) {
        // 422 for assignees who cannot be assigned: open it unassigned rather than not at all.
        if (this.config.issueAssignees.length > 0 && statusOf(error) === 422) {
          this.log.warning(
            `GitHub refused the assignees ${this.config.issueAssignees.join(', ')} (${redact(errorMessage(error), this.secrets)}); opening the issue without them. Each must be a collaborator with access to ${owner}/${repo}.`,
          );
          return create([]);
        }
        throw error;
      }
    });
    const applied = new Set((created.data.labels ?? []).map((l) => (typeof l === 'string' ? l : (l.name ?? ''))));
    const dropped = labels.filter((l) => !applied.has(l));
    if (dropped.length > 0) {
      this.log.warning(
        `Issue #${created.data.number} was opened without the label(s) ${dropped.join(', ')}; the next failure finds the issue by these labels and would open another. Create the labels, or give the token issues: write.`,
      );
    }
    return { number: created.data.number, html_url: created.data.html_url, body };
  }

  /**
   * Failed runs of this job right before this one, up to `needed` (undefined when they cannot be
   * read; a warning says why). Reads the workflow's completed runs on this branch, newest first (one
   * page of needed + 10). A run whose conclusion is `success` ends the streak; a failed run counts
   * when this job failed in it (found by name among the run's jobs; when this job's name cannot be
   * told, every failed run counts); cancelled and skipped runs, and runs without this job, are passed over.
   */
  private async countConsecutiveFailures(needed: number): Promise<number | undefined> {
    const { owner, repo, workflowFile, runId } = this.gh;
    if (!workflowFile || runId === '') {
      this.log.warning(
        'Cannot count earlier failed runs (GITHUB_WORKFLOW_REF or GITHUB_RUN_ID unset): opening the issue now.',
      );
      return undefined;
    }
    try {
      const jobName = await this.currentJobName();
      const runs = await this.step("list this workflow's runs", 'actions: read', () =>
        this.octokit.rest.actions.listWorkflowRuns({
          owner,
          repo,
          workflow_id: workflowFile,
          status: 'completed',
          ...(this.gh.branch ? { branch: this.gh.branch } : {}),
          per_page: Math.min(100, needed + 10),
        }),
      );
      let count = 0;
      for (const run of runs.data.workflow_runs) {
        if (count >= needed) break;
        if (String(run.id) === runId) continue;
        if (run.conclusion === 'success') break;
        if (run.conclusion !== 'failure' && run.conclusion !== 'timed_out' && run.conclusion !== 'startup_failure')
          continue;
        if (jobName === undefined) {
          count++;
          continue;
        }
        const jobs = await this.step('list the jobs of an earlier run', 'actions: read', () =>
          this.octokit.rest.actions.listJobsForWorkflowRun({
            owner,
            repo,
            run_id: run.id,
            filter: 'latest',
            per_page: 100,
          }),
        );
        const job = jobs.data.jobs.find((j) => j.name === jobName);
        if (!job) continue;
        if (job.conclusion === 'success') break;
        if (job.conclusion === 'failure' || job.conclusion === 'timed_out') count++;
      }
      return count;
    } catch (error) {
      if (error instanceof ApiStep && error.permission === 'actions: read') {
        this.log.warning(
          `Cannot count earlier failed runs for failure-threshold ${this.config.failureThreshold}: ${this.describe(error)} Opening the issue now; add \`permissions: actions: read\` to the job to use the threshold.`,
        );
        return undefined;
      }
      throw error;
    }
  }

  /** This job's display name (matrix values included), found as the in-progress job on this runner. */
  private async currentJobName(): Promise<string | undefined> {
    const { owner, repo, runId, runAttempt, runnerName } = this.gh;
    if (!runnerName) return undefined;
    const jobs = await this.step("list this run's jobs", 'actions: read', () =>
      this.octokit.rest.actions.listJobsForWorkflowRunAttempt({
        owner,
        repo,
        run_id: Number(runId),
        attempt_number: runAttempt,
        per_page: 100,
      }),
    );
    const mine = jobs.data.jobs.filter((j) => j.status === 'in_progress' && j.runner_name === runnerName);
    return mine.length === 1 ? mine[0]?.name : undefined;
  }

  private describe(error: unknown): string {
    const inner = error instanceof ApiStep ? error.error : error;
    const step = error instanceof ApiStep ? error.step : 'call the GitHub API';
    const permission = error instanceof ApiStep ? error.permission : 'issues: write';
    const status = statusOf(inner);
    const message = redact(networkCause(inner) ?? errorMessage(inner), this.secrets);
    const repo = `${this.gh.owner}/${this.gh.repo}`;
    const wanted = permission.startsWith('issues') ? 'issues: write' : permission;
    if (isRateLimit(inner)) return `GitHub's API rate limit stopped the attempt to ${step} (${message}).`;
    switch (status) {
      case 401:
        return `GitHub rejected the github-token when trying to ${step} (401 ${message}); pass a valid token (the default is \${{ github.token }}).`;
      case 403:
        return `GitHub answered 403 (${message}) when trying to ${step}: the token lacks a permission. Add to the workflow or job: \`permissions: { contents: read, ${wanted} }\`.`;
      case 404:
        return `GitHub answered 404 (${message}) when trying to ${step}: ${repo} is not visible to the token, or the token lacks \`${wanted}\`. Add \`permissions: ${wanted}\`.`;
      case 410:
        return `Issues are disabled in ${repo} (410 ${message}); enable them in the repository settings or set issue-on-failure: false.`;
      default:
        if (status !== undefined && status >= 400 && status < 500)
          return `GitHub refused to ${step} (${status} ${message}).`;
        return `the GitHub API at ${hostOf(this.gh.apiUrl)} could not be reached or failed when trying to ${step} (${status ?? 'no answer'}: ${message}), after up to ${this.retries + 1} attempts.`;
    }
  }

  private warn(error: unknown, outcome: 'failure' | 'success'): void {
    const what =
      outcome === 'failure'
        ? 'This failure was not reported as a GitHub issue; the step still fails with the original error.'
        : 'The failure issue (if any) was not closed.';
    this.log.warning(`${capitalize(this.describe(error))} ${what}`);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The socket-level reason behind undici's "fetch failed" (ECONNREFUSED, ENOTFOUND, …), which
 * @octokit/request wraps as RequestError.cause; read by property, not instanceof (realms differ under Jest).
 */
function networkCause(error: unknown): string | undefined {
  const fetchError = (error as { cause?: { message?: unknown; cause?: { message?: unknown; code?: unknown } } } | null)
    ?.cause;
  const socket = fetchError?.cause;
  if (typeof socket?.message === 'string' && socket.message !== '') return socket.message;
  return undefined;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function isRateLimit(error: unknown): boolean {
  const status = statusOf(error);
  if (status === 429) return true;
  if (status !== 403) return false;
  const headers = (error as { response?: { headers?: Record<string, string | undefined> } }).response?.headers ?? {};
  return headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(errorMessage(error));
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
