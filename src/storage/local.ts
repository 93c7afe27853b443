/**
 * {@link ObjectStore} over a local folder (`file://` destinations).
 *
 * Keys are '/'-separated paths relative to the folder. Writes go to a temporary file in the target
 * folder (`.<name>.<random>.partial`), are fsynced, hard-linked to the final name (link(2) fails
 * with EEXIST rather than replace a file: an exclusive create, so two runs never overwrite each
 * other) and the temporary name unlinked, then the folder fsynced. A file under its final name is
 * always complete; on any error or abort the temporary file is removed. A killed process leaves its
 * temporary file: {@link LocalFolderStore.temporaries} finds them for a later run to remove.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { UploadError, errorMessage } from '../errors.js';
import { releaseChunk } from '../pipeline/pooled-pipe.js';
import type { Destination, ObjectInfo, ObjectStore, PutResult, UploadOptions, UploadResult } from './types.js';

type FileDestination = Extract<Destination, { kind: 'file' }>;

/** Suffix of temporary files; `list` skips them. */
export const PARTIAL_SUFFIX = '.partial';

/** True for names of this store's temporary files (`.<name>.<random>.partial`). */
export function isPartialName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(PARTIAL_SUFFIX);
}

/**
 * Checks a key and returns its path segments. Refused: empty keys, absolute keys, backslashes, NUL,
 * empty segments (`a//b`, trailing '/'), '.' and '..' segments, and names of temporary files.
 */
export function keySegments(key: string): string[] {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new Error(`Invalid key '${key}': ${problem}`);
  return key.split('/');
}

function keyProblem(key: string): string | undefined {
  if (key === '') return 'it is empty';
  if (key.startsWith('/')) return 'it is absolute; keys are relative to the destination folder';
  if (/^[a-zA-Z]:/.test(key)) return 'it has a drive letter; keys are relative to the destination folder';
  if (key.includes('\\')) return "it contains '\\'; separate folders with '/'";
  if (key.includes('\0')) return 'it contains a NUL character';
  const segments = key.split('/');
  if (segments.some((segment) => segment === '')) return 'it has an empty path segment';
  if (segments.some((segment) => segment === '.' || segment === '..'))
    return "it has a '.' or '..' segment (keys must stay inside the destination folder)";
  if (isPartialName(segments[segments.length - 1] as string))
    return `names ending in '${PARTIAL_SUFFIX}' that start with '.' are reserved for temporary files`;
  return undefined;
}

export class LocalFolderStore implements ObjectStore {
  readonly destination: FileDestination;
  private readonly root: string;

  constructor(destination: FileDestination) {
    this.destination = destination;
    this.root = resolve(destination.root);
  }

  /** A folder holds no connections: nothing to release. */
  close(): void {}

  async upload(key: string, body: Readable, options: UploadOptions = {}): Promise<UploadResult> {
    let target: string;
    try {
      target = this.pathOf(key);
    } catch (error) {
      body.destroy();
      throw new UploadError(errorMessage(error), { cause: error });
    }
    const signal = options.signal;
    if (signal?.aborted) {
      body.destroy();
      throw new UploadError(`Writing ${this.describe(key)} was aborted before it started; nothing was written.`, {
        cause: signal.reason,
      });
    }
    try {
      const bytes = await writeAtomically(target, async (handle) => {
        const sink = new FileSink(handle);
        await pipeline(body, sink, signal ? { signal } : {});
        return sink.bytes;
      });
      return { key, bytes, parts: 1 };
    } catch (error) {
      if (!body.destroyed) body.destroy();
      if (isTaken(error)) throw new UploadError(takenMessage(this.describe(key)), { cause: error });
      const what = signal?.aborted ? 'was aborted' : `failed: ${errorMessage(error)}`;
      throw new UploadError(`Writing ${this.describe(key)} ${what}; no file was left under that name.`, {
        cause: signal?.aborted ? (signal.reason ?? error) : error,
      });
    }
  }

