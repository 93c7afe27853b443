/**
 * Object key layout: `<prefix>/<database>/<yyyy-mm-ddTHHMMSSZ>[-<label>].<ext>`, the manifest at
 * `<archive key>.manifest.json`, the globals at `<archive key without ext>.globals.sql` and the files
 * archive at `<archive key without ext>.files.tar[.zst|.lz4|.gz][.gpg]`.
 * The time in the key is UTC, so later planning (retention, freshness) needs the listing alone.
 */

/** `2026-11-25T071403Z` for 2026-11-25 07:14:03.xxx UTC (sub-seconds dropped). */
export function formatKeyTime(time: Date): string {
  return time
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '');
}

/**
 * The database name as one key segment: kept as is when it is made of safe characters, else
 * percent-encoded (so `/` or spaces can never create folders or odd keys).
 */
export function databaseSegment(database: string): string {
  return /^[A-Za-z0-9._-]+$/.test(database) && database !== '.' && database !== '..'
    ? database
    : encodeURIComponent(database).replace(/\./g, '%2E');
}

export interface ArchiveKeyParts {
  /** Destination prefix without leading/trailing slash ('' for none). */
  prefix: string;
  database: string;
  time: Date;
  label?: string;
  /** e.g. `dump`, `dump.zst`, `sql.gz`, `tar`. */
  extension: string;
}

/** Full object key of an archive. */
export function archiveKey(parts: ArchiveKeyParts): string {
  const name = `${formatKeyTime(parts.time)}${parts.label ? `-${parts.label}` : ''}.${parts.extension}`;
  return [parts.prefix, databaseSegment(parts.database), name].filter((s) => s !== '').join('/');
}

/** Key of the manifest written beside `archive`. */
export function manifestKey(archive: string): string {
  return `${archive}.manifest.json`;
}

/** Suffix of an encrypted archive (an OpenPGP binary message) and of its globals file. */
export const ENCRYPTED_SUFFIX = '.gpg';

/**
 * The end of an archive's name, the one place that says it: the pg_dump format (`dump` custom,
 * `sql` plain, `tar` directory), then the stream compression if any, then `.gpg` when encrypted.
 */
const ARCHIVE_EXTENSION = String.raw`(dump|sql|tar)(?:\.(zst|lz4|gz))?(\.gpg)?`;
const ARCHIVE_NAME_END = new RegExp(String.raw`\.${ARCHIVE_EXTENSION}$`);

/** What an archive key's extension says; undefined when the key does not end like an archive. */
export function archiveSuffix(
  key: string,
): { format: 'dump' | 'sql' | 'tar'; streamCompression: '' | '.zst' | '.lz4' | '.gz'; encrypted: boolean } | undefined {
  const m = ARCHIVE_NAME_END.exec(key);
  if (!m) return undefined;
  return {
    format: m[1] as 'dump' | 'sql' | 'tar',
    streamCompression: (m[2] ? `.${m[2]}` : '') as '' | '.zst' | '.lz4' | '.gz',
    encrypted: m[3] !== undefined,
  };
}

/** Key of the globals (roles, tablespaces) stored beside `archive` (encrypted like it: `.gpg`). */
export function globalsKey(archive: string): string {
  const encrypted = archive.endsWith(ENCRYPTED_SUFFIX);
  return archive.replace(ARCHIVE_NAME_END, '') + '.globals.sql' + (encrypted ? ENCRYPTED_SUFFIX : '');
}

/** How a files archive is compressed in the stream (the `compression` input's method). */
export type FilesCompression = 'zstd' | 'lz4' | 'gzip' | 'none';

const FILES_COMPRESSION_SUFFIX: Readonly<Record<FilesCompression, string>> = {
  zstd: '.zst',
  lz4: '.lz4',
  gzip: '.gz',
  none: '',
};

/** The end of a files archive's name: `.files.tar`, the stream compression if any, `.gpg` when encrypted. */
const FILES_NAME_END = /\.files\.tar(?:\.(?:zst|lz4|gz))?(?:\.gpg)?$/;

/**
 * Key of the files archive (uploads and media, docs/files.md) stored beside `archive`: the archive
 * key without its archive extension, then `.files.tar`, then the suffix of its stream compression
 * (`.zst`, `.lz4`, `.gz`; none for `none`), then `.gpg` when encrypted. E.g.
 * `prod/app/2026-12-07T101010Z-daily.dump` + zstd + encrypted → `prod/app/2026-12-07T101010Z-daily.files.tar.zst.gpg`.
 */
