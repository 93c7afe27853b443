/**
 * The freshness judgement of `command: check` (pure): is the newest complete backup of a
 * destination recent, of a plausible size, and not followed by interrupted archives? It reads the
 * listing only (the time is in each key, the size in the listing, completeness from the
 * manifest's presence); the manifest's own checks need a GET and live with the restore library.
 */
import { formatBytes, formatSpan as formatDuration } from '../format.js';
import { isBelowSizeRatio } from './size-ratio.js';

export { formatSpan as formatDuration } from '../format.js';
import type { Check } from '../manifest.js';
import type { BackupEntry, Catalog } from '../storage/catalog.js';
import type { Anomaly } from './anomaly.js';
import { scheduleReport, type ScheduleReport } from './schedule.js';

/** How many complete backups before the newest make up the size baseline. */
export const SIZE_HISTORY = 7;

/** What `check` asks of the newest backup (the check inputs, as parsed). */
export interface FreshnessSettings {
  /** Fail when the newest complete backup started longer ago than this (seconds). */
  maxAgeSeconds?: number;
  /** Fail when the newest archive is smaller than this fraction of the median of the previous 7. */
  minSizeRatio?: number;
  /** Only backups with this label count. */
  expectLabel?: string;
}

/** One destination's verdict. */
export interface CheckDestinationResult {
  url: string;
  /** The newest complete backup (with the expected label), if any. */
  latest?: { key: string; time: string; ageSeconds: number; bytes: number; label?: string };
  /** Median size (bytes) of up to 7 complete backups before it; undefined without history. */
  medianBytes?: number;
  /** How many backups the median is taken over. */
  history: number;
  checks: Check[];
  warnings: string[];
  passed: boolean;
  /** With `maxAgeSeconds`: missed periods and gaps over the last 14 periods of max-age. */
  schedule?: ScheduleReport;
  /** The newest backup against the complete backup before it (same label), when both manifests were read. */
  anomalies?: { previousKey: string; found: Anomaly[]; notes: string[] };
}

/** Median of positive numbers (mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Judges one destination's catalog (pure). Complete backups are those with a manifest, and with
 * `expectLabel`, only those with that label. Checks:
 * - `complete backup`: there is one (else nothing else is checked);
 * - `newest archive`: the newest archive (with the label) is that complete backup: an archive newer
 *   than it without a manifest is an interrupted backup (or one still running) and fails the check;
 * - `age` (with `maxAgeSeconds`): now − the time in the newest one's key ≤ max age;
 * - `size` (with `minSizeRatio`): its size ≥ ratio × the median of up to {@link SIZE_HISTORY}
 *   complete backups before it (skipped, with a warning, when there are none).
 * The manifest's own checks need a GET (`manifestChecks` of the restore library).
 * Warnings: the newest backup's time lies in the future; archives of other labels newer than it
 * without a manifest.
 */
