/**
 * The one call main makes after any command: report the outcome as a GitHub issue (open / comment /
 * close) and a webhook alert. Never throws and never changes the outcome: a reporting problem is a
 * warning, the step's exit status stays the command's.
 */
import { errorMessage } from '../errors.js';
import { githubContext, runUrl, type ReporterOptions } from './issue-client.js';
import { createIssueReporter, type IssueReporter } from './issue-reporter.js';
import type { ReportingConfig } from './reporting-config.js';
import { redact } from '../redact.js';
import { notifyWebhook, type ReportEvent, type ReportLog, type WebhookOptions } from './webhook.js';

/** A command's result as main knows it. `error` must already be masked (core.setSecret does not reach the API). */
export type Outcome =
  | {
      ok: true;
      /** `backup`, `restore-drill`, `prune`, … */
      command: string;
      database: string;
      /** Key of the backup made (first destination), when the command makes one. */
      backupKey?: string;
    }
  | {
      ok: false;
      command: string;
      /** '' when the config could not be read far enough to know it. */
      database: string;
      error: string;
      /** ActionError.phase, or e.g. 'unknown' for an unexpected error. */
      phase: string;
      /** Newest backup with a manifest (catalog `hasManifest`), when the caller could list it. */
      lastSuccess?: { key: string; time: Date };
      /** A paragraph for the failure issue besides the error (a schedule about to be disabled: keepalive.ts). */
      note?: string;
    };

/** What reportOutcome needs: the reporting inputs, the environment, a log; the rest for tests. */
export interface ReportDeps {
  config: ReportingConfig;
  /** process.env in the action (GITHUB_* variables). */
  env: NodeJS.ProcessEnv;
  log: ReportLog;
  /** Extra strings never to write anywhere (e.g. the database password, from secretsToMask). */
  secrets?: readonly string[];
  /** Default: Date now. */
  now?: () => Date;
  /** Default: createIssueReporter(config, env, log, issueOptions). */
  reporter?: IssueReporter;
  issueOptions?: ReporterOptions;
  webhookOptions?: WebhookOptions;
}

/**
 * Reports one command's outcome.
 *
 * Failure: the issue reporter comments on this job's open issue for `database`, or opens one once
 * failure-threshold consecutive runs failed; then the webhook gets a `failure` event unless the
 * failure is still below the threshold. Success: the open issue (if any) gets "Recovered" and is
 * closed; the webhook gets `recovered` when an issue was closed, else `success` (sent only with
 * notify-on: always).
 *
 * Bounded: GitHub calls by ReporterOptions (10 s per request, 2 retries, 60 s in all), the webhook by
 * 10 s. Never throws; problems are warnings on `deps.log`.
 */
export async function reportOutcome(given: Outcome, deps: ReportDeps): Promise<void> {
  const { config, env, log } = deps;
  try {
    const time = (deps.now ?? (() => new Date()))();
    const secrets = [config.githubToken, config.webhookUrl, ...(deps.secrets ?? [])].filter((s) => s.length > 0);
    // Redacted before any rendering: a table cell's or Slack's escaping could otherwise hide a form
    // of a secret (e.g. a URL pasted into `database`) from the redaction of the rendered text.
    const outcome = redactOutcome(given, secrets);
    const reporter =
      deps.reporter ??
      createIssueReporter(config, env, log, {
        ...deps.issueOptions,
        secrets: [...(deps.issueOptions?.secrets ?? []), ...secrets],
      });
    const gh = githubContext(env).context;
    const common = {
      command: outcome.command,
      database: outcome.database,
      time,
      ...(gh ? { repository: `${gh.owner}/${gh.repo}`, workflow: gh.workflow, job: gh.job } : {}),
      ...(gh && runUrl(gh) ? { runUrl: runUrl(gh) as string } : {}),
    };
    const webhookOptions: WebhookOptions = {
      ...deps.webhookOptions,
      secrets: [...(deps.webhookOptions?.secrets ?? []), ...secrets],
    };

    if (!outcome.ok) {
      const report = await reporter.reportFailure({
        command: outcome.command,
        database: outcome.database,
        error: outcome.error,
        phase: outcome.phase,
        ...(outcome.lastSuccess ? { lastSuccess: outcome.lastSuccess } : {}),
        ...(outcome.note ? { note: outcome.note } : {}),
        time,
      });
      // Below the threshold nobody is alerted yet; a duplicate (this run already reported) was alerted before.
      if (report.action === 'below-threshold' || report.action === 'duplicate') return;
      const event: ReportEvent = {
        ...common,
        event: 'failure',
        phase: outcome.phase,
        error: outcome.error,
        ...(outcome.lastSuccess ? { lastSuccess: outcome.lastSuccess } : {}),
        ...(report.issueUrl ? { issueUrl: report.issueUrl } : {}),
        ...(report.consecutiveFailures ? { consecutiveFailures: report.consecutiveFailures } : {}),
      };
      await notifyWebhook(config, event, log, webhookOptions);
      return;
    }

    const report = await reporter.reportSuccess({
      command: outcome.command,
      database: outcome.database,
      ...(outcome.backupKey ? { backupKey: outcome.backupKey } : {}),
      time,
    });
    const event: ReportEvent = {
      ...common,
      event: report.action === 'closed' ? 'recovered' : 'success',
      ...(outcome.backupKey ? { backupKey: outcome.backupKey } : {}),
      ...(report.issueUrl ? { issueUrl: report.issueUrl } : {}),
    };
    await notifyWebhook(config, event, log, webhookOptions);
  } catch (error) {
    try {
      log.warning(`Failure reporting stopped unexpectedly: ${errorMessage(error)}. The step's result is unchanged.`);
    } catch {
      // A broken log sink must not hide the outcome either.
    }
  }
}

/** `outcome` with each text that came from inputs or the store redacted ({@link redact}). */
function redactOutcome(outcome: Outcome, secrets: readonly string[]): Outcome {
  const clean = (text: string): string => redact(text, secrets);
  if (outcome.ok)
    return {
      ...outcome,
      command: clean(outcome.command),
      database: clean(outcome.database),
      ...(outcome.backupKey ? { backupKey: clean(outcome.backupKey) } : {}),
    };
  return {
    ...outcome,
    command: clean(outcome.command),
    database: clean(outcome.database),
    error: clean(outcome.error),
    ...(outcome.lastSuccess ? { lastSuccess: { ...outcome.lastSuccess, key: clean(outcome.lastSuccess.key) } } : {}),
    ...(outcome.note ? { note: clean(outcome.note) } : {}),
  };
}
