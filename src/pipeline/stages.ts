import { createHash } from 'node:crypto';
import { PassThrough, Transform, Writable, type TransformCallback } from 'node:stream';

import { retainChunk } from './pooled-pipe.js';

/** Chunk size the in-process stages buffer (bytes); large chunks keep per-chunk overhead low. */
export const STREAM_HIGH_WATER_MARK = 1024 * 1024;

/** What {@link Meter} measured once its stream has ended. */
export interface Measurement {
  /** Bytes that passed through. */
  bytes: number;
  /** Lower-case hex SHA-256 of those bytes. */
  sha256: string;
}

/** Pass-through stage that hashes (SHA-256) and counts the bytes of the archive as they stream. */
export class Meter extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;
  private digest: string | undefined;

  constructor() {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    callback();
  }

  /** Bytes that went through so far. */
  get bytes(): number {
    return this.count;
  }

  /** The measurement; throws if the stream has not ended. */
  result(): Measurement {
    if (this.digest === undefined) throw new Error('Meter.result() called before the stream ended');
    return { bytes: this.count, sha256: this.digest };
  }
}

/**
 * Pass-through stage that holds back the end of the stream until every `checks` promise has
 * resolved (e.g. pg_dump and the compressor exited 0). If one rejects, the stream errors instead of
 * ending, so the upload behind it aborts rather than completing an object from a failed dump
 * ("exit status lost in a pipe" is how peers reported failed dumps as good backups).
 */
export class ExitGate extends Transform {
  constructor(private readonly checks: () => Promise<unknown>[]) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    Promise.all(this.checks()).then(
      () => callback(),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

/** The error a {@link Fanout} fails with when no output is left: the stores' errors are the cause. */
export class AllOutputsFailedError extends Error {
  constructor() {
    super('every destination failed');
    this.name = 'AllOutputsFailedError';
  }
}

/**
 * Sink that copies every chunk to several outputs (one per destination) with back-pressure: a
 * chunk is taken only when every live output has accepted the previous one. An output that fails
 * (its consumer destroyed it) is dropped and the others go on; when none is left the sink errors.
 * When the sink is destroyed with an error, every output is destroyed with it, so each upload
 * aborts; when the sink finishes, every output is ended.
 */
export class Fanout extends Writable {
  readonly outputs: PassThrough[];

  constructor(count: number) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
    this.outputs = Array.from({ length: count }, () => new PassThrough({ highWaterMark: STREAM_HIGH_WATER_MARK }));
    // A failed output is destroyed (and so no longer live); its error is its consumer's to report.
    for (const output of this.outputs) output.on('error', () => undefined);
  }

  private live(): PassThrough[] {
    return this.outputs.filter((o) => !o.destroyed);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const live = this.live();
    if (live.length === 0) {
      callback(new AllOutputsFailedError());
      return;
    }
    // Each live output is one more holder of a pooled chunk (it releases it once consumed).
    retainChunk(chunk, live.length - 1);
    let waiting = 0;
    let settled = false;
    const release = (): void => {
      waiting -= 1;
      if (waiting === 0 && !settled) {
        settled = true;
        callback();
      }
    };
    for (const output of live) {
      if (!output.write(chunk)) {
        waiting += 1;
        const onDrain = (): void => {
          output.off('close', onDrain);
          output.off('drain', onDrain);
          release();
        };
        output.once('drain', onDrain);
        output.once('close', onDrain);
      }
    }
    if (waiting === 0) {
      settled = true;
      callback();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    for (const output of this.live()) output.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) for (const output of this.outputs) if (!output.destroyed) output.destroy(error);
    callback(error);
  }
}
