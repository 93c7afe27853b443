/**
 * Safe extraction of a files archive into a target folder (restore's `files-target`, the drill's
 * scratch folder). Every entry is checked before anything is written for it ({@link entryProblem},
 * pure): an absolute path, a `..` segment, a hard link pointing outside, or a path below a symbolic
 * link of the same archive stops the extraction with {@link UnsafeArchiveError}. node-tar's
 * extractor (strict) writes the rest and refuses on its own any path through a symbolic link that
 * was already on disk. Modes, modification times, links and empty folders are restored; owners are
 * not (the files belong to the user running the restore).
 */
import type { Stats } from 'node:fs';
import { chmod, lutimes, mkdir, readdir, rm, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Unpack, type ReadEntry } from 'tar';

import { errorMessage, type Phase } from '../errors.js';
import { FilesArchiveError, FilesTargetError, UnsafeArchiveError } from './errors.js';
import { normalizeEntryPath } from './fingerprint.js';

export interface ExtractOptions {
  /** The target folder (created when missing, with its parents). */
  target: string;
  /** Extract into a non-empty target, replacing what is there (`files-overwrite`-like confirmation). */
  overwrite?: boolean;
  /** Phase of the errors: `restore` (default) or `drill`. */
  phase?: Phase;
  /** Told about entries left out (devices, fifos), by archive path. */
  onSkipped?: (entryPath: string, type: string) => void;
}

/** What an extraction wrote. */
export interface ExtractResult {
  /** Entries written: files, folders and links. */
  entries: number;
  /** Regular files and their bytes. */
  files: number;
  bytes: number;
}

/** An archive entry as {@link entryProblem} sees it. */
export interface EntryFacts {
  path: string;
  type: string;
  linkpath?: string;
}

/**
 * Why an entry must not be extracted, or undefined when it is safe. `symlinks` holds the
 * (normalized) paths of the symbolic links extracted so far from the same archive.
 */
export function entryProblem(entry: EntryFacts, symlinks: ReadonlySet<string>): string | undefined {
  const raw = entry.path.replace(/\\/g, '/');
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) return 'its path is absolute';
  const parts = raw.split('/');
  if (parts.includes('..')) return "its path contains a '..' segment";
  const normalized = normalizeEntryPath(raw);
  const segments = normalized.split('/');
  for (let i = 1; i < segments.length; i += 1) {
    const parent = segments.slice(0, i).join('/');
    if (symlinks.has(parent)) return `it would be written through the symbolic link ${JSON.stringify(parent)}`;
  }
  if (entry.type === 'Link') {
    const target = (entry.linkpath ?? '').replace(/\\/g, '/');
    if (target.startsWith('/') || target.split('/').includes('..'))
      return 'it is a hard link to a path outside the target';
  }
  return undefined;
}

/**
 * Refuses a target that is a file, or a non-empty folder without `overwrite`; creates a missing one.
 * The target itself may be a link to a folder (it is the user's choice, not the archive's).
 */
export async function prepareTarget(target: string, overwrite: boolean, phase: Phase = 'restore'): Promise<void> {
  const found = await stat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new FilesTargetError(target, `cannot be read: ${errorMessage(error)}.`, phase);
  });
  if (!found) {
    await mkdir(target, { recursive: true });
    return;
  }
  if (!found.isDirectory()) {
    throw new FilesTargetError(
      target,
      'is not a folder. Give files-target a folder (it is created when missing).',
      phase,
    );
  }
  if (!overwrite && (await readdir(target)).length > 0) {
    throw new FilesTargetError(
      target,
      'is not empty. Give an empty or new folder, or confirm replacing what is there (overwrite).',
      phase,
    );
  }
}

/**
 * Folders and links finished after every other entry: a folder's mode and times (writing inside a
 * folder changes its mtime); a link is created only then (node-tar would rewrite absolute and
 * outward targets, and no entry can be written through a link that does not exist yet).
 */
