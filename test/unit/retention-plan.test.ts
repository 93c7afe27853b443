import { bucketOf, isoWeek, planRetention, type RetentionPlan } from '../../src/retention/plan.js';
import type { RetentionPolicy } from '../../src/retention/policy.js';
import type { BackupEntry } from '../../src/storage/catalog.js';
import { archiveKey, manifestKey } from '../../src/storage/keys.js';

/** A catalog entry as readCatalog makes it, for `prod/shop/<time>[-label].dump`. */
function entry(iso: string, options: { label?: string; manifest?: boolean; extension?: string } = {}): BackupEntry {
  const time = new Date(iso);
  const key = archiveKey({
    prefix: 'prod',
    database: 'shop',
    time,
    ...(options.label ? { label: options.label } : {}),
    extension: options.extension ?? 'dump',
  });
  return {
    key,
    manifestKey: manifestKey(key),
    database: 'shop',
    time,
    ...(options.label ? { label: options.label } : {}),
    extension: options.extension ?? 'dump',
    size: 100,
    hasManifest: options.manifest ?? true,
  };
}

/** Backups every `stepHours` from `from` to `to` inclusive (ISO times). */
function series(from: string, to: string, stepHours: number): BackupEntry[] {
  const out: BackupEntry[] = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += stepHours * 3_600_000)
    out.push(entry(new Date(t).toISOString()));
  return out;
}

/** The file name of a key (`2024-03-10T000000Z.dump`). */
const file = (key: string): string => key.slice(key.lastIndexOf('/') + 1);

/** kept: file → reasons, deleted: file → why. */
function outcome(plan: RetentionPlan): { kept: Record<string, string[]>; deleted: Record<string, string> } {
  return {
    kept: Object.fromEntries(plan.kept.map((k) => [file(k.backup.key), k.reasons])),
    deleted: Object.fromEntries(plan.deleted.map((d) => [file(d.backup.key), d.why])),
  };
}

const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ labels: [], ...p });
const d = (text: string, seconds: number) => ({ text, seconds });
const DAY = 86_400;
const NOW = new Date('2024-03-10T12:00:00Z');
const GONE = 'no rule keeps it';
const INCOMPLETE_OLD = 'incomplete (no manifest), older than the oldest kept backup';
const INCOMPLETE_KEPT = 'incomplete (no manifest), not older than the oldest kept backup';

interface Case {
  name: string;
  backups: BackupEntry[];
  policy: RetentionPolicy;
  now?: Date;
  kept: Record<string, string[]>;
  deleted: Record<string, string>;
  /** File names of complete backups found anomalous. */
  anomalous?: string[];
}

const ANOMALOUS_10 = 'last good before anomalous prod/shop/2024-03-10T020000Z.dump';

