/**
 * The failure issue: one open GitHub issue per workflow, job and database, found again by its labels
 * and a hidden marker in its body (issue-marker.ts), commented on by each further failure and closed
 * by the next success. Uses the GitHub REST API through issue-client.ts, against `GITHUB_API_URL`
 * (GitHub Enterprise Server works).
 *
 * Endpoints (GitHub REST API docs, "Issues" and "Actions" sections):
 * - Issues › List repository issues: `GET /repos/{owner}/{repo}/issues?labels=…&state=open` (paginated)
 * - Issues › Create an issue: `POST /repos/{owner}/{repo}/issues`
 * - Issues › Update an issue: `PATCH /repos/{owner}/{repo}/issues/{issue_number}` (close, state_reason completed)
 * - Issue comments › List / Create: `GET|POST /repos/{owner}/{repo}/issues/{issue_number}/comments`
 * - Workflow runs and jobs (issue-threshold.ts): only when failure-threshold > 1 and no issue is open yet.
 *
 * Reporting never hides the original failure: any API error becomes a warning (naming the permission
 * to add when it is one) and the functions return normally.
 */
import { errorMessage } from '../errors.js';
import { redact } from '../redact.js';
import {
  GitHubClient,
  githubContext,
  runUrl,
  statusOf,
  type GitHubContext,
  type ReporterOptions,
} from './issue-client.js';
import {
  parseFailureMarker,
  parseMarker,
  sameIdentity,
  type FailureMarker,
  type IssueIdentity,
} from './issue-marker.js';
import {
  issueTitle,
  renderFailureComment,
  renderIssueBody,
  renderRecoveryComment,
  type FailureContext,
  type RenderRun,
  type SuccessContext,
} from './issue-render.js';
import { countConsecutiveFailures } from './issue-threshold.js';
import type { ReportingConfig } from './reporting-config.js';
import type { ReportLog } from './webhook.js';

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

interface IssueRef {
  number: number;
  html_url: string;
  body?: string | null;
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
    return {
      reportFailure: () => Promise.resolve({ action: 'disabled' }),
      reportSuccess: () => Promise.resolve({ action: 'disabled' }),
    };
  }
  const { context, missing } = githubContext(env);
  if (config.githubToken === '' || !context) {
    const why =
      config.githubToken === ''
        ? "the 'github-token' input is empty (set it to ${{ github.token }} or a token with issues: write)"
        : `not running in GitHub Actions (${missing.join(', ')} unset)`;
    return {
      reportFailure: () => {
        log.warning(`No failure issue opened: ${why}.`);
        return Promise.resolve({ action: 'skipped' });
      },
      reportSuccess: () => Promise.resolve({ action: 'skipped' }),
    };
  }
  return new OctokitIssueReporter(config, context, log, options);
}

class OctokitIssueReporter implements IssueReporter {
  private readonly client: GitHubClient;

  constructor(
    private readonly config: ReportingConfig,
    private readonly gh: GitHubContext,
    private readonly log: ReportLog,
    options: ReporterOptions,
  ) {
    this.client = new GitHubClient(config.githubToken, gh, log, options);
  }

  reportFailure(ctx: FailureContext): Promise<FailureReport> {
    return this.client.withBudget<FailureReport>(async () => {
      try {
        return await this.failure(ctx);
      } catch (error) {
        this.warn(error, 'failure');
        return { action: 'failed' };
      }
    });
  }

  reportSuccess(ctx: SuccessContext): Promise<SuccessReport> {
    return this.client.withBudget<SuccessReport>(async () => {
      try {
        return await this.success(ctx);
      } catch (error) {
        this.warn(error, 'success');
        return { action: 'failed' };
      }
    });
  }

