/** Storage: one {@link ObjectStore} interface over S3-compatible storage and a local folder. */
import type { Readable } from 'node:stream';
import { LocalFolderStore } from './local.js';
import type {
  Destination,
  ObjectInfo,
  ObjectStore,
  PutResult,
  S3Settings,
  UploadOptions,
  UploadResult,
} from './types.js';

/** The store for a parsed destination; `s3` settings are used for s3:// destinations only. */
export function createStore(destination: Destination, s3: S3Settings): ObjectStore {
  switch (destination.kind) {
    case 's3':
      return new LazyS3Store(destination, s3);
    case 'file':
      return new LocalFolderStore(destination);
  }
}

/**
 * An S3ObjectStore whose module (the AWS SDK, about half of the bundle) is loaded on first use, so
 * runs that only touch local folders never load it.
 */
class LazyS3Store implements ObjectStore {
  private store: Promise<ObjectStore> | undefined;

  constructor(
    readonly destination: Extract<Destination, { kind: 's3' }>,
    private readonly settings: S3Settings,
  ) {}

  private real(): Promise<ObjectStore> {
    this.store ??= import('./s3.js').then(({ S3ObjectStore }) => new S3ObjectStore(this.destination, this.settings));
    return this.store;
  }

  async upload(key: string, body: Readable, options?: UploadOptions): Promise<UploadResult> {
    return (await this.real()).upload(key, body, options);
  }

  async put(key: string, data: string | Buffer, contentType: string): Promise<PutResult> {
    return (await this.real()).put(key, data, contentType);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    return (await this.real()).head(key);
  }

  async get(key: string): Promise<Readable> {
    return (await this.real()).get(key);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* (await this.real()).list(prefix);
  }

  async delete(keys: string[]): Promise<{ deleted: string[]; errors: { key: string; message: string }[] }> {
    return (await this.real()).delete(keys);
  }

  async preflight(): Promise<void> {
    return (await this.real()).preflight?.();
  }

  /** Closes the S3 client's connections, if the client was ever made. */
  close(): void {
    void this.store?.then((store) => store.close());
  }
}

export type {
  Destination,
  ObjectInfo,
  ObjectStore,
  PutResult,
  S3Settings,
  UploadOptions,
  UploadResult,
} from './types.js';
export { WRITTEN_BY_METADATA } from './types.js';
export { parseDestination, parseS3Endpoint } from './destination.js';
