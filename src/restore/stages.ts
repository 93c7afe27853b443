/**
 * Stream stages of the restore that keep a corrupt or cut archive from being restored
 * "successfully": {@link DigestGate} (hash and size checked while streaming, the last chunk held
 * back until they match), {@link ChildSink} (a failed stream kills the tool before its stdin
 * closes), {@link stopStage}, and {@link verifyStored} (hash the stored object once more).
 */
import { createHash } from 'node:crypto';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import type { ChildStage } from '../pipeline/process.js';
import { STREAM_HIGH_WATER_MARK, type Measurement } from '../pipeline/stages.js';
import { hashObject } from '../storage/read.js';
import type { ObjectStore } from '../storage/types.js';
import { CorruptArchiveError } from './errors.js';

/** SHA-256 and size the manifest records for the stored archive (what {@link Meter} measured). */
export type Expected = Measurement;

/**
 * Pass-through stage that hashes and counts the stored bytes and holds back the last chunk until
 * the stream has ended and the digest matched. On a mismatch (or as soon as more bytes than
 * expected arrive) `onMismatch` runs first (to kill the restoring process), then the stream fails
 * with a {@link CorruptArchiveError}.
 */
export class DigestGate extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;
  private held: Buffer | undefined;
  /** 'pending' until the end of the stream; then 'ok' or 'mismatch'. */
  verdict: 'pending' | 'ok' | 'mismatch' = 'pending';
  error: CorruptArchiveError | undefined;
  actual: { bytes: number; sha256: string } | undefined;

  constructor(
    private readonly expected: Expected,
    private readonly key: string,
    private readonly where: string,
    private readonly onMismatch: () => void,
  ) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    if (this.count > this.expected.bytes) {
      callback(this.fail({ bytes: this.count }));
      return;
    }
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.hash.digest('hex');
    this.actual = { bytes: this.count, sha256 };
    if (sha256 !== this.expected.sha256 || this.count !== this.expected.bytes) {
      callback(this.fail(this.actual));
      return;
    }
    this.verdict = 'ok';
    callback(null, this.held);
  }

  /** Bytes read so far (for progress lines). */
  get bytes(): number {
    return this.count;
  }

  private fail(actual: { bytes: number; sha256?: string }): CorruptArchiveError {
    this.verdict = 'mismatch';
    this.error = new CorruptArchiveError(this.key, this.where, this.expected, actual);
    this.held = undefined;
    this.onMismatch();
    return this.error;
  }
}

/**
 * Sink that writes into a child's stdin with back-pressure. When the stream fails it kills the
 * child BEFORE closing its stdin, so the child never reads a clean end of a truncated input.
 */
export class ChildSink extends Writable {
  /**
   * @param first on failure, called before the child is killed: when the child writes straight into
   *   another (zstd -d → pg_restore), that one must be stopped first, or it would read the end of
   *   its input as a clean end.
   */
  constructor(
    private readonly child: ChildStage,
    private readonly first?: () => void,
  ) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
    if (!child.stdin) throw new Error(`${child.name} has no stdin`);
    // Errors are reported through write callbacks; avoid an unhandled 'error' event (EPIPE).
    child.stdin.on('error', () => undefined);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const stdin = this.child.stdin as Writable;
    if (stdin.destroyed) {
      callback(new Error(`${this.child.name} closed its input`));
      return;
    }
    let settled = false;
    const done = (error?: Error | null): void => {
      if (settled) return;
      settled = true;
      stdin.off('close', onClose);
      callback(error);
    };
    const onClose = (): void => done(new Error(`${this.child.name} closed its input`));
    stdin.once('close', onClose);
    stdin.write(chunk, (error) => done(error ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    (this.child.stdin as Writable).end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) {
      this.first?.();
      this.child.kill();
      (this.child.stdin as Writable).destroy();
    }
    callback(error);
  }
}

/**
 * Kills a stage and destroys its pipes: a child's `close` (and so its `done`) waits for its stdout
 * to reach EOF, which never happens when a torn-down pipeline left that stream paused.
 */
export function stopStage(child: ChildStage): void {
  child.kill();
  child.stdin?.destroy();
  child.stdout?.destroy();
}

/**
 * Streams the stored object once more and compares it with `expected`: 'ok', a
 * {@link CorruptArchiveError}, or the read error (the object could not be read again).
 */
export async function verifyStored(
  store: ObjectStore,
  key: string,
  expected: Expected,
  where: string,
): Promise<'ok' | CorruptArchiveError | Error> {
  try {
    const { bytes, sha256 } = await hashObject(store, key);
    if (sha256 !== expected.sha256 || bytes !== expected.bytes)
      return new CorruptArchiveError(key, where, expected, { bytes, sha256 });
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
