/**
 * The selection of files beside the database, planned without touching the disk: how `files`
 * entries are read ({@link parseEntries}), where each source lands in the archive
 * ({@link archivePath}), which paths `files-exclude` drops ({@link makeExcluder}), and how what
 * the walker found becomes one sorted list without duplicates ({@link planSelection}). The walker
 * that reads the disk is `walk.ts`.
 */
import path from 'node:path';
import { Minimatch } from 'minimatch';
import { isDynamicPattern } from 'tinyglobby';

import { FilesSelectionError } from './errors.js';

/** What an archive entry is; special files (fifo, socket, device) are never archived. */
export type FileEntryType = 'file' | 'dir' | 'symlink';

/** One entry of the files archive, in archive order. */
export interface FileEntry {
  /** Path in the archive: relative, POSIX, no `./`, no leading or trailing `/`, no `..`. */
  path: string;
  /** Absolute path on this machine. */
  source: string;
  type: FileEntryType;
  /** Bytes of a regular file; 0 for folders and links. */
  size: number;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /** A link's target as stored in the link (never resolved). */
  linkTarget?: string;
}

/** What the walker found at one path: an entry, or a special file to skip. */
export type Found = FileEntry | { path: string; source: string; type: 'special'; kind: string };

/** One line of the `files` input, parsed. */
export interface EntrySpec {
  /** The line as written (trimmed), for error messages. */
  entry: string;
  kind: 'path' | 'glob';
  /** Absolute path (`path`), or the folder a glob is matched under (`glob`). */
  base: string;
  /** The glob relative to `base` (only `glob`). */
  glob?: string;
}

/** The planned selection. */
export interface FileSelection {
  /** Entries sorted by {@link comparePaths}, each path once; parents before children. */
  entries: FileEntry[];
  /** Regular files among them, and their bytes. */
  files: number;
  bytes: number;
  /** Special files left out (archive paths), each worth a warning. */
  skipped: { path: string; kind: string }[];
  /** Entries that matched nothing but were allowed to (`optional`), as written. */
  unmatched: string[];
}

/**
 * Byte order of the paths' UTF-8 encodings: the order of the archive and of the fingerprint's
 * lines. A parent sorts before its children (a prefix sorts first).
 */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Reads the `files` input: one entry a line, blank lines and lines starting with `#` ignored.
 * An entry is a glob when tinyglobby (which expands it) sees glob magic in it (`*`, `?`, `[…]`,
 * `{…}`, extglobs), else a path.
 * Relative entries are resolved against `workspace` (absolute).
 */
export function parseEntries(lines: readonly string[], workspace: string): EntrySpec[] {
  const specs: EntrySpec[] = [];
  for (const raw of lines) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    if (!isDynamicPattern(entry)) {
      specs.push({ entry, kind: 'path', base: path.resolve(workspace, entry) });
      continue;
    }
    const parts = entry.split('/');
    const magicAt = parts.findIndex((part) => isDynamicPattern(part));
    const literal = parts.slice(0, magicAt).join('/') || (entry.startsWith('/') ? '/' : '.');
    specs.push({ entry, kind: 'glob', base: path.resolve(workspace, literal), glob: parts.slice(magicAt).join('/') });
  }
  return specs;
}

/**
 * Where `source` (absolute) lands in the archive: relative to `workspace` when inside it, else the
 * absolute path without its leading `/` (as GNU tar stores it). `''` for the workspace itself.
 */
export function archivePath(source: string, workspace: string): string {
  const relative = path.relative(workspace, source);
  if (relative === '') return '';
  if (!relative.startsWith('..') && !path.isAbsolute(relative)) return relative.split(path.sep).join('/');
  return path.resolve(source).replace(/^\/+/, '');
}

/**
 * A test for `files-exclude` patterns. A pattern is matched against the archive path; a pattern
 * without `/` also against each path's last segment (`*.tmp`, `cache`); an absolute pattern
 * against the absolute source. A trailing `/` is ignored. An excluded folder's contents are
 * excluded too (the walker does not enter it).
 */
export function makeExcluder(patterns: readonly string[]): (entryPath: string, source: string) => boolean {
  const options = { dot: true, nocomment: true, nonegate: true };
  const matchers = patterns
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith('#'))
    .map((p) => p.replace(/\/+$/, ''))
    .map((p) => ({
      absolute: p.startsWith('/'),
      mm: new Minimatch(p, { ...options, matchBase: !p.includes('/') }),
    }));
  return (entryPath, source) => matchers.some(({ absolute, mm }) => mm.match(absolute ? source : entryPath));
}

/**
 * Joins what the walker found for each spec (`found[i]` for `specs[i]`) into the selection: each
 * archive path once (the same source found twice, e.g. by overlapping entries, is listed once),
 * sorted, special files moved to `skipped`.
 * @throws FilesSelectionError when an entry matched nothing and `optional` is false (naming every
 *   such entry), or when two different sources would land on one archive path.
 */
export function planSelection(
  specs: readonly EntrySpec[],
  found: readonly (readonly Found[])[],
  optional: boolean,
): FileSelection {
  const unmatched = specs.filter((_, i) => (found[i] ?? []).length === 0).map((s) => s.entry);
  if (unmatched.length > 0 && !optional) {
    throw new FilesSelectionError(
      `files: ${unmatched.map((e) => JSON.stringify(e)).join(', ')} matched nothing on this runner. ` +
        'Check the path (relative paths start at the workspace) and that an earlier step put the files there, ' +
        'or set files-optional: true to back up whatever exists.',
      unmatched,
    );
  }
  const byPath = new Map<string, Found>();
  for (const item of found.flat()) {
    const seen = byPath.get(item.path);
    if (seen && seen.source !== item.source) {
      throw new FilesSelectionError(
        `files: ${seen.source} and ${item.source} would both be stored as ${JSON.stringify(item.path)} in the archive. ` +
          'Give one of them (or a parent folder) only once.',
      );
    }
    byPath.set(item.path, item);
  }
  const sorted = [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
  const entries: FileEntry[] = [];
  const skipped: FileSelection['skipped'] = [];
  for (const item of sorted) {
    if (item.type === 'special') skipped.push({ path: item.path, kind: item.kind });
    else entries.push(item);
  }
  const regular = entries.filter((e) => e.type === 'file');
  return {
    entries,
    files: regular.length,
    bytes: regular.reduce((sum, e) => sum + e.size, 0),
    skipped,
    unmatched,
  };
}