const cases: Case[] = [
  { name: 'empty list', backups: [], policy: policy({ daily: 7 }), kept: {}, deleted: {} },
  {
    name: 'one backup, keep-daily',
    backups: [entry('2024-03-01T02:00:00Z')],
    policy: policy({ daily: 7 }),
    kept: { '2024-03-01T020000Z.dump': ['newest complete', 'daily 1/7'] },
    deleted: {},
  },
  {
    name: 'one backup, keep-within that does not reach it: kept as the newest complete',
    backups: [entry('2023-01-01T00:00:00Z')],
    policy: policy({ within: d('30d', 30 * DAY) }),
    kept: { '2023-01-01T000000Z.dump': ['newest complete'] },
    deleted: {},
  },
  {
    name: 'keep-last 3 of 5',
    backups: series('2024-03-01T02:00:00Z', '2024-03-05T02:00:00Z', 24),
    policy: policy({ last: 3 }),
    kept: {
      '2024-03-05T020000Z.dump': ['newest complete', 'last 1/3'],
      '2024-03-04T020000Z.dump': ['last 2/3'],
      '2024-03-03T020000Z.dump': ['last 3/3'],
    },
    deleted: { '2024-03-02T020000Z.dump': GONE, '2024-03-01T020000Z.dump': GONE },
  },
  {
    name: 'keep-daily keeps the newest of each day; the count runs out before the oldest',
    backups: series('2024-03-01T06:00:00Z', '2024-03-04T18:00:00Z', 12),
    policy: policy({ daily: 3 }),
    kept: {
      '2024-03-04T180000Z.dump': ['newest complete', 'daily 1/3'],
      '2024-03-03T180000Z.dump': ['daily 2/3'],
      '2024-03-02T180000Z.dump': ['daily 3/3'],
    },
    deleted: {
      '2024-03-04T060000Z.dump': GONE,
      '2024-03-03T060000Z.dump': GONE,
      '2024-03-02T060000Z.dump': GONE,
      '2024-03-01T180000Z.dump': GONE,
      '2024-03-01T060000Z.dump': GONE,
    },
  },
  {
    name: 'keep-daily with fewer days than the count also keeps the oldest backup (restic ≥ 0.17)',
    backups: series('2024-03-01T06:00:00Z', '2024-03-03T18:00:00Z', 12),
    policy: policy({ daily: 7 }),
    kept: {
      '2024-03-03T180000Z.dump': ['newest complete', 'daily 1/7'],
      '2024-03-02T180000Z.dump': ['daily 2/7'],
      '2024-03-01T180000Z.dump': ['daily 3/7'],
      '2024-03-01T060000Z.dump': ['daily 4/7 (oldest)'],
    },
    deleted: { '2024-03-03T060000Z.dump': GONE, '2024-03-02T060000Z.dump': GONE },
  },
  {
    name: 'UTC day boundary: 23:59:59 and 00:00:00 are different days',
    backups: [entry('2024-03-01T23:59:59Z'), entry('2024-03-02T00:00:00Z'), entry('2024-03-01T00:00:00Z')],
    policy: policy({ daily: 2 }),
    kept: { '2024-03-02T000000Z.dump': ['newest complete', 'daily 1/2'], '2024-03-01T235959Z.dump': ['daily 2/2'] },
    deleted: { '2024-03-01T000000Z.dump': GONE },
  },
  {
    name: 'UTC day boundary: 00:00:00 and 23:59:59 of one day are one day',
    backups: [entry('2024-03-02T00:00:00Z'), entry('2024-03-02T23:59:59Z'), entry('2024-03-03T00:00:00Z')],
    policy: policy({ daily: 2 }),
    kept: { '2024-03-03T000000Z.dump': ['newest complete', 'daily 1/2'], '2024-03-02T235959Z.dump': ['daily 2/2'] },
    deleted: { '2024-03-02T000000Z.dump': GONE },
  },
  {
    name: 'gaps of months: only months that have a backup count',
    backups: [
      entry('2023-01-10T00:00:00Z'),
      entry('2023-02-10T00:00:00Z'),
      entry('2023-06-01T00:00:00Z'),
      entry('2023-06-20T00:00:00Z'),
      entry('2023-12-31T23:59:59Z'),
      entry('2024-03-01T00:00:00Z'),
      entry('2024-03-09T00:00:00Z'),
    ],
    policy: policy({ monthly: 3 }),
    kept: {
      '2024-03-09T000000Z.dump': ['newest complete', 'monthly 1/3'],
      '2023-12-31T235959Z.dump': ['monthly 2/3'],
      '2023-06-20T000000Z.dump': ['monthly 3/3'],
    },
    deleted: {
      '2024-03-01T000000Z.dump': GONE,
      '2023-06-01T000000Z.dump': GONE,
      '2023-02-10T000000Z.dump': GONE,
      '2023-01-10T000000Z.dump': GONE,
    },
  },
  {
    name: 'ISO week 53: 2020-12-28, 2020-12-31 and 2021-01-03 are all 2020-W53',
    backups: [
      entry('2020-12-27T12:00:00Z'),
      entry('2020-12-28T12:00:00Z'),
      entry('2020-12-31T12:00:00Z'),
      entry('2021-01-03T12:00:00Z'),
      entry('2021-01-04T12:00:00Z'),
    ],
    policy: policy({ weekly: 3 }),
    now: new Date('2021-01-05T00:00:00Z'),
    kept: {
      '2021-01-04T120000Z.dump': ['newest complete', 'weekly 1/3'],
      '2021-01-03T120000Z.dump': ['weekly 2/3'],
      '2020-12-27T120000Z.dump': ['weekly 3/3'],
    },
    deleted: { '2020-12-31T120000Z.dump': GONE, '2020-12-28T120000Z.dump': GONE },
  },
  {
    name: 'ISO week at a year start: 2019-12-30 is 2020-W01, one week with 2020-01-05',
    backups: [entry('2019-12-29T00:00:00Z'), entry('2019-12-30T00:00:00Z'), entry('2020-01-05T23:00:00Z')],
    policy: policy({ weekly: 1, yearly: 2 }),
    now: new Date('2020-01-06T00:00:00Z'),
    kept: {
      '2020-01-05T230000Z.dump': ['newest complete', 'weekly 1/1', 'yearly 1/2'],
      '2019-12-30T000000Z.dump': ['yearly 2/2'],
    },
    deleted: { '2019-12-29T000000Z.dump': GONE },
  },
  {
    name: 'leap day: 2024-02-29 is its own day and the newest of February',
    backups: [
      entry('2024-02-28T01:00:00Z'),
      entry('2024-02-29T01:00:00Z'),
      entry('2024-02-29T13:00:00Z'),
      entry('2024-03-01T01:00:00Z'),
    ],
    policy: policy({ daily: 2, monthly: 2 }),
    kept: {
      '2024-03-01T010000Z.dump': ['newest complete', 'daily 1/2', 'monthly 1/2'],
      '2024-02-29T130000Z.dump': ['daily 2/2', 'monthly 2/2'],
    },
    deleted: { '2024-02-29T010000Z.dump': GONE, '2024-02-28T010000Z.dump': GONE },
  },
  {
    name: 'keep-within across a leap day, at the boundary: exactly 2 days old is not within 2d',
    backups: [entry('2024-02-28T00:00:00Z'), entry('2024-02-28T00:00:01Z'), entry('2024-02-29T12:00:00Z')],
    policy: policy({ within: d('2d', 2 * DAY) }),
    now: new Date('2024-03-01T00:00:00Z'),
    kept: { '2024-02-29T120000Z.dump': ['newest complete', 'within 2d'], '2024-02-28T000001Z.dump': ['within 2d'] },
    deleted: { '2024-02-28T000000Z.dump': GONE },
  },
  {
    name: 'keep-within 30d: one second either side of the cutoff',
    backups: [entry('2024-02-09T12:00:00Z'), entry('2024-02-09T12:00:01Z'), entry('2024-03-10T11:00:00Z')],
    policy: policy({ within: d('30d', 30 * DAY) }),
    kept: { '2024-03-10T110000Z.dump': ['newest complete', 'within 30d'], '2024-02-09T120001Z.dump': ['within 30d'] },
    deleted: { '2024-02-09T120000Z.dump': GONE },
  },
  {
    name: 'keep-within 36h over hourly backups',
    backups: series('2024-03-08T20:00:00Z', '2024-03-09T02:00:00Z', 1).concat(entry('2024-03-10T11:00:00Z')),
    policy: policy({ within: d('36h', 36 * 3600) }),
    kept: {
      '2024-03-10T110000Z.dump': ['newest complete', 'within 36h'],
      '2024-03-09T020000Z.dump': ['within 36h'],
      '2024-03-09T010000Z.dump': ['within 36h'],
    },
    deleted: {
      '2024-03-09T000000Z.dump': GONE,
      '2024-03-08T230000Z.dump': GONE,
      '2024-03-08T220000Z.dump': GONE,
      '2024-03-08T210000Z.dump': GONE,
      '2024-03-08T200000Z.dump': GONE,
    },
  },
  {
    name: 'same-second keys: ordered by key, the later key counts as newer',
    backups: [
      entry('2024-03-01T00:00:00Z', { label: 'pre-migration' }),
      entry('2024-03-01T00:00:00Z'),
      entry('2024-03-01T00:00:00Z', { extension: 'sql.gz' }),
    ],
    policy: policy({ last: 2 }),
    kept: { '2024-03-01T000000Z.sql.gz': ['newest complete', 'last 1/2'], '2024-03-01T000000Z.dump': ['last 2/2'] },
    deleted: { '2024-03-01T000000Z-pre-migration.dump': GONE },
  },
  {
    name: 'label rule keeps labelled backups within its duration, whatever the daily policy says',
    backups: [
      entry('2023-11-01T09:00:00Z', { label: 'pre-migration' }),
      entry('2023-12-20T09:00:00Z', { label: 'pre-migration' }),
      entry('2024-01-15T09:00:00Z', { label: 'weekly' }),
      entry('2024-03-08T02:00:00Z'),
      entry('2024-03-09T02:00:00Z'),
    ],
    policy: policy({ daily: 1, labels: [{ label: 'pre-migration', within: d('90d', 90 * DAY) }] }),
    kept: {
      '2024-03-09T020000Z.dump': ['newest complete', 'daily 1/1'],
      '2023-12-20T090000Z-pre-migration.dump': ['label pre-migration within 90d'],
    },
    deleted: {
      '2024-03-08T020000Z.dump': GONE,
      '2024-01-15T090000Z-weekly.dump': GONE,
      '2023-11-01T090000Z-pre-migration.dump': GONE,
    },
  },
  {
    name: 'a labelled backup is subject to the normal rules too (it can be the newest of its day)',
    backups: [
      entry('2024-03-09T02:00:00Z'),
      entry('2024-03-09T15:00:00Z', { label: 'pre-migration' }),
      entry('2024-03-10T02:00:00Z'),
    ],
    policy: policy({ daily: 2, labels: [{ label: 'pre-migration', within: d('90d', 90 * DAY) }] }),
    kept: {
      '2024-03-10T020000Z.dump': ['newest complete', 'daily 1/2'],
      '2024-03-09T150000Z-pre-migration.dump': ['daily 2/2', 'label pre-migration within 90d'],
    },
    deleted: { '2024-03-09T020000Z.dump': GONE },
  },
  {
    name: 'a labelled archive without manifest does not count for its label rule',
    backups: [
      entry('2024-01-01T00:00:00Z', { label: 'pre-migration', manifest: false }),
      entry('2024-02-01T00:00:00Z'),
      entry('2024-03-01T00:00:00Z'),
    ],
    policy: policy({ last: 1, labels: [{ label: 'pre-migration', within: d('90d', 90 * DAY) }] }),
    kept: { '2024-03-01T000000Z.dump': ['newest complete', 'last 1/1'] },
    deleted: { '2024-02-01T000000Z.dump': GONE, '2024-01-01T000000Z-pre-migration.dump': INCOMPLETE_OLD },
  },
  {
    name: 'clock skew: a backup 10 min ahead is kept, left out of the rules',
    backups: [entry('2024-03-10T12:10:00Z'), entry('2024-03-10T11:00:00Z'), entry('2024-03-10T10:00:00Z')],
    policy: policy({ last: 1 }),
    kept: {
      '2024-03-10T121000Z.dump': ['from the future'],
      '2024-03-10T110000Z.dump': ['newest complete', 'last 1/1'],
    },
    deleted: { '2024-03-10T100000Z.dump': GONE },
  },
  {
    name: 'clock skew tolerance: 4 min 59 s ahead is a normal backup',
    backups: [entry('2024-03-10T12:04:59Z'), entry('2024-03-10T11:00:00Z')],
    policy: policy({ last: 1 }),
    kept: { '2024-03-10T120459Z.dump': ['newest complete', 'last 1/1'] },
    deleted: { '2024-03-10T110000Z.dump': GONE },
  },
  {
    name: 'manifest-less archives: deleted when older than the oldest kept backup, kept otherwise',
    backups: [
      entry('2024-03-01T02:00:00Z', { manifest: false }),
      entry('2024-03-05T02:00:00Z'),
      entry('2024-03-06T02:00:00Z', { manifest: false }),
      entry('2024-03-07T02:00:00Z'),
      entry('2024-03-10T11:59:00Z', { manifest: false }),
    ],
    policy: policy({ last: 1 }),
    kept: {
      '2024-03-10T115900Z.dump': [INCOMPLETE_KEPT],
      '2024-03-07T020000Z.dump': ['newest complete', 'last 1/1'],
    },
    deleted: {
      '2024-03-06T020000Z.dump': INCOMPLETE_OLD,
      '2024-03-05T020000Z.dump': GONE,
      '2024-03-01T020000Z.dump': INCOMPLETE_OLD,
    },
  },
  {
    name: 'only manifest-less archives: nothing is kept by a rule, so none is deleted',
    backups: [entry('2024-03-01T02:00:00Z', { manifest: false }), entry('2024-03-02T02:00:00Z', { manifest: false })],
    policy: policy({ daily: 7 }),
    kept: { '2024-03-02T020000Z.dump': [INCOMPLETE_KEPT], '2024-03-01T020000Z.dump': [INCOMPLETE_KEPT] },
    deleted: {},
  },
  {
    name: 'a manifest-less archive in the same second as the oldest kept backup is not older: kept',
    backups: [entry('2024-03-01T02:00:00Z', { manifest: false, extension: 'sql' }), entry('2024-03-01T02:00:00Z')],
    policy: policy({ daily: 1 }),
    kept: { '2024-03-01T020000Z.dump': ['newest complete', 'daily 1/1'], '2024-03-01T020000Z.sql': [INCOMPLETE_KEPT] },
    deleted: {},
  },
  {
    name: 'a manifest-less archive from the future is kept as such',
    backups: [entry('2024-03-11T00:00:00Z', { manifest: false }), entry('2024-03-10T00:00:00Z')],
    policy: policy({ last: 1 }),
    kept: {
      '2024-03-11T000000Z.dump': ['from the future'],
      '2024-03-10T000000Z.dump': ['newest complete', 'last 1/1'],
    },
    deleted: {},
  },
  {
    name: 'an empty policy keeps only the newest complete backup',
    backups: series('2024-03-01T00:00:00Z', '2024-03-03T00:00:00Z', 24),
    policy: policy({}),
    kept: { '2024-03-03T000000Z.dump': ['newest complete'] },
    deleted: { '2024-03-02T000000Z.dump': GONE, '2024-03-01T000000Z.dump': GONE },
  },
  {
    name: 'yearly with fewer years than the count keeps the oldest backup too',
    backups: [
      entry('2022-06-01T00:00:00Z'),
      entry('2022-12-01T00:00:00Z'),
      entry('2023-06-01T00:00:00Z'),
      entry('2024-01-01T00:00:00Z'),
    ],
    policy: policy({ yearly: 5 }),
    kept: {
      '2024-01-01T000000Z.dump': ['newest complete', 'yearly 1/5'],
      '2023-06-01T000000Z.dump': ['yearly 2/5'],
      '2022-12-01T000000Z.dump': ['yearly 3/5'],
      '2022-06-01T000000Z.dump': ['yearly 4/5 (oldest)'],
    },
    deleted: {},
  },
  {
    name: 'keep-last and keep-within both list their reason',
    backups: series('2024-03-07T12:00:00Z', '2024-03-10T12:00:00Z', 24),
    policy: policy({ last: 2, within: d('2d', 2 * DAY) }),
    kept: {
      '2024-03-10T120000Z.dump': ['newest complete', 'last 1/2', 'within 2d'],
      '2024-03-09T120000Z.dump': ['last 2/2', 'within 2d'],
    },
    deleted: { '2024-03-08T120000Z.dump': GONE, '2024-03-07T120000Z.dump': GONE },
  },
  {
    name: 'keep-last 1 after an anomalous backup: the previous good one stays',
    backups: series('2024-03-08T02:00:00Z', '2024-03-10T02:00:00Z', 24),
    policy: policy({ last: 1 }),
    anomalous: ['2024-03-10T020000Z.dump'],
    kept: {
      '2024-03-10T020000Z.dump': ['newest complete', 'last 1/1'],
      '2024-03-09T020000Z.dump': [ANOMALOUS_10],
    },
    deleted: { '2024-03-08T020000Z.dump': GONE },
  },
  {
    name: 'two anomalous backups in a row: the last good one before them stays',
    backups: series('2024-03-07T02:00:00Z', '2024-03-10T02:00:00Z', 24),
    policy: policy({ last: 2 }),
    anomalous: ['2024-03-10T020000Z.dump', '2024-03-09T020000Z.dump'],
    kept: {
      '2024-03-10T020000Z.dump': ['newest complete', 'last 1/2'],
      '2024-03-09T020000Z.dump': ['last 2/2'],
      '2024-03-08T020000Z.dump': [ANOMALOUS_10],
    },
    deleted: { '2024-03-07T020000Z.dump': GONE },
  },
  {
    name: 'a later normal backup lifts the protection',
    backups: series('2024-03-08T02:00:00Z', '2024-03-10T02:00:00Z', 24),
    policy: policy({ last: 1 }),
    anomalous: ['2024-03-09T020000Z.dump'],
    kept: { '2024-03-10T020000Z.dump': ['newest complete', 'last 1/1'] },
    deleted: { '2024-03-09T020000Z.dump': GONE, '2024-03-08T020000Z.dump': GONE },
  },
  {
    name: 'an anomalous backup already kept by a rule only adds the reason to the good one',
    backups: series('2024-03-09T02:00:00Z', '2024-03-10T02:00:00Z', 24),
    policy: policy({ last: 2 }),
    anomalous: ['2024-03-10T020000Z.dump'],
    kept: {
      '2024-03-10T020000Z.dump': ['newest complete', 'last 1/2'],
      '2024-03-09T020000Z.dump': ['last 2/2', ANOMALOUS_10],
    },
    deleted: {},
  },
  {
    name: 'every backup anomalous: nothing extra to keep',
    backups: series('2024-03-09T02:00:00Z', '2024-03-10T02:00:00Z', 24),
    policy: policy({ last: 1 }),
    anomalous: ['2024-03-10T020000Z.dump', '2024-03-09T020000Z.dump'],
    kept: { '2024-03-10T020000Z.dump': ['newest complete', 'last 1/1'] },
    deleted: { '2024-03-09T020000Z.dump': GONE },
  },
];

