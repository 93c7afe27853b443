/**
 * Choosing the backup to restore from a destination's catalog (pure), the manifest checks every
 * restore starts with (and `check`'s checks of the newest manifest), and the error of a backup
 * that cannot be found or used.
 */
import { ActionError, errorMessage } from '../errors.js';
import { MANIFEST_FORMAT_VERSION, formatVersionProblem, type Check, type Manifest } from '../manifest.js';
import type { BackupEntry, Catalog } from '../storage/catalog.js';
import { readObject } from '../storage/read.js';
import type { ObjectStore } from '../storage/types.js';
import type { BackupSelector } from './options.js';

/** What `check` expects of a manifest: the versions this action reads. */
const MANIFEST_EXPECTED = `readable, valid, format version 1 to ${MANIFEST_FORMAT_VERSION}`;

/** No backup matches the selector, or the chosen one cannot be used (no manifest, bad manifest). */
export class BackupNotFoundError extends ActionError {
  constructor(message: string) {
    super(message, 'select');
  }
}

/** Where a catalog came from, for messages. */
export interface CatalogContext {
  database: string;
  /** The destination URL, e.g. `s3://backups/prod`. */
  url: string;
}

/**
 * Picks the backup `selector` names from `catalog` (whose backups are oldest first):
 * - `latest`: the newest archive that has a manifest (archives without one are interrupted runs);
 * - `latest:<label>`: the newest such archive with that label;
 * - a key: that archive, which must be in the catalog and have a manifest.
 * @throws BackupNotFoundError saying what was found instead (newest keys, labels in use, or that an
 *   archive lacks its manifest).
 */
export function selectBackup(catalog: Catalog, selector: BackupSelector, context: CatalogContext): BackupEntry {
  const where = `database '${context.database}' in ${context.url}`;
  const complete = catalog.backups.filter((b) => b.hasManifest);
  if (selector.kind === 'key') {
    const entry = catalog.backups.find((b) => b.key === selector.key);
    if (!entry) {
      const newest = complete
        .slice(-3)
        .reverse()
        .map((b) => b.key);
      throw new BackupNotFoundError(
        `There is no archive '${selector.key}' among the backups of ${where}` +
          (newest.length > 0
            ? `; the newest complete ones are: ${newest.join(', ')}.`
            : `; there are no complete backups there.`) +
          " Check backup-key, database and destination (keys include the destination's prefix and the database name).",
      );
    }
    if (!entry.hasManifest) {
      throw new BackupNotFoundError(
        `The archive '${entry.key}' of ${where} has no manifest (${entry.manifestKey}): it is from an interrupted backup and is never restored. Choose another backup-key, or latest.`,
      );
    }
    return entry;
  }
  const label = selector.label;
  const candidates = label === undefined ? complete : complete.filter((b) => b.label === label);
  const chosen = candidates[candidates.length - 1];
  if (chosen) return chosen;
  if (catalog.backups.length === 0) {
    throw new BackupNotFoundError(
      `No backups of ${where}. Check database (the source database's name, as in the keys) and destination (with its prefix); the backup command writes <prefix>/<database>/<time>.<ext>.`,
    );
  }
  if (complete.length === 0) {
    throw new BackupNotFoundError(
      `No complete backup of ${where}: the ${catalog.backups.length} archive(s) there have no manifest (interrupted runs), e.g. ${catalog.backups[catalog.backups.length - 1]?.key}.`,
    );
  }
  const labels = [...new Set(complete.map((b) => b.label ?? '(none)'))].sort();
  throw new BackupNotFoundError(
    `No complete backup with label '${label}' of ${where}; labels found: ${labels.join(', ')}. Use backup-key: latest for the newest of any label.`,
  );
}

/**
 * The archives `latest` (or `latest:<label>`) passed over to reach `chosen`: those newer than it,
 * with the selector's label, that have no manifest (an interrupted run, or one still writing), newest
 * first. Empty for a key selector. Restore and drill warn about each by name before using `chosen`.
 */
export function skippedForLatest(catalog: Catalog, selector: BackupSelector, chosen: BackupEntry): BackupEntry[] {
  if (selector.kind !== 'latest') return [];
  return catalog.backups
    .filter((b) => !b.hasManifest && (selector.label === undefined || b.label === selector.label))
    .filter(
      (b) =>
        b.time.getTime() > chosen.time.getTime() || (b.time.getTime() === chosen.time.getTime() && b.key > chosen.key),
    )
    .reverse();
}

/**
 * One warning line naming the archives {@link skippedForLatest} found, or undefined when there are none.
 */
