/**
 * The prune of one destination: catalog, the `mustKeep` check, plan, execute, the log table of what
 * was kept and deleted, and the removal of temporary objects left by killed runs.
 */
import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import {
  readCatalog,
  removeStaleTemporaries,
  staleTemporaries,
  type Catalog,
  type TemporaryEntry,
} from '../storage/catalog.js';
import type { Destination, ObjectStore } from '../storage/types.js';
import { executePrune, type PruneExecution } from './execute.js';
import type { RetentionOptions } from './options.js';
import { deletedRows, keptRows, planRetention } from './plan.js';
import type { RetentionPolicy } from './policy.js';

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

/**
 * Prunes one destination: reads its catalog, checks that the `mustKeep` keys for it are there as
 * complete backups, plans, executes (or in a dry run only plans), logs the kept/deleted table, and
 * removes temporary objects older than 24 h.
 *
 * Never throws for storage problems: a listing that fails gives `ok: false` and an `error` (logged
 * as a warning); failed deletes end in `execution.failed`.
 */
export async function pruneDestination(
  destination: Destination,
  policy: RetentionPolicy,
  options: RetentionOptions,
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
      const complete = new Set(catalog.backups.filter((b) => b.hasManifest).map((b) => b.key));
      const missing = mustKeep.filter((key) => !complete.has(key));
      if (missing.length > 0) {
        const error = `${url}: not pruned: the new backup ${missing.join(', ')} is not in the listing as a complete backup.`;
        log.warning(error);
        return { url, ok: false, error, catalog };
      }
    }
    const anomalous = options.anomalous ? await options.anomalous(store, catalog) : undefined;
    const plan = planRetention(catalog.backups, policy, options.now, anomalous);
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
  options: RetentionOptions,
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
 * Archive keys that must survive, by destination URL: the new backup's key in each destination that
 * stored and verified it (`ok`). Destinations that failed are left out (they are not pruned).
 */
export function keysToKeep(copies: readonly { url: string; key: string; ok: boolean }[]): Map<string, string[]> {
  const good = new Map<string, string[]>();
  for (const d of copies) if (d.ok) good.set(d.url, [...(good.get(d.url) ?? []), d.key]);
  return good;
}
