/**
 * The files part of each backup for `list` and `check` (docs/files.md): what the manifest records
 * (file count, total size) against what the listing holds (the files archive's object). A backup
 * whose manifest records a files archive that the listing lacks is incomplete.
 */
import { errorMessage } from '../errors.js';
import type { Check, Manifest } from '../manifest.js';
import type { BackupEntry, Catalog } from '../storage/catalog.js';
import { readObject } from '../storage/read.js';
import type { ObjectStore } from '../storage/types.js';

/** Manifest GETs at once. */
const READ_CONCURRENCY = 8;

/** One backup's files part, as the manifest and the listing tell it. */
export interface FilesPart {
  /** From the manifest (undefined when it could not be read). */
  fileCount?: number;
  totalBytes?: number;
  /** The files archive's key as recorded; undefined when the manifest records none. */
  recordedKey?: string;
  /** Size of the files archive(s) in the listing, bytes; 0 when there is none. */
  storedBytes: number;
  /** The manifest records a files archive that is not in the listing: the backup is incomplete. */
  missing: boolean;
}

/**
 * The files part of a complete backup from its manifest and its catalog entry (pure).
 * Undefined when neither the manifest nor the listing has a files archive.
 */
export function filesPartOf(entry: BackupEntry, files: Manifest['files'] | undefined): FilesPart | undefined {
  const storedBytes = entry.filesBytes ?? 0;
  if (!files && !entry.files) return undefined;
  if (!files) return { storedBytes, missing: false };
  const recordedName = files.key.split('/').at(-1) ?? files.key;
  const missing = !(entry.files ?? []).some((k) => k.endsWith(`/${recordedName}`) || k === recordedName);
  return { fileCount: files.fileCount, totalBytes: files.totalBytes, recordedKey: files.key, storedBytes, missing };
}

/**
 * Reads the manifests of the catalog's complete backups, {@link READ_CONCURRENCY} at a time, when
 * any backup of the listing has a files archive (a database without files costs no GET), and
 * returns each backup's {@link FilesPart} by archive key. A manifest that cannot be read is left
 * out and named in `errors`.
 */
export async function readFilesParts(
  store: ObjectStore,
  catalog: Catalog,
): Promise<{ parts: Map<string, FilesPart>; errors: string[] }> {
  const parts = new Map<string, FilesPart>();
  const errors: string[] = [];
  if (!catalog.backups.some((b) => b.files)) return { parts, errors };
  const complete = catalog.backups.filter((b) => b.hasManifest);
  for (let start = 0; start < complete.length; start += READ_CONCURRENCY) {
    await Promise.all(
      complete.slice(start, start + READ_CONCURRENCY).map(async (entry) => {
        try {
          const manifest = JSON.parse((await readObject(store, entry.manifestKey)).toString('utf8')) as Manifest;
          const part = filesPartOf(entry, manifest.files);
          if (part) parts.set(entry.key, part);
        } catch (error) {
          errors.push(`${entry.manifestKey}: ${errorMessage(error)}`);
        }
      }),
    );
  }
  return { parts, errors };
}

/** The list's words for one backup's files part, e.g. `files: 512 file(s), 5.1 MB (stored 1.2 MB)`. */
export function describeFilesPart(part: FilesPart, format: (bytes: number) => string): string {
  if (part.missing) return `files: INCOMPLETE, the files archive ${part.recordedKey ?? ''} is missing`;
  if (part.fileCount === undefined) return `files archive ${format(part.storedBytes)} (not in the manifest)`;
  return `files: ${part.fileCount} file(s), ${format(part.totalBytes ?? 0)} (stored ${format(part.storedBytes)})`;
}

/**
 * `check`'s files checks of the newest complete backup (pure; docs/files.md):
 * - `files archive`: the files archive its manifest records is in the listing (else incomplete);
 * - `files`: when the previous complete backup had files, the newest has them too, and, with
 *   `maxDrop` (the `max-row-drop` input, when set), its file count did not drop by more than that
 *   fraction of the previous count.
 * Empty when neither backup has files.
 */
export function filesChecks(
  entry: BackupEntry,
  newest: Manifest,
  previous: Manifest | undefined,
  maxDrop: number | undefined,
): Check[] {
  const checks: Check[] = [];
  const part = filesPartOf(entry, newest.files);
  if (part?.recordedKey !== undefined)
    checks.push({
      name: 'files archive',
      expected: `${part.recordedKey} in the listing (the manifest's files.key)`,
      actual: part.missing ? `missing: the backup is incomplete` : `${part.storedBytes} bytes`,
      passed: !part.missing,
    });
  const before = previous?.files;
  if (!before) return checks;
  if (!newest.files) {
    checks.push({
      name: 'files',
      expected: `a files archive (the previous backup ${previous.archive.key} has ${before.fileCount} file(s))`,
      actual:
        'none: the newest backup has no files part (files input removed, or set to match nothing with files-optional)',
      passed: false,
    });
    return checks;
  }
  const floor = maxDrop === undefined ? 0 : Math.ceil(before.fileCount * (1 - maxDrop));
  const dropped = newest.files.fileCount < floor;
  checks.push({
    name: 'files',
    expected:
      maxDrop === undefined
        ? 'a files archive'
        : `at least ${floor} file(s) (${before.fileCount} before, max-row-drop ${maxDrop})`,
    actual: `${newest.files.fileCount} file(s)${dropped ? `: dropped from ${before.fileCount}` : ''}`,
    passed: !dropped,
  });
  return checks;
}
