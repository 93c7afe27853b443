/**
 * Retention inputs: `keep-last`, `keep-daily`, `keep-weekly`, `keep-monthly`, `keep-yearly`,
 * `keep-within`, `keep-label`, `prune`, `prune-dry-run`, parsed into a RetentionPolicy.
 *
 * The rules follow restic's `forget` policy (https://restic.readthedocs.io/en/stable/060_forget.html),
 * with UTC calendar buckets and `keep-within` measured from now (restic measures from the newest
 * snapshot); see planRetention in retention/plan.ts and docs/retention.md.
 */
import { inputSpecs, type InputSpec } from './action-inputs.js';
import { ConfigError } from '../errors.js';
import type { Duration, RetentionInputs, RetentionPolicy } from '../retention/policy.js';
import { LABEL, parseBoolean } from './values.js';

/** The retention inputs, as action.yml declares them. */
export const RETENTION_INPUTS: readonly InputSpec[] = inputSpecs([
  'keep-last',
  'keep-daily',
  'keep-weekly',
  'keep-monthly',
  'keep-yearly',
  'keep-within',
  'keep-label',
  'prune',
  'prune-dry-run',
]);

const COUNT_INPUTS = [
  ['keep-last', 'last', 'newest backups'],
  ['keep-daily', 'daily', 'daily backups'],
  ['keep-weekly', 'weekly', 'weekly backups'],
  ['keep-monthly', 'monthly', 'monthly backups'],
  ['keep-yearly', 'yearly', 'yearly backups'],
] as const;

/** Largest count accepted (keeps arithmetic and reports sane). */
const MAX_COUNT = 1_000_000;
/** Longest duration accepted: 100 years of 365 days, in seconds. */
const MAX_DURATION_SECONDS = 100 * 365 * 86_400;

const UNIT_SECONDS = { y: 365 * 86_400, w: 7 * 86_400, d: 86_400, h: 3_600 } as const;
const UNIT_ORDER = ['y', 'w', 'd', 'h'] as const;
const UNITS_HINT = 'h (hours), d (days), w (weeks) or y (years of 365 days)';

const POLICY_INPUTS_TEXT = 'keep-last, keep-daily, keep-weekly, keep-monthly, keep-yearly or keep-within';

/** The error of `command: prune` without a retention policy (the `command` input names it). */
export const PRUNE_NEEDS_POLICY = `prune needs a retention policy; set at least one of ${POLICY_INPUTS_TEXT}.`;

/**
 * Length of a duration such as `36h`, `30d`, `12w`, `1y` or `1y6w` (several terms, each unit once,
 * largest first), in seconds. Units: h = 3,600 s, d = 86,400 s, w = 7 d, y = 365 d. There is no unit
 * for months (`m` would be ambiguous: write days, e.g. 180d). Lower-case units, no spaces.
 *
 * @returns seconds (≥ 0), or undefined when `text` is not such a duration or exceeds 100 years.
 */
export function parseDuration(text: string): number | undefined {
  const parsed = readDuration(text);
  return typeof parsed === 'number' ? parsed : undefined;
}

/** Seconds, or the problem with `text` as a sentence fragment (for ConfigError messages). */
function readDuration(text: string): number | string {
  const example = 'e.g. 30d, 36h, 12w or 1y6w';
  if (text === '') return `is empty; write a number and a unit ${UNITS_HINT}, ${example}.`;
  if (/^\d+$/.test(text)) return `'${text}' has no unit; write a number and a unit ${UNITS_HINT}, e.g. ${text}d.`;
  if (!/^(?:\d+[A-Za-z]+)+$/.test(text)) {
    return `'${text}' is not a duration; write a number and a unit ${UNITS_HINT}, ${example} (no spaces, signs or fractions).`;
  }
  let seconds = 0;
  let previous = -1;
  for (const [, digits, unit] of text.matchAll(/(\d+)([A-Za-z]+)/g)) {
    const index = (UNIT_ORDER as readonly string[]).indexOf(unit as string);
    if (index === -1) {
      const months = /^(m|mo|mon|month|months)$/i.test(unit as string)
        ? ' (there is no month unit: write days, e.g. 180d for about 6 months)'
        : '';
      return `unknown unit '${unit}' in '${text}'; use ${UNITS_HINT}${months}.`;
    }
    if (index <= previous)
      return `'${text}' repeats a unit or is out of order; give each unit once, largest first (y, w, d, h), e.g. 1y6w.`;
    previous = index;
    seconds += Number(digits) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  }
  if (seconds > MAX_DURATION_SECONDS) return `'${text}' is longer than 100 years; use a shorter duration.`;
  return seconds;
}

