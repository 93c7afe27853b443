/**
 * Per-table anomalies of a new backup against the previous complete backup of the same database
 * and label in one destination: one manifest GET over a listing read anyway (by the retention that
 * follows the backup, or once here when there is none).
 */
import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import type { Manifest } from '../manifest.js';
import { readManifest } from '../restore/select.js';
import { describeAnomalies, findAnomalies, type AnomalyFindings, type AnomalyPolicy } from '../retention/anomaly.js';
import { readCatalog, type BackupEntry, type Catalog } from '../storage/catalog.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import type { BackupResult } from '../report/backup-report.js';

/** What one destination's comparison found. */
export interface AnomalyAssessment {
  url: string;
  /** The new backup's archive key there. */
  key: string;
  /** The complete backup compared with; undefined when there is none (a first backup). */
  previousKey?: string;
  findings: AnomalyFindings;
}

/**
 * Compares `current` (stored as `key` in `store`) with the newest complete backup before it with the
 * same label in `catalog`. Never throws: a previous manifest that cannot be read gives a note.
 */
export async function assessNewBackup(
  store: ObjectStore,
  catalog: Catalog,
  current: { key: string; manifest: Manifest },
  policy: AnomalyPolicy,
): Promise<AnomalyAssessment> {
  const url = store.destination.url;
  const entry = catalog.backups.find((b) => b.key === current.key);
  const label = current.manifest.label ?? undefined;
  const previous = catalog.backups
    .filter(
      (b) =>
        b.hasManifest &&
        b.key !== current.key &&
        b.label === label &&
        (!entry ||
          b.time.getTime() < entry.time.getTime() ||
          (b.time.getTime() === entry.time.getTime() && b.key < entry.key)),
    )
    .at(-1);
  if (!previous) return { url, key: current.key, findings: { anomalies: [], notes: [] } };
  try {
    const before = await readManifest(store, previous);
    const findings = findAnomalies(before, current.manifest, { maxRowDrop: policy.maxRowDrop });
    return { url, key: current.key, previousKey: previous.key, findings };
  } catch (error) {
    const note = `The anomaly comparison with ${previous.key} is skipped: ${errorMessage(error)}`;
    return { url, key: current.key, previousKey: previous.key, findings: { anomalies: [], notes: [note] } };
  }
}

/** Lists `store` once and assesses the new backup there (the path without retention). */
export async function listAndAssess(
  store: ObjectStore,
  database: string,
  current: { key: string; manifest: Manifest },
  policy: AnomalyPolicy,
): Promise<AnomalyAssessment> {
  try {
    return await assessNewBackup(store, await readCatalog(store, database), current, policy);
  } catch (error) {
    const note = `The anomaly comparison is skipped: listing ${store.destination.url} failed: ${errorMessage(error)}`;
    return { url: store.destination.url, key: current.key, findings: { anomalies: [], notes: [note] } };
  }
}

/** Logs an assessment: notes as info, anomalies as one warning naming the tables. */
export function logAssessment(a: AnomalyAssessment, policy: AnomalyPolicy, log: Log): void {
  for (const note of a.findings.notes) log.info(note);
  if (a.findings.anomalies.length === 0) {
    if (a.previousKey) log.info(`${a.url}: no per-table anomaly against ${a.previousKey}.`);
    return;
  }
  log.warning(
    `${a.url}: the new backup is anomalous against ${a.previousKey ?? 'the previous one'} (anomaly: ${policy.mode}): ${describeAnomalies(a.findings.anomalies)}. Retention keeps the previous good backup until a later normal one.`,
  );
}

/** The assessments of a backup's destinations, and the retention hook that makes them. */
export interface AnomalyRecorder {
  /** One per destination assessed, in prune order. */
  assessments: AnomalyAssessment[];
  /** For RetentionOptions.anomalous: assesses the new backup over the prune's listing. */
  hook(store: ObjectStore, catalog: Catalog): Promise<ReadonlySet<string>>;
}

/**
 * Records the anomalies of the backup in `result` per destination as the prune after it lists each
 * one (so the listing is read once). Never throws.
 */
export function anomalyRecorder(
  result: Pick<BackupResult, 'destinations' | 'manifest'>,
  policy: AnomalyPolicy,
  log: Log,
): AnomalyRecorder {
  const assessments: AnomalyAssessment[] = [];
  return {
    assessments,
    async hook(store, catalog) {
      const stored = result.destinations.find((d) => d.ok && d.url === store.destination.url);
      if (!stored) return new Set<string>();
      const a = await assessNewBackup(store, catalog, { key: stored.key, manifest: result.manifest }, policy);
      assessments.push(a);
      logAssessment(a, policy, log);
      return new Set(a.findings.anomalies.length > 0 ? [stored.key] : []);
    },
  };
}

/**
 * The assessment of a backup without a prune after it: lists the first destination that stored it
 * once. Undefined when no destination stored it. Never throws.
 */
export async function assessWithoutPrune(
  result: Pick<BackupResult, 'destinations' | 'manifest'>,
  where: { destinations: Destination[]; s3: S3Settings; database: string; policy: AnomalyPolicy },
  deps: { createStore(destination: Destination, s3: S3Settings): ObjectStore; log: Log },
): Promise<AnomalyAssessment | undefined> {
  const stored = result.destinations.find((d) => d.ok);
  const destination = where.destinations.find((d) => d.url === stored?.url);
  if (!stored || !destination) return undefined;
  let store: ObjectStore | undefined;
  try {
    store = deps.createStore(destination, where.s3);
    const current = { key: stored.key, manifest: result.manifest };
    const a = await listAndAssess(store, where.database, current, where.policy);
    logAssessment(a, where.policy, deps.log);
    return a;
  } catch (error) {
    deps.log.warning(`The anomaly comparison is skipped: ${errorMessage(error)}`);
    return undefined;
  } finally {
    store?.close();
  }
}

/**
 * The retention hook of `command: prune` (no new backup in hand): recomputes from consecutive
 * manifests. Walks the complete backups newest first, comparing each with the complete backup
 * before it with the same label, and stops at the first normal one: the anomalous streak at the
 * top is what planRetention needs. Two manifest GETs per step; a manifest that cannot be read ends
 * the walk (no protection is invented from a guess), with an info line. Never throws.
 */
export function recomputeHook(
  policy: AnomalyPolicy,
  log: Log,
): (store: ObjectStore, catalog: Catalog) => Promise<ReadonlySet<string>> {
  return async (store, catalog) => {
    const complete = catalog.backups.filter((b) => b.hasManifest);
    const flagged = new Set<string>();
    for (let i = complete.length - 1; i > 0; i--) {
      const entry = complete[i] as BackupEntry;
      const previous = complete
        .slice(0, i)
        .filter((b) => b.label === entry.label)
        .at(-1);
      if (!previous) break;
      let found: AnomalyFindings;
      try {
        const [before, now] = await Promise.all([readManifest(store, previous), readManifest(store, entry)]);
        found = findAnomalies(before, now, { maxRowDrop: policy.maxRowDrop });
      } catch (error) {
        log.info(`${store.destination.url}: anomaly comparison of ${entry.key} skipped: ${errorMessage(error)}`);
        break;
      }
      if (found.anomalies.length === 0) break;
      log.warning(
        `${store.destination.url}: ${entry.key} is anomalous against ${previous.key}: ${describeAnomalies(found.anomalies)}; the last good backup behind it is kept.`,
      );
      flagged.add(entry.key);
    }
    return flagged;
  };
}
