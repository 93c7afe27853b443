import { databaseSegment, globalsKey, manifestKey, parseArchiveKey } from './keys.js';
import type { ObjectStore } from './types.js';

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
}

/** The backups of one database in one destination, oldest first, plus what else lies there. */
export interface Catalog {
  backups: BackupEntry[];
  /** Keys under `<prefix>/<database>/` that this action did not write (never touched). */
  foreign: string[];
  /** Manifests whose archive is missing. */
  orphanManifests: string[];
}

/**
 * Lists `<prefix>/<database>/` (every page) and sorts what is there into this action's archives
 * (with or without their manifest), orphan manifests, and foreign objects. Globals files beside an
 * archive belong to it and are in neither list. Every key listed is also added to `listed` when
 * given (e.g. for prune to know which globals files exist without a second listing).
 */
export async function readCatalog(store: ObjectStore, database: string, listed?: Set<string>): Promise<Catalog> {
  const prefix = store.destination.prefix;
  const folder = [prefix, databaseSegment(database)].filter((s) => s !== '').join('/') + '/';
  const keys = new Map<string, number>();
  for await (const object of store.list(folder)) {
    keys.set(object.key, object.size);
    listed?.add(object.key);
  }

  const backups: BackupEntry[] = [];
  const owned = new Set<string>();
  for (const [key, size] of keys) {
    const parsed = parseArchiveKey(key, prefix);
    if (!parsed || parsed.database !== database) continue;
    const manifest = manifestKey(key);
    backups.push({
      key,
      manifestKey: manifest,
      database: parsed.database,
      time: parsed.time,
      ...(parsed.label ? { label: parsed.label } : {}),
      extension: parsed.extension,
      size,
      hasManifest: keys.has(manifest),
    });
    owned.add(key);
    owned.add(manifest);
    owned.add(globalsKey(key));
  }
  backups.sort((a, b) => a.time.getTime() - b.time.getTime() || a.key.localeCompare(b.key));
  const orphanManifests: string[] = [];
  const foreign: string[] = [];
  for (const key of keys.keys()) {
    if (owned.has(key)) continue;
    if (key.endsWith('.manifest.json') && parseArchiveKey(key.slice(0, -'.manifest.json'.length), prefix)) orphanManifests.push(key);
    else foreign.push(key);
  }
  return { backups, foreign: foreign.sort(), orphanManifests: orphanManifests.sort() };
}