export function skippedWarning(skipped: BackupEntry[], chosen: BackupEntry, url: string): string | undefined {
  if (skipped.length === 0) return undefined;
  const names =
    skipped
      .slice(0, 5)
      .map((b) => `${b.key} (no ${b.manifestKey})`)
      .join(', ') + (skipped.length > 5 ? `, and ${skipped.length - 5} more` : '');
  return (
    `The newest archive${skipped.length === 1 ? '' : 's'} in ${url} ${skipped.length === 1 ? 'has' : 'have'} no manifest and ${skipped.length === 1 ? 'is' : 'are'} not used: ${names}. ` +
    `An interrupted backup (or one still running) leaves an archive without its manifest; using the older ${chosen.key} instead.`
  );
}

/**
 * Reads the manifest of `entry` from `store` and checks it ({@link checkManifest}).
 * @throws BackupNotFoundError when it cannot be read or fails the checks.
 */
export async function readManifest(store: ObjectStore, entry: BackupEntry): Promise<Manifest> {
  let text: string;
  try {
    text = (await readObject(store, entry.manifestKey)).toString('utf8');
  } catch (error) {
    throw new BackupNotFoundError(
      `Reading the manifest ${entry.manifestKey} from ${store.destination.url} failed: ${errorMessage(error)}`,
    );
  }
  return checkManifest(text, entry);
}

/**
 * Parses and checks a manifest read from storage for the archive `entry`.
 * @throws BackupNotFoundError when it is not JSON, has another format version, or is for another
 *   database, or lacks the fields a restore needs.
 */
export function checkManifest(text: string, entry: BackupEntry): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (error) {
    throw new BackupNotFoundError(
      `The manifest ${entry.manifestKey} is not valid JSON (${(error as Error).message}); the backup cannot be verified, so it is not restored.`,
    );
  }
  if (typeof manifest !== 'object' || manifest === null) {
    throw new BackupNotFoundError(
      `The manifest ${entry.manifestKey} is not a JSON object; the backup cannot be verified, so it is not restored.`,
    );
  }
  const versionProblem = formatVersionProblem(manifest.formatVersion);
  if (versionProblem) throw new BackupNotFoundError(`The manifest ${entry.manifestKey} ${versionProblem}`);
  const archive = manifest.archive as Partial<Manifest['archive']> | undefined;
  if (
    typeof archive?.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(archive.sha256) ||
    typeof archive.bytes !== 'number' ||
    !['custom', 'directory', 'plain'].includes(manifest.format) ||
    typeof manifest.client?.major !== 'number' ||
    !Array.isArray(manifest.rowCounts?.tables)
  ) {
    throw new BackupNotFoundError(
      `The manifest ${entry.manifestKey} lacks fields a restore needs (archive.sha256, archive.bytes, format, client.major, rowCounts); it is damaged.`,
    );
  }
  if (manifest.database !== entry.database) {
    throw new BackupNotFoundError(
      `The manifest ${entry.manifestKey} is for database '${manifest.database}', not '${entry.database}'; it is not used.`,
    );
  }
  return manifest;
}

/**
 * The checks of the newest complete backup that need its manifest (one GET of a few kB, never the
 * archive): `manifest` — it can be read, is valid JSON, of a format version this action knows
 * ({@link formatVersionProblem}), with the fields a restore needs (a well-formed sha256 among them),
 * for this database and this archive's key; `archive size` — the size in the listing equals the
 * manifest's `archive.bytes` (a truncated or replaced archive). Whether the archive's bytes match
 * the manifest's sha256 is not proven here: that needs the whole archive (restore and drill check it).
 * Returns the checks and the manifest when it could be used.
 */
export async function manifestChecks(
  store: ObjectStore,
  entry: BackupEntry,
): Promise<{ checks: Check[]; manifest?: Manifest }> {
  let manifest: Manifest;
  try {
    manifest = await readManifest(store, entry);
    if (manifest.archive.key !== entry.key) {
      throw new Error(
        `The manifest ${entry.manifestKey} is for the archive ${manifest.archive.key}, not ${entry.key}; it was copied from another backup, or is damaged.`,
      );
    }
  } catch (error) {
    return {
      checks: [
        {
          name: 'manifest',
          expected: MANIFEST_EXPECTED,
          actual: errorMessage(error),
          passed: false,
        },
      ],
    };
  }
  const checks: Check[] = [
    {
      name: 'manifest',
      expected: MANIFEST_EXPECTED,
      actual: `${entry.manifestKey}: format version ${manifest.formatVersion}, sha256 ${manifest.archive.sha256.slice(0, 12)}…`,
      passed: true,
    },
  ];
  const same = entry.size === manifest.archive.bytes;
  checks.push({
    name: 'archive size',
    expected: `${manifest.archive.bytes} bytes (the manifest's archive.bytes)`,
    actual: same
      ? `${entry.size} bytes`
      : `${entry.key} is ${entry.size} bytes in the listing: ${entry.size < manifest.archive.bytes ? 'truncated' : 'not the archive the manifest describes'}`,
    passed: same,
  });
  return { checks, manifest };
}
