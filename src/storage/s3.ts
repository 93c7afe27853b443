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
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';

import { ConfigError, UploadError, errorMessage } from '../errors.js';
import { PooledUpload, sendConditionalWrite, type Failure } from './multipart.js';
import { multipartPlan } from './part-size.js';
import { objectWriteParams } from './s3-params.js';
import { STALL_CODE, StallWatchdog, watchedAgents } from './stall.js';
import {
  S3_TIMEOUT_SECONDS_DEFAULT,
  WRITTEN_BY_METADATA,
  type Destination,
  type ObjectInfo,
  type ObjectStore,
  type PutResult,
  type S3Settings,
  type UploadOptions,
  type UploadResult,
} from './types.js';

/** Attempts per request (first try + retries) with the SDK's standard retry strategy. */
export const S3_MAX_ATTEMPTS = 5;
/** Milliseconds to establish a TCP/TLS connection before the attempt fails (and is retried); at most `s3-timeout`. */
export const S3_CONNECTION_TIMEOUT_MS = 10_000;
/** Default milliseconds a connection may stay silent (nothing sent or received) before the attempt fails (`s3-timeout`). */
export const S3_SOCKET_TIMEOUT_MS = S3_TIMEOUT_SECONDS_DEFAULT * 1000;
/**
 * Upper bound of the SDK's backoff before retries 1…4 of the standard retry strategy (random in
 * [0, 0.1 s × 2^n], @smithy/util-retry DefaultRetryBackoffStrategy): 0.2 + 0.4 + 0.8 + 1.6 s.
 */
export const S3_MAX_BACKOFF_MS = 3_000;

/** Milliseconds of silence after which a try fails as stalled (`s3-timeout`, default 120 s). */
export function s3TimeoutMs(settings: S3Settings): number {
  return (settings.timeoutSeconds ?? S3_TIMEOUT_SECONDS_DEFAULT) * 1000;
}

/**
 * Longest a request to a store that stalls every try takes to fail, in milliseconds:
 * {@link S3_MAX_ATTEMPTS} × (`s3-timeout` plus one watchdog tick) + {@link S3_MAX_BACKOFF_MS}.
 * An upload that fails this way then sends AbortMultipartUpload, bounded the same way.
 */
export function stalledRequestBoundMs(settings: S3Settings): number {
  const timeout = s3TimeoutMs(settings);
  return S3_MAX_ATTEMPTS * (timeout + Math.min(1000, timeout / 10)) + S3_MAX_BACKOFF_MS;
}
/** DeleteObjects accepts at most this many keys per request. */
export const DELETE_BATCH_SIZE = 1000;
/** Concurrent DeleteObject calls when falling back from DeleteObjects. */
const SINGLE_DELETE_CONCURRENCY = 8;

type S3Destination = Extract<Destination, { kind: 's3' }>;

/**
 * SDK client configuration for `settings` (pure).
 *
 * - Checksums: `when_required` → `requestChecksumCalculation`/`responseChecksumValidation`
 *   `WHEN_REQUIRED`, which R2, B2 and older MinIO need (they reject or mangle the flexible checksum headers);
 *   `when_supported` → `WHEN_SUPPORTED` (the SDK default; AWS S3).
 * - Credentials only when given (else the SDK default chain: env, web identity/OIDC, profile).
 * - Retries: the SDK's standard retry strategy with {@link S3_MAX_ATTEMPTS} attempts.
 * - Timeouts: connecting {@link S3_CONNECTION_TIMEOUT_MS} (at most `s3-timeout`); silence on a
 *   connection `s3-timeout` ({@link s3TimeoutMs}). The SDK's `socketTimeout` here may fire only after
 *   twice that during an upload (see stall.ts): {@link createS3Client} replaces it by a watchdog.
 */
