/**
 * Streams a Readable into one S3 object through a fixed pool of part buffers.
 *
 * Why not `@aws-sdk/lib-storage`: it concatenates every part into a freshly allocated buffer, so an
 * upload allocates the archive's size once more as garbage, which V8 frees only at a full
 * collection (it lets tens of MB of such external memory pile up first): with it an S3 backup of
 * 1 GB peaked at 157 MB (Node 20), with this pool at 125 MB (docs/benchmarks.md, "History"). It
 * also aborts the multipart upload while other parts may still be uploading. Here the stream is copied
 * into at most `queueSize + 1` buffers of `partSize` bytes, allocated once and reused, so memory is
 * `partSize × (queueSize + 1)` whatever the archive's size, and nothing is aborted or completed
 * before every request sent has been answered. Signing, retries (the client's retry strategy) and
 * checksums stay the SDK's.
 *
 * Protocol (AWS S3 user guide, "Uploading and copying objects using multipart upload"): an archive
 * that fits one part is a single PutObject; else CreateMultipartUpload, UploadPart 1…n (every part
 * `partSize` bytes but the last), CompleteMultipartUpload with the parts' ETags (and CRC32s when
 * the client sends flexible checksums, as lib-storage does: `ChecksumAlgorithm: CRC32` on create).
 * PutObject and CompleteMultipartUpload carry `If-None-Match: *` (AWS S3 user guide, "Add
 * preconditions to S3 operations with conditional requests"): a store that honours it answers 412
 * PreconditionFailed (or 409 ConditionalRequestConflict) instead of replacing an existing object;
 * a store that does not implement the header gets the write again without it.
 */
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  ChecksumAlgorithm,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';

import { releaseChunk } from '../pipeline/pooled-pipe.js';
import { MAX_PARTS } from './part-size.js';
import type { ObjectWriteParams } from './s3-params.js';

/** Clients whose store answered `If-None-Match` with "not implemented": their writes go without it. */
const conditionRefused = new WeakSet<object>();

/**
 * True when a store refused a write because it does not implement `If-None-Match` (501
 * NotImplemented, or 400 naming the header), rather than because the condition failed: the write
 * is then sent again without it, and the claims (claim.ts) alone keep runs apart, as on a store
 * that ignores the header. A checksum header refused with 501 is not this.
 */
export function isConditionUnsupported(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const code = (error as { Code?: string; name?: string } | null)?.Code ?? (error as { name?: string } | null)?.name;
  const message = error instanceof Error ? error.message : String(error);
  if (/checksum/i.test(message)) return false;
  return status === 501 || code === 'NotImplemented' || (status === 400 && /if-none-match/i.test(message));
}

/**
 * Sends the write `make(condition)` with `If-None-Match: *`, or without it when the client's store
 * does not implement it (see {@link isConditionUnsupported}; remembered per client).
 */
export async function sendConditionalWrite<Output>(
  client: object,
  make: (condition: { IfNoneMatch?: string }) => object,
  send: (command: object, retryable?: (error: unknown) => boolean) => Promise<Output>,
): Promise<Output> {
  if (!conditionRefused.has(client)) {
    try {
      return await send(make({ IfNoneMatch: '*' }), isConditionUnsupported);
    } catch (error) {
      if (!isConditionUnsupported(error)) throw error;
      conditionRefused.add(client);
    }
  }
  return send(make({}));
}

/** Ends the body's pipeline once the upload has failed (the failure itself is in {@link PooledUpload.failure}). */
const STOPPED = new Error('upload stopped');

export type FailureKind = 'aborted' | 'body' | 's3' | 'other';
export interface Failure {
  kind: FailureKind;
  cause: unknown;
}

export interface MultipartTarget {
  Bucket: string;
  Key: string;
  /** Headers of the object (content type, storage class, SSE), sent with PutObject or CreateMultipartUpload. */
  params: ObjectWriteParams;
  /** Bytes per part (all parts but the last); 5 MiB … 5 GiB (see part-size.ts). */
  partSize: number;
  /** Parts uploaded at the same time, ≥ 1. */
  queueSize: number;
}

/**
 * One streamed upload. {@link PooledUpload.run} resolves once the object exists; on any failure it
 * rejects, and the state (`uploadId`, `completed`) tells the caller what to clean up: abort the
 * multipart upload, or delete an object that was completed before the failure was noticed.
 */
export class PooledUpload {
  /** Id of the multipart upload, once CreateMultipartUpload answered. */
  uploadId: string | undefined;
  /** Bytes the store accepted. */
  bytes = 0;
  /** Parts the store accepted (1 for a single PutObject). */
  parts = 0;
  /** A PutObject or CompleteMultipartUpload succeeded: an object exists under the key. */
  completed = false;
  /** ETag answered by that PutObject or CompleteMultipartUpload (quotes stripped). */
  etag: string | undefined;
  /** The first failure; later failures change nothing. */
  failure: Failure | undefined;

