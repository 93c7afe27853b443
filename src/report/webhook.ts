/**
 * Webhook alerts: a Slack incoming webhook (`{ text, blocks }`) or any JSON endpoint (a flat event
 * object that also carries `text`, so Slack-compatible receivers such as Mattermost show it too).
 * The URL is a secret: only its host is ever logged. Failures only warn.
 */
import type { Log } from '../log.js';
import { errorMessage } from '../errors.js';
import type { NotifyOn, ReportingConfig } from './reporting-config.js';
import { redact } from '../redact.js';

/** Log sink reporting needs (the action's Log satisfies it). */
export type ReportLog = Pick<Log, 'info' | 'warning'>;

/** What happened, for the webhook. Times are Dates (sent as ISO 8601 UTC). */
export interface ReportEvent {
  /** `recovered` = a success that closed an open failure issue. */
  event: 'failure' | 'success' | 'recovered';
  /** The action's command (`backup`, `restore-drill`, `prune`, …). */
  command: string;
  database: string;
  /** Phase that failed (config, connect, client, dump, upload, verify, manifest, …); failures only. */
  phase?: string;
  /** The error, already masked by the caller. */
  error?: string;
  runUrl?: string;
  /** Key of the backup just made (success). */
  backupKey?: string;
  /** Newest good backup before this failure, when known. */
  lastSuccess?: { key: string; time: Date };
  /** The failure issue opened/commented/closed, when there is one. */
  issueUrl?: string;
  /** Consecutive failed runs including this one, when counted. */
  consecutiveFailures?: number;
  repository?: string;
  workflow?: string;
  job?: string;
  /** When the outcome was reported. */
  time: Date;
}

/** Generic JSON body (non-Slack hosts). Unknown values are null, so the shape is stable. */
export interface GenericPayload {
  text: string;
  event: ReportEvent['event'];
  command: string;
  database: string;
  phase: string | null;
  error: string | null;
  runUrl: string | null;
  backupKey: string | null;
  lastSuccessKey: string | null;
  lastSuccessAt: string | null;
  issueUrl: string | null;
  consecutiveFailures: number | null;
  repository: string | null;
  workflow: string | null;
  job: string | null;
  time: string;
}

/** Slack incoming-webhook body (Block Kit). https://api.slack.com/messaging/webhooks */
export interface SlackPayload {
  text: string;
  blocks: Record<string, unknown>[];
}

/** Bounds and redaction of one webhook call. */
export interface WebhookOptions {
  /** Whole request budget in milliseconds (connect + answer). Default 10 000. */
  timeoutMs?: number;
  /** Strings scrubbed from every text sent (defence in depth: the caller masks already). */
  secrets?: string[];
}

/** True when `notifyOn` asks for this event (`failure` includes `recovered`, the all-clear). */
export function shouldNotify(notifyOn: NotifyOn, event: ReportEvent['event']): boolean {
  if (notifyOn === 'never') return false;
  if (notifyOn === 'always') return true;
  return event === 'failure' || event === 'recovered';
}

/**
 * Slack's own hosts (hooks.slack.com, GovSlack's hooks.slack-gov.com), or any host with Slack's
 * incoming-webhook path `/services/T…/B…/<secret>` (a relay or proxy in front of Slack), get the
 * Block Kit payload; anything else the generic one.
 */
export function isSlackUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    if (parsed.hostname === 'hooks.slack.com' || parsed.hostname === 'hooks.slack-gov.com') return true;
    return /^\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+\/?$/.test(parsed.pathname);
  } catch {
    return false;
  }
}

/** `Backup`, `Restore drill`, … from a command name. */
export function commandTitle(command: string): string {
  const words = command.trim().replace(/[-_]+/g, ' ');
  return words === '' ? 'Run' : words.charAt(0).toUpperCase() + words.slice(1);
}

/** One line for chat: what happened to which database. */
export function eventText(event: ReportEvent): string {
  const db = event.database || '(unknown database)';
  const where = event.workflow ? ` (${event.workflow})` : '';
  switch (event.event) {
    case 'failure': {
      const count =
        event.consecutiveFailures && event.consecutiveFailures > 1
          ? `, ${event.consecutiveFailures} consecutive failures`
          : '';
      return `${commandTitle(event.command)} failed: ${db}${where} in phase ${event.phase ?? 'unknown'}${count}`;
    }
    case 'recovered':
      return `${commandTitle(event.command)} recovered: ${db}${where}${event.backupKey ? `, new backup ${event.backupKey}` : ''}`;
    case 'success':
      return `${commandTitle(event.command)} succeeded: ${db}${where}${event.backupKey ? `, backup ${event.backupKey}` : ''}`;
  }
}

/** The generic JSON body. */
export function genericPayload(event: ReportEvent): GenericPayload {
  return {
    text: eventText(event),
    event: event.event,
    command: event.command,
    database: event.database,
    phase: event.phase ?? null,
    error: event.error ?? null,
    runUrl: event.runUrl ?? null,
    backupKey: event.backupKey ?? null,
    lastSuccessKey: event.lastSuccess?.key ?? null,
    lastSuccessAt: event.lastSuccess?.time.toISOString() ?? null,
    issueUrl: event.issueUrl ?? null,
    consecutiveFailures: event.consecutiveFailures ?? null,
    repository: event.repository ?? null,
    workflow: event.workflow ?? null,
    job: event.job ?? null,
    time: event.time.toISOString(),
  };
}

