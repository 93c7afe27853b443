/**
 * Heartbeats to an outside monitor (Healthchecks.io, Cronitor, Better Stack, Uptime Kuma): a ping
 * when a run starts, when it succeeds and when it fails, so that a schedule that stopped is noticed by
 * something that does not run on the same scheduler. The URL is a secret: only its host is logged.
 * A ping never fails a run: a failed or slow ping is a warning.
 */
import { redact } from '../redact.js';
import { commandTitle, fetchFailureReason, webhookHost, type ReportLog } from './webhook.js';

/** The three pings of a run. */
export type HeartbeatEvent = 'start' | 'success' | 'fail';

/** Typed heartbeat inputs. Built by parseHeartbeatInputs (config/heartbeat.ts). */
export interface HeartbeatConfig {
  /** `heartbeat-url` as written (a secret); may hold `{status}`. http or https. */
  url: string;
  /** The word put in place of `{status}` for each event; `-` skips that ping. Unused without `{status}`. */
  states: Readonly<Record<HeartbeatEvent, string>>;
}

/** What the run knows when it pings. `error` is already redacted by the caller (redacted again here). */
export interface HeartbeatOutcome {
  event: HeartbeatEvent;
  /** The command (`backup`, `drill`, `check`, …). */
  command: string;
  /** '' when the config could not be read far enough to know it. */
  database: string;
  backupKey?: string;
  phase?: string;
  error?: string;
}

/** One HTTP request of a ping. */
export interface HeartbeatRequest {
  url: string;
  /** GET when `{status}` is in the query (Uptime Kuma's push accepts only GET); POST with the body otherwise. */
  method: 'GET' | 'POST';
}

/** Most bytes (UTF-8) of a ping's body: Healthchecks.io keeps the first 10 kB by default. */
export const MAX_BODY_BYTES = 10_000;

/** Bounds of one ping: each attempt's whole budget (connect + answer) and how many attempts. */
export interface HeartbeatOptions {
  /** Milliseconds per attempt. Default 5 000. */
  timeoutMs?: number;
  /** Attempts per ping (the first and its retries). Default 2. */
  attempts?: number;
}

/** Healthchecks.io's path suffix of each event: https://healthchecks.io/docs/http_api/ */
const SUFFIX: Readonly<Record<HeartbeatEvent, string>> = { start: '/start', success: '', fail: '/fail' };

/**
 * The request of `event`'s ping, or undefined when `heartbeat-states` skips it (`-`).
 *
 * Without `{status}` in the URL: Healthchecks.io's shape, POST `<url>/start`, `<url>`, `<url>/fail`
 * (the suffix goes at the end of the path, before a query). With `{status}`: each `{status}` becomes
 * the event's word from `states` (URL-encoded); an empty word also drops the `/` before `{status}`
 * (Better Stack's `<url>` and `<url>/fail`); GET when `{status}` is in the query, else POST. Pure.
 * @throws TypeError when the URL does not parse (parseHeartbeatInputs refuses such a URL first).
 */
