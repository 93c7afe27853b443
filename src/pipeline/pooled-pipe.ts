/**
 * A child's stdout read into reused buffers.
 *
 * Node reads a child's stdout pipe into a new 64 KiB buffer for every read, and V8 frees such
 * external memory only after tens of MB of it have piled up: a 114 MB archive read that way made
 * 50–60 MB of garbage, most of the gap between the backup's live set (~105 MB) and its peak RSS
 * (docs/benchmarks.md). Here the child writes into one end of a Unix-domain socket pair and this
 * process reads the other end with `net.Socket`'s `onread` option (Node docs, net, "socket.connect
 * (options)": the data goes into buffers we hand out), taking them from a small pool. A chunk goes
 * back to the pool when every consumer that was handed it has called {@link releaseChunk}:
 * the S3 part writer once it has copied the bytes into a part buffer, the local-folder writer
 * once they are written. A chunk nobody releases (an encryption or compression stage consumed
 * it, an output failed) is simply left to the garbage collector, so a missing release costs
 * memory, never data; only releasing a chunk that is still in use would be wrong.
 *
 * The socket lives in a fresh 0700 directory (only this user can connect) and is unlinked as soon
 * as the one expected connection is accepted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import type { ChildStage } from './process.js';

/** Size of each read buffer (bytes): a Unix socket read returns at most what its ~200 KiB send buffer holds. */
export const POOLED_READ_BYTES = 256 * 1024;
/** Most idle buffers kept for reuse; beyond that a released buffer is left to the garbage collector. */
const MAX_IDLE_BUFFERS = 64;
/** Longest socket path every platform accepts (sun_path is 104 bytes on macOS, 108 on Linux). */
const MAX_SOCKET_PATH = 100;

interface Lease {
  holders: number;
  buffer: Buffer;
  pool: Buffer[];
}

/** Chunks handed out by pooled pipes, keyed by the exact Buffer object (a slice or copy is never found). */
const leases = new WeakMap<Buffer, Lease>();

/**
 * Records that `extra` more consumers hold `chunk` (a fan-out writing it to n outputs adds n − 1).
 * A no-op for chunks that do not come from a pooled pipe.
 */
export function retainChunk(chunk: Buffer, extra: number): void {
  const lease = leases.get(chunk);
  if (lease && extra > 0) lease.holders += extra;
}

/**
 * Tells a pooled pipe that one consumer is done with `chunk`: it copied or wrote the bytes and
 * keeps no reference to them. When the last holder releases it, its memory is reused for a later
 * read, so call this at most once per chunk received, and only when done. A no-op for chunks that
 * do not come from a pooled pipe.
 */
export function releaseChunk(chunk: Buffer): void {
  const lease = leases.get(chunk);
  if (!lease) return;
  lease.holders -= 1;
  if (lease.holders > 0) return;
  leases.delete(chunk);
  if (lease.pool.length < MAX_IDLE_BUFFERS) lease.pool.push(lease.buffer);
}

/** The two ends of a pooled pipe. */
export interface PooledPipe {
  /** Give this to the child as its stdout (`spawnStage`'s `stdout` option closes Node's copy once the child started). */
  readonly childEnd: net.Socket;
  /** What the child writes, in chunks of at most {@link POOLED_READ_BYTES}; ends when the child closed its stdout. */
  readonly output: Readable;
  /** Read buffers allocated so far (each {@link POOLED_READ_BYTES}). */
  readonly buffersAllocated: () => number;
  /** Names the child writing into `childEnd`: destroying `output` before the end stops it (see {@link PooledOutput}). */
  writtenBy(child: ChildStage): void;
}

/**
 * Opens a pooled pipe: a Unix socket pair in a private directory under `dir` (or the OS temporary
 * directory when that path would be too long), whose socket file is removed before this resolves.
 * Destroying `output` before the end stops the child named with `writtenBy` (SIGTERM), then closes
 * the reading end.
 * @throws the socket errors (EACCES, ENOSPC, …) if the pair cannot be made.
 */
export async function openPooledPipe(dir: string): Promise<PooledPipe> {
  const base = join(dir, 'pg-backup-XXXXXX', 'out.sock').length <= MAX_SOCKET_PATH ? dir : tmpdir();
  const socketDir = await mkdtemp(join(base, 'pg-backup-'));
  const path = join(socketDir, 'out.sock');
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    const pool: Buffer[] = [];
    let allocated = 0;
    const take = (): Buffer => {
      const reused = pool.pop();
      if (reused) return reused;
      allocated += 1;
      return Buffer.allocUnsafeSlow(POOLED_READ_BYTES);
    };
    const accepted = new Promise<net.Socket>((resolve, reject) => {
      server.once('connection', resolve);
      server.once('error', reject);
    });
    const reader = net.connect({
      path,
      onread: {
        buffer: take,
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          const chunk = (buffer as Buffer).subarray(0, bytes);
          leases.set(chunk, { holders: 1, buffer: buffer as Buffer, pool });
          // false stops reading until the consumer asks for more (Readable._read).
          return output.push(chunk);
        },
      },
    });
    const output = new PooledOutput(reader);
    let childEnd: net.Socket;
    try {
      childEnd = await Promise.race([accepted, new Promise<never>((_, reject) => reader.once('error', reject))]);
    } catch (error) {
      output.destroy();
      throw error;
    }
    return {
      childEnd,
      output,
      buffersAllocated: () => allocated,
      writtenBy: (child) => {
        output.writer = child;
      },
    };
  } finally {
    server.close();
    await rm(socketDir, { recursive: true, force: true });
  }
}

/**
 * The reading end as a Readable; back-pressure pauses the socket (onread returning false).
 *
 * Closing a Unix socket that still has unread bytes makes the writer's next write fail with
 * ECONNRESET (exit 1), where a closed pipe gives SIGPIPE, which callers know as "its reader went
 * away" ({@link killedByUs}). So when destroyed before the end, this stops reading, stops the
 * writer (SIGTERM) and closes the socket only once the writer has exited.
 */
class PooledOutput extends Readable {
  writer: ChildStage | undefined;
  private eof = false;

  constructor(private readonly socket: net.Socket) {
    super({ highWaterMark: 4 * POOLED_READ_BYTES });
    socket.on('end', () => {
      this.eof = true;
      this.push(null);
    });
    socket.on('error', (error) => this.destroy(error));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const writer = this.writer;
    if (this.eof || !writer) {
      this.socket.destroy();
    } else {
      this.socket.pause();
      writer.kill();
      void writer.done.catch(() => undefined).finally(() => this.socket.destroy());
    }
    callback(error);
  }
}
