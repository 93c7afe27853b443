/**
 * Keeping a schedule alive (`keepalive`). GitHub disables the scheduled workflows of a public
 * repository after 60 days without repository activity (GitHub docs, "Disabling and enabling a
 * workflow", and "Events that trigger workflows" › `schedule`). On a scheduled run of a public
 * repository whose last push is older than {@link KEEPALIVE_AFTER_DAYS}, the action re-enables its own
 * workflow (REST API, Actions › Workflows › "Enable a workflow":
 * `PUT /repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable`, needs `actions: write`).
 * Whether that call resets GitHub's inactivity timer is not documented: docs/keepalive.md.
 *
 * A pure planner ({@link planKeepalive}) and the texts, then one small I/O function
 * ({@link keepSchedule}) over the failure issue's GitHub client (issue-client.ts). Never fails a run.
 */
import { GitHubClient, githubContext, statusOf, type ReporterOptions } from './issue-client.js';
import { errorMessage } from '../errors.js';
import { redact } from '../redact.js';
import type { ReportLog } from './webhook.js';

/** Days since the last push after which a scheduled run re-enables its workflow. */
export const KEEPALIVE_AFTER_DAYS = 45;
/** Days without activity after which GitHub disables the schedules of a public repository. */
export const INACTIVITY_LIMIT_DAYS = 60;

const DAY_MS = 86_400_000;

/** What `GET /repos/{owner}/{repo}` says that matters here. */
export interface RepositoryFacts {
  private: boolean;
  /** `pushed_at` (ISO 8601), null for a repository never pushed to. */
  pushedAt: string | null;
}

/** What the planner knows: the input, the run's event and workflow, and the repository once read. */
export interface KeepaliveFacts {
  /** The `keepalive` input. */
  enabled: boolean;
  /** `GITHUB_EVENT_NAME` ('' outside a runner). */
  eventName: string;
  /** The workflow file (`backup.yml`) from `GITHUB_WORKFLOW_REF`; for a reusable workflow, the caller's. */
  workflowFile?: string | undefined;
  /** undefined until read. */
  repository?: RepositoryFacts | undefined;
  now: Date;
}

/** The dates of a stale schedule: the last push, the days since, and the day GitHub disables it. */
export interface StaleSchedule {
  /** `YYYY-MM-DD` (UTC) of the last push. */
  lastPush: string;
  /** Whole days since the last push. */
  idleDays: number;
  /** `YYYY-MM-DD` (UTC): the last push + {@link INACTIVITY_LIMIT_DAYS} days. */
  disableOn: string;
}

/** What to do next. */
export type KeepalivePlan =
  /** keepalive off, or not a scheduled run: nothing at all. */
  | { action: 'skip' }
  /** Read the repository (`private`, `pushed_at`), then plan again. */
  | { action: 'read-repository' }
  /** Nothing to do; `reason` is a debug line. */
  | { action: 'none'; reason: string }
  | ({ action: 'enable'; workflowFile: string } & StaleSchedule)
  /** Stale, but the workflow file is unknown (`GITHUB_WORKFLOW_REF` unset): warn with the date. */
  | ({ action: 'unknown-workflow' } & StaleSchedule);

/** `YYYY-MM-DD` in UTC. */
function day(time: Date): string {
  return time.toISOString().slice(0, 10);
}

/**
 * The next step of keepalive. Pure.
 *
 * Nothing unless `enabled` and the event is `schedule`; then the repository must be read; a private
 * repository, an unknown `pushed_at` or a push at most {@link KEEPALIVE_AFTER_DAYS} days ago (to the
 * millisecond) is `none`; an older one is `enable` (or `unknown-workflow` without the file name).
 */
export function planKeepalive(facts: KeepaliveFacts): KeepalivePlan {
  if (!facts.enabled || facts.eventName !== 'schedule') return { action: 'skip' };
  const repo = facts.repository;
  if (!repo) return { action: 'read-repository' };
  if (repo.private) return { action: 'none', reason: 'the repository is private (GitHub keeps its schedules).' };
  const pushed = repo.pushedAt === null ? Number.NaN : Date.parse(repo.pushedAt);
  if (Number.isNaN(pushed)) return { action: 'none', reason: 'the time of the last push is unknown.' };
  const idleMs = facts.now.getTime() - pushed;
  const idleDays = Math.floor(idleMs / DAY_MS);
  if (idleMs <= KEEPALIVE_AFTER_DAYS * DAY_MS)
    return {
      action: 'none',
      reason: `the last push was ${idleDays} days ago (threshold ${KEEPALIVE_AFTER_DAYS} days).`,
    };
  const stale = {
    lastPush: day(new Date(pushed)),
    idleDays,
    disableOn: day(new Date(pushed + INACTIVITY_LIMIT_DAYS * DAY_MS)),
  };
  return facts.workflowFile
    ? { action: 'enable', workflowFile: facts.workflowFile, ...stale }
    : { action: 'unknown-workflow', ...stale };
}

/** The job summary's line after a re-enable. Pure. */
export function enabledText(workflowFile: string, stale: StaleSchedule): string {
  return `Keepalive: the last push to this public repository was ${stale.idleDays} days ago (${stale.lastPush}); re-enabled workflow \`${workflowFile}\` through GitHub's API so that its schedule is not disabled for inactivity (GitHub disables it ${INACTIVITY_LIMIT_DAYS} days after the last activity, ${stale.disableOn}). See docs/keepalive.md.`;
}