  /** Most UploadPart requests that were in flight at once (≤ `queueSize`). */
  peakPartsInFlight = 0;

  private partsInFlight = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private created: Promise<void> | undefined;
  /** Read from the client's `requestChecksumCalculation` when the upload starts. */
  private checksumsSupported = false;
  private readonly done: CompletedPart[] = [];

  constructor(
    private readonly client: S3Client,
    private readonly target: MultipartTarget,
    /** Called once, on the first failure (e.g. to stop the producer). */
    private readonly onFail: () => void,
  ) {}

  /** Part buffers allocated so far (≤ `queueSize + 1`); memory is this × `partSize` bytes. */
  get buffers(): number {
    return this.allocated;
  }

  /** Records the first failure and stops everything; later calls change nothing. */
  fail(kind: FailureKind, cause: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = { kind, cause };
    this.onFail();
  }

  /** Resolves once no request of this upload is in flight. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Reads `body` to its end and stores it under the key.
   * @throws the failure's cause (an S3 error, the body's error, …); see {@link PooledUpload.failure}.
   */
  async run(body: Readable): Promise<void> {
    const { partSize } = this.target;
    const setting = (this.client.config as { requestChecksumCalculation?: () => Promise<string> })
      .requestChecksumCalculation;
    this.checksumsSupported = typeof setting === 'function' && (await setting()) === 'WHEN_SUPPORTED';
    let current: Buffer | undefined;
    let filled = 0;
    let partNumber = 0;
    const take = async (chunk: Buffer): Promise<void> => {
      let offset = 0;
      while (offset < chunk.length && this.failure === undefined) {
        current ??= this.takeBuffer();
        const copied = chunk.copy(current, filled, offset, Math.min(chunk.length, offset + partSize - filled));
        filled += copied;
        offset += copied;
        if (filled === partSize) {
          await this.partSlot();
          if (this.failure !== undefined) break;
          this.startPart(++partNumber, current, filled);
          current = undefined;
          filled = 0;
        }
      }
    };
    // A Writable gets each chunk as the producer pushed it (a Readable's async iterator merges
    // buffered chunks into a new buffer), so a pooled chunk can be released once it is copied.
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        take(chunk).then(() => {
          releaseChunk(chunk);
          callback(this.failure === undefined ? null : STOPPED);
        }, callback);
      },
    });
    try {
      await pipeline(body, sink);
    } catch (error) {
      if (error !== STOPPED) this.fail('body', error);
    }
    if (this.failure === undefined) {
      if (partNumber === 0) {
        const whole = (current ?? Buffer.alloc(0)).subarray(0, filled);
        await this.sendWrite(
          (condition) => new PutObjectCommand({ ...this.base(), Body: whole, ContentLength: filled, ...condition }),
        ).catch(() => undefined);
      } else {
        if (filled > 0 && current) {
          await this.partSlot();
          if (this.failure === undefined) this.startPart(++partNumber, current, filled);
        }
        await this.settle();
        if (this.failure === undefined) {
          this.done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
          await this.sendWrite(
            (condition) =>
              new CompleteMultipartUploadCommand({
                Bucket: this.target.Bucket,
                Key: this.target.Key,
                UploadId: this.uploadId,
                MultipartUpload: { Parts: this.done },
                ...condition,
              }),
          ).catch(() => undefined); // recorded by send()
        }
      }
    }
    await this.settle();
    if (this.failure !== undefined) throw this.failure.cause;
  }

  /** Resolves once fewer than `queueSize` parts are in flight (or the upload failed). */
  private async partSlot(): Promise<void> {
    while (this.failure === undefined && this.partsInFlight >= this.target.queueSize) await Promise.race(this.inFlight);
  }

  /**
   * A free part buffer, reused or new. Parts start only when fewer than `queueSize` are in flight
   * ({@link partSlot}), and each holds its buffer until answered, so at most `queueSize + 1` exist.
   */
  private takeBuffer(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    this.allocated += 1;
    return Buffer.allocUnsafeSlow(this.target.partSize);
  }

  /** Sends part `partNumber` (the first `length` bytes of `buffer`); the buffer returns to the pool once answered. */
  private startPart(partNumber: number, buffer: Buffer, length: number): void {
    if (partNumber > MAX_PARTS) {
      this.fail(
        'other',
        new Error(
          `the archive needs more than ${MAX_PARTS} parts of ${this.target.partSize} bytes (S3's limit); it is far larger than the database size estimate`,
        ),
      );
      return;
    }
    // With flexible checksums on (`WHEN_SUPPORTED`) the SDK adds a CRC32 to each part: the upload must be created for it.
    const checksum = this.checksumsSupported ? { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 } : {};
    this.created ??= this.send(new CreateMultipartUploadCommand({ ...this.base(), ...checksum })).then(() => undefined);
    this.partsInFlight += 1;
    this.peakPartsInFlight = Math.max(this.peakPartsInFlight, this.partsInFlight);
    const part = this.created
      .then(() =>
        this.failure === undefined
          ? this.send<UploadPartCommandOutput>(
              this.noRetryAfterFailure(
                new UploadPartCommand({
                  Bucket: this.target.Bucket,
                  Key: this.target.Key,
                  UploadId: this.uploadId,
                  PartNumber: partNumber,
                  Body: buffer.subarray(0, length),
                  ContentLength: length,
                }),
              ),
            )
          : undefined,
      )
      .then(
        (output) => {
          if (output === undefined) return;
          if (!output.ETag) {
            this.fail('s3', new Error(`UploadPart ${partNumber} was answered without an ETag`));
            return;
          }
          // The part's checksum, when the SDK sent one, goes into CompleteMultipartUpload (unset fields are not serialized).
          const { ETag, ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256 } = output;
          this.done.push({
            PartNumber: partNumber,
            ETag,
            ChecksumCRC32,
            ChecksumCRC32C,
            ChecksumCRC64NVME,
            ChecksumSHA1,
            ChecksumSHA256,
          });
        },
        () => undefined, // recorded by send()
      )
      .finally(() => {
        this.partsInFlight -= 1;
        this.free.push(buffer);
      });
    this.track(part);
  }

  /**
   * Once the upload has failed, the SDK does not try this part again: a try already sent is
   * answered as before (not cancelled), but a stalled part does not add its remaining tries
   * (up to 4 × s3-timeout) to the failure's bound. A step inside the SDK's retry loop
   * (`finalizeRequest`, below `retryMiddleware`) runs before each try.
   */
  private noRetryAfterFailure(command: UploadPartCommand): UploadPartCommand {
    command.middlewareStack.add(
      (next) => async (args) => {
        if (this.failure !== undefined) throw new Error('upload stopped after an earlier failure');
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'noRetryAfterUploadFailure' },
    );
    return command;
  }

  private base(): { Bucket: string; Key: string } & ObjectWriteParams {
    return { Bucket: this.target.Bucket, Key: this.target.Key, ...this.target.params };
  }

  /** {@link sendConditionalWrite} through {@link send}. */
  private sendWrite(make: (condition: { IfNoneMatch?: string }) => object): Promise<unknown> {
    return sendConditionalWrite(this.client, make, (command, retryable) =>
      this.send(command as { input: unknown }, retryable),
    );
  }

  /**
   * Sends a request unless the upload already failed; records its effect, or the failure (unless
   * `retryable` says the caller sends it again).
   */
  private send<Output>(command: { input: unknown } & object, retryable?: (error: unknown) => boolean): Promise<Output> {
    if (this.failure !== undefined)
      return Promise.reject(new Error('upload stopped after an earlier failure', { cause: this.failure.cause }));
    // Requests are not cancelled mid-flight: the store may act on a request whose answer we
    // dropped, so every answer is awaited before the upload is aborted or the object removed.
    const request = (this.client.send as (c: unknown) => Promise<Output>).call(this.client, command).then(
      (output) => {
        if (command instanceof CreateMultipartUploadCommand) {
          this.uploadId = (output as { UploadId?: string }).UploadId;
          if (!this.uploadId) this.fail('s3', new Error('CreateMultipartUpload was answered without an UploadId'));
        } else if (command instanceof UploadPartCommand) {
          this.parts += 1;
          this.bytes += command.input.ContentLength ?? 0;
        } else if (command instanceof PutObjectCommand) {
          this.parts = 1;
          this.bytes = command.input.ContentLength ?? 0;
          this.completed = true;
          this.etag = (output as { ETag?: string }).ETag?.replace(/^"(.*)"$/, '$1');
        } else if (command instanceof CompleteMultipartUploadCommand) {
          this.completed = true;
          this.etag = (output as { ETag?: string }).ETag?.replace(/^"(.*)"$/, '$1');
        }
        return output;
      },
      (error: unknown) => {
        if (!retryable?.(error)) this.fail('s3', error);
        throw error;
      },
    );
    this.track(request);
    return request;
  }

  private track(request: Promise<unknown>): void {
    const settled = request.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }
}
