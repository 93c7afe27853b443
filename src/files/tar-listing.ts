/**
 * A tar archive read for its listing only: each 512-byte header decoded with node-tar's `Header`
 * (numbers in octal or base-256, the ustar prefix), pax (`x`, `g`) and GNU long-name (`L`, `K`)
 * records applied to the next entry as node-tar's parser applies them, and each regular file's
 * bytes hashed (SHA-256) straight from the chunks written in — no entry streams, no copies.
 *
 * Why not node-tar's `Parser`: it hands every file's bytes out through a stream of its own;
 * on 1 GiB in 10,000 files that cost more than the hashing itself (docs/benchmarks.md "Files
 * archive"). Layout: POSIX.1-2017 pax, "ustar Interchange Format"; GNU tar manual, "Basic Tar
 * Format" (`L`/`K`).
 */
import { createHash, type Hash } from 'node:crypto';
import { Header, Pax, type HeaderData } from 'tar';

import { FilesArchiveError } from './errors.js';
import type { FileEntryType } from './select.js';

const BLOCK = 512;

/** One entry of the archive as the listing sees it (hard links already resolved to their target). */
export interface TarListingEntry {
  type: FileEntryType;
  /** As stored in the archive (not normalized). */
  path: string;
  size: number;
  /** SHA-256 (hex) of a file's bytes; a link's target; `''` for a folder. */
  detail: string;
}

/** Where an entry's body goes as it is read. */
type Body =
  | { kind: 'file'; path: string; size: number; hash: Hash }
  | { kind: 'meta'; type: string; parts: Buffer[] }
  | { kind: 'skip' };

/**
 * Push parser: {@link write} the archive's bytes in any chunking, then {@link end}. `onEntry` is
 * called once per file (after its last byte), folder, symbolic link and hard link, in archive order;
 * a hard link gets its path and the target's path in `linkTarget`.
 */
export class TarListingReader {
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Body bytes left, then padding bytes left, of the current entry. */
  private bodyLeft = 0;
  private padLeft = 0;
  private body: Body = { kind: 'skip' };
  private extended: HeaderData | undefined;
  private global: HeaderData | undefined;
  private ended = false;

  constructor(private readonly onEntry: (entry: TarListingEntry, linkTarget?: string) => void) {}

  /**
   * Takes the next bytes of the archive.
   * @throws FilesArchiveError on a header whose checksum is wrong (not a tar, or damaged).
   */
  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - at);
        this.feedBody(chunk.subarray(at, at + take));
        this.bodyLeft -= take;
        at += take;
        if (this.bodyLeft === 0) this.finishBody();
      } else if (this.padLeft > 0) {
        const take = Math.min(this.padLeft, chunk.length - at);
        this.padLeft -= take;
        at += take;
      } else {
        const take = Math.min(BLOCK - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.readHeader();
        }
      }
    }
  }

  /**
   * The archive is complete.
   * @throws FilesArchiveError when it ends inside an entry.
   */
  end(): void {
    if (this.bodyLeft > 0 || this.headerFill > 0)
      throw new FilesArchiveError('the files archive ends in the middle of an entry (truncated)');
  }

  private readHeader(): void {
    const block = this.header;
    if (block.every((b) => b === 0)) return; // end-of-archive or record padding
    const header = new Header(block, 0, this.extended, this.global);
    if (!header.cksumValid)
      throw new FilesArchiveError('the files archive cannot be read as tar: a header has a wrong checksum');
    const size = header.size ?? 0;
    const type = header.typeKey;
    this.bodyLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K' || type === 'X') {
      this.body = { kind: 'meta', type, parts: [] };
      if (size === 0) this.finishBody();
      return;
    }
    // A pax or GNU record describes the one entry that follows it, and wins over the ustar name and
    // prefix fields (which a writer may fill with a truncated form), as node-tar's ReadEntry applies it.
    const path = this.extended?.path ?? header.path ?? '';
    const linkpath = this.extended?.linkpath ?? header.linkpath ?? '';
    this.extended = undefined;
    this.body = { kind: 'skip' };
    switch (type) {
      case '0':
      case '7':
        this.body = { kind: 'file', path, size, hash: createHash('sha256') };
        if (size === 0) this.finishBody();
        return;
      case '5':
        this.onEntry({ type: 'dir', path, size: 0, detail: '' });
        return;
      case '2':
        this.onEntry({ type: 'symlink', path, size: 0, detail: linkpath });
        return;
      case '1':
        this.onEntry({ type: 'file', path, size: 0, detail: '' }, linkpath);
        return;
      default:
        return; // devices, fifos, GNU dump folders: bodies skipped, never part of the listing
    }
  }

  private feedBody(bytes: Buffer): void {
    if (this.body.kind === 'file') this.body.hash.update(bytes);
    else if (this.body.kind === 'meta') this.body.parts.push(Buffer.from(bytes));
  }

  private finishBody(): void {
    const body = this.body;
    this.body = { kind: 'skip' };
    if (body.kind === 'file') {
      this.onEntry({ type: 'file', path: body.path, size: body.size, detail: body.hash.digest('hex') });
      return;
    }
    if (body.kind !== 'meta') return;
    const text = Buffer.concat(body.parts).toString('utf8');
    if (body.type === 'L') this.extended = { ...this.extended, path: text.replace(/\0.*/s, '') };
    else if (body.type === 'K') this.extended = { ...this.extended, linkpath: text.replace(/\0.*/s, '') };
    else if (body.type === 'g') this.global = Pax.parse(text, this.global, true);
    else this.extended = Pax.parse(text, this.extended, false);
  }
}
