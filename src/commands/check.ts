/**
 * `command: check`: is there a recent, plausible, undamaged backup? From the listing (the time is in
 * each key, the size in the listing, completeness from the manifest's presence) and one GET of the
 * newest backup's manifest per destination; never the archive itself, no database connection.
 */
import { CheckError, type CheckResult } from '../report/check-report.js';
import type { CheckConfig } from '../config/types.js';
import { manifestChecks, readManifest } from '../restore/select.js';
import { describeAnomalies, findAnomalies } from '../retention/anomaly.js';
import type { Manifest } from '../manifest.js';
import type { BackupEntry, Catalog } from '../storage/catalog.js';
import { filesChecks } from '../retention/files-parts.js';
import { formatDuration, judgeCatalog, type CheckDestinationResult } from '../retention/freshness.js';
import { readCatalog } from '../storage/catalog.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import { formatBytes } from '../format.js';
import type { Log } from '../log.js';

/** The I/O of a check (a subset of main.ts's realDeps). */
export interface CheckDeps {
  log: Log;
  createStore(destination: Destination, s3: S3Settings): ObjectStore;
  now(): Date;
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
        if (read.manifest) {
          const before = await compareWithPrevious(r, { store, catalog, entry, manifest: read.manifest }, options, log);
          r.checks.push(...filesChecks(entry, read.manifest, before, options.filesMaxDrop));
          r.passed = r.checks.every((c) => c.passed);
        }
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
      if (r.schedule) logSchedule(r, log);
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

/**
 * The newest backup against the complete backup before it with the same label (one more manifest
 * GET), whose manifest it returns (undefined: none, or unreadable): per-table anomalies become a failed `anomalies` check (`anomaly: fail`, check's default) or
 * a warning (`warn`). A previous manifest that cannot be read is a warning, not a failure.
 */
async function compareWithPrevious(
  r: CheckDestinationResult,
  newest: { store: ObjectStore; catalog: Catalog; entry: BackupEntry; manifest: Manifest },
  options: CheckConfig,
  log: Log,
): Promise<Manifest | undefined> {
  const { entry } = newest;
  const previous = newest.catalog.backups
    .filter((b) => b.hasManifest && b.label === entry.label && b.time.getTime() < entry.time.getTime())
    .at(-1);
  if (!previous) return undefined;
  let before: Manifest;
  try {
    before = await readManifest(newest.store, previous);
  } catch (error) {
    r.warnings.push(`The anomaly comparison is skipped: ${(error as Error).message}`);
    return undefined;
  }
  const found = findAnomalies(before, newest.manifest, { maxRowDrop: options.anomaly.maxRowDrop });
  r.anomalies = { previousKey: previous.key, found: found.anomalies, notes: found.notes };
  for (const note of found.notes) log.info(note);
  if (found.anomalies.length === 0) {
    log.info(`No per-table anomaly against the previous backup ${previous.key}.`);
    return before;
  }
  const text = `${found.anomalies.length} anomal${found.anomalies.length === 1 ? 'y' : 'ies'} against ${previous.key}: ${describeAnomalies(found.anomalies)}`;
  if (options.anomaly.mode === 'warn') r.warnings.push(`${text} (anomaly: warn).`);
  else {
    r.checks.push({
      name: 'anomalies',
      expected: `none (max-row-drop ${options.anomaly.maxRowDrop})`,
      actual: text,
      passed: false,
    });
    r.passed = false;
  }
  return before;
}

/** The missed-schedule report in the log: the summary, the gaps and the recent backup times. */
function logSchedule(r: CheckDestinationResult, log: Log): void {
  const schedule = r.schedule;
  if (!schedule) return;
  const line = `Schedule: ${schedule.summary}.`;
  if (schedule.missed > 0) log.warning(line);
  else log.info(line);
  for (const g of schedule.gaps)
    log.info(`  gap of ${formatDuration(g.seconds)}: ${g.from} → ${g.open ? `now (${g.to})` : g.to}`);
  if (schedule.recent.length > 0) log.info(`  recent backups: ${schedule.recent.join(', ')}`);
}
