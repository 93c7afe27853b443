/**
 * `command: check`: is there a recent, plausible, undamaged backup? From the listing (the time is in
 * each key, the size in the listing, completeness from the manifest's presence) and one GET of the
 * newest backup's manifest per destination; never the archive itself, no database connection.
 */
import { CheckError, type CheckResult } from '../report/check-report.js';
import type { CheckConfig } from '../config/types.js';
import { manifestChecks } from '../restore/select.js';
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
