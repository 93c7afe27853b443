import { parseClaimKey, STALE_SECONDS } from './claim.js';
import {
  databaseSegment,
  databasesInListing,
  filesKeysByArchive,
  filesKeyStem,
  globalsKey,
  manifestKey,
  parseArchiveKey,
} from './keys.js';
import type { ObjectStore } from './types.js';

/** HeadObject requests at once when reading the marker of archives without manifest. */
const HEAD_CONCURRENCY = 16;

/** One archive this action wrote, as found in a listing (no GET needed). */
export interface BackupEntry {
  /** Full object key of the archive. */
  key: string;
  /** Key of its manifest (whether or not it exists: see `hasManifest`). */
  manifestKey: string;
  /** Database name, from the key. */
  database: string;
  /** UTC time in the key (the backup's start, whole seconds). */
  time: Date;
  label?: string;
  /** e.g. `dump.zst`. */
  extension: string;
  /** Archive size in bytes. */
  size: number;
  /**
   * False for an archive whose manifest is missing: an interrupted run (the manifest is written
   * last), never a good backup.
   */
  hasManifest: boolean;
  /**
   * Claim objects beside the archive, when it has no manifest (see claim.ts): they mark it as this
   * action's in a folder, and go with it when it is deleted. Absent when there are none.
   */
  claims?: string[];
  /**
   * The files archive(s) beside it (keys/filesKey; normally one), kept and deleted with it; absent
   * when the listing holds none. `filesBytes` is their size in the listing.
   */
  files?: string[];
  filesBytes?: number;
}

/**
 * A temporary object a run of this action left: a claim (claim.ts) of a finished or dead run, or a
 * folder's `.<name>.<random>.partial` file of a killed write. Removed once older than
 * {@link STALE_SECONDS} by the next backup or prune ({@link removeStaleTemporaries}).
 */
export interface TemporaryEntry {
  /** Key (for a `.partial` file: its path relative to the folder). */
  key: string;
  kind: 'claim' | 'partial';
  /** Bytes. */
  size: number;
  /** When it was last written (store's LastModified, file mtime, else the claim's own time). */
  lastModified?: Date;
}

/** The backups of one database in one destination, oldest first, plus what else lies there. */
export interface Catalog {
  backups: BackupEntry[];
  /**
   * Keys under `<prefix>/<database>/` that this action did not write (never touched), including
   * archive-named objects with neither a manifest nor this action's marker.
   */
  foreign: string[];
  /** Manifests whose archive is missing. */
  orphanManifests: string[];
  /** Temporary objects of this action's runs (claims not marking an archive, `.partial` files), by key. */
  temporary: TemporaryEntry[];
}

/**
 * Lists `<prefix>/<database>/` (every page) and sorts what is there into this action's archives
 * (with or without their manifest), orphan manifests, temporary objects, and foreign objects.
 * Globals files and files archives beside an archive belong to it and are in neither list. Every key listed is also
 * added to `listed` when given (e.g. for prune to know which globals files exist without a second
 * listing).
 *
 * An archive-named object counts as this action's only with its manifest, or with a claim beside
 * it, or (S3) with the marker metadata {@link WRITTEN_BY_METADATA}: one HeadObject per archive that
 * has neither manifest nor claim (a listing carries no metadata). Without any of them it is foreign,
 * whatever its name, and never deleted.
 *
 * @throws the store's error when the listing or such a HeadObject fails.
 */
