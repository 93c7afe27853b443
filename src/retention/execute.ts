/**
 * Carries out a {@link RetentionPlan} against one store, with safety rules enforced here as well as
 * in the planner: only this action's backups from the catalog are deleted (foreign objects never),
 * the just-written keys (`mustKeep`) and the newest complete backup are never deleted, and each
 * backup's objects go archive first, globals and files archive (and an incomplete archive's claims)
 * next, manifest last.
 */
import type { Log } from '../log.js';
import { errorMessage } from '../errors.js';
import type { Catalog } from '../storage/catalog.js';
import { globalsKey } from '../storage/keys.js';
import type { ObjectStore } from '../storage/types.js';
import { CLOCK_SKEW_SECONDS, newestFirst, type DeletedBackup, type KeptBackup, type RetentionPlan } from './plan.js';

/** Backups deleted per round (each round: ≤ 1000 archives, then their globals, then their manifests). */
const CHUNK = 1000;
/** Parallel HEAD requests when checking whether a key that failed to delete is gone anyway. */
const HEAD_CONCURRENCY = 16;

/** How {@link executePrune} runs: dry or not, what must survive, what the listing held. */
export interface PruneOptions {
  /** Plan and report only: nothing is deleted. */
  dryRun: boolean;
  /** Archive keys that must survive whatever the plan says (the backup just written and verified). */
  mustKeep?: string[];
  /**
   * Every key of the listing the catalog was made from (the `listed` set of storage/catalog.ts
   * readCatalog). When given, only the globals files in it are deleted; without it a delete is sent
   * for every backup's globals key (stores answer "deleted" for a missing key, or an error that a
   * HEAD check clears).
   */
  listed?: ReadonlySet<string>;
  log: Log;
}

/** What {@link executePrune} did. */
export interface PruneExecution {
  plan: RetentionPlan;
  dryRun: boolean;
  /**
   * Backups whose archive, globals (if any) and manifest are all gone. Empty in a dry run (see
   * `plan.deleted` for what would go).
   */
  deleted: DeletedBackup[];
  /**
   * Backups still there: the plan's kept ones, those the executor protected (reason
   * `protected: …`), and those whose deletion failed (reason `delete failed`).
   */
  kept: KeptBackup[];
  /** Objects that could not be deleted, with the store's message (they stay; the next prune retries). */
  failed: { key: string; message: string }[];
  /** Things to show as warnings: the plan's, protections, failures. */
  warnings: string[];
}

/**
 * Deletes what `plan` deletes from `store`, except what the safety rules protect.
 *
 * For each backup: the archive is deleted first, then its globals file (`globalsKey(key)`, when
 * present) and its files archive (`backup.files`, docs/files.md), then its manifest last; an interruption leaves at worst a manifest without archive
 * (reported by readCatalog as an orphan manifest), never an archive that looks complete. When the
 * archive cannot be deleted, its globals and manifest are left alone. Requests carry ≤ 1000 keys.
 *
 * Never throws for storage errors: a rejected delete request or per-key errors end up in `failed`
 * (and `warnings`), and the backups concerned in `kept`. A key that failed to delete but is gone on
 * a HEAD check counts as deleted (deleted concurrently, or a globals file that never existed).
 *
 * @param catalog the catalog the plan was made from (readCatalog(store, database)).
 */
export async function executePrune(
  store: ObjectStore,
  catalog: Catalog,
  plan: RetentionPlan,
  options: PruneOptions,
): Promise<PruneExecution> {
  const { log } = options;
  const url = store.destination.url;
  const { candidates, kept, warnings } = applySafetyRules(catalog, plan, options, url);
  const result: PruneExecution = { plan, dryRun: options.dryRun, deleted: [], kept, failed: [], warnings };
  if (options.dryRun || candidates.length === 0) return sortResult(result);

  // Oldest first: an interrupted prune leaves the newer of the doomed backups.
  const queue = [...candidates].sort((a, b) => newestFirst(b.backup, a.backup));
  for (let start = 0; start < queue.length; start += CHUNK) {
    await deleteChunk(store, queue.slice(start, start + CHUNK), options.listed, result);
  }
  if (result.failed.length > 0) {
    const shown = result.failed.slice(0, 10).map((f) => `${f.key}: ${f.message}`);
    const more = result.failed.length > shown.length ? `; and ${result.failed.length - shown.length} more` : '';
    const message = `${url}: ${result.failed.length} object(s) could not be deleted and stay in place (the next prune tries again): ${shown.join('; ')}${more}`;
    warnings.push(message);
    log.warning(message);
  }
  return sortResult(result);
}

/**
 * The plan's deletions that the safety rules allow (`candidates`, with the catalog's entries); the
 * others join the plan's kept backups with a `protected: …` reason and a warning (logged).
 */
