/**
 * `command: check`: is there a recent, plausible, undamaged backup? From the listing (the time is in
 * each key, the size in the listing, completeness from the manifest's presence) and one GET of the
 * newest backup's manifest per destination; never the archive itself, no database connection.
 */
import { ActionError, errorMessage } from '../errors.js';
import { MANIFEST_FORMAT_VERSION, type Manifest } from '../manifest.js';
import type { CheckConfig } from '../config/types.js';
import type { CheckSettings } from '../restore/options.js';
import { readManifest } from '../restore/select.js';
import type { Check } from '../restore/verify.js';
import { readCatalog, type BackupEntry, type Catalog } from '../storage/catalog.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import { formatBytes } from '../format.js';
import type { Log } from '../log.js';

/** The I/O of a check (a subset of main.ts's realDeps). */
export interface CheckDeps {
  log: Log;
  createStore(destination: Destination, s3: S3Settings): ObjectStore;
  now(): Date;
}

/** How many complete backups before the newest make up the size baseline. */
export const SIZE_HISTORY = 7;

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
}

export interface CheckResult {
  database: string;
  /** PostgreSQL major of the server the newest backup (first destination) was taken from, from its manifest. */
  latestServerMajor?: number;
  /** ISO 8601 time the check ran. */
  checkedAt: string;
  destinations: CheckDestinationResult[];
  passed: boolean;
}

/** A freshness or size check failed; `result` holds every destination's checks. */
export class CheckError extends ActionError {
  constructor(
    message: string,
    readonly result: CheckResult,
  ) {
    super(message, 'check');
  }
}

/** `26h 5m`-style duration for messages (seconds → d/h/m/s, two largest units). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = s;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || (unit === 's' && parts.length === 0)) parts.push(`${n}${unit}`);
  }
  return parts.slice(0, 2).join(' ');
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
 * The manifest's own checks need a GET: {@link manifestChecks}.
 * Warnings: archives of other labels newer than it without a manifest.
 */
export function judgeCatalog(
  catalog: Catalog,
  settings: CheckSettings,
  now: Date,
  url: string,
  database: string,
): CheckDestinationResult {
  const warnings: string[] = [];
  const label = settings.expectLabel;
  const complete = catalog.backups.filter((b) => b.hasManifest && (label === undefined || b.label === label));
  const latest = complete[complete.length - 1];
  const what = `complete backup${label ? ` with label '${label}'` : ''}`;
  if (!latest) {
    const candidates = catalog.backups.filter((b) => label === undefined || b.label === label);
    const newest = candidates.at(-1);
    const others = candidates.length > 1 ? `, nor do the ${candidates.length - 1} older one(s)` : '';
    const actual =
      catalog.backups.length === 0
        ? 'no backups at all'
        : newest
          ? `none: the newest archive ${newest.key} has no manifest (${newest.manifestKey} is missing)${others}`
          : `none among ${catalog.backups.length} archive(s)`;
    const check: Check = { name: what, expected: 'at least one', actual, passed: false };
    return { url, history: 0, checks: [check], warnings, passed: false };
  }
  const checks: Check[] = [{ name: what, expected: 'at least one', actual: latest.key, passed: true }];
  const newest = catalog.backups.filter((b) => label === undefined || b.label === label).at(-1);
  if (newest && newest.key !== latest.key) {
    checks.push({
      name: 'newest archive',
      expected: 'has a manifest',
      actual: `${newest.key} has no manifest (${newest.manifestKey} is missing): an interrupted backup, or one still running`,
      passed: false,
    });
  }
  const ageSeconds = Math.round((now.getTime() - latest.time.getTime()) / 1000);
  if (ageSeconds < 0)
    warnings.push(
      `The newest backup's time (${latest.time.toISOString()}) is ${formatDuration(-ageSeconds)} in the future: check the clocks.`,
    );
  if (settings.maxAgeSeconds !== undefined) {
    checks.push({
      name: 'age',
      expected: `≤ ${formatDuration(settings.maxAgeSeconds)}`,
      actual: formatDuration(ageSeconds),
      passed: ageSeconds <= settings.maxAgeSeconds,
    });
  }
  const before = complete.slice(0, -1).slice(-SIZE_HISTORY);
  let medianBytes: number | undefined;
  if (before.length > 0) medianBytes = median(before.map((b) => b.size));
  if (settings.minSizeRatio !== undefined) {
    if (medianBytes === undefined) {
      warnings.push('No earlier complete backup to compare the size with: the size check is skipped.');
    } else {
      const ratio = medianBytes > 0 ? latest.size / medianBytes : 1;
      checks.push({
        name: 'size',
        expected: `≥ ${Math.round(settings.minSizeRatio * 100)}% of the median ${formatBytes(medianBytes)} (${before.length} earlier)`,
        actual: `${formatBytes(latest.size)} (${(ratio * 100).toFixed(1)}%)`,
        passed: latest.size >= settings.minSizeRatio * medianBytes,
      });
    }
  }
  const newerIncomplete = catalog.backups.filter(
    (b: BackupEntry) => !b.hasManifest && b.time.getTime() > latest.time.getTime() && b.key !== newest?.key,
  );
  if (newerIncomplete.length > 0) {
    warnings.push(
      `${newerIncomplete.length} newer archive(s) of '${database}' have no manifest (interrupted or running backups): ${newerIncomplete
        .slice(-3)
        .map((b) => b.key)
        .join(', ')}.`,
    );
  }
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
  };
}