  /** {@link IssueReporter.reportFailure} inside the budget; API errors are thrown. */
  private async failure(ctx: FailureContext): Promise<FailureReport> {
    const identity = this.identity(ctx.database);
    const open = await this.findOpenIssue(identity);
    const url = runUrl(this.gh);
    const base = {
      identity,
      ...(url ? { runUrl: url } : {}),
      runId: this.gh.runId,
      runAttempt: this.gh.runAttempt,
      threshold: this.config.failureThreshold,
      secrets: this.client.secrets,
    };
    if (open) return await this.commentOnOpen(open, ctx, base);

    let consecutive = 1;
    let countUnknown = false;
    if (this.config.failureThreshold > 1) {
      const counted = await countConsecutiveFailures(
        { client: this.client, gh: this.gh, log: this.log, failureThreshold: this.config.failureThreshold },
        this.config.failureThreshold - 1,
      );
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
  }

  /** {@link IssueReporter.reportSuccess} inside the budget; API errors are thrown. */
  private async success(ctx: SuccessContext): Promise<SuccessReport> {
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
      this.client.secrets,
    );
    await this.client.step('comment on the failure issue', 'issues: write', () =>
      this.client.octokit.rest.issues.createComment({ owner, repo, issue_number: open.number, body }),
    );
    await this.client.step('close the failure issue', 'issues: write', () =>
      this.client.octokit.rest.issues.update({
        owner,
        repo,
        issue_number: open.number,
        state: 'closed',
        state_reason: 'completed',
      }),
    );
    this.log.info(`Recovered: closed failure issue #${open.number} (${open.html_url}).`);
    return { action: 'closed', issueNumber: open.number, issueUrl: open.html_url };
  }

  private identity(database: string): IssueIdentity {
    return { workflow: this.gh.workflow, job: this.gh.job, database };
  }

  /** Open issues with all the labels (every open issue when there are none), first whose marker matches. */
  private async findOpenIssue(identity: IssueIdentity): Promise<IssueRef | undefined> {
    const { owner, repo } = this.gh;
    return this.client.step('list open issues', 'issues: read', async () => {
      const pages = this.client.octokit.paginate.iterator(this.client.octokit.rest.issues.listForRepo, {
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
    await this.client.step("read the failure issue's comments", 'issues: read', async () => {
      let n = 0;
      for await (const page of this.client.octokit.paginate.iterator(this.client.octokit.rest.issues.listComments, {
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
    const body = redact(renderFailureComment(ctx, { ...base, consecutive }), this.client.secrets);
    await this.client.step('comment on the failure issue', 'issues: write', () =>
      this.client.octokit.rest.issues.createComment({ owner, repo, issue_number: open.number, body }),
    );
    this.log.warning(`Failure ${consecutive} in a row; commented on the open issue #${open.number}: ${open.html_url}`);
    return { action: 'commented', issueNumber: open.number, issueUrl: open.html_url, consecutiveFailures: consecutive };
  }

  private async createIssue(ctx: FailureContext, run: RenderRun): Promise<IssueRef> {
    const { owner, repo } = this.gh;
    const title = redact(issueTitle(ctx.command, ctx.database, this.gh.workflow), this.client.secrets);
    const body = redact(renderIssueBody(ctx, run), this.client.secrets);
    const labels = this.config.issueLabels;
    const create = (assignees: string[]) =>
      this.client.octokit.rest.issues.create({
        owner,
        repo,
        title,
        body,
        ...(labels.length > 0 ? { labels } : {}),
        ...(assignees.length > 0 ? { assignees } : {}),
      });
    const created = await this.client.step('open the failure issue', 'issues: write', async () => {
      try {
        return await create(this.config.issueAssignees);
      } catch (error) {
        // 422 for assignees who cannot be assigned: open it unassigned rather than not at all.
        if (this.config.issueAssignees.length > 0 && statusOf(error) === 422) {
          this.log.warning(
            `GitHub refused the assignees ${this.config.issueAssignees.join(', ')} (${redact(errorMessage(error), this.client.secrets)}); opening the issue without them. Each must be a collaborator with access to ${owner}/${repo}.`,
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
  private warn(error: unknown, outcome: 'failure' | 'success'): void {
    const what =
      outcome === 'failure'
        ? 'This failure was not reported as a GitHub issue; the step still fails with the original error.'
        : 'The failure issue (if any) was not closed.';
    this.log.warning(`${capitalize(this.client.describe(error))} ${what}`);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
