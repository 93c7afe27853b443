import { ConfigError } from '../../src/errors.js';
import { parseDuration, parseRetentionInputs, RETENTION_INPUTS } from '../../src/config/retention.js';
import { describePolicy } from '../../src/retention/policy.js';

const DEFAULTS: Record<string, string> = Object.fromEntries(RETENTION_INPUTS.map((i) => [i.name, i.default]));

/** A reader with the action.yml defaults applied, like the lead's InputReader. */
function reader(inputs: Record<string, string>): (name: string) => string {
  return (name) => inputs[name] ?? DEFAULTS[name] ?? '';
}

function parseError(inputs: Record<string, string>): ConfigError {
  try {
    parseRetentionInputs(reader(inputs));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const DAY = 86_400;

describe('parseDuration', () => {
  test.each([
    ['36h', 36 * 3600],
    ['30d', 30 * DAY],
    ['12w', 84 * DAY],
    ['1y', 365 * DAY],
    ['1y6w', 407 * DAY],
    ['2w3d12h', 17 * DAY + 12 * 3600],
    ['0d', 0],
    ['100y', 36500 * DAY],
  ])('%s = %d s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  test.each(['', '30', '30 d', 'd30', '-5d', '1.5d', '6m', '30D', '1d1y', '2d3d', '101y', '30days', 'forever'])(
    '%j is not a duration',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe('parseRetentionInputs: good inputs', () => {
  test('nothing set: retention off', () => {
    expect(parseRetentionInputs(reader({}))).toEqual({ prune: false, dryRun: false });
  });

  test('prune: false with nothing set', () => {
    expect(parseRetentionInputs(reader({ prune: 'false' }))).toEqual({ prune: false, dryRun: false });
  });

  test('GFS 7/4/12/5 turns prune on (auto)', () => {
    expect(
      parseRetentionInputs(reader({ 'keep-daily': '7', 'keep-weekly': '4', 'keep-monthly': '12', 'keep-yearly': '5' })),
    ).toEqual({
      policy: { daily: 7, weekly: 4, monthly: 12, yearly: 5, labels: [] },
      prune: true,
      dryRun: false,
    });
  });

  test('30 days, with the pre-migration label kept 90 days, as a dry run', () => {
    const parsed = parseRetentionInputs(
      reader({ 'keep-within': '30d', 'keep-label': 'pre-migration=90d\n\n  release = 1y \n', 'prune-dry-run': 'true' }),
    );
    expect(parsed).toEqual({
      policy: {
        within: { seconds: 30 * DAY, text: '30d' },
        labels: [
          { label: 'pre-migration', within: { seconds: 90 * DAY, text: '90d' } },
          { label: 'release', within: { seconds: 365 * DAY, text: '1y' } },
        ],
      },
      prune: true,
      dryRun: true,
    });
    expect(describePolicy(parsed.policy!)).toBe('within 30d, label pre-migration within 90d, label release within 1y');
  });

  test('the last 14, never pruned (list can still preview it)', () => {
    expect(parseRetentionInputs(reader({ 'keep-last': '14', prune: 'false' }))).toEqual({
      policy: { last: 14, labels: [] },
      prune: false,
      dryRun: false,
    });
  });

  test('a count of 0 beside other rules is left out; prune: TRUE', () => {
    expect(parseRetentionInputs(reader({ 'keep-last': '0', 'keep-daily': '7', prune: 'TRUE' }))).toEqual({
      policy: { daily: 7, labels: [] },
      prune: true,
      dryRun: false,
    });
  });

  test('RETENTION_INPUTS lists exactly the inputs read, each with a description', () => {
    const read: string[] = [];
    parseRetentionInputs((name) => {
      read.push(name);
      return DEFAULTS[name] ?? '';
    });
    expect(RETENTION_INPUTS.map((i) => i.name).sort()).toEqual([...new Set(read)].sort());
    expect(DEFAULTS).toMatchObject({ prune: 'auto', 'prune-dry-run': 'false', 'keep-daily': '' });
    for (const input of RETENTION_INPUTS) expect(input.description.length).toBeGreaterThan(20);
  });
});

const HINT_DAILY = 'set how many daily backups to keep, e.g. 7 (0 or empty turns the rule off).';
const UNITS = 'h (hours), d (days), w (weeks) or y (years of 365 days)';
const POLICY = 'keep-last, keep-daily, keep-weekly, keep-monthly, keep-yearly or keep-within';

describe('parseRetentionInputs: bad inputs', () => {
  test.each<[string, Record<string, string>, string, string]>([
    ['negative count', { 'keep-daily': '-1' }, 'keep-daily', `Input 'keep-daily': -1 is negative; ${HINT_DAILY}`],
    [
      'fractional count',
      { 'keep-daily': '7.5' },
      'keep-daily',
      `Input 'keep-daily': '7.5' is not a whole number; ${HINT_DAILY}`,
    ],
    [
      'word count',
      { 'keep-last': 'all' },
      'keep-last',
      "Input 'keep-last': 'all' is not a whole number; set how many newest backups to keep, e.g. 14 (0 or empty turns the rule off).",
    ],
    [
      'exponent count',
      { 'keep-yearly': '1e3' },
      'keep-yearly',
      "Input 'keep-yearly': '1e3' is not a whole number; set how many yearly backups to keep, e.g. 5 (0 or empty turns the rule off).",
    ],
    [
      'huge count',
      { 'keep-weekly': '10000000' },
      'keep-weekly',
      "Input 'keep-weekly': 10000000 is too large; use at most 1000000.",
    ],
    [
      'every count 0',
      { 'keep-daily': '0', 'keep-weekly': '0' },
      'keep-daily',
      "Input 'keep-daily': the retention policy keeps nothing (keep-daily, keep-weekly are 0 and no other keep-* input is set); set a count above 0, e.g. keep-daily: 7, or leave the keep-* inputs empty to turn retention off.",
    ],
    [
      'duration without unit',
      { 'keep-within': '30' },
      'keep-within',
      `Input 'keep-within': '30' has no unit; write a number and a unit ${UNITS}, e.g. 30d.`,
    ],
    [
      'month unit',
      { 'keep-within': '6m' },
      'keep-within',
      `Input 'keep-within': unknown unit 'm' in '6m'; use ${UNITS} (there is no month unit: write days, e.g. 180d for about 6 months).`,
    ],
    [
      'seconds unit',
      { 'keep-within': '3600s' },
      'keep-within',
      `Input 'keep-within': unknown unit 's' in '3600s'; use ${UNITS}.`,
    ],
    [
      'spelled-out unit',
      { 'keep-within': '30days' },
      'keep-within',
      `Input 'keep-within': unknown unit 'days' in '30days'; use ${UNITS}.`,
    ],
    [
      'duration with a space',
      { 'keep-within': '30 d' },
      'keep-within',
      `Input 'keep-within': '30 d' is not a duration; write a number and a unit ${UNITS}, e.g. 30d, 36h, 12w or 1y6w (no spaces, signs or fractions).`,
    ],
    [
      'units out of order',
      { 'keep-within': '6w1y' },
      'keep-within',
      "Input 'keep-within': '6w1y' repeats a unit or is out of order; give each unit once, largest first (y, w, d, h), e.g. 1y6w.",
    ],
    [
      'zero duration',
      { 'keep-within': '0d' },
      'keep-within',
      "Input 'keep-within': '0d' keeps nothing; use a duration above zero, e.g. 30d.",
    ],
    [
      'over 100 years',
      { 'keep-within': '200y' },
      'keep-within',
      "Input 'keep-within': '200y' is longer than 100 years; use a shorter duration.",
    ],
    [
      'label line without =',
      { 'keep-daily': '7', 'keep-label': 'pre-migration 90d' },
      'keep-label',
      "Input 'keep-label': line 'pre-migration 90d' is not <label>=<duration>; write one rule per line, e.g. pre-migration=90d.",
    ],
    [
      'bad label',
      { 'keep-daily': '7', 'keep-label': 'Pre_Migration=90d' },
      'keep-label',
      "Input 'keep-label': 'Pre_Migration' is not a valid label; use 1-40 lower-case letters, digits and dashes, as in the label input (e.g. pre-migration=90d).",
    ],
    [
      'label with bad duration',
      { 'keep-daily': '7', 'keep-label': 'pre-migration=3mo' },
      'keep-label',
      `Input 'keep-label': pre-migration: unknown unit 'mo' in '3mo'; use ${UNITS} (there is no month unit: write days, e.g. 180d for about 6 months).`,
    ],
    [
      'label with empty duration',
      { 'keep-daily': '7', 'keep-label': 'pre-migration=' },
      'keep-label',
      `Input 'keep-label': pre-migration: is empty; write a number and a unit ${UNITS}, e.g. 30d, 36h, 12w or 1y6w.`,
    ],
    [
      'label twice',
      { 'keep-daily': '7', 'keep-label': 'pre-migration=90d\npre-migration=30d' },
      'keep-label',
      "Input 'keep-label': label 'pre-migration' is listed twice; list each label once.",
    ],
    [
      'keep-label alone',
      { 'keep-label': 'pre-migration=90d' },
      'keep-label',
      `Input 'keep-label': only adds to a policy; set at least one of ${POLICY} too (with keep-label alone every unlabelled backup but the newest would be deleted).`,
    ],
    [
      'prune: true without a policy',
      { prune: 'true' },
      'prune',
      `Input 'prune': true needs a retention policy; set at least one of ${POLICY} (prune never deletes without one).`,
    ],
    [
      'prune: yes',
      { 'keep-daily': '7', prune: 'yes' },
      'prune',
      "Input 'prune': 'yes' is not one of: auto, true, false.",
    ],
    [
      'prune-dry-run: maybe',
      { 'keep-daily': '7', 'prune-dry-run': 'maybe' },
      'prune-dry-run',
      "Input 'prune-dry-run': 'maybe' is not a boolean; use true or false.",
    ],
    [
      'dry run without a policy',
      { 'prune-dry-run': 'true' },
      'prune-dry-run',
      `Input 'prune-dry-run': true needs a retention policy to preview; set at least one of ${POLICY}.`,
    ],
  ])('%s', (_name, inputs, input, message) => {
    const error = parseError(inputs);
    expect(error.input).toBe(input);
    expect(error.message).toBe(message);
    expect(error.phase).toBe('config');
  });
});