describe('planRetention', () => {
  test.each(cases)('$name', ({ backups, policy: p, now, kept, deleted, anomalous }) => {
    const flagged = new Set(backups.filter((b) => anomalous?.includes(file(b.key))).map((b) => b.key));
    const plan = planRetention(backups, p, now ?? NOW, flagged);
    expect(outcome(plan)).toEqual({ kept, deleted });
    expect(plan.kept.length + plan.deleted.length).toBe(backups.length);
  });

  test('GFS 7 daily, 4 weekly, 3 monthly, 2 yearly over 14 months of daily backups', () => {
    const backups = series('2023-01-01T03:00:00Z', '2024-03-10T03:00:00Z', 24);
    const plan = planRetention(backups, policy({ daily: 7, weekly: 4, monthly: 3, yearly: 2 }), NOW);
    const gone = Object.fromEntries(backups.map((b) => [file(b.key), GONE]));
    const kept = {
      '2024-03-10T030000Z.dump': ['newest complete', 'daily 1/7', 'weekly 1/4', 'monthly 1/3', 'yearly 1/2'],
      '2024-03-09T030000Z.dump': ['daily 2/7'],
      '2024-03-08T030000Z.dump': ['daily 3/7'],
      '2024-03-07T030000Z.dump': ['daily 4/7'],
      '2024-03-06T030000Z.dump': ['daily 5/7'],
      '2024-03-05T030000Z.dump': ['daily 6/7'],
      '2024-03-04T030000Z.dump': ['daily 7/7'],
      '2024-03-03T030000Z.dump': ['weekly 2/4'], // Sunday of 2024-W09
      '2024-02-25T030000Z.dump': ['weekly 3/4'],
      '2024-02-29T030000Z.dump': ['monthly 2/3'],
      '2024-02-18T030000Z.dump': ['weekly 4/4'],
      '2024-01-31T030000Z.dump': ['monthly 3/3'],
      '2023-12-31T030000Z.dump': ['yearly 2/2'],
    };
    for (const name of Object.keys(kept)) delete gone[name];
    expect(outcome(plan)).toEqual({ kept, deleted: gone });
    // Newest first, both lists.
    expect(plan.kept.map((k) => file(k.backup.key))).toEqual(Object.keys(kept).sort().reverse());
    expect(plan.deleted[0]?.backup.key).toMatch(/2024-03-02T030000Z/);
    expect(plan.deleted.at(-1)?.backup.key).toMatch(/2023-01-01T030000Z/);
  });

  test('the plan does not depend on the input order', () => {
    const backups = [
      ...series('2023-10-01T00:00:00Z', '2024-03-10T00:00:00Z', 7),
      entry('2024-03-01T00:00:00Z', { label: 'x' }),
      entry('2024-02-01T00:00:00Z', { manifest: false }),
    ];
    const p = policy({
      last: 3,
      daily: 5,
      weekly: 3,
      monthly: 2,
      within: d('3d', 3 * DAY),
      labels: [{ label: 'x', within: d('30d', 30 * DAY) }],
    });
    const reference = planRetention(backups, p, NOW);
    const shuffled = [...backups].sort(
      (a, b) => ((a.time.getTime() * 7919) % 1009) - ((b.time.getTime() * 7919) % 1009) || a.key.localeCompare(b.key),
    );
    expect(planRetention(shuffled, p, NOW)).toEqual(reference);
    expect(planRetention([...backups].reverse(), p, NOW)).toEqual(reference);
  });

  test('a backup from the future comes with a warning', () => {
    const plan = planRetention(
      [entry('2024-03-12T12:00:00Z'), entry('2024-03-10T12:00:00Z')],
      policy({ last: 1 }),
      NOW,
    );
    expect(plan.warnings).toEqual([
      'prod/shop/2024-03-12T120000Z.dump is dated 2024-03-12T12:00:00.000Z, 2 days after now (2024-03-10T12:00:00.000Z); it is kept and left out of the retention rules. Check the clock of this runner and of the machine that wrote it.',
    ]);
    expect(planRetention([entry('2024-03-10T12:04:00Z')], policy({ last: 1 }), NOW).warnings).toEqual([]);
  });

  test('the newest complete backup is kept even when the newest archive has no manifest', () => {
    const plan = planRetention(
      [
        entry('2024-03-10T10:00:00Z', { manifest: false }),
        entry('2024-01-01T00:00:00Z'),
        entry('2023-01-01T00:00:00Z'),
      ],
      policy({ within: d('1d', DAY) }),
      NOW,
    );
    expect(outcome(plan)).toEqual({
      kept: { '2024-03-10T100000Z.dump': [INCOMPLETE_KEPT], '2024-01-01T000000Z.dump': ['newest complete'] },
      deleted: { '2023-01-01T000000Z.dump': GONE },
    });
  });
});

describe('calendar buckets (UTC)', () => {
  test.each([
    ['2020-12-31T12:00:00Z', '2020-W53'],
    ['2021-01-03T23:59:59Z', '2020-W53'],
    ['2021-01-04T00:00:00Z', '2021-W01'],
    ['2019-12-30T00:00:00Z', '2020-W01'],
    ['2024-02-29T00:00:00Z', '2024-W09'],
    ['2026-01-01T00:00:00Z', '2026-W01'],
    ['2027-01-01T00:00:00Z', '2026-W53'],
    ['2018-12-31T00:00:00Z', '2019-W01'],
  ])('isoWeek(%s) = %s', (iso, week) => {
    expect(isoWeek(new Date(iso))).toBe(week);
  });

  test('day, month and year buckets', () => {
    const t = new Date('2024-02-29T23:59:59.999Z');
    expect(['daily', 'weekly', 'monthly', 'yearly'].map((b) => bucketOf(b as 'daily', t))).toEqual([
      '2024-02-29',
      '2024-W09',
      '2024-02',
      '2024',
    ]);
  });
});