export function heartbeatRequest(config: HeartbeatConfig, event: HeartbeatEvent): HeartbeatRequest | undefined {
  if (!config.url.includes('{status}')) {
    const url = new URL(config.url);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${SUFFIX[event]}`;
    return { url: url.href, method: 'POST' };
  }
  const word = config.states[event];
  if (word === '-') return undefined;
  const url =
    word === ''
      ? config.url.replace(/\/?\{status\}/g, '')
      : config.url.replace(/\{status\}/g, encodeURIComponent(word));
  const query = config.url.indexOf('?');
  const inQuery = query !== -1 && config.url.indexOf('{status}', query) !== -1;
  return { url: new URL(url).href, method: inQuery ? 'GET' : 'POST' };
}

/** The run's one-paragraph summary for a ping's body: what happened to which database. Pure. */
export function heartbeatText(outcome: HeartbeatOutcome): string {
  const title = commandTitle(outcome.command);
  const db = outcome.database || '(unknown database)';
  switch (outcome.event) {
    case 'start':
      return `${title} started: ${db}.`;
    case 'success':
      return `${title} succeeded: ${db}${outcome.backupKey ? `, backup ${outcome.backupKey}` : ''}.`;
    case 'fail':
      return `${title} failed: ${db} in phase ${outcome.phase ?? 'unknown'}${outcome.error ? `: ${outcome.error}` : '.'}`;
  }
}

/**
 * `text` as a ping's body: every secret redacted in each form the runner masks (redact.ts), on one
 * line (whitespace runs become one space), then cut to at most {@link MAX_BODY_BYTES} UTF-8 bytes,
 * ending in `…` when cut (never inside a character). Pure.
 */
export function heartbeatBody(text: string, secrets: readonly string[]): string {
  const line = redact(text, secrets).replace(/\s+/g, ' ').trim();
  if (Buffer.byteLength(line, 'utf8') <= MAX_BODY_BYTES) return line;
  const cut = Buffer.from(line, 'utf8')
    .subarray(0, MAX_BODY_BYTES - 3)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  return `${cut}…`;
}

/** What a ping needs besides the config: a log, the run's secrets, and its bounds. */
export interface HeartbeatDeps {
  log: ReportLog;
  secrets: readonly string[];
  options?: HeartbeatOptions;
}

/**
 * Pings the monitor of `config` for `outcome` (nothing when config is undefined or the state is `-`).
 *
 * Bounded: each attempt by AbortSignal.timeout (default 5 s over connect and answer), at most
 * `attempts` (default 2: one retry, at once, after a network error, a timeout, HTTP 429 or 5xx; a 4xx
 * is not retried). So one ping waits at most 10 s, and a run's two pings (start, then success or
 * fail) at most 20 s. A failure is one warning naming only the URL's host. Never throws.
 */
export async function sendHeartbeat(
  config: HeartbeatConfig | undefined,
  outcome: HeartbeatOutcome,
  deps: HeartbeatDeps,
): Promise<'sent' | 'skipped' | 'failed'> {
  if (!config) return 'skipped';
  const secrets = [...deps.secrets, config.url];
  let request: HeartbeatRequest | undefined;
  try {
    request = heartbeatRequest(config, outcome.event);
  } catch {
    deps.log.warning(`Heartbeat: heartbeat-url is not a valid URL; the ${outcome.event} ping was not sent.`);
    return 'failed';
  }
  if (!request) return 'skipped';
  const timeoutMs = deps.options?.timeoutMs ?? 5_000;
  const attempts = Math.max(1, deps.options?.attempts ?? 2);
  const body = request.method === 'POST' ? heartbeatBody(heartbeatText(outcome), secrets) : undefined;
  const host = webhookHost(request.url);
  let reason = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const result = await attemptPing(request, body, timeoutMs, secrets);
    if (result.ok) {
      deps.log.info(`Heartbeat to ${host}: ${outcome.event} ping sent.`);
      return 'sent';
    }
    reason = result.reason;
    if (!result.retry) break;
  }
  deps.log.warning(
    `Heartbeat to ${host} failed: ${reason}; the ${outcome.event} ping was not delivered (the run goes on). Check the heartbeat-url secret and the monitor.`,
  );
  return 'failed';
}

/** One request: ok, or why not and whether another attempt could help. Never throws. */
async function attemptPing(
  request: HeartbeatRequest,
  body: string | undefined,
  timeoutMs: number,
  secrets: readonly string[],
): Promise<{ ok: true } | { ok: false; reason: string; retry: boolean }> {
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: {
        'user-agent': 'postgres-backup-action',
        ...(body === undefined ? {} : { 'content-type': 'text/plain' }),
      },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
    // Read (and drop) the answer so the connection is released.
    await response.text().catch(() => '');
    if (response.ok) return { ok: true };
    return {
      ok: false,
      reason: `HTTP ${response.status}`,
      retry: response.status === 429 || response.status >= 500,
    };
  } catch (error) {
    return { ok: false, reason: fetchFailureReason(error, timeoutMs, secrets), retry: true };
  }
}