/**
 * The checks of the newest complete backup that need its manifest (one GET of a few kB, never the
 * archive): `manifest` — it can be read, is valid JSON, of a format version this action knows
 * ({@link formatVersionProblem}), with the fields a restore needs (a well-formed sha256 among them),
 * for this database and this archive's key; `archive size` — the size in the listing equals the
 * manifest's `archive.bytes` (a truncated or replaced archive). Whether the archive's bytes match
 * the manifest's sha256 is not proven here: that needs the whole archive (restore and drill check it).
 * Returns the checks and the manifest when it could be used.
 */
export async function manifestChecks(
  store: ObjectStore,
  entry: BackupEntry,
): Promise<{ checks: Check[]; manifest?: Manifest }> {
  let manifest: Manifest;
  try {
    manifest = await readManifest(store, entry);
    if (manifest.archive.key !== entry.key) {
      throw new Error(
        `The manifest ${entry.manifestKey} is for the archive ${manifest.archive.key}, not ${entry.key}; it was copied from another backup, or is damaged.`,
      );
    }
  } catch (error) {
    return {
      checks: [
        {
          name: 'manifest',
          expected: 'readable, valid, format version ' + String(MANIFEST_FORMAT_VERSION),
          actual: errorMessage(error),
          passed: false,
        },
      ],
    };
  }
  const checks: Check[] = [
    {
      name: 'manifest',
      expected: 'readable, valid, format version ' + String(MANIFEST_FORMAT_VERSION),
      actual: `${entry.manifestKey}: format version ${manifest.formatVersion}, sha256 ${manifest.archive.sha256.slice(0, 12)}…`,
      passed: true,
    },
  ];
  const same = entry.size === manifest.archive.bytes;
  checks.push({
    name: 'archive size',
    expected: `${manifest.archive.bytes} bytes (the manifest's archive.bytes)`,
    actual: same
      ? `${entry.size} bytes`
      : `${entry.key} is ${entry.size} bytes in the listing: ${entry.size < manifest.archive.bytes ? 'truncated' : 'not the archive the manifest describes'}`,
    passed: same,
  });
  return { checks, manifest };
}

/**
 * `command: check`: lists `<prefix>/<database>/` in every destination and judges each with
 * {@link judgeCatalog}; every destination must pass.
 * @throws CheckError (with `result`) when a check fails, or the store's error when listing fails.
 */
export async function runCheck(options: CheckConfig, deps: CheckDeps): Promise<CheckResult> {
  const { log } = deps;
  const now = deps.now();
  const destinations: CheckDestinationResult[] = [];
  let latestServerMajor: number | undefined;
  for (const destination of options.destinations) {
    const judged = await log.group(`Check ${destination.url}`, async () => {
      const store = deps.createStore(destination, options.s3);
      const catalog = await readCatalog(store, options.database);
      const r = judgeCatalog(catalog, options, now, destination.url, options.database);
      const entry = r.latest ? catalog.backups.find((b) => b.key === r.latest?.key) : undefined;
      if (entry) {
        // One GET of the manifest: its checks, and the PostgreSQL major a drill container should run.
        const read = await manifestChecks(store, entry);
        r.checks.splice(1, 0, ...read.checks);
        r.passed = r.checks.every((c) => c.passed);
        if (read.manifest && latestServerMajor === undefined && destinations.length === 0)
          latestServerMajor = read.manifest.server?.major;
      }
      if (r.latest)
        log.info(
          `Newest complete backup: ${r.latest.key} (${formatBytes(r.latest.bytes)}, ${formatDuration(r.latest.ageSeconds)} old).`,
        );
      for (const c of r.checks) {
        const line = `${c.passed ? 'PASS' : 'FAIL'} ${c.name}: expected ${c.expected}, actual ${c.actual}`;
        if (c.passed) log.info(line);
        else log.warning(line);
      }
      for (const w of r.warnings) log.warning(w);
      return r;
    });
    destinations.push(judged);
  }
  const result: CheckResult = {
    database: options.database,
    ...(latestServerMajor === undefined ? {} : { latestServerMajor }),
    checkedAt: now.toISOString(),
    destinations,
    passed: destinations.every((d) => d.passed),
  };
  if (!result.passed) {
    const problems = destinations.flatMap((d) =>
      d.checks.filter((c) => !c.passed).map((c) => `${d.url}: ${c.name} expected ${c.expected}, actual ${c.actual}`),
    );
    throw new CheckError(`The backups of '${options.database}' failed the check: ${problems.join('; ')}.`, result);
  }
  return result;
}

/** Step outputs of `command: check`: the first destination's newest complete backup. */
export function checkOutputs(result: CheckResult): Record<string, string> {
  const latest = result.destinations[0]?.latest;
  return {
    'latest-key': latest?.key ?? '',
    'latest-age-seconds': latest ? String(latest.ageSeconds) : '',
    'latest-server-major': result.latestServerMajor === undefined ? '' : String(result.latestServerMajor),
  };
}

/** Markdown for the job summary of a check. */
export function checkSummary(result: CheckResult): string {
  const lines = [
    `## PostgreSQL backup check: ${result.database}`,
    '',
    `${result.passed ? '✅ passed' : '❌ failed'} at ${result.checkedAt}`,
    '',
  ];
  for (const d of result.destinations) {
    lines.push(`### ${d.url}`, '', '| Check | Expected | Actual | Result |', '|---|---|---|---|');
    for (const c of d.checks)
      lines.push(
        `| ${c.name} | ${String(c.expected).replace(/\|/g, '\\|')} | ${String(c.actual).replace(/\|/g, '\\|')} | ${c.passed ? '✅' : '❌'} |`,
      );
    if (d.warnings.length > 0) lines.push('', ...d.warnings.map((w) => `- ⚠️ ${w}`));
    lines.push('');
  }
  return `${lines.join('\n')}`;
}