export function s3ClientConfig(settings: S3Settings): S3ClientConfig {
  const checksumMode = settings.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const config: S3ClientConfig = {
    region: settings.region.trim() || 'us-east-1',
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: checksumMode,
    responseChecksumValidation: checksumMode,
    maxAttempts: S3_MAX_ATTEMPTS,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: Math.min(S3_CONNECTION_TIMEOUT_MS, s3TimeoutMs(settings)),
      socketTimeout: s3TimeoutMs(settings),
    },
  };
  if (settings.endpoint) config.endpoint = settings.endpoint;
  const accessKeyId = settings.accessKeyId ?? '';
  const secretAccessKey = settings.secretAccessKey ?? '';
  if (accessKeyId !== '' || secretAccessKey !== '') {
    const halfPair = keyPairError(accessKeyId, secretAccessKey);
    if (halfPair) throw halfPair;
    config.credentials = {
      accessKeyId,
      secretAccessKey,
      ...(settings.sessionToken ? { sessionToken: settings.sessionToken } : {}),
    };
  }
  return config;
}

/**
 * The one error for an S3 access key id without its secret or the reverse, naming the empty
 * input; undefined when both or neither are set (neither: the AWS SDK's default chain).
 */
export function keyPairError(accessKeyId: string, secretAccessKey: string): ConfigError | undefined {
  if ((accessKeyId === '') === (secretAccessKey === '')) return undefined;
  return new ConfigError(
    accessKeyId === '' ? 's3-access-key-id' : 's3-secret-access-key',
    'set both s3-access-key-id and s3-secret-access-key, or neither (then the AWS SDK default chain is used: AWS_* environment variables or OIDC).',
  );
}

/** Commands that upload a body (archive parts, single-part archives, manifests, globals): no payload hash over HTTPS. */
const UPLOAD_BODY_COMMANDS = new Set(['UploadPartCommand', 'PutObjectCommand']);

/**
 * The S3 client of a store: {@link s3ClientConfig}, and UploadPart and PutObject sent with
 * `x-amz-content-sha256: UNSIGNED-PAYLOAD` when the request goes over HTTPS.
 *
 * The SDK signs the SHA-256 of every Buffer body (SigV4 payload signing), a second pass over the
 * whole archive in the action's thread beside the manifest's sha256 (0.1 CPU-s per 100 MB). Over
 * TLS the body cannot change in transit: the AWS CLI's default is the same (AWS CLI S3
 * configuration, `payload_signing_enabled`: off for UploadPart and PutObject over HTTPS), and S3,
 * R2, B2 and MinIO take the literal `UNSIGNED-PAYLOAD` as the payload hash (AWS S3 API reference,
 * "Authenticating Requests: Using the Authorization Header (AWS Signature Version 4)"). Over plain
 * HTTP (MinIO on a private network, s3rver) bodies stay signed.
 */
export function createS3Client(settings: S3Settings): S3Client {
  const config = s3ClientConfig(settings);
  // Stalls are detected by the agents' watchdog (exactly `s3-timeout`, with a "stalled" error),
  // not by the SDK's socketTimeout (up to twice that during an upload; 0 turns it off).
  const handler = config.requestHandler as { connectionTimeout: number };
  config.requestHandler = {
    connectionTimeout: handler.connectionTimeout,
    socketTimeout: 0,
    ...watchedAgents(new StallWatchdog(s3TimeoutMs(settings))),
  };
  const client = new S3Client(config);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { protocol?: string; headers?: Record<string, string> };
      if (request.protocol === 'https:' && request.headers && UPLOAD_BODY_COMMANDS.has(context.commandName ?? '')) {
        request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'unsignedPayloadOverHttps' },
  );
  return client;
}

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

/**
 * The store refused a conditional write (`If-None-Match: *`): 412 PreconditionFailed when an object
 * exists under the key, 409 ConditionalRequestConflict when another write of it is in progress
 * (AWS S3 user guide, "How to prevent object overwrites with conditional writes").
 */
export function isConditionRefusal(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || httpStatus(error) === 412;
}

