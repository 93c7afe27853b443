/**
 * The listing of one destination: its catalog, each backup annotated with the retention preview
 * (when a policy is set), and the temporary objects left by runs of this action. Deletes nothing.
 */
import { errorMessage } from '../errors.js';
import { formatBytes } from '../format.js';
import { readCatalog, staleTemporaries, type Catalog } from '../storage/catalog.js';
import { STALE_SECONDS } from '../storage/claim.js';
import type { Destination, ObjectStore } from '../storage/types.js';
import { describeFilesPart, readFilesParts, type FilesPart } from './files-parts.js';
import type { RetentionOptions } from './options.js';
import { planRetention, type RetentionPlan, verdictsOf } from './plan.js';
import { describePolicy } from './policy.js';

/** One destination's listing. */
export interface DestinationListing {
  url: string;
  /** Undefined when the destination could not be listed (see `error`). */
  catalog?: Catalog;
  /** The policy's preview (nothing is deleted), when a policy is set. */
  plan?: RetentionPlan;
  /** Each backup's files part by archive key (docs/files.md); absent when no backup has files. */
  files?: Map<string, FilesPart>;
  error?: string;
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

/**
 * Lists one destination: logs each backup (with what `options.policy`, when set, would do to it),
 * the orphan manifests, foreign and temporary objects. Deletes nothing.
 *
 * Never throws for storage problems: a listing that fails gives an `error` (logged as a warning).
 */
export async function listDestination(
  destination: Destination,
  options: Omit<RetentionOptions, 'dryRun' | 'mustKeep'>,
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
    const files = await readFilesParts(store, catalog);
    for (const error of files.errors) log.warning(`${url}: could not read the manifest ${error}`);
    for (const backup of catalog.backups) {
      const verdict = verdicts?.get(backup.key);
      const part = files.parts.get(backup.key);
      const line = `${backup.key}  ${backup.time.toISOString()}  ${backup.label ?? '-'}  ${formatBytes(backup.size)}${backup.hasManifest ? '' : '  (no manifest)'}${part ? `  ${describeFilesPart(part, formatBytes)}` : ''}${verdict ? `  ${verdict.action}: ${verdict.reasons.join(', ')}` : ''}`;
      if (part?.missing) log.warning(line);
      else log.info(line);
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
    return { url, catalog, ...(plan ? { plan } : {}), ...(files.parts.size > 0 ? { files: files.parts } : {}) };
  } catch (error) {
    const message = `${url}: could not list backups: ${errorMessage(error)}`;
    log.warning(message);
    return { url, error: message };
  } finally {
    store?.close();
  }
}
