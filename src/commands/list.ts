/**
 * `command: list`: the backups of one database in each destination, oldest to newest as stored,
 * with what the retention policy (when one is set) would keep and delete. Deletes nothing.
 */
import { errorMessage } from '../errors.js';
import { formatBytes } from '../format.js';
import { planRetention, type RetentionPlan, verdictsOf } from '../retention/plan.js';
import { describePolicy, type RetentionPolicy } from '../retention/policy.js';
import { readCatalog, staleTemporaries, type Catalog } from '../storage/catalog.js';
import { STALE_SECONDS } from '../storage/claim.js';
import type { Destination, ObjectStore } from '../storage/types.js';
import type { ListConfig } from '../config/types.js';
import type { RetentionCommandOptions, RetentionDeps } from './prune.js';

/** One destination's listing. */
export interface DestinationListing {
  url: string;
  /** Undefined when the destination could not be listed (see `error`). */
  catalog?: Catalog;
  /** The policy's preview (nothing is deleted), when a policy is set. */
  plan?: RetentionPlan;
  error?: string;
}

/** What runList returns; the job summary and the `backups` JSON output are made from it. */
export interface ListResult {
  database: string;
  policy?: RetentionPolicy | undefined;
  now: Date;
  destinations: DestinationListing[];
  warnings: string[];
}

/**
 * Lists the database's backups in every destination and, when `policy` is set, plans retention
 * (a preview; nothing is deleted). `dryRun` and `mustKeep` are ignored.
 *
 * Never throws for storage problems: a destination that cannot be listed gets an `error` (logged
 * as a warning and collected in `warnings`).
 */
export async function runList(config: ListConfig, deps: RetentionDeps): Promise<ListResult> {
  const options = { ...config, ...deps };
  const { log, policy } = options;
  const result: ListResult = {
    database: options.database,
    ...(policy ? { policy } : {}),
    now: options.now,
    destinations: [],
    warnings: [],
  };
  for (const destination of options.destinations) {
    const listing = await log.group(`Backups of ${options.database} in ${destination.url}`, () =>
      listDestination(destination, options),
    );
    result.destinations.push(listing);
    if (listing.error) result.warnings.push(listing.error);
    if (listing.plan) result.warnings.push(...listing.plan.warnings.map((w) => `${listing.url}: ${w}`));
  }
  return result;
}

/**
 * Log lines for the temporary objects of runs of this action (claims, `.partial` files): each with
 * its size and age, and whether the next backup or prune removes it (older than 24 h).
 */
export function temporaryLines(catalog: Pick<Catalog, 'temporary'>, now: Date): string[] {
  if (catalog.temporary.length === 0) return [];
  const stale = new Set(staleTemporaries(catalog, now).map((t) => t.key));
  return [
    `${catalog.temporary.length} temporary object(s) of runs of this action (a run killed while writing, or still running); the next backup or prune removes those older than ${STALE_SECONDS / 3600} h:`,
    ...catalog.temporary.map(
      (t) =>
        `temporary  ${t.key}  ${t.kind}  ${formatBytes(t.size)}  ${t.lastModified ? `last written ${t.lastModified.toISOString()}` : 'age unknown'}${stale.has(t.key) ? '  (stale: removed by the next backup or prune)' : ''}`,
    ),
  ];
}

async function listDestination(
  destination: Destination,
  options: Omit<RetentionCommandOptions, 'dryRun' | 'mustKeep'>,
): Promise<DestinationListing> {
  const { log, policy } = options;
  const url = destination.url;
  let store: ObjectStore | undefined;
  try {
    store = options.createStore(destination, options.s3);
    const catalog = await readCatalog(store, options.database);
    const plan = policy ? planRetention(catalog.backups, policy, options.now) : undefined;
    const complete = catalog.backups.filter((b) => b.hasManifest).length;
    log.info(
      `${catalog.backups.length} backup(s) (${complete} complete, ${catalog.backups.length - complete} without manifest), ${formatBytes(catalog.backups.reduce((n, b) => n + b.size, 0))}.`,
    );
    const verdicts = plan ? verdictsOf(plan) : undefined;
    for (const backup of catalog.backups) {
      const verdict = verdicts?.get(backup.key);
      log.info(
        `${backup.key}  ${backup.time.toISOString()}  ${backup.label ?? '-'}  ${formatBytes(backup.size)}${backup.hasManifest ? '' : '  (no manifest)'}${verdict ? `  ${verdict.action}: ${verdict.reasons.join(', ')}` : ''}`,
      );
    }
    if (plan) {
      log.info(
        `Policy ${describePolicy(plan.policy)} would keep ${plan.kept.length} and delete ${plan.deleted.length} (preview only).`,
      );
      for (const warning of plan.warnings) log.warning(`${url}: ${warning}`);
    }
    if (catalog.orphanManifests.length > 0) log.info(`${catalog.orphanManifests.length} manifest(s) without archive.`);
    if (catalog.foreign.length > 0) log.info(`${catalog.foreign.length} other object(s) not written by this action.`);
    for (const line of temporaryLines(catalog, options.now)) log.info(line);
    return { url, catalog, ...(plan ? { plan } : {}) };
  } catch (error) {
    const message = `${url}: could not list backups: ${errorMessage(error)}`;
    log.warning(message);
    return { url, error: message };
  } finally {
    store?.close();
  }
}