  async put(key: string, data: string | Buffer, _contentType: string): Promise<PutResult> {
    let target: string;
    try {
      target = this.pathOf(key);
    } catch (error) {
      throw new UploadError(errorMessage(error), { cause: error });
    }
    try {
      await writeAtomically(target, async (handle) => {
        await writeAll(handle, typeof data === 'string' ? Buffer.from(data) : data);
        await handle.sync();
        return 0;
      });
      return {};
    } catch (error) {
      if (isTaken(error)) throw new UploadError(takenMessage(this.describe(key)), { cause: error });
      throw new UploadError(
        `Writing ${this.describe(key)} failed: ${errorMessage(error)}; no file was left under that name.`,
        { cause: error },
      );
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      return { key, size: info.size, lastModified: new Date(info.mtimeMs) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(path, fsConstants.O_RDONLY);
    } catch (error) {
      throw new Error(
        isMissing(error)
          ? `There is no file ${this.describe(key)}`
          : `Reading ${this.describe(key)} failed: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw new Error(`There is no file ${this.describe(key)} (it is not a regular file)`);
    }
    return handle.createReadStream({ autoClose: true });
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    const found: ObjectInfo[] = [];
    await this.walk(this.root, [], prefix, found);
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* found;
  }

  async delete(keys: string[]): Promise<{ deleted: string[]; errors: { key: string; message: string }[] }> {
    const deleted: string[] = [];
    const errors: { key: string; message: string }[] = [];
    for (const key of keys) {
      const problem = keyProblem(key);
      if (problem !== undefined) {
        errors.push({ key, message: `invalid key: ${problem}` });
        continue;
      }
      try {
        await unlink(join(this.root, ...key.split('/')));
        deleted.push(key);
      } catch (error) {
        errors.push({ key, message: isMissing(error) ? 'no such file' : errorMessage(error) });
      }
    }
    return { deleted, errors };
  }

  /**
   * Temporary files (`.<name>.<random>.partial`) under `prefix`, sorted by key; `lastModified` is
   * their mtime, which a live write keeps moving. Left by a process killed while writing.
   */
  async *temporaries(prefix: string): AsyncGenerator<ObjectInfo> {
    const found: ObjectInfo[] = [];
    await this.walk(this.root, [], prefix, found, true);
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* found;
  }

  /** Unlinks temporary files found by {@link temporaries} (refuses any other key). */
  async removeTemporaries(keys: string[]): Promise<{ deleted: string[]; errors: { key: string; message: string }[] }> {
    const deleted: string[] = [];
    const errors: { key: string; message: string }[] = [];
    for (const key of keys) {
      const segments = key.split('/');
      if (
        !isPartialName(segments[segments.length - 1] as string) ||
        keyProblem(segments.slice(0, -1).concat('x').join('/')) !== undefined
      ) {
        errors.push({ key, message: 'not a temporary file of this action' });
        continue;
      }
      try {
        await unlink(join(this.root, ...segments));
        deleted.push(key);
      } catch (error) {
        if (isMissing(error))
          deleted.push(key); // finished or removed meanwhile
        else errors.push({ key, message: errorMessage(error) });
      }
    }
    return { deleted, errors };
  }

  private async walk(
    folder: string,
    segments: string[],
    prefix: string,
    found: ObjectInfo[],
    temporaries = false,
  ): Promise<void> {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error) && segments.length === 0) return; // no folder yet: no objects
      throw error;
    }
    for (const entry of entries) {
      const keyParts = [...segments, entry.name];
      const key = keyParts.join('/');
      if (entry.isDirectory()) {
        // Only descend where keys with `prefix` can be.
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) {
          await this.walk(join(folder, entry.name), keyParts, prefix, found, temporaries);
        }
      } else if (entry.isFile() && isPartialName(entry.name) === temporaries && key.startsWith(prefix)) {
        try {
          const info = await stat(join(folder, entry.name));
          found.push({ key, size: info.size, lastModified: new Date(info.mtimeMs) });
        } catch (error) {
          if (!isMissing(error)) throw error; // deleted while listing: skip
        }
      }
    }
  }

  /** Absolute path for `key`; throws for keys that are invalid or would leave the root. */
  private pathOf(key: string): string {
    const path = join(this.root, ...keySegments(key));
    const rel = relative(this.root, path);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new Error(`Invalid key '${key}': it leaves the destination folder (${this.destination.url})`);
    }
    return path;
  }

  private describe(key: string): string {
    return `${join(this.root, ...key.split('/'))} (destination ${this.destination.url}, key '${key}')`;
  }
}

/**
 * Creates the parent folders, writes through `write` into `.<name>.<random>.partial` beside
 * `target`, links it to `target` (an exclusive create: EEXIST when `target` exists, see
 * {@link isTaken}), unlinks the temporary name and fsyncs the folder. The temporary file is removed
 * on failure.
 */
async function writeAtomically(target: string, write: (handle: FileHandle) => Promise<number>): Promise<number> {
  const folder = dirname(target);
  await mkdir(folder, { recursive: true });
  const name = target.slice(folder.length + 1);
  const temp = join(folder, `.${name}.${randomBytes(6).toString('hex')}${PARTIAL_SUFFIX}`);
  const handle = await open(temp, 'wx', 0o644);
  let closed = false;
  try {
    const result = await write(handle);
    await handle.close();
    closed = true;
    await linkExclusively(temp, target);
    await unlink(temp);
    await syncFolder(folder);
    return result;
  } catch (error) {
    if (!closed) await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/**
 * Gives `temp`'s file the name `target` unless `target` exists (then EEXIST). link(2) where the file
 * system has hard links; else (FAT, some network shares: EPERM/ENOTSUP/ENOSYS) a copy opened with
 * O_EXCL (COPYFILE_EXCL), as exclusive but visible under `target` while it is copied.
 */
async function linkExclusively(temp: string, target: string): Promise<void> {
  try {
    await link(temp, target);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw error;
    await copyFile(temp, target, fsConstants.COPYFILE_EXCL);
  }
}

/** True for the error of an exclusive create whose name exists: another run wrote it first. */
function isTaken(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'EEXIST';
}

function takenMessage(where: string): string {
  return `Writing ${where} was refused: a file already exists under that name (another run wrote it first). Nothing was overwritten.`;
}

async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, fsConstants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) and file systems cannot fsync a folder; the data itself is synced.
    const code = (error as { code?: string }).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EBADF')
      throw error;
  } finally {
    await handle?.close();
  }
}

async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await handle.write(data, offset, data.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Writes into an open file with back-pressure, counts bytes and fsyncs before finishing. */
class FileSink extends Writable {
  bytes = 0;

  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    writeAll(this.handle, chunk).then(() => {
      this.bytes += chunk.byteLength;
      releaseChunk(chunk);
      callback();
    }, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const data = Buffer.concat(chunks.map(({ chunk }) => chunk));
    // Copied: the pooled chunks can be reused (releasing the merged copy below is a no-op).
    for (const { chunk } of chunks) releaseChunk(chunk);
    this._write(data, 'binary', callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.handle.sync().then(() => callback(), callback);
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
