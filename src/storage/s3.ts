/**
 * {@link ObjectStore} over S3 and S3-compatible stores (R2, B2, MinIO, …) with AWS SDK v3.
 *
 * Uploads stream through {@link PooledUpload} (multipart with a fixed pool of part buffers, see
 * multipart.ts): no new request starts once the upload failed or was aborted, and the multipart
 * upload is aborted (or a completed object deleted) only once every request sent has been answered.
 *
 * Requests already sent are not cancelled but awaited: a part whose request the client cancels
 * may still be stored by the server after the abort (S3 documents that aborting may have to be
 * repeated for parts in progress; s3rver even re-creates the upload's folder). Waiting costs at
 * most the transfer of `queueSize` parts.
 *
 * The SDK client comes from s3-client.ts (settings, timeouts, stall watchdog); what a failed
 * request means and how to fix it, from s3-errors.ts.
 */
import { Readable } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import { ConfigError, UploadError, errorMessage } from '../errors.js';
import { PooledUpload, sendConditionalWrite, type Failure } from './multipart.js';
import { multipartPlan } from './part-size.js';
import { createS3Client } from './s3-client.js';
import {
  credentialHint,
  describeS3Error,
  errorCode,
  isBatchDeleteRefusal,
  isConditionRefusal,
  isCredentialRefusal,
  isNotFound,
  refusedMessage,
  s3ErrorHint,
} from './s3-errors.js';
import { objectWriteParams } from './s3-params.js';
import {
  WRITTEN_BY_METADATA,
  type ObjectInfo,
  type ObjectStore,
  type PutResult,
  type S3Destination,
  type S3Settings,
  type UploadOptions,
  type UploadResult,
} from './types.js';

export {
  createS3Client,
  s3ClientConfig,
  s3TimeoutMs,
  stalledRequestBoundMs,
  S3_CONNECTION_TIMEOUT_MS,
  S3_MAX_ATTEMPTS,
  S3_MAX_BACKOFF_MS,
  S3_SOCKET_TIMEOUT_MS,
} from './s3-client.js';
export { describeS3Error, errorCode, isConditionRefusal, s3ErrorHint } from './s3-errors.js';

/** DeleteObjects accepts at most this many keys per request. */
export const DELETE_BATCH_SIZE = 1000;
/** Concurrent DeleteObject calls when falling back from DeleteObjects. */
const SINGLE_DELETE_CONCURRENCY = 8;

export interface S3ObjectStoreOptions {
  /** A client to use instead of one built from the settings (it is not destroyed by {@link S3ObjectStore.close}). */
  client?: S3Client;
}

export class S3ObjectStore implements ObjectStore {
  readonly destination: S3Destination;
  private readonly settings: S3Settings;
  private readonly client: S3Client;
  private readonly ownsClient: boolean;
  /** Set once DeleteObjects was refused by the store: later deletes go key by key. */
  private batchDeleteRefused = false;

  constructor(destination: S3Destination, settings: S3Settings, options: S3ObjectStoreOptions = {}) {
    this.destination = destination;
    this.settings = settings;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? createS3Client(settings);
  }

  /** Closes the client's connections (when the store created the client). */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** True once the store refused DeleteObjects and deletes fell back to single DeleteObject calls. */
  get usesSingleDeletes(): boolean {
    return this.batchDeleteRefused;
  }

