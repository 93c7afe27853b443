/**
 * Inputs of the heartbeat to an outside monitor: `heartbeat-url` (a secret) and `heartbeat-states`.
 * Parsed on their own too (like the reporting inputs), so that a run whose other inputs are bad
 * still pings its monitor's failure.
 */
import { ConfigError } from '../errors.js';
import { secretForms } from '../redact.js';
import type { HeartbeatConfig } from '../report/heartbeat.js';
import type { InputReader } from './reader.js';

/** `heartbeat-states`' default: Healthchecks.io's words, also used for a URL with `{status}`. */
const DEFAULT_STATES = 'start,success,fail';

/**
 * Reads and validates `heartbeat-url` and `heartbeat-states` (values trimmed; empty states take the
 * default). Pure: no I/O, no logging.
 * @returns undefined when `heartbeat-url` is empty (no monitor).
 * @throws ConfigError naming the input: a URL with whitespace, one that does not parse, or whose scheme
 *   is not http or https; states that are not three comma-separated words of letters, digits, `_` or `-`.
 *   Messages never contain the URL (it may hold a token).
 */
export function parseHeartbeatInputs(read: InputReader): HeartbeatConfig | undefined {
  const raw = (read('heartbeat-url') ?? '').trim();
  const statesText = (read('heartbeat-states') ?? '').trim() || DEFAULT_STATES;
  const states = statesText.split(',').map((s) => s.trim());
  if (states.length !== 3 || states.some((s) => !/^[A-Za-z0-9_-]*$/.test(s)))
    throw new ConfigError(
      'heartbeat-states',
      `'${statesText.slice(0, 60)}' is not three comma-separated words (start, success, fail), e.g. run,complete,fail; leave a word empty to skip that ping.`,
    );
  if (raw === '') return undefined;
  if (/\s/.test(raw))
    throw new ConfigError(
      'heartbeat-url',
      'contains whitespace; pass the monitor’s ping URL alone (e.g. https://hc-ping.com/<uuid>) from a secret.',
    );
  let url: URL;
  try {
    url = new URL(raw.replace(/\{status\}/g, 'status'));
  } catch {
    throw new ConfigError(
      'heartbeat-url',
      'not a valid URL; pass the monitor’s full ping URL (e.g. https://hc-ping.com/<uuid>) from a secret.',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError(
      'heartbeat-url',
      `scheme '${url.protocol.replace(/:$/, '')}' is not supported; use an https:// (or http://) ping URL.`,
    );
  const [start = '', success = '', fail = ''] = states;
  return { url: raw, states: { start, success, fail } };
}

/**
 * Every form of `heartbeat-url` that could reach a log: the URL as written, its path and query (a
 * token is often the path: Healthchecks.io, Better Stack, Uptime Kuma), each path segment and query
 * value that looks like a token (8 characters or more with a digit, or 20 or more: not `heartbeat`),
 * and its password; each in every {@link secretForms} form.
 * Pure; never throws (a malformed URL yields its raw forms).
 */
export function heartbeatSecrets(read: InputReader): string[] {
  const raw = (read('heartbeat-url') ?? '').trim();
  if (raw === '') return [];
  const secrets = new Set<string>([raw]);
  try {
    const url = new URL(raw.replace(/\{status\}/g, 'status'));
    secrets.add(url.href);
    if (url.pathname.length >= 8) secrets.add(url.pathname);
    for (const part of [...url.pathname.split('/'), ...url.searchParams.values()]) if (isToken(part)) secrets.add(part);
    if (url.password !== '') secrets.add(url.password);
  } catch {
    // Not a URL: the raw form is masked; parseHeartbeatInputs rejects it.
  }
  return [...new Set([...secrets].flatMap((s) => [s, ...secretForms(s)]))];
}

/** A path segment or query value that may be a token (not a word such as `heartbeat` or `push`). */
function isToken(part: string): boolean {
  return part.length >= 20 || (part.length >= 8 && /\d/.test(part));
}