export async function readCatalog(store: ObjectStore, database: string, listed?: Set<string>): Promise<Catalog> {
  const prefix = store.destination.prefix;
  const folder = [prefix, databaseSegment(database)].filter((s) => s !== '').join('/') + '/';
  const keys = new Map<string, number>();
  const modified = new Map<string, Date>();
  for await (const object of store.list(folder)) {
    keys.set(object.key, object.size);
    if (object.lastModified) modified.set(object.key, object.lastModified);
    listed?.add(object.key);
  }
  const claimsOf = new Map<string, string[]>();
  for (const key of keys.keys()) {
    const claim = parseClaimKey(key);
    if (claim && keys.has(claim.archiveKey))
      claimsOf.set(claim.archiveKey, [...(claimsOf.get(claim.archiveKey) ?? []), key]);
  }

  // Archive-named objects with neither manifest nor claim: ours only if they carry the marker (S3
  // metadata), which only a HeadObject shows; {@link HEAD_CONCURRENCY} at a time.
  const unproven = [...keys.keys()].filter((key) => {
    const parsed = parseArchiveKey(key, prefix);
    return parsed?.database === database && !keys.has(manifestKey(key)) && !claimsOf.has(key);
  });
  const marked = new Set<string>();
  for (let start = 0; start < unproven.length; start += HEAD_CONCURRENCY) {
    const batch = unproven.slice(start, start + HEAD_CONCURRENCY);
    const heads = await Promise.all(batch.map((key) => store.head(key)));
    batch.forEach((key, i) => heads[i]?.writtenByUs === true && marked.add(key));
  }

  const filesOf = filesKeysByArchive(keys.keys(), keys.keys());
  const backups: BackupEntry[] = [];
  const owned = new Set<string>();
  for (const [key, size] of keys) {
    const parsed = parseArchiveKey(key, prefix);
    if (!parsed || parsed.database !== database) continue;
    const manifest = manifestKey(key);
    const hasManifest = keys.has(manifest);
    const claims = hasManifest ? undefined : claimsOf.get(key);
    if (!hasManifest && !claims && !marked.has(key)) continue; // foreign, whatever its name
    backups.push({
      key,
      manifestKey: manifest,
      database: parsed.database,
      time: parsed.time,
      ...(parsed.label ? { label: parsed.label } : {}),
      extension: parsed.extension,
      size,
      hasManifest,
      ...(claims ? { claims } : {}),
      ...filesPart(filesOf.get(key), keys),
    });
    owned.add(key);
    for (const file of filesOf.get(key) ?? []) owned.add(file);
    owned.add(manifest);
    owned.add(globalsKey(key));
    for (const claim of claims ?? []) owned.add(claim);
  }
  backups.sort((a, b) => a.time.getTime() - b.time.getTime() || a.key.localeCompare(b.key));
  const orphanManifests: string[] = [];
  const foreign: string[] = [];
  const temporary: TemporaryEntry[] = [];
  for (const key of keys.keys()) {
    if (owned.has(key)) continue;
    const claim = parseClaimKey(key);
    // Claims of archive keys and of files archive keys (keys.ts filesKey) alike.
    if (claim && (parseArchiveKey(claim.archiveKey, prefix) || filesKeyStem(claim.archiveKey) !== undefined)) {
      temporary.push({ key, kind: 'claim', size: keys.get(key) ?? 0, lastModified: modified.get(key) ?? claim.time });
    } else if (key.endsWith('.manifest.json') && parseArchiveKey(key.slice(0, -'.manifest.json'.length), prefix))
      orphanManifests.push(key);
    else foreign.push(key);
  }
  if (store.temporaries) {
    for await (const object of store.temporaries(folder)) {
      temporary.push({
        key: object.key,
        kind: 'partial',
        size: object.size,
        ...(object.lastModified ? { lastModified: object.lastModified } : {}),
      });
    }
  }
  temporary.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { backups, foreign: foreign.sort(), orphanManifests: orphanManifests.sort(), temporary };
}

/** A backup's files archive(s) in the listing, and their size. */
function filesPart(files: string[] | undefined, sizes: Map<string, number>): Pick<BackupEntry, 'files' | 'filesBytes'> {
  return files ? { files, filesBytes: files.reduce((n, k) => n + (sizes.get(k) ?? 0), 0) } : {};
}

/** Temporary objects of `catalog` older than {@link STALE_SECONDS} at `now` (left by dead runs). */
export function staleTemporaries(catalog: Pick<Catalog, 'temporary'>, now: Date): TemporaryEntry[] {
  return catalog.temporary.filter(
    (t) => t.lastModified !== undefined && now.getTime() - t.lastModified.getTime() > STALE_SECONDS * 1000,
  );
}

/**
 * Removes the temporary objects of `catalog` that are older than {@link STALE_SECONDS} at `now`
 * (claims with DeleteObjects, `.partial` files with unlink). Never throws: what could not be
 * removed is in `errors` (a later run tries again).
 */
export async function removeStaleTemporaries(
  store: ObjectStore,
  catalog: Pick<Catalog, 'temporary'>,
  now: Date,
): Promise<{ removed: TemporaryEntry[]; errors: { key: string; message: string }[] }> {
  const stale = staleTemporaries(catalog, now);
  const removed: TemporaryEntry[] = [];
  const errors: { key: string; message: string }[] = [];
  const byKind = async (
    kind: TemporaryEntry['kind'],
    remove:
      ((keys: string[]) => Promise<{ deleted: string[]; errors: { key: string; message: string }[] }>) | undefined,
  ) => {
    const items = stale.filter((t) => t.kind === kind);
    if (items.length === 0 || !remove) return;
    try {
      const outcome = await remove(items.map((t) => t.key));
      const gone = new Set(outcome.deleted);
      removed.push(...items.filter((t) => gone.has(t.key)));
      errors.push(...outcome.errors);
    } catch (error) {
      errors.push(
        ...items.map((t) => ({ key: t.key, message: error instanceof Error ? error.message : String(error) })),
      );
    }
  };
  await byKind('claim', (keys) => store.delete(keys));
  await byKind('partial', store.removeTemporaries?.bind(store));
  return { removed, errors };
}

/**
 * The databases that have backups in `store` (a manifest under `<prefix>/<database>/`), sorted by
 * name: one listing of the whole prefix ({@link databasesInListing}). What `database: all` means for
 * list, check, prune and drill.
 * @throws what the store's listing throws.
 */
export async function listDatabases(store: ObjectStore): Promise<string[]> {
  const prefix = store.destination.prefix;
  const keys: string[] = [];
  for await (const object of store.list(prefix === '' ? '' : `${prefix}/`)) keys.push(object.key);
  return databasesInListing(keys, prefix);
}