interface Deferred {
  path: string;
  type: 'dir' | 'symlink';
  mode: number;
  mtime: Date;
  linkpath?: string;
}

/**
 * Extracts the tar archive read from `source` into `options.target`.
 * @throws FilesTargetError before reading when the target is a file or non-empty (see {@link prepareTarget});
 *   UnsafeArchiveError at the first unsafe entry (nothing written outside the target; entries
 *   before it stay in the target); FilesArchiveError when the archive is damaged or a write fails.
 */
export async function extractArchive(source: Readable, options: ExtractOptions): Promise<ExtractResult> {
  const target = path.resolve(options.target);
  const phase = options.phase ?? 'restore';
  await prepareTarget(target, options.overwrite ?? false, phase);
  const symlinks = new Set<string>();
  const deferred: Deferred[] = [];
  const result: ExtractResult = { entries: 0, files: 0, bytes: 0 };
  let unsafe: UnsafeArchiveError | undefined;
  const unpack = new Unpack({
    cwd: target,
    strict: true,
    preserveOwner: false,
    chmod: true,
    processUmask: 0,
    unlink: options.overwrite ?? false,
    filter: (_entryPath: string, entry: Stats | ReadEntry) => {
      const e = entry as ReadEntry;
      if (unsafe) return false;
      const facts: EntryFacts = { path: e.path, type: e.type, ...(e.linkpath ? { linkpath: e.linkpath } : {}) };
      const problem = entryProblem(facts, symlinks);
      if (problem) {
        unsafe = new UnsafeArchiveError(e.path, problem, phase);
        unpack.abort(unsafe);
        return false;
      }
      return keep(e, { symlinks, deferred, result, options });
    },
  });
  try {
    await pipeline(source, unpack);
  } catch (error) {
    if (unsafe) throw unsafe;
    throw new FilesArchiveError(`extracting the files archive into ${target} failed: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (unsafe) throw unsafe;
  await finishDeferred(target, deferred, options.overwrite ?? false);
  return result;
}

function keep(
  entry: ReadEntry,
  state: { symlinks: Set<string>; deferred: Deferred[]; result: ExtractResult; options: ExtractOptions },
): boolean {
  const entryPath = normalizeEntryPath(entry.path);
  const mtime = entry.mtime ?? new Date();
  const mode = (entry.mode ?? 0o755) & 0o7777;
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
    case 'Link':
      state.result.files += 1;
      state.result.bytes += entry.size ?? 0;
      break;
    case 'Directory':
      if (entryPath !== '') state.deferred.push({ path: entryPath, type: 'dir', mode, mtime });
      break;
    case 'SymbolicLink':
      state.symlinks.add(entryPath);
      state.deferred.push({ path: entryPath, type: 'symlink', mode, mtime, linkpath: entry.linkpath ?? '' });
      state.result.entries += 1;
      return false; // created by finishDeferred
    default:
      state.options.onSkipped?.(entryPath, entry.type);
      return false;
  }
  if (entryPath !== '') state.result.entries += 1;
  return true;
}

/**
 * Creates the links (their parent folders were checked free of links by {@link entryProblem}),
 * then sets folders' modes and times, deepest first, once every entry is written.
 */
async function finishDeferred(target: string, deferred: Deferred[], overwrite: boolean): Promise<void> {
  for (const item of deferred) {
    if (item.type !== 'symlink') continue;
    const where = path.join(target, item.path);
    await mkdir(path.dirname(where), { recursive: true });
    if (overwrite) await rm(where, { force: true });
    await symlink(item.linkpath ?? '', where);
    await lutimes(where, item.mtime, item.mtime);
  }
  const folders = deferred.filter((d) => d.type === 'dir').sort((a, b) => b.path.length - a.path.length);
  for (const item of folders) {
    const where = path.join(target, item.path);
    await chmod(where, item.mode);
    await lutimes(where, item.mtime, item.mtime);
  }
}
