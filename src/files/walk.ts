/**
 * The walker of the files selection: reads the disk for each parsed `files` entry (globs expanded
 * by tinyglobby, folders walked without following symbolic links) and hands what it found to the
 * pure planner (`select.ts`). {@link selectFiles} is the whole selection in one call.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';

import { errorMessage } from '../errors.js';
import { FilesSelectionError } from './errors.js';
import { archivePath, makeExcluder, parseEntries, planSelection, type FileSelection, type Found } from './select.js';

/** Settings of a selection: the `files`, `files-exclude` and `files-optional` inputs, typed. */
export interface SelectOptions {
  /** Absolute folder relative entries start from (`GITHUB_WORKSPACE`, or the CLI's working directory). */
  workspace: string;
  /** `files`: paths or globs, one per entry. */
  entries: readonly string[];
  /** `files-exclude` patterns. */
  exclude?: readonly string[];
  /** `files-optional`: an entry that matches nothing is allowed (listed in `unmatched`). */
  optional?: boolean;
}

/**
 * Selects the files to archive: parse, walk, plan. Folders are walked whole; symbolic links are
 * kept as links and never followed; the folders above each entry (up to the workspace, or up to
 * `/` for entries outside it) are listed too, so an extracted tree is exactly what was listed.
 * @throws FilesSelectionError (phase `config`) when an entry matches nothing (unless `optional`),
 *   two sources share an archive path, or a folder cannot be read.
 */
export async function selectFiles(options: SelectOptions): Promise<FileSelection> {
  const workspace = path.resolve(options.workspace);
  const specs = parseEntries(options.entries, workspace);
  if (specs.length === 0) throw new FilesSelectionError('files: no entry given (blank lines and # comments only).');
  const excluded = makeExcluder(options.exclude ?? []);
  const walker = new Walker(workspace, excluded);
  const found: Found[][] = [];
  for (const spec of specs) {
    const sources = spec.kind === 'path' ? [spec.base] : await expandGlob(spec.base, spec.glob ?? '');
    found.push(await walker.collect(sources));
  }
  return planSelection(specs, found, options.optional ?? false);
}

/** Absolute paths matching `pattern` under `base` (folders included, links not followed). */
async function expandGlob(base: string, pattern: string): Promise<string[]> {
  const stat = await lstat(base).catch(() => undefined);
  if (!stat?.isDirectory()) return [];
  const matches = await glob(pattern, {
    cwd: base,
    absolute: true,
    dot: true,
    onlyFiles: false,
    followSymbolicLinks: false,
    expandDirectories: false,
  });
  return matches.map((m) => path.resolve(m)).sort();
}

class Walker {
  private readonly ancestors = new Map<string, Found>();

  constructor(
    private readonly workspace: string,
    private readonly excluded: (entryPath: string, source: string) => boolean,
  ) {}

  /** Everything at and under `sources` (top-level sources that do not exist are left out), plus their ancestors. */
  async collect(sources: readonly string[]): Promise<Found[]> {
    const out: Found[] = [];
    const walked = new Set<string>();
    for (const source of sources) {
      if (insideAny(source, walked)) continue; // a glob's match below a folder already walked whole
      const stat = await lstat(source).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        throw new FilesSelectionError(`files: cannot read ${source}: ${errorMessage(error)}`, [], { cause: error });
      });
      if (!stat) continue;
      const entryPath = archivePath(source, this.workspace);
      if (entryPath !== '' && this.excluded(entryPath, source)) continue;
      const before = out.length;
      if (entryPath !== '') out.push(await this.found(source, entryPath, stat));
      if (stat.isDirectory()) {
        walked.add(source);
        await this.walk(source, out);
      }
      if (out.length > before) out.push(...(await this.parents(source)));
    }
    return out;
  }

  private async walk(folder: string, out: Found[]): Promise<void> {
    const names = await readdir(folder).catch((error: unknown) => {
      throw new FilesSelectionError(`files: cannot list ${folder}: ${errorMessage(error)}`, [], { cause: error });
    });
    const children = names.sort().map((name) => path.join(folder, name));
    const stats = await Promise.all(children.map((child) => lstat(child)));
    for (const [i, child] of children.entries()) {
      const stat = stats[i] as Stats;
      const entryPath = archivePath(child, this.workspace);
      if (this.excluded(entryPath, child)) continue;
      out.push(await this.found(child, entryPath, stat));
      if (stat.isDirectory()) await this.walk(child, out);
    }
  }

  /** The folders above `source`, up to the workspace or `/` (each stat'ed once per selection). */
  private async parents(source: string): Promise<Found[]> {
    const out: Found[] = [];
    for (let dir = path.dirname(source); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const entryPath = archivePath(dir, this.workspace);
      if (entryPath === '') break;
      let item = this.ancestors.get(dir);
      if (!item) {
        item = await this.found(dir, entryPath, await lstat(dir));
        this.ancestors.set(dir, item);
      }
      out.push(item);
    }
    return out;
  }

  private async found(source: string, entryPath: string, stat: Stats): Promise<Found> {
    const common = { path: entryPath, source, mode: stat.mode & 0o7777, mtimeMs: stat.mtimeMs };
    if (stat.isFile()) return { ...common, type: 'file', size: stat.size };
    if (stat.isDirectory()) return { ...common, type: 'dir', size: 0 };
    if (stat.isSymbolicLink()) return { ...common, type: 'symlink', size: 0, linkTarget: await readlink(source) };
    return { path: entryPath, source, type: 'special', kind: specialKind(stat) };
  }
}

function insideAny(source: string, folders: ReadonlySet<string>): boolean {
  for (let dir = path.dirname(source); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (folders.has(dir)) return true;
  }
  return folders.has(path.dirname(source));
}

function specialKind(stat: Stats): string {
  if (stat.isFIFO()) return 'fifo';
  if (stat.isSocket()) return 'socket';
  if (stat.isBlockDevice()) return 'block device';
  if (stat.isCharacterDevice()) return 'character device';
  return 'special file';
}
