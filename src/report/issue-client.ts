/**
 * The GitHub REST client of the failure issue: where the API is and which run this is (from the
 * runner's environment), an Octokit with the retry and throttling plugins, a timeout per request and
 * a time budget per report, and the warning that explains a failed call (naming the permission to
 * add when one is missing). Works against `GITHUB_API_URL` (GitHub Enterprise Server too).
 */
import { randomUUID } from 'node:crypto';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { errorMessage } from '../errors.js';
import { redact } from '../redact.js';
import type { ReportLog } from './webhook.js';

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

/** A failed API call: what it tried (`list open issues`, …) and the permission it needs. */
export class ApiStep extends Error {
  constructor(
    readonly step: string,
    readonly permission: string,
    readonly error: unknown,
  ) {
    super(step);
  }
}

const ReportingOctokit = Octokit.plugin(retry, throttling);
type ReportingOctokit = InstanceType<typeof ReportingOctokit>;

/**
 * Octokit for one reporter: each request bounded by `requestTimeoutMs`, transient errors retried
 * (`retries`), rate limits waited out once (≤ 30 s), and every request of one report inside the
 * budget that {@link GitHubClient.withBudget} starts. Its `secrets` (the token first) are scrubbed
 * from Octokit's own warnings and from {@link GitHubClient.describe}.
 */
export class GitHubClient {
  readonly octokit: ReportingOctokit;
  /** The token and `options.secrets`, without empty strings. */
  readonly secrets: string[];
  private deadline: AbortSignal | undefined;
  private readonly retries: number;
  private readonly budgetMs: number;

  constructor(
    token: string,
    private readonly gh: GitHubContext,
    log: ReportLog,
    options: ReporterOptions,
  ) {
    const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.budgetMs = options.budgetMs ?? 60_000;
    this.secrets = [token, ...(options.secrets ?? [])].filter((s) => s.length > 0);
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
      auth: token,
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

  /** Runs `fn` with a fresh budget of `budgetMs` (default 60 s): past it no new request starts. */
  async withBudget<T>(fn: () => Promise<T>): Promise<T> {
    this.deadline = AbortSignal.timeout(this.budgetMs);
    try {
      return await fn();
    } finally {
      this.deadline = undefined;
    }
  }

  /** `fn`'s result; its error wrapped in an {@link ApiStep} naming `step` and `permission`. */
  async step<T>(step: string, permission: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new ApiStep(step, permission, error);
    }
  }

  /** Why a call failed and what to do, as a sentence (lower-case start, secrets redacted). */
  describe(error: unknown): string {
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

/** The HTTP status of an Octokit error, when it has one. */
export function statusOf(error: unknown): number | undefined {
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
