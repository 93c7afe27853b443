/**
 * The listing fingerprint of a files archive: one definition, computed two ways that must agree —
 * from the tar stream as it flows ({@link FingerprintTap}: each file's bytes are hashed as they
 * pass, so the files are read once), and from a folder on disk ({@link fingerprintFolder}: after
 * an extraction, for the drill).
 *
 * Definition (version 1, recorded in the manifest as `listingFingerprint`):
 * - One line per entry of the tree: regular file, folder, symbolic link. The root folder itself is
 *   not an entry; special files (fifo, socket, device) are not entries.
 * - A line is the JSON array `[type, path, size, detail]` followed by `\n`, written by
 *   `JSON.stringify` (no spaces; `"` `\` and control characters escaped, other characters as
 *   themselves, so the line is UTF-8 text):
 *   - `type`: `"file"`, `"dir"` or `"symlink"` (a hard link in a tar counts as the file it links to);
 *   - `path`: relative, `/`-separated, no leading `./` or `/`, no trailing `/`;
 *   - `size`: the file's bytes (integer); 0 for folders and links;
 *   - `detail`: the lower-case hex SHA-256 of the file's bytes; the link's target as stored
 *     (never resolved); `""` for a folder.
 * - Lines sorted by path, comparing the paths' UTF-8 bytes; a path appears once (in a tar that
 *   holds one path twice, the last one counts, as extraction leaves it).
 * - `fingerprint`: lower-case hex SHA-256 of the sorted lines concatenated (UTF-8).
 * - `files`: the number of `file` lines; `bytes`: the sum of their sizes; `entries`: all lines.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { STREAM_HIGH_WATER_MARK } from '../pipeline/stages.js';
import { TarListingReader, type TarListingEntry } from './tar-listing.js';
import { comparePaths, type FileEntryType } from './select.js';

/** One entry as the fingerprint sees it. */
export interface ListingItem {
  type: FileEntryType;
  path: string;
  size: number;
  /** SHA-256 (hex) of a file, a link's target, `''` for a folder. */
  detail: string;
}

/** The fingerprint of a tree (see the module's definition). */
export interface ListingFingerprint {
  /** Lower-case hex SHA-256 of the sorted lines. */
  fingerprint: string;
  /** Regular files, and their bytes. */
  files: number;
  bytes: number;
  /** Lines: files, folders and links. */
  entries: number;
}

/** The line of one entry, `\n` included. */
export function fingerprintLine(item: ListingItem): string {
  return `${JSON.stringify([item.type, item.path, item.size, item.detail])}\n`;
}

/** The fingerprint of `items` (any order; one item per path). */
export function digestListing(items: Iterable<ListingItem>): ListingFingerprint {
  const sorted = [...items].sort((a, b) => comparePaths(a.path, b.path));
  const hash = createHash('sha256');
  let files = 0;
  let bytes = 0;
  for (const item of sorted) {
    hash.update(fingerprintLine(item), 'utf8');
    if (item.type === 'file') {
      files += 1;
      bytes += item.size;
    }
  }
  return { fingerprint: hash.digest('hex'), files, bytes, entries: sorted.length };
}

/**
 * What differs between the listing a manifest recorded and the one found (after extraction, or in
 * the stored archive): one sentence per difference (file count, bytes, fingerprint); empty when
 * they agree. The fingerprint alone cannot name the file that changed.
 */
export function compareListing(
  recorded: Pick<ListingFingerprint, 'fingerprint' | 'files' | 'bytes'>,
  found: ListingFingerprint,
): string[] {
  const problems: string[] = [];
  if (recorded.files !== found.files)
    problems.push(`${found.files} files where the manifest records ${recorded.files}`);
  if (recorded.bytes !== found.bytes)
    problems.push(`${found.bytes} bytes of files where the manifest records ${recorded.bytes}`);
  if (recorded.fingerprint !== found.fingerprint) {
    problems.push(
      `listing fingerprint ${found.fingerprint} where the manifest records ${recorded.fingerprint} ` +
        '(a path, type, size, link target or file content differs)',
    );
  }
  return problems;
}

/** A tar entry's path as the fingerprint writes it: no leading `./` or `/`, no trailing `/`. */
export function normalizeEntryPath(entryPath: string): string {
  return entryPath
    .replace(/^(\.\/)+/, '')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '');
}

/**
 * The listing of a tar archive fed in chunks: a {@link TarListingReader} whose entries are kept
 * by normalized path (the last one of a path counts), hard links resolved to their target.
 */
export class ListingCollector {
  private readonly items = new Map<string, ListingItem>();
  private readonly reader = new TarListingReader((entry, linkTarget) => this.onEntry(entry, linkTarget));

  /**
   * The next bytes of the archive.
   * @throws FilesArchiveError when they cannot be read as tar.
   */
  write(chunk: Buffer): void {
    this.reader.write(chunk);
  }

  /**
   * The archive ended: its fingerprint.
   * @throws FilesArchiveError when it ended inside an entry.
   */
  end(): ListingFingerprint {
    this.reader.end();
    return digestListing(this.items.values());
  }

  private onEntry(entry: TarListingEntry, linkTarget: string | undefined): void {
    const entryPath = normalizeEntryPath(entry.path);
    if (entryPath === '' || entryPath === '.') return;
    if (linkTarget === undefined) {
      this.items.set(entryPath, { ...entry, path: entryPath });
      return;
    }
    const target = this.items.get(normalizeEntryPath(linkTarget));
    if (target?.type === 'file') this.items.set(entryPath, { ...target, path: entryPath });
  }
}

/**
 * Pass-through stage that fingerprints the tar archive flowing through it: the bytes go on
 * unchanged, a {@link ListingCollector} beside them hashes each file's contents. {@link result}
 * after the end. An archive that cannot be read as tar makes the stream fail with
 * FilesArchiveError (errors.ts).
 */
export class FingerprintTap extends Transform {
  private readonly collector = new ListingCollector();
  private outcome: ListingFingerprint | undefined;

  constructor() {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.collector.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.outcome = this.collector.end();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  /** The fingerprint of what went through; throws if the stream has not ended. */
  result(): ListingFingerprint {
    if (!this.outcome) throw new Error('FingerprintTap.result() called before the stream ended');
    return this.outcome;
  }
}

/**
 * The fingerprint of the tree under `root` (the root itself not an entry), read from disk:
 * symbolic links are read, never followed; special files are left out.
 * @throws the file system's errors (ENOENT, EACCES) as they come.
 */
export async function fingerprintFolder(root: string): Promise<ListingFingerprint> {
  const items: ListingItem[] = [];
  const walk = async (folder: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(folder)).sort()) {
      const source = path.join(folder, name);
      const entryPath = prefix ? `${prefix}/${name}` : name;
      const stat = await lstat(source);
      if (stat.isDirectory()) {
        items.push({ type: 'dir', path: entryPath, size: 0, detail: '' });
        await walk(source, entryPath);
      } else if (stat.isSymbolicLink()) {
        items.push({ type: 'symlink', path: entryPath, size: 0, detail: await readlink(source) });
      } else if (stat.isFile()) {
        items.push({ type: 'file', path: entryPath, size: stat.size, detail: await hashFile(source) });
      }
    }
  };
  await walk(root, '');
  return digestListing(items);
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: STREAM_HIGH_WATER_MARK }), hash);
  return hash.digest('hex');
}