  async upload(key: string, body: Readable, options: UploadOptions = {}): Promise<UploadResult> {
    const where = this.location(key);
    const signal = options.signal;
    if (signal?.aborted) {
      body.destroy();
      throw new UploadError(
        `Upload to ${where} was aborted before it started (${abortReason(signal)}); nothing was written.`,
        {
          cause: signal.reason,
        },
      );
    }
    const { partSize, queueSize } = multipartPlan(options.expectedBytes);
    const upload = new PooledUpload(
      this.client,
      {
        Bucket: this.destination.bucket,
        Key: key,
        params: {
          ...objectWriteParams(this.settings, options.contentType ?? 'application/octet-stream'),
          Metadata: { ...WRITTEN_BY_METADATA },
        },
        partSize,
        queueSize,
      },
      () => {
        if (!body.destroyed) body.destroy();
      },
    );
    if (options.progress) options.progress.stored = () => ({ bytes: upload.bytes, parts: upload.parts });
    const onBodyError = (error: unknown) => upload.fail('body', error);
    body.on('error', onBodyError);
    const onAbort = () => upload.fail('aborted', signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.run(body);
      if (upload.failure === undefined)
        return { key, bytes: upload.bytes, parts: upload.parts, ...(upload.etag ? { etag: upload.etag } : {}) };
      // The upload completed, but the body failed or the upload was aborted at the last moment.
      throw upload.failure.cause;
    } catch (error) {
      upload.fail('other', error);
      await upload.settle();
      const leftovers = await this.cleanUpFailedUpload(key, upload);
      const failure = upload.failure ?? { kind: 'other', cause: error };
      throw new UploadError(this.uploadFailureMessage(where, failure, leftovers), { cause: failure.cause });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** PutObject with `If-None-Match: *` (when the store implements it) and the marker metadata; 412/409 → UploadError "already exists". */
  async put(key: string, data: string | Buffer, contentType: string): Promise<PutResult> {
    try {
      const output = await sendConditionalWrite(
        this.client,
        (condition) =>
          new PutObjectCommand({
            Bucket: this.destination.bucket,
            Key: key,
            Body: data,
            ...objectWriteParams(this.settings, contentType),
            Metadata: { ...WRITTEN_BY_METADATA },
            ...condition,
          }),
        (command) => this.client.send(command as PutObjectCommand),
      );
      return output.ETag ? { etag: stripQuotes(output.ETag) } : {};
    } catch (error) {
      if (isConditionRefusal(error)) throw new UploadError(refusedMessage(this.location(key)), { cause: error });
      throw new UploadError(`Writing ${this.location(key)} failed: ${this.describe(error)}`, { cause: error });
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const output = await this.client.send(new HeadObjectCommand({ Bucket: this.destination.bucket, Key: key }));
      return {
        key,
        size: output.ContentLength ?? 0,
        ...(output.LastModified ? { lastModified: output.LastModified } : {}),
        ...(output.ETag ? { etag: stripQuotes(output.ETag) } : {}),
        writtenByUs: Object.entries(WRITTEN_BY_METADATA).every(([name, value]) => output.Metadata?.[name] === value),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new Error(`Reading the metadata of ${this.location(key)} failed: ${this.describe(error)}`, {
        cause: error,
      });
    }
  }

  async get(key: string): Promise<Readable> {
    let body: unknown;
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.destination.bucket, Key: key }));
      body = output.Body;
    } catch (error) {
      const what = isNotFound(error)
        ? `There is no object ${this.location(key)}`
        : `Reading ${this.location(key)} failed`;
      throw new Error(`${what}: ${this.describe(error)}`, { cause: error });
    }
    if (body instanceof Readable) return body;
    throw new Error(`Reading ${this.location(key)} failed: the S3 client returned no readable body`);
  }

  /**
   * ListObjectsV2 (max-keys 1) on the destination's prefix: the first request of a backup, made before
   * the database is touched. Needs s3:ListBucket, which list, prune and check need too.
   * @throws ConfigError naming `s3-access-key-id`/`s3-secret-access-key` (or, when they are empty, the
   *   AWS credential chain) when the store answers 401/403 or refuses the credentials; UploadError for
   *   any other failure (missing bucket, unreachable endpoint), with the hint of {@link s3ErrorHint}.
   */
  async preflight(): Promise<void> {
    try {
      await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.destination.bucket,
          MaxKeys: 1,
          ...(this.destination.prefix !== '' ? { Prefix: this.destination.prefix } : {}),
        }),
      );
    } catch (error) {
      const what = `The store refused to list ${this.location(this.destination.prefix)} (${describeS3Error(error).text})`;
      if (isCredentialRefusal(error)) {
        throw new ConfigError(
          's3-access-key-id',
          `${what}, before the backup started. ${credentialHint(this.destination, this.settings)}`,
        );
      }
      throw new UploadError(`Checking ${this.destination.url} before the backup failed: ${this.describe(error)}`, {
        cause: error,
      });
    }
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.destination.bucket,
            ...(prefix !== '' ? { Prefix: prefix } : {}),
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (error) {
        throw new Error(`Listing ${this.location(prefix)} failed: ${this.describe(error)}`, { cause: error });
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key,
          size: object.Size ?? 0,
          ...(object.LastModified ? { lastModified: object.LastModified } : {}),
          ...(object.ETag ? { etag: stripQuotes(object.ETag) } : {}),
        };
      }
      const next = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !next) {
        throw new Error(
          `Listing ${this.location(prefix)} failed: the store said the listing is truncated but sent no continuation token`,
        );
      }
      if (next !== undefined && next === token) {
        throw new Error(`Listing ${this.location(prefix)} failed: the store sent the same continuation token twice`);
      }
      token = next;
    } while (token !== undefined);
  }

  async delete(keys: string[]): Promise<{ deleted: string[]; errors: { key: string; message: string }[] }> {
    const deleted: string[] = [];
    const errors: { key: string; message: string }[] = [];
    for (let start = 0; start < keys.length; start += DELETE_BATCH_SIZE) {
      const batch = keys.slice(start, start + DELETE_BATCH_SIZE);
      if (this.batchDeleteRefused) {
        await this.deleteOneByOne(batch, deleted, errors);
        continue;
      }
      let output;
      try {
        output = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.destination.bucket,
            Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true },
          }),
        );
      } catch (error) {
        if (!isBatchDeleteRefusal(error)) {
          throw new Error(
            `Deleting ${batch.length} object(s) from ${this.location('')} failed: ${this.describe(error)}`,
            { cause: error },
          );
        }
        this.batchDeleteRefused = true;
        await this.deleteOneByOne(batch, deleted, errors);
        continue;
      }
      const failed = new Map<string, string>();
      for (const entry of output.Errors ?? []) {
        if (entry.Key === undefined) continue;
        failed.set(entry.Key, [entry.Code, entry.Message].filter(Boolean).join(': ') || 'not deleted');
      }
      for (const key of batch) {
        const message = failed.get(key);
        if (message === undefined) deleted.push(key);
        else errors.push({ key, message });
      }
    }
    return { deleted, errors };
  }

  private async deleteOneByOne(
    batch: string[],
    deleted: string[],
    errors: { key: string; message: string }[],
  ): Promise<void> {
    const results = new Array<string | undefined>(batch.length);
    let next = 0;
    const worker = async () => {
      while (next < batch.length) {
        const index = next++;
        const key = batch[index] as string;
        try {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.destination.bucket, Key: key }));
          results[index] = undefined;
        } catch (error) {
          results[index] = describeS3Error(error).text;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SINGLE_DELETE_CONCURRENCY, batch.length) }, worker));
    batch.forEach((key, index) => {
      const message = results[index];
      if (message === undefined) deleted.push(key);
      else errors.push({ key, message });
    });
  }

  /** Aborts the multipart upload / removes a completed object after a failure; returns what could not be cleaned. */
  private async cleanUpFailedUpload(key: string, session: PooledUpload): Promise<string[]> {
    const problems: string[] = [];
    if (session.completed) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.destination.bucket, Key: key }));
      } catch (error) {
        problems.push(
          `The object was stored before the failure was noticed and could not be removed (${this.describe(error)}); delete ${this.location(key)} by hand.`,
        );
      }
    } else if (session.uploadId !== undefined) {
      try {
        await this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.destination.bucket, Key: key, UploadId: session.uploadId }),
        );
      } catch (error) {
        if (errorCode(error) !== 'NoSuchUpload') {
          problems.push(
            `The incomplete multipart upload ${session.uploadId} could not be aborted (${describeS3Error(error).text}); its parts take storage until it is aborted: add a lifecycle rule "AbortIncompleteMultipartUpload" to bucket '${this.destination.bucket}'.`,
          );
        }
      }
    }
    return problems;
  }

  private uploadFailureMessage(where: string, failure: Failure, leftovers: string[]): string {
    let message: string;
    switch (failure.kind) {
      case 'aborted':
        message = `Upload to ${where} was aborted (${failure.cause === undefined ? 'AbortSignal' : errorMessage(failure.cause)}).`;
        break;
      case 'body':
        message = `Upload to ${where} failed because the data stream failed: ${errorMessage(failure.cause)}.`;
        break;
      default:
        if (isConditionRefusal(failure.cause)) return [refusedMessage(where), ...leftovers].join(' ');
        message = `Upload to ${where} failed: ${this.describe(failure.cause)}`;
    }
    if (leftovers.length === 0) return `${message} Nothing was left under the key.`;
    return `${message} ${leftovers.join(' ')}`;
  }

  private describe(error: unknown): string {
    const { text } = describeS3Error(error);
    const hint = s3ErrorHint(error, this.destination, this.settings);
    return hint ? `${text}. ${hint}` : `${text}.`;
  }

  private location(key: string): string {
    return `s3://${this.destination.bucket}/${key}`;
  }
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

function abortReason(signal: AbortSignal): string {
  return signal.reason === undefined ? 'AbortSignal' : errorMessage(signal.reason);
}