/** Slack escaping for mrkdwn and plain text: &, <, >. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The Slack Block Kit body: header, facts, the error in a code block, links. */
export function slackPayload(event: ReportEvent): SlackPayload {
  const icon =
    event.event === 'failure'
      ? ':rotating_light:'
      : event.event === 'recovered'
        ? ':white_check_mark:'
        : ':floppy_disk:';
  const text = `${icon} ${eventText(event)}`;
  const fields: string[] = [
    `*Database*\n\`${slackEscape(event.database || '(unknown)')}\``,
    `*Command*\n${slackEscape(event.command)}`,
  ];
  if (event.phase) fields.push(`*Phase*\n${slackEscape(event.phase)}`);
  if (event.repository) fields.push(`*Repository*\n${slackEscape(event.repository)}`);
  if (event.backupKey) fields.push(`*Backup*\n\`${slackEscape(event.backupKey)}\``);
  if (event.event === 'failure') {
    fields.push(
      `*Last good backup*\n${event.lastSuccess ? `\`${slackEscape(event.lastSuccess.key)}\` (${event.lastSuccess.time.toISOString()})` : 'unknown'}`,
    );
  }
  if (event.consecutiveFailures) fields.push(`*Consecutive failures*\n${event.consecutiveFailures}`);
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(eventText(event), 150), emoji: true } },
    { type: 'section', fields: fields.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: truncate(f, 2000) })) },
  ];
  if (event.error) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `\`\`\`${truncate(slackEscape(event.error.replace(/```/g, "'''")), 2900)}\`\`\`` },
    });
  }
  const links: string[] = [];
  if (event.runUrl) links.push(`<${event.runUrl}|Workflow run>`);
  if (event.issueUrl) links.push(`<${event.issueUrl}|Issue>`);
  if (links.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: links.join(' · ') }] });
  return { text, blocks };
}

/**
 * `event` with every string field redacted (the error, and any other text a caller filled in, the
 * last good backup's key too): before the payload's own escaping (Slack's &amp;) could hide a form.
 */
function redactEvent(event: ReportEvent, secrets: readonly string[]): ReportEvent {
  const clean: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event))
    clean[name] = typeof value === 'string' ? redact(value, secrets) : value;
  if (event.lastSuccess) clean['lastSuccess'] = { ...event.lastSuccess, key: redact(event.lastSuccess.key, secrets) };
  return clean as unknown as ReportEvent;
}

/** Host of the URL for logs (the path and query are secret). */
export function webhookHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * POSTs the event to `config.webhookUrl` when `config.notifyOn` asks for it: the Slack payload for
 * hooks.slack.com, the generic JSON otherwise (`Content-Type: application/json`).
 *
 * Bounded by `options.timeoutMs` (default 10 s, AbortSignal.timeout over connect and answer); a
 * non-2xx answer, a network error or the timeout logs a warning naming only the URL's host.
 * Never throws. Returns what happened: `sent`, `skipped` (no URL or notify-on excludes it), `failed`.
 */
export async function notifyWebhook(
  config: Pick<ReportingConfig, 'webhookUrl' | 'notifyOn'>,
  event: ReportEvent,
  log: ReportLog,
  options: WebhookOptions = {},
): Promise<'sent' | 'skipped' | 'failed'> {
  if (config.webhookUrl === '' || !shouldNotify(config.notifyOn, event.event)) return 'skipped';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const host = webhookHost(config.webhookUrl);
  const secrets = [...(options.secrets ?? []), config.webhookUrl];
  const clean = redactEvent(event, secrets);
  const payload = isSlackUrl(config.webhookUrl) ? slackPayload(clean) : genericPayload(clean);
  try {
    const response = await fetch(config.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'postgres-backup-action' },
      // Redacted again as sent: the payload's own escaping (JSON, Slack's &amp;) must not hide a form.
      body: redact(JSON.stringify(payload), secrets),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    // Read (and drop) the answer so the connection is released.
    const answer = await response.text().catch(() => '');
    if (!response.ok) {
      const detail = redact(answer.trim().slice(0, 200), secrets);
      log.warning(
        `Webhook to ${host} answered HTTP ${response.status}${detail ? ` (${detail})` : ''}; the ${event.event} alert was not delivered. Check the webhook-url secret.`,
      );
      return 'failed';
    }
    log.info(`Webhook to ${host}: ${event.event} alert sent.`);
    return 'sent';
  } catch (error) {
    log.warning(
      `Webhook to ${host} failed: ${fetchFailureReason(error, timeoutMs, secrets)}; the ${event.event} alert was not delivered.`,
    );
    return 'failed';
  }
}

/**
 * Why a fetch bounded by AbortSignal.timeout(`timeoutMs`) threw, for a warning: `no answer within
 * 10 s` on the timeout, else the network error's cause (e.g. `connect ECONNREFUSED 127.0.0.1:9`),
 * redacted with `secrets`. Pure.
 */
export function fetchFailureReason(error: unknown, timeoutMs: number, secrets: readonly string[]): string {
  // Property checks, not instanceof: fetch's errors may come from another realm (e.g. under Jest).
  const failure = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    cause?: { message?: unknown };
  };
  const timedOut = failure.name === 'TimeoutError' || failure.name === 'AbortError';
  const cause =
    typeof failure.cause?.message === 'string' && failure.cause.message !== '' ? failure.cause.message : undefined;
  const message = cause ?? (typeof failure.message === 'string' ? failure.message : errorMessage(error));
  return timedOut
    ? `no answer within ${timeoutMs >= 1000 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`}`
    : redact(message, secrets);
}