/**
 * The warning, summary line and failure-issue note when the schedule could not be kept: the day
 * GitHub will disable it, why, and the fix. `why` is a clause (lower-case start, no final stop). Pure.
 */
export function disableText(stale: StaleSchedule, why: string): string {
  return `Keepalive: GitHub will disable this workflow's schedule on ${stale.disableOn} (${INACTIVITY_LIMIT_DAYS} days after the last push, ${stale.lastPush}): ${why}. Fix: add \`permissions: actions: write\` to the calling workflow (the one with the \`schedule\`), or push a commit.`;
}

/** The config fields keepalive reads (a `Config` has them). */
export interface KeepaliveSettings {
  keepalive: boolean;
  /** Write the job summary. */
  summary: boolean;
  reporting: { githubToken: string };
}

/** What keepalive needs from the host (run.ts's Host has it). */
export interface KeepaliveHost {
  log: ReportLog;
  debug(message: string): void;
  writeSummary(markdown: string): Promise<void>;
}

/** The runner's environment and the run's secrets; the rest for tests. */
export interface KeepaliveDeps {
  /** GITHUB_EVENT_NAME, GITHUB_WORKFLOW_REF, GITHUB_REPOSITORY, GITHUB_API_URL, … */
  env: NodeJS.ProcessEnv;
  secrets: readonly string[];
  now?: () => Date;
  /** Default: 10 s per request, 1 retry, 30 s in all. */
  options?: ReporterOptions;
}

/**
 * Keeps this run's schedule alive when {@link planKeepalive} says so: reads the repository, re-enables
 * the workflow and writes one line to the job summary (when `summary` is on, redacted).
 *
 * Bounded (default 10 s per request, 30 s in all). Never throws: a refused call (403/404, the token
 * lacks `actions: write`) is a warning and a summary line with the date the schedule will be
 * disabled and the fix; any other problem is a warning; private, recent or not scheduled is at most
 * a debug line.
 * @returns the note for the failure issue (the same text as the warning), when the schedule could not be kept.
 */
export async function keepSchedule(
  config: KeepaliveSettings,
  host: KeepaliveHost,
  deps: KeepaliveDeps,
): Promise<string | undefined> {
  try {
    return await keep(config, host, deps);
  } catch (error) {
    const secrets = [config.reporting.githubToken, ...deps.secrets].filter((s) => s !== '');
    host.log.warning(`Keepalive stopped unexpectedly: ${redact(errorMessage(error), secrets)}; the run goes on.`);
    return undefined;
  }
}

/** {@link keepSchedule} without its last guard. */
async function keep(config: KeepaliveSettings, host: KeepaliveHost, deps: KeepaliveDeps): Promise<string | undefined> {
  const now = (deps.now ?? (() => new Date()))();
  const { context } = githubContext(deps.env);
  const facts = {
    enabled: config.keepalive,
    eventName: (deps.env['GITHUB_EVENT_NAME'] ?? '').trim(),
    workflowFile: context?.workflowFile,
    now,
  };
  if (planKeepalive(facts).action === 'skip') return undefined;
  const secrets = [config.reporting.githubToken, ...deps.secrets].filter((s) => s !== '');
  const say = async (text: string, warn: boolean): Promise<string> => {
    const clean = redact(text, secrets);
    if (warn) host.log.warning(clean);
    else host.log.info(clean);
    if (config.summary) await host.writeSummary(`${clean}\n\n`).catch(() => undefined);
    return clean;
  };
  if (!context) {
    host.log.warning(
      'Keepalive: not running in GitHub Actions (GITHUB_REPOSITORY unset); the schedule was not checked.',
    );
    return undefined;
  }
  const client = new GitHubClient(config.reporting.githubToken, context, host.log, {
    requestTimeoutMs: 10_000,
    retries: 1,
    budgetMs: 30_000,
    ...deps.options,
    secrets,
  });
  const { owner, repo } = context;
  return client.withBudget(async () => {
    let repository: RepositoryFacts;
    try {
      const { data } = await client.step('read the repository', 'contents: read', () =>
        client.octokit.rest.repos.get({ owner, repo }),
      );
      repository = { private: data.private, pushedAt: data.pushed_at ?? null };
    } catch (error) {
      host.log.warning(`Keepalive: could not check the schedule: ${client.describe(error)}`);
      return undefined;
    }
    const plan = planKeepalive({ ...facts, repository });
    if (plan.action === 'none' || plan.action === 'skip' || plan.action === 'read-repository') {
      host.debug(`Keepalive: nothing to do: ${plan.action === 'none' ? plan.reason : plan.action}`);
      return undefined;
    }
    if (plan.action === 'unknown-workflow')
      return say(
        disableText(plan, 'this run cannot tell which workflow to re-enable (GITHUB_WORKFLOW_REF unset)'),
        true,
      );
    const step = `re-enable workflow ${plan.workflowFile}`;
    try {
      await client.step(step, 'actions: write', () =>
        client.octokit.rest.actions.enableWorkflow({ owner, repo, workflow_id: plan.workflowFile }),
      );
    } catch (error) {
      const status = statusOf((error as { error?: unknown }).error);
      if (status === 403 || status === 404)
        return say(
          disableText(plan, `GitHub refused to ${step} (${status}): the token lacks \`actions: write\``),
          true,
        );
      host.log.warning(disableText(plan, `the call did not go through: ${client.describe(error).replace(/\.$/, '')}`));
      return undefined;
    }
    await say(enabledText(plan.workflowFile, plan), false);
    return undefined;
  });
}