function applySafetyRules(
  catalog: Catalog,
  plan: RetentionPlan,
  options: PruneOptions,
  url: string,
): { candidates: DeletedBackup[]; kept: KeptBackup[]; warnings: string[] } {
  const warnings = [...plan.warnings];
  const kept: KeptBackup[] = plan.kept.map((k) => ({ backup: k.backup, reasons: [...k.reasons] }));

  const known = new Map(catalog.backups.map((b) => [b.key, b]));
  const foreign = new Set(catalog.foreign);
  const mustKeep = new Set(options.mustKeep ?? []);
  const complete = catalog.backups.filter((b) => b.hasManifest).sort(newestFirst);
  const newestComplete = new Set<string>();
  if (complete[0]) newestComplete.add(complete[0].key);
  const notFuture = complete.find((b) => b.time.getTime() <= plan.now.getTime() + CLOCK_SKEW_SECONDS * 1000);
  if (notFuture) newestComplete.add(notFuture.key);

  const candidates: DeletedBackup[] = [];
  for (const item of plan.deleted) {
    const key = item.backup.key;
    const entry = known.get(key);
    let protection: string;
    if (mustKeep.has(key)) protection = 'protected: just written';
    else if (newestComplete.has(key)) protection = 'protected: newest complete';
    else if (foreign.has(key) || entry === undefined) protection = 'protected: not a backup this action wrote';
    else {
      // Use the catalog's entry: it is what the store holds now.
      candidates.push({ backup: entry, why: item.why });
      continue;
    }
    kept.push({ backup: item.backup, reasons: [protection] });
    const message = `${url}: the plan deletes ${key}, but it is kept (${protection.replace('protected: ', '')}).`;
    warnings.push(message);
    options.log.warning(message);
  }
  return { candidates, kept, warnings };
}

/**
 * Deletes one chunk of backups: archives, then the globals and claims of those whose archive is gone,
 * then the manifests of those whose globals and claims are gone. Adds each backup to
 * `result.deleted`, or to `result.kept` with its failed keys in `result.failed`.
 */
async function deleteChunk(
  store: ObjectStore,
  chunk: DeletedBackup[],
  listed: ReadonlySet<string> | undefined,
  result: PruneExecution,
): Promise<void> {
  const archives = await deleteKeys(
    store,
    chunk.map((c) => c.backup.key),
  );
  const archiveGone = chunk.filter((c) => archives.gone.has(c.backup.key));
  const hasGlobals = (c: DeletedBackup): boolean => listed === undefined || listed.has(globalsKey(c.backup.key));
  // An incomplete archive's claims (see storage/claim.ts) and the files archive go with its globals,
  // after the archive: the backup is one backup, its manifest goes last.
  const claimsOf = (c: DeletedBackup): string[] => [...(c.backup.files ?? []), ...(c.backup.claims ?? [])];
  const globals = await deleteKeys(store, [
    ...archiveGone.filter(hasGlobals).map((c) => globalsKey(c.backup.key)),
    ...archiveGone.flatMap(claimsOf),
  ]);
  const globalsGone = archiveGone.filter(
    (c) =>
      (!hasGlobals(c) || globals.gone.has(globalsKey(c.backup.key))) && claimsOf(c).every((k) => globals.gone.has(k)),
  );
  const manifests = await deleteKeys(
    store,
    globalsGone.filter((c) => c.backup.hasManifest).map((c) => c.backup.manifestKey),
  );
  const failures = new Map<string, string>([...archives.failed, ...globals.failed, ...manifests.failed]);
  for (const item of chunk) {
    const { key, manifestKey, hasManifest } = item.backup;
    const failedKeys = [
      key,
      globalsKey(key),
      ...(item.backup.files ?? []),
      ...(item.backup.claims ?? []),
      ...(hasManifest ? [manifestKey] : []),
    ].filter((k) => failures.has(k));
    if (failedKeys.length === 0) {
      result.deleted.push(item);
      continue;
    }
    for (const k of failedKeys) result.failed.push({ key: k, message: failures.get(k) as string });
    result.kept.push({
      backup: item.backup,
      reasons: [`delete failed: ${failedKeys.map((k) => `${k}: ${failures.get(k)}`).join('; ')}`],
    });
  }
}

function sortResult(result: PruneExecution): PruneExecution {
  result.kept.sort((a, b) => newestFirst(a.backup, b.backup));
  result.deleted.sort((a, b) => newestFirst(a.backup, b.backup));
  return result;
}

/**
 * Deletes `keys` (the store batches them by 1000); a thrown request fails all its keys. Keys with
 * per-key errors are checked with HEAD: gone means deleted (e.g. a globals file that never existed
 * in a folder destination).
 */
async function deleteKeys(
  store: ObjectStore,
  keys: string[],
): Promise<{ gone: Set<string>; failed: Map<string, string> }> {
  const gone = new Set<string>();
  const failed = new Map<string, string>();
  if (keys.length === 0) return { gone, failed };
  let outcome: Awaited<ReturnType<ObjectStore['delete']>>;
  try {
    outcome = await store.delete(keys);
  } catch (error) {
    for (const key of keys) failed.set(key, errorMessage(error));
    return { gone, failed };
  }
  for (const key of outcome.deleted) gone.add(key);
  const errors = [...outcome.errors];
  const check = async (): Promise<void> => {
    for (let next = errors.shift(); next !== undefined; next = errors.shift()) {
      const { key, message } = next;
      let exists = true;
      try {
        exists = (await store.head(key)) !== undefined;
      } catch {
        // Cannot tell: report the delete error.
      }
      if (exists) failed.set(key, message);
      else gone.add(key);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, errors.length) }, check));
  return { gone, failed };
}
