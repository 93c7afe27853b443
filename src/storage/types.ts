import type { Readable } from 'node:stream';

/** Where archives go: parsed from one line of the `destination` input. */
export type Destination =
  | {
      kind: 's3';
      /** As the user wrote it, e.g. `s3://my-bucket/backups`. */
      url: string;
      bucket: string;
      /** Key prefix without leading or trailing slash; '' for the bucket root. */
      prefix: string;
    }
  | {
      kind: 'file';
      url: string;
      /** Absolute path of the folder that holds the archives. */
      root: string;
      /** Always '' (the folder is the root). */
      prefix: string;
    };

/** A destination in an S3 bucket. */
export type S3Destination = Extract<Destination, { kind: 's3' }>;

/** S3 client settings shared by every s3:// destination. */
export interface S3Settings {
  /** Custom endpoint (R2, B2, MinIO); undefined for AWS S3. Never has a bucket in its path. */
  endpoint?: string;
  /** `us-east-1` by default; `auto` for R2. */
  region: string;
  forcePathStyle: boolean;
  storageClass?: string;
  sse?: 'AES256' | 'aws:kms';
  sseKmsKeyId?: string;
  /** Explicit credentials; when absent the AWS SDK default chain is used (env, OIDC, profile). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /**
   * `when_required` sends/validates flexible checksums (x-amz-checksum-*) only when an operation
   * requires them: what R2, B2 and older MinIO accept. `when_supported` is the SDK default (AWS S3).
   */
  checksums: 'when_required' | 'when_supported';
  /**
   * Seconds a connection to the store may stay silent (nothing sent or received) before the try
   * fails as stalled and is retried (`s3-timeout`); default {@link S3_TIMEOUT_SECONDS_DEFAULT}.
   */
  timeoutSeconds?: number;
}

/** Default of `s3-timeout`, seconds. */
export const S3_TIMEOUT_SECONDS_DEFAULT = 120;

export interface ObjectInfo {
  /** Full object key (for file destinations: the path relative to the root, with '/'). */
  key: string;
  /** Size in bytes. */
  size: number;
  lastModified?: Date;
  /** ETag as the store returns it (quotes stripped), when it has one. */
  etag?: string;
  /**
   * True when the object carries this action's marker ({@link WRITTEN_BY_METADATA}: S3 user
   * metadata `x-amz-meta-written-by`). Only `head` of an S3 store reads it (a listing has no
   * metadata); undefined when unknown.
   */
  writtenByUs?: boolean;
}

/**
 * User metadata set on every object this action writes to S3 (archive, manifest, globals, claims):
 * sent as `x-amz-meta-written-by: postgres-backup-action`. Retention deletes an archive that has no
 * manifest only when it carries this marker (or a claim of this action lies beside it).
 */
export const WRITTEN_BY_METADATA: Readonly<Record<string, string>> = { 'written-by': 'postgres-backup-action' };

/** What a write stored. */
export interface PutResult {
  /** ETag the store answered (quotes stripped), when it sent one: compared with a later HeadObject. */
  etag?: string;
}

export interface UploadOptions {
  contentType?: string;
  /**
   * Expected size in bytes (an estimate, e.g. from pg_database_size). Used to size multipart parts
   * so the 10,000-part limit of S3 is never reached; memory stays ≤ part size × (queue size + 1).
   */
  expectedBytes?: number;
  /** Aborting it cancels the upload; nothing is left under the key. */
  signal?: AbortSignal;
  /** For progress lines: the store sets `stored` when the upload starts (bytes and parts it accepted so far). */
  progress?: UploadProgress;
}

/** See {@link UploadOptions.progress}; stores without parts (folders) leave `stored` unset. */
export interface UploadProgress {
  stored?: () => { bytes: number; parts: number };
}

export interface UploadResult {
  key: string;
  /** Bytes the store accepted. */
  bytes: number;
  /** Parts used (1 for a single PUT or a local file). */
  parts: number;
  /** ETag answered by PutObject/CompleteMultipartUpload (S3), when the store sent one. */
  etag?: string;
}

/**
 * One interface over S3-compatible storage and a local folder.
 *
 * Guarantee of `upload`: an object appears under `key` only when `body` ended without error and
 * every byte was stored; on any error or abort the multipart upload is aborted (S3) or the
 * temporary file removed (folder), and the promise rejects with an UploadError.
 *
 * Writes never replace an existing object: `upload` and `put` are exclusive creates (S3:
 * `If-None-Match: *` on PutObject and CompleteMultipartUpload; folder: link(2) of a temporary file,
 * which fails with EEXIST). A key found taken rejects with an UploadError that says so.
 */
export interface ObjectStore {
  readonly destination: Destination;
  /** Releases the store's connections (an S3 client's sockets; a folder holds none). Safe to call more than once. */
  close(): void;
  upload(key: string, body: Readable, options?: UploadOptions): Promise<UploadResult>;
  /** Writes a small object (manifest, globals, claim) in one request; never replaces one. */
  put(key: string, data: string | Buffer, contentType: string): Promise<PutResult>;
  /** Metadata of `key`, or undefined when there is no such object. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Streams the object's bytes. Rejects when it does not exist. */
  get(key: string): Promise<Readable>;
  /** Every object whose key starts with `prefix`, across all pages (ListObjectsV2 continuation). */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deletes keys (≤ 1000 per request); per-key failures are returned, not thrown. */
  delete(keys: string[]): Promise<{ deleted: string[]; errors: { key: string; message: string }[] }>;
  /**
   * One cheap request before any work (S3: ListObjectsV2 with max-keys 1 on the prefix), so that
   * refused credentials, a missing bucket or an unreachable store are reported before pg_dump runs.
   * Optional: stores without a remote side leave it out.
   */
  preflight?(): Promise<void>;
  /**
   * Temporary files a write leaves when its process is killed (folder: `.<name>.<random>.partial`),
   * under `prefix`; `key` is their path relative to the root. Stores without such files omit it.
   */
  temporaries?(prefix: string): AsyncIterable<ObjectInfo>;
  /** Removes temporary files found by {@link ObjectStore.temporaries}; per-key failures are returned. */
  removeTemporaries?(keys: string[]): Promise<{ deleted: string[]; errors: { key: string; message: string }[] }>;
}
