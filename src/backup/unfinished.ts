/**
 * What a backup leaves behind when it fails after storing something: the archive and globals
 * written without their manifest are removed when provably this run's, claims are released, and
 * temporaries of killed runs are swept.
 */
import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import { readCatalog, removeStaleTemporaries } from '../storage/catalog.js';
import type { Claim } from '../storage/claim.js';
import { globalsKey, manifestKey } from '../storage/keys.js';
import type { ObjectStore, UploadResult } from '../storage/types.js';

/**
 * Removes what this run stored under `key` when it could not write the archive's manifest (a later
 * phase failed, or the run was cancelled): nothing is left under a final key. The archive is removed
 * only when it is provably this run's: in a folder (written by an exclusive link), or on S3 when
 * HeadObject answers the ETag of this run's upload. When the removal fails or ownership cannot be
 * proven, the object stays with its claim beside it (which marks it as this action's, so a later
 * prune deletes it) and a warning names it. Never throws.
 */
export async function removeUnfinished(
  store: ObjectStore,
  key: string,
  upload: UploadResult | undefined,
  globals: boolean,
  log: Log,
): Promise<void> {
  if (!upload && !globals) return;
  const where = store.destination.url;
  try {
    const doomed = globals ? [globalsKey(key)] : [];
    if (upload) {
      const info = await store.head(key);
      const ours =
        info !== undefined &&
        (store.destination.kind === 'file' || (upload.etag !== undefined && info.etag === upload.etag));
      if (ours) doomed.unshift(key);
      else if (info)
        log.warning(
          `${where}: ${key} was left in place: it could not be proven to be this run's upload (ETag ${info.etag ?? 'unknown'}).`,
        );
    }
    if (doomed.length === 0) return;
    const { deleted, errors } = await store.delete(doomed);
    if (deleted.length > 0)
      log.info(
        `${where}: removed ${deleted.join(', ')}, stored by this run before it failed (no manifest was written).`,
      );
    for (const e of errors)
      log.warning(
        `${where}: could not remove ${e.key} after the failure (${e.message}); it keeps its claim, so the next prune deletes it.`,
      );
  } catch (error) {
    log.warning(
      `${where}: could not remove ${key} after the failure (${errorMessage(error)}); it keeps its claim, so the next prune deletes it.`,
    );
  }
}

/**
 * Releases `claim` once its manifest exists or nothing is stored under its key. An archive stored
 * without its manifest keeps the claim: in a folder the claim is what marks it as this action's
 * (storage/claim.ts). When the store cannot be asked, the claim stays too (it goes stale in 24 h).
 */
export async function releaseClaim(store: ObjectStore, claim: Claim): Promise<void> {
  const there = (key: string, unknown: boolean): Promise<boolean> =>
    store.head(key).then(
      (info) => info !== undefined,
      () => unknown,
    );
  if ((await there(manifestKey(claim.archiveKey), false)) || !(await there(claim.archiveKey, true)))
    await claim.release();
}

/**
 * Removes temporary objects (claims, `.partial` files) older than 24 h under the database's folder
 * of each store, left by killed runs (storage/catalog.ts). Never throws: a failure is a warning.
 */
export async function cleanUpTemporaries(stores: ObjectStore[], database: string, log: Log): Promise<void> {
  for (const store of stores) {
    try {
      const catalog = await readCatalog(store, database);
      const { removed, errors } = await removeStaleTemporaries(store, catalog, new Date());
      if (removed.length > 0)
        log.info(
          `${store.destination.url}: removed ${removed.length} temporary object(s) older than 24 h left by killed runs: ${removed.map((t) => t.key).join(', ')}.`,
        );
      for (const error of errors)
        log.warning(`${store.destination.url}: could not remove the temporary object ${error.key}: ${error.message}`);
    } catch (error) {
      log.warning(
        `${store.destination.url}: could not look for temporary objects left by earlier runs: ${errorMessage(error)}`,
      );
    }
  }
}

/** What this run wrote in each store (same index as the stores), for {@link settleUnfinished}. */
export interface Written {
  /** Each store's claim of its key, once the stream handed them over; undefined where it failed. */
  claims: (Claim | undefined)[];
  /** Each store's stored archive; undefined where the upload failed. */
  uploads: (UploadResult | undefined)[];
  /** True where the globals were written. */
  globals: boolean[];
  /** True where the manifest was written. */
  manifests: boolean[];
}

/**
 * Run at the end of a backup, failed or not, so that nothing is left under a final key without its
 * manifest: removes what a store holds without its manifest ({@link removeUnfinished}), then
 * releases the claims ({@link releaseClaim}). Never throws.
 */
export async function settleUnfinished(
  stores: ObjectStore[],
  keys: string[],
  written: Written,
  log: Log,
): Promise<void> {
  await Promise.all(
    stores.map(async (store, i) => {
      if (!written.manifests[i])
        await removeUnfinished(store, keys[i] as string, written.uploads[i], written.globals[i] === true, log);
    }),
  );
  // A claim is released once its manifest is written, or when nothing was written under its key.
  // An archive stored without its manifest keeps its claim: the claim marks it as this action's.
  await Promise.all(
    written.claims.map(async (claim, i) => {
      const store = stores[i];
      if (claim && store) await releaseClaim(store, claim);
    }),
  );
}