function refusedMessage(where: string): string {
  return `Writing ${where} was refused: an object already exists under that key (another run wrote it first; the store refused to replace it, If-None-Match). Nothing was overwritten.`;
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

function abortReason(signal: AbortSignal): string {
  return signal.reason === undefined ? 'AbortSignal' : errorMessage(signal.reason);
}

/** The S3 error code (`NoSuchBucket`, …) or network error code (`ECONNREFUSED`, …) of an error. */
export function errorCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (value: unknown): string | undefined => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
    seen.add(value);
    const record = value as {
      Code?: unknown;
      code?: unknown;
      name?: unknown;
      $metadata?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    if (typeof record.Code === 'string' && record.Code !== '') return record.Code;
    if (typeof record.code === 'string' && record.code !== '') return record.code;
    if (record.$metadata !== undefined && typeof record.name === 'string' && !GENERIC_NAMES.has(record.name))
      return record.name;
    if (record.name === 'TimeoutError' || record.name === 'AbortError' || record.name === 'CredentialsProviderError')
      return record.name;
    if (Array.isArray(record.errors)) {
      for (const inner of record.errors) {
        const code = visit(inner);
        if (code !== undefined) return code;
      }
    }
    return visit(record.cause);
  };
  // Errors from another realm (e.g. Node's net errors seen from a VM context) reach the SDK's retry
  // layer as non-Errors and come out as "AWS SDK error wrapper for Error: connect ECONNREFUSED …":
  // fall back to a network code in the message.
  return visit(error) ?? NETWORK_CODE_IN_MESSAGE.exec(errorMessage(error))?.[1];
}

const GENERIC_NAMES = new Set(['Error', 'UnknownError', 'S3ServiceException']);
const NETWORK_CODE_IN_MESSAGE =
  /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b/;