export function judgeCatalog(
  catalog: Catalog,
  settings: FreshnessSettings,
  now: Date,
  url: string,
  database: string,
): CheckDestinationResult {
  const label = settings.expectLabel;
  const labelled = catalog.backups.filter((b) => label === undefined || b.label === label);
  const complete = labelled.filter((b) => b.hasManifest);
  const latest = complete.at(-1);
  const what = `complete backup${label ? ` with label '${label}'` : ''}`;
  if (!latest) return noCompleteBackup(catalog, labelled, what, url);
  const warnings: string[] = [];
  const checks: Check[] = [{ name: what, expected: 'at least one', actual: latest.key, passed: true }];
  const newest = labelled.at(-1);
  if (newest && newest.key !== latest.key) checks.push(newestArchiveCheck(newest));
  const ageSeconds = Math.round((now.getTime() - latest.time.getTime()) / 1000);
  if (ageSeconds < 0)
    warnings.push(
      `The newest backup's time (${latest.time.toISOString()}) is ${formatDuration(-ageSeconds)} in the future: check the clocks.`,
    );
  let schedule: ScheduleReport | undefined;
  if (settings.maxAgeSeconds !== undefined) {
    schedule = scheduleReport(
      complete.map((b) => b.time),
      settings.maxAgeSeconds,
      now,
    );
    checks.push({
      name: 'age',
      expected: `≤ ${formatDuration(settings.maxAgeSeconds)}`,
      actual: formatDuration(ageSeconds),
      passed: ageSeconds <= settings.maxAgeSeconds,
    });
  }
  const before = complete.slice(0, -1).slice(-SIZE_HISTORY);
  const medianBytes = before.length > 0 ? median(before.map((b) => b.size)) : undefined;
  if (settings.minSizeRatio !== undefined) {
    if (medianBytes === undefined)
      warnings.push('No earlier complete backup to compare the size with: the size check is skipped.');
    else checks.push(sizeCheck(latest.size, { medianBytes, count: before.length }, settings.minSizeRatio));
  }
  const incomplete = newerIncompleteWarning(catalog, latest, newest, database);
  if (incomplete) warnings.push(incomplete);
  return {
    url,
    latest: {
      key: latest.key,
      time: latest.time.toISOString(),
      ageSeconds,
      bytes: latest.size,
      ...(latest.label ? { label: latest.label } : {}),
    },
    ...(medianBytes === undefined ? {} : { medianBytes }),
    history: before.length,
    checks,
    warnings,
    passed: checks.every((c) => c.passed),
    ...(schedule ? { schedule } : {}),
  };
}

/** The verdict when no complete backup (with the label) exists: one failed check saying what there is. */
function noCompleteBackup(
  catalog: Catalog,
  labelled: BackupEntry[],
  what: string,
  url: string,
): CheckDestinationResult {
  const newest = labelled.at(-1);
  const others = labelled.length > 1 ? `, nor do the ${labelled.length - 1} older one(s)` : '';
  const actual =
    catalog.backups.length === 0
      ? 'no backups at all'
      : newest
        ? `none: the newest archive ${newest.key} has no manifest (${newest.manifestKey} is missing)${others}`
        : `none among ${catalog.backups.length} archive(s)`;
  const check: Check = { name: what, expected: 'at least one', actual, passed: false };
  return { url, history: 0, checks: [check], warnings: [], passed: false };
}

/** The failed `newest archive` check: `newest` (newer than the newest complete backup) has no manifest. */
function newestArchiveCheck(newest: BackupEntry): Check {
  return {
    name: 'newest archive',
    expected: 'has a manifest',
    actual: `${newest.key} has no manifest (${newest.manifestKey} is missing): an interrupted backup, or one still running`,
    passed: false,
  };
}

/** The `size` check: `bytes` against `ratio` × the median of the `count` complete backups before it. */
function sizeCheck(bytes: number, baseline: { medianBytes: number; count: number }, ratio: number): Check {
  const { medianBytes, count } = baseline;
  const actualRatio = medianBytes > 0 ? bytes / medianBytes : 1;
  return {
    name: 'size',
    expected: `≥ ${Math.round(ratio * 100)}% of the median ${formatBytes(medianBytes)} (${count} earlier)`,
    actual: `${formatBytes(bytes)} (${(actualRatio * 100).toFixed(1)}%)`,
    passed: !isBelowSizeRatio(bytes, medianBytes, ratio),
  };
}

/** The warning about archives (of any label) newer than `latest` without a manifest, besides `newest`. */
function newerIncompleteWarning(
  catalog: Catalog,
  latest: BackupEntry,
  newest: BackupEntry | undefined,
  database: string,
): string | undefined {
  const newer = catalog.backups.filter(
    (b) => !b.hasManifest && b.time.getTime() > latest.time.getTime() && b.key !== newest?.key,
  );
  if (newer.length === 0) return undefined;
  return `${newer.length} newer archive(s) of '${database}' have no manifest (interrupted or running backups): ${newer
    .slice(-3)
    .map((b) => b.key)
    .join(', ')}.`;
}