/**
 * Reads and validates the retention inputs. `read(name)` returns the trimmed value with the
 * action.yml default applied (`prune` → 'auto', `prune-dry-run` → 'false', the keep-* inputs → '').
 *
 * `prune: auto` means true when any keep-* input is set. A policy is returned even when `prune` is
 * false, so `command: list` can preview it.
 *
 * @throws ConfigError (message `Input '<name>': <problem and fix>`) for: a count that is not a whole
 *   number, is negative or above 1,000,000; a duration with no unit, an unknown unit, repeated or
 *   out-of-order units, zero length or over 100 years; a `keep-label` line that is not
 *   `<label>=<duration>`, a bad or repeated label; `keep-label` without another keep-* rule; keep-*
 *   inputs that keep nothing (all 0); `prune` not auto/true/false; `prune: true` or
 *   `prune-dry-run: true` without a policy; `prune-dry-run` not a boolean.
 */
export function parseRetentionInputs(read: (name: string) => string): RetentionInputs {
  const policy: RetentionPolicy = { labels: [] };
  const setToZero: string[] = [];
  for (const [name, field, what] of COUNT_INPUTS) {
    const value = read(name);
    if (value === '') continue;
    const hint = `set how many ${what} to keep, e.g. ${name === 'keep-last' ? '14' : name === 'keep-yearly' ? '5' : '7'} (0 or empty turns the rule off).`;
    if (/^-\d+$/.test(value)) throw new ConfigError(name, `${value} is negative; ${hint}`);
    if (!/^\d+$/.test(value)) throw new ConfigError(name, `'${value}' is not a whole number; ${hint}`);
    const count = Number(value);
    if (count > MAX_COUNT) throw new ConfigError(name, `${value} is too large; use at most ${MAX_COUNT}.`);
    if (count === 0) setToZero.push(name);
    else policy[field] = count;
  }

  const within = read('keep-within');
  if (within !== '') policy.within = duration('keep-within', within, '');

  const labelText = read('keep-label');
  if (labelText !== '') {
    for (const line of labelText
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '')) {
      const eq = line.indexOf('=');
      if (eq === -1)
        throw new ConfigError(
          'keep-label',
          `line '${line}' is not <label>=<duration>; write one rule per line, e.g. pre-migration=90d.`,
        );
      const label = line.slice(0, eq).trim();
      const text = line.slice(eq + 1).trim();
      if (!LABEL.test(label)) {
        throw new ConfigError(
          'keep-label',
          `'${label}' is not a valid label; use 1-40 lower-case letters, digits and dashes, as in the label input (e.g. pre-migration=90d).`,
        );
      }
      if (policy.labels.some((rule) => rule.label === label))
        throw new ConfigError('keep-label', `label '${label}' is listed twice; list each label once.`);
      policy.labels.push({ label, within: duration('keep-label', text, `${label}: `) });
    }
  }

  const hasRule = COUNT_INPUTS.some(([, field]) => policy[field] !== undefined) || policy.within !== undefined;
  if (!hasRule && policy.labels.length > 0) {
    throw new ConfigError(
      'keep-label',
      `only adds to a policy; set at least one of ${POLICY_INPUTS_TEXT} too (with keep-label alone every unlabelled backup but the newest would be deleted).`,
    );
  }
  if (!hasRule && setToZero.length > 0) {
    throw new ConfigError(
      setToZero[0] as string,
      `the retention policy keeps nothing (${setToZero.join(', ')} ${setToZero.length === 1 ? 'is' : 'are'} 0 and no other keep-* input is set); set a count above 0, e.g. keep-daily: 7, or leave the keep-* inputs empty to turn retention off.`,
    );
  }

  const pruneText = read('prune');
  if (!['auto', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE'].includes(pruneText)) {
    throw new ConfigError('prune', `'${pruneText}' is not one of: auto, true, false.`);
  }
  const dryRunText = read('prune-dry-run');
  const dryRun = parseBoolean('prune-dry-run', dryRunText);

  if (!hasRule) {
    if (pruneText.toLowerCase() === 'true') {
      throw new ConfigError(
        'prune',
        `true needs a retention policy; set at least one of ${POLICY_INPUTS_TEXT} (prune never deletes without one).`,
      );
    }
    if (dryRun)
      throw new ConfigError(
        'prune-dry-run',
        `true needs a retention policy to preview; set at least one of ${POLICY_INPUTS_TEXT}.`,
      );
    return { prune: false, dryRun };
  }
  return { policy, prune: pruneText.toLowerCase() !== 'false', dryRun };
}

function duration(input: string, text: string, context: string): Duration {
  const parsed = readDuration(text);
  if (typeof parsed === 'string') throw new ConfigError(input, `${context}${parsed}`);
  if (parsed === 0)
    throw new ConfigError(input, `${context}'${text}' keeps nothing; use a duration above zero, e.g. 30d.`);
  return { seconds: parsed, text };
}