function httpStatus(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

/** `CODE: message` (or the message alone) of an SDK or network error. */
export function describeS3Error(error: unknown): { code: string | undefined; text: string } {
  const code = errorCode(error);
  let message = errorMessage(error)
    .trim()
    .replace(/^AWS SDK error wrapper for (Error: )?/, '');
  if ((message === '' || message === 'UnknownError') && httpStatus(error) !== undefined)
    message = `HTTP ${httpStatus(error)}`;
  message = message.replace(/\.$/, '');
  if (code === undefined || code === STALL_CODE || message.startsWith(code) || message.includes(` ${code} `))
    return { code, text: message || String(error) };
  return { code, text: `${code}: ${message}` };
}

const CREDENTIAL_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'AllAccessDisabled',
  'Forbidden',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'TimeoutError',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function isChecksumRejection(code: string | undefined, message: string): boolean {
  return (
    /x-amz-checksum|x-amz-sdk-checksum|checksum-mode|unsupported header|content-md5|checksum/i.test(message) ||
    code === 'XAmzContentSHA256Mismatch' ||
    code === 'BadDigest' ||
    code === 'InvalidDigest' ||
    code === 'NotImplemented'
  );
}

/** How to fix a failed request, or undefined when there is nothing specific to say. */
export function s3ErrorHint(error: unknown, destination: S3Destination, settings: S3Settings): string | undefined {
  const code = errorCode(error);
  const message = errorMessage(error);
  const server = settings.endpoint ?? 'AWS S3';
  if (code === 'NoSuchBucket') {
    const style =
      settings.endpoint && !settings.forcePathStyle
        ? ' If the bucket exists, the store may need path-style addressing: set `s3-force-path-style: true` (MinIO, Hetzner, Ceph).'
        : '';
    return `The bucket '${destination.bucket}' does not exist at ${server}: create the bucket or fix \`destination\` (${destination.url}).${style}`;
  }
  if (isCredentialRefusal(error)) return credentialHint(destination, settings);
  if (code === STALL_CODE) {
    const seconds = s3TimeoutMs(settings) / 1000;
    return `The store at ${server} took the connection but then sent or took nothing for ${seconds} s on each of ${S3_MAX_ATTEMPTS} tries: it is overloaded, or something between the runner and it (a proxy, a firewall) holds the traffic. Check the store's health; \`s3-timeout\` (now ${seconds} s) sets how long a silence may last.`;
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return `The S3 endpoint (${server}) accepted the connection and then closed it on every try: check the store's health and anything between the runner and it (a proxy, a firewall).`;
  }
  if (code !== undefined && NETWORK_CODES.has(code)) {
    return `Could not reach the S3 endpoint (${server}): check \`s3-endpoint\` and that the server is up and reachable from the runner.`;
  }
  if (
    code === 'PermanentRedirect' ||
    code === 'AuthorizationHeaderMalformed' ||
    code === 'IllegalLocationConstraintException'
  ) {
    return `The bucket '${destination.bucket}' is not in region ${settings.region}: set \`s3-region\` to the bucket's region (R2 uses 'auto').`;
  }
  if (code === 'InvalidBucketName') {
    return `The store does not accept the bucket name '${destination.bucket}': fix \`destination\` (${destination.url}).`;
  }
  if (code === 'InvalidStorageClass') {
    return `The store does not accept storage class '${settings.storageClass ?? ''}': set \`s3-storage-class\` to one it supports or leave it empty.`;
  }
  if (code === 'EntityTooLarge' || /Exceeded \d+ parts/.test(message)) {
    return 'The archive outgrew the part size chosen from the size estimate (10,000 parts at most): the estimate was far too small.';
  }
  if (isChecksumRejection(code, message)) {
    return settings.checksums === 'when_supported'
      ? "This store does not accept the AWS SDK's default checksum headers (x-amz-checksum-*): set `s3-checksums: when_required` (R2, B2 and older MinIO need it)."
      : 'The store does not implement this request or its checksum; if it is not AWS S3, check that it supports multipart uploads and DeleteObjects.';
  }
  return undefined;
}

/**
 * True for an answer that refuses the caller: HTTP 401/403 (a HEAD answers without a body, so the SDK
 * names no code: "Unknown") or a credential error code.
 */
function isCredentialRefusal(error: unknown): boolean {
  const code = errorCode(error);
  const status = httpStatus(error);
  return (code !== undefined && CREDENTIAL_CODES.has(code)) || status === 401 || status === 403;
}

/** What to fix when the store refuses the credentials: the inputs when given, else the SDK's chain. */
function credentialHint(destination: S3Destination, settings: S3Settings): string {
  const who =
    settings.accessKeyId === undefined
      ? '`s3-access-key-id` and `s3-secret-access-key` are empty, so the AWS SDK default credential chain was used (AWS_* environment variables, an OIDC role from aws-actions/configure-aws-credentials, the instance role): check that role or those variables'
      : 'check `s3-access-key-id` and `s3-secret-access-key` (the key pair, from secrets)';
  return `The store refused the credentials: ${who}, \`s3-region\` (${settings.region}), and that they may list, read and write bucket '${destination.bucket}'.`;
}

function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'NotFound' || code === 'NoSuchKey' || httpStatus(error) === 404;
}

/** Errors with which stores refuse the DeleteObjects request itself (its checksum, or the operation). */
function isBatchDeleteRefusal(error: unknown): boolean {
  const code = errorCode(error);
  const status = httpStatus(error);
  if (status === undefined) return false; // network failure: not a refusal
  return (
    code === 'NotImplemented' ||
    code === 'InvalidArgument' ||
    code === 'InvalidRequest' ||
    code === 'XAmzContentSHA256Mismatch' ||
    code === 'BadDigest' ||
    code === 'InvalidDigest' ||
    code === 'MissingContentMD5' ||
    code === 'MethodNotAllowed' ||
    status === 501 ||
    /checksum|content-md5|unsupported header/i.test(errorMessage(error))
  );
}
