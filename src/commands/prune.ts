/**
 * `command: prune` and the prune that follows a backup: for each destination, read the catalog of
 * the database's backups, plan retention, delete (unless a dry run), and log what was kept and why.
 */
import { ConfigError, errorMessage } from '../errors.js';
import { executePrune, type PruneExecution } from '../retention/execute.js';
import { planRetention, keptRows, deletedRows } from '../retention/plan.js';
import { PRUNE_NEEDS_POLICY } from '../config/retention.js';
import { describePolicy, type RetentionPolicy } from '../retention/policy.js';
import {
  readCatalog,
  removeStaleTemporaries,
  staleTemporaries,
  type Catalog,
  type TemporaryEntry,
} from '../storage/catalog.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import type { PruneConfig } from '../config/types.js';
import type { BackupResult } from './backup.js';
import type { Log } from '../log.js';

/** Everything runPrune and runList need (no database connection: backups are found by name). */
export interface RetentionCommandOptions {
  destinations: Destination[];
  s3: S3Settings;
  /** The database whose backups to consider (`<prefix>/<database>/…`). */
  database: string;
  /** Required by runPrune; optional for runList (then no keep/delete preview). */
  policy?: RetentionPolicy | undefined;
  /** Plan and report only. */
  dryRun: boolean;
  now: Date;
  log: Log;
  createStore(destination: Destination, s3: S3Settings): ObjectStore;
  /**
   * Archive keys that must survive, by destination URL (`Destination.url`): the backup just
   * written and verified there. A destination with an entry is pruned only when those keys are in
   * its listing as complete backups.
   */
  mustKeep?: Record<string, string[]>;
}

/** The I/O of prune and list. */
export type RetentionDeps = Pick<RetentionCommandOptions, 'log' | 'createStore' | 'now'>;

/** One destination's prune. */
export interface DestinationPrune {
  url: string;
  /** False when the destination could not be listed or pruned (see `error`) or a delete failed. */
  ok: boolean;
  /** Why nothing was deleted there (listing failed, the new backup not listed, …). */
  error?: string;
  catalog?: Catalog;
  execution?: PruneExecution;
  /**
   * Temporary objects older than 24 h left by killed runs (claims, `.partial` files) that were
   * removed (in a dry run: that would be removed). See storage/catalog.ts.
   */
  temporariesRemoved?: TemporaryEntry[];
}

/** What runPrune returns; outputs and the job summary are made from it. */
export interface PruneResult {
  database: string;
  policy: RetentionPolicy;
  dryRun: boolean;
  destinations: DestinationPrune[];
  /** Backups deleted (archive + manifest + globals), summed over destinations; 0 in a dry run. */
  prunedCount: number;
  /** Backups the plan would delete, summed (equals prunedCount unless a dry run or failures). */
  plannedDeleteCount: number;
  /** Backups left after the prune (complete, incomplete and protected), summed over destinations. */
  keptCount: number;
  /** Every warning (clock skew, protections, failures, unreachable destinations). */
  warnings: string[];
}

/**
 * `command: prune`: for each destination, catalog → plan → execute, logging a kept/deleted table.
 *
 * Never throws for storage problems: a destination that cannot be listed gets `ok: false` and an
 * `error`, a failed delete ends in `execution.failed`; both are logged as warnings and collected in
 * `warnings` (the caller decides whether `command: prune` fails on them).
 *
 */
export async function runPrune(config: PruneConfig, deps: RetentionDeps): Promise<PruneResult> {
  const { destinations, s3, database, policy, dryRun } = config;
  return prune({ destinations, s3, database, policy, dryRun, ...deps });
}

/**
 * {@link runPrune} of `options`, also the prune after a backup (with `mustKeep`).
 * @throws ConfigError('command', …) when `policy` is undefined: prune needs a policy (checked before any I/O).
 */
async function prune(options: RetentionCommandOptions): Promise<PruneResult> {
  const { log, policy } = options;
  if (!policy) {
    throw new ConfigError('command', PRUNE_NEEDS_POLICY);
  }
  const result: PruneResult = {
    database: options.database,
    policy,
    dryRun: options.dryRun,
    destinations: [],
    prunedCount: 0,
    plannedDeleteCount: 0,
    keptCount: 0,
    warnings: [],
  };
  for (const destination of options.destinations) {
    const title = `Retention ${options.dryRun ? '(dry run) ' : ''}${destination.url}: ${describePolicy(policy)}`;
    const outcome = await log.group(title, () => pruneDestination(destination, policy, options));
    result.destinations.push(outcome);
    if (outcome.error) result.warnings.push(outcome.error);
    if (outcome.execution) {
      result.warnings.push(...outcome.execution.warnings);
      result.prunedCount += outcome.execution.deleted.length;
      result.plannedDeleteCount += outcome.execution.plan.deleted.length;
      result.keptCount += outcome.execution.kept.length;
    }
  }
  return result;
}

