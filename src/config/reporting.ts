/**
 * Inputs of failure reporting: a GitHub issue on failure (deduplicated, closed on recovery) and a
 * webhook alert. Parsed separately from the other inputs so main.ts can read them even when the
 * other inputs are invalid (a config failure is reported too).
 */
import { inputSpecs, type InputSpec } from './action-inputs.js';
import { ConfigError } from '../errors.js';
import { MAX_FAILURE_THRESHOLD, NOTIFY_ON, type ReportingConfig } from '../report/reporting-config.js';
import { oneOf, parseBoolean, parseInteger } from './values.js';

/** The reporting inputs, as action.yml declares them. */
export const REPORTING_INPUTS: readonly InputSpec[] = inputSpecs([
  'github-token',
  'issue-on-failure',
  'issue-labels',
  'issue-assignees',
  'failure-threshold',
  'close-issue-on-success',
  'webhook-url',
  'notify-on',
]);

const DEFAULTS: Record<string, string> = Object.fromEntries(REPORTING_INPUTS.map((i) => [i.name, i.default]));

/**
 * Reads and validates the reporting inputs.
 *
 * `read` returns an input's value (the runner has applied action.yml defaults); values are trimmed
 * here, and an empty value takes the default of {@link REPORTING_INPUTS}, except `github-token`
 * ('' = no token) and `webhook-url` ('' = no webhook). Pure: no I/O, no logging.
 * @throws ConfigError naming the input: a boolean that is not true/false, a threshold that is not a
 *   whole number from 1 to 50, a webhook URL that does not parse or is not https (http only for
 *   localhost), an unknown notify-on, a bad label or login. Messages never contain the token or the URL.
 */
export function parseReportingInputs(read: (name: string) => string): ReportingConfig {
  const input = (name: string): string => {
    const value = (read(name) ?? '').trim();
    return value === '' && name !== 'github-token' && name !== 'webhook-url' ? (DEFAULTS[name] ?? '') : value;
  };
  const notifyOn = oneOf('notify-on', input('notify-on'), NOTIFY_ON);
  return {
    githubToken: input('github-token'),
    issueOnFailure: parseBoolean('issue-on-failure', input('issue-on-failure')),
    issueLabels: parseLabels(input('issue-labels')),
    issueAssignees: parseAssignees(input('issue-assignees')),
    failureThreshold: parseThreshold(input('failure-threshold')),
    closeIssueOnSuccess: parseBoolean('close-issue-on-success', input('close-issue-on-success')),
    webhookUrl: parseWebhookUrl(input('webhook-url')),
    notifyOn: notifyOn,
  };
}

/**
 * Every form of the reporting secrets that could reach a log: the token, the webhook URL as written
 * and as normalized, its path+query (Slack's secret is the path) and its query values and password.
 * Pure; the caller passes each to core.setSecret. Never throws (a malformed URL yields its raw form).
 */
export function reportingSecrets(read: (name: string) => string): string[] {
  const secrets = new Set<string>();
  const token = (read('github-token') ?? '').trim();
  if (token !== '') secrets.add(token);
  const raw = (read('webhook-url') ?? '').trim();
  if (raw !== '') {
    secrets.add(raw);
    try {
      const url = new URL(raw);
      secrets.add(url.href);
      const pathAndQuery = `${url.pathname}${url.search}`;
      if (pathAndQuery.length >= 8) secrets.add(pathAndQuery);
      if (url.pathname.length >= 8) secrets.add(url.pathname);
      for (const value of url.searchParams.values()) if (value.length >= 6) secrets.add(value);
      if (url.password !== '') secrets.add(url.password);
    } catch {
      // Not a URL: the raw form is masked; parseReportingInputs rejects it.
    }
  }
  return [...secrets];
}

function list(value: string): string[] {
  return [
    ...new Set(
      value
        .split(/[,\r\n]+/)
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
}

function parseThreshold(value: string): number {
  return parseInteger('failure-threshold', value, {
    min: 1,
    max: MAX_FAILURE_THRESHOLD,
    hint: `use a whole number of consecutive failed runs from 1 to ${MAX_FAILURE_THRESHOLD}`,
  });
}

function parseLabels(value: string): string[] {
  const labels = list(value);
  for (const label of labels) {
    // GitHub: label names are at most 50 characters.
    if ([...label].length > 50) {
      throw new ConfigError(
        'issue-labels',
        `label '${label.slice(0, 20)}…' is longer than 50 characters, GitHub's limit.`,
      );
    }
  }
  return labels;
}

const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

function parseAssignees(value: string): string[] {
  const logins = list(value).map((s) => s.replace(/^@/, ''));
  for (const login of logins) {
    if (!LOGIN.test(login)) {
      throw new ConfigError(
        'issue-assignees',
        `'${login}' is not a GitHub login; use logins such as octocat, comma or newline separated.`,
      );
    }
  }
  if (logins.length > 10) {
    throw new ConfigError(
      'issue-assignees',
      `${logins.length} logins given; GitHub assigns at most 10 people to an issue.`,
    );
  }
  return logins;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Never echoes the URL: it is a secret. */
function parseWebhookUrl(value: string): string {
  if (value === '') return '';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      'webhook-url',
      'not a valid URL; pass the full incoming-webhook URL (e.g. https://hooks.slack.com/services/…) from a secret.',
    );
  }
  if (url.protocol === 'https:') return value;
  if (url.protocol === 'http:') {
    if (LOCAL_HOSTS.has(url.hostname)) return value;
    throw new ConfigError(
      'webhook-url',
      'uses http://; use https:// (plain http is allowed only for localhost and 127.0.0.1).',
    );
  }
  throw new ConfigError(
    'webhook-url',
    `scheme '${url.protocol.replace(/:$/, '')}' is not supported; use an https:// URL.`,
  );
}
