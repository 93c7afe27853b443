/** Storage: one {@link ObjectStore} interface over S3-compatible storage and a local folder. */
import { LocalFolderStore } from './local.js';
import { S3ObjectStore } from './s3.js';
import type { Destination, ObjectStore, S3Settings } from './types.js';

/** The store for a parsed destination; `s3` settings are used for s3:// destinations only. */
export function createStore(destination: Destination, s3: S3Settings): ObjectStore {
  switch (destination.kind) {
    case 's3':
      return new S3ObjectStore(destination, s3);
    case 'file':
      return new LocalFolderStore(destination);
  }
}

export type { Destination, ObjectInfo, ObjectStore, S3Settings, UploadOptions, UploadResult } from './types.js';
export { bucketNameProblem, parseDestination, parseS3Endpoint } from './destination.js';
export { LocalFolderStore, isPartialName, keySegments, PARTIAL_SUFFIX } from './local.js';
export { multipartPlan, type MultipartPlan } from './part-size.js';
export {
  describeS3Error,
  errorCode,
  objectWriteParams,
  s3ClientConfig,
  s3ErrorHint,
  S3ObjectStore,
  type ObjectWriteParams,
  type S3ObjectStoreOptions,
} from './s3.js';