async function pruneDestination(
  destination: Destination,
  policy: RetentionPolicy,
  options: RetentionCommandOptions,
): Promise<DestinationPrune> {
  const { log } = options;
  const url = destination.url;
  let store: ObjectStore | undefined;
  try {
    store = options.createStore(destination, options.s3);
    const listed = new Set<string>();
    const catalog = await readCatalog(store, options.database, listed);
    const mustKeep = options.mustKeep?.[url];
    if (mustKeep) {
      const listed = new Set(catalog.backups.filter((b) => b.hasManifest).map((b) => b.key));
      const missing = mustKeep.filter((key) => !listed.has(key));
      if (missing.length > 0) {
        const error = `${url}: not pruned: the new backup ${missing.join(', ')} is not in the listing as a complete backup.`;
        log.warning(error);
        return { url, ok: false, error, catalog };
      }
    }
    const plan = planRetention(catalog.backups, policy, options.now);
    for (const warning of plan.warnings) log.warning(`${url}: ${warning}`);
    const execution = await executePrune(store, catalog, plan, {
      dryRun: options.dryRun,
      ...(mustKeep ? { mustKeep } : {}),
      listed,
      log,
    });
    logTables(log, execution, catalog);
    const temporaries = await pruneTemporaries(store, catalog, options);
    return { url, ok: execution.failed.length === 0, catalog, execution, temporariesRemoved: temporaries };
  } catch (error) {
    const message = `${url}: retention skipped, nothing was deleted: ${errorMessage(error)}`;
    log.warning(message);
    return { url, ok: false, error: message };
  } finally {
    store?.close();
  }
}

/** Removes (or, in a dry run, lists) the catalog's temporary objects older than 24 h; failures are warnings. */
async function pruneTemporaries(
  store: ObjectStore,
  catalog: Catalog,
  options: RetentionCommandOptions,
): Promise<TemporaryEntry[]> {
  const { log } = options;
  const url = store.destination.url;
  if (options.dryRun) {
    const stale = staleTemporaries(catalog, options.now);
    for (const t of stale)
      log.info(`would remove  ${t.key}  temporary ${t.kind} older than 24 h (left by a killed run)`);
    return stale;
  }
  const { removed, errors } = await removeStaleTemporaries(store, catalog, options.now);
  for (const t of removed) log.info(`removed  ${t.key}  temporary ${t.kind} older than 24 h (left by a killed run)`);
  for (const e of errors) log.warning(`${url}: could not remove the temporary object ${e.key}: ${e.message}`);
  return removed;
}

const LOG_ROWS = 1000;

function logTables(log: Log, execution: PruneExecution, catalog: Catalog): void {
  const gone = execution.dryRun ? execution.plan.deleted : execution.deleted;
  const verb = execution.dryRun ? 'would delete' : 'deleted';
  log.info(
    `${execution.kept.length} kept, ${gone.length} ${verb}${execution.failed.length ? `, ${execution.failed.length} object(s) failed to delete` : ''}.`,
  );
  for (const line of capped(keptRows(execution.kept).map(([key, time, why]) => `keep    ${key}  ${time}  ${why}`)))
    log.info(line);
  for (const line of capped(
    deletedRows(gone).map(
      ([key, time, why]) => `${execution.dryRun ? 'would delete' : 'delete'}  ${key}  ${time}  ${why}`,
    ),
  ))
    log.info(line);
  if (catalog.orphanManifests.length > 0) {
    log.info(
      `${catalog.orphanManifests.length} manifest(s) without archive (left from an interrupted prune; harmless): ${catalog.orphanManifests.slice(0, 10).join(', ')}${catalog.orphanManifests.length > 10 ? ', …' : ''}`,
    );
  }
  if (catalog.foreign.length > 0)
    log.info(
      `${catalog.foreign.length} other object(s) under the database folder were not written by this action and are never touched.`,
    );
}

function capped(lines: string[]): string[] {
  return lines.length <= LOG_ROWS ? lines : [...lines.slice(0, LOG_ROWS), `… and ${lines.length - LOG_ROWS} more`];
}

/**
 * The prune that follows a successful backup: prunes only the destinations where the backup was
 * stored and verified (`ok`), never deleting the new archive (its key is `mustKeep` there).
 *
 * Never throws: any failure (even a ConfigError for a missing policy) becomes a warning in the
 * result, so a prune problem never fails a good backup. Call it after runBackup resolved; for a
 * partial result (some destinations failed) pass the destinations that succeeded.
 */
export async function pruneAfterBackup(
  backup: Pick<BackupResult, 'destinations'>,
  options: Omit<RetentionCommandOptions, 'mustKeep'>,
): Promise<PruneResult> {
  const good = new Map<string, string[]>();
  for (const d of backup.destinations) if (d.ok) good.set(d.url, [...(good.get(d.url) ?? []), d.key]);
  const destinations = options.destinations.filter((d) => good.has(d.url));
  try {
    return await prune({ ...options, destinations, mustKeep: Object.fromEntries(good) });
  } catch (error) {
    const message = `Retention skipped after the backup: ${errorMessage(error)}`;
    options.log.warning(message);
    return {
      database: options.database,
      policy: options.policy ?? { labels: [] },
      dryRun: options.dryRun,
      destinations: [],
      prunedCount: 0,
      plannedDeleteCount: 0,
      keptCount: 0,
      warnings: [message],
    };
  }
}