export function filesKey(archive: string, options: { compression: FilesCompression; encrypted: boolean }): string {
  return (
    archive.replace(ARCHIVE_NAME_END, '') +
    '.files.tar' +
    FILES_COMPRESSION_SUFFIX[options.compression] +
    (options.encrypted ? ENCRYPTED_SUFFIX : '')
  );
}

/** The stem a key shares with its backup's archive when it names a files archive, else undefined. */
export function filesKeyStem(key: string): string | undefined {
  return FILES_NAME_END.test(key) ? key.replace(FILES_NAME_END, '') : undefined;
}

/** The stem of an archive key: the key without its archive extension (shared by its globals and files). */
export function archiveStem(archive: string): string {
  return archive.replace(ARCHIVE_NAME_END, '');
}

/**
 * Groups the files archives of a listing by the archive they belong to: for each of `archives`,
 * the keys of `keys` that are its files archive ({@link filesKey} of any compression and
 * encryption), sorted. Archives without one are absent. Pure.
 */
export function filesKeysByArchive(archives: Iterable<string>, keys: Iterable<string>): Map<string, string[]> {
  const byStem = new Map<string, string[]>();
  for (const key of keys) {
    const stem = filesKeyStem(key);
    if (stem !== undefined) byStem.set(stem, [...(byStem.get(stem) ?? []), key]);
  }
  const grouped = new Map<string, string[]>();
  for (const archive of archives) {
    const found = byStem.get(archiveStem(archive));
    if (found) grouped.set(archive, [...found].sort());
  }
  return grouped;
}

const KEY_PATTERN = new RegExp(
  String.raw`^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-([a-z0-9](?:[a-z0-9-]*[a-z0-9])?))?\.(` +
    ARCHIVE_EXTENSION.replace(/\((?!\?)/g, '(?:') +
    ')$',
);

/** What {@link parseArchiveKey} reads back from a key. */
export interface ParsedArchiveKey {
  database: string;
  time: Date;
  label?: string;
  extension: string;
}

/**
 * Reads an archive key written by {@link archiveKey} under `prefix`; undefined for any other key
 * (manifests, globals, objects this action did not write).
 */
export function parseArchiveKey(key: string, prefix: string): ParsedArchiveKey | undefined {
  const rest = prefix === '' ? key : key.startsWith(`${prefix}/`) ? key.slice(prefix.length + 1) : undefined;
  if (rest === undefined) return undefined;
  const slash = rest.indexOf('/');
  if (slash <= 0 || rest.indexOf('/', slash + 1) !== -1) return undefined;
  const match = KEY_PATTERN.exec(rest.slice(slash + 1));
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, label, extension] = match;
  const time = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (formatKeyTime(time) !== rest.slice(slash + 1, slash + 1 + 18)) return undefined;
  let database: string;
  try {
    database = decodeURIComponent(rest.slice(0, slash));
  } catch {
    return undefined;
  }
  return { database, time, ...(label ? { label } : {}), extension: extension as string };
}

/**
 * The database name of one key segment written by {@link databaseSegment} (its inverse); undefined
 * for a segment that no database name encodes to (bad percent-encoding, or a safe-looking segment
 * that {@link databaseSegment} would have encoded differently).
 */
export function databaseFromSegment(segment: string): string | undefined {
  let database: string;
  try {
    database = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  return database !== '' && databaseSegment(database) === segment ? database : undefined;
}

/**
 * The databases that have backups under `prefix`, from a listing of its keys: each
 * `<prefix>/<segment>/…manifest.json` key's segment, decoded ({@link databaseFromSegment}); sorted
 * by name, each once. Keys elsewhere, and segments that no name encodes to, are left out.
 */
export function databasesInListing(keys: readonly string[], prefix: string): string[] {
  const found = new Set<string>();
  const start = prefix === '' ? '' : `${prefix}/`;
  for (const key of keys) {
    if (!key.startsWith(start) || !key.endsWith('.manifest.json')) continue;
    const rest = key.slice(start.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || rest.indexOf('/', slash + 1) !== -1) continue;
    const database = databaseFromSegment(rest.slice(0, slash));
    if (database !== undefined) found.add(database);
  }
  return [...found].sort();
}
