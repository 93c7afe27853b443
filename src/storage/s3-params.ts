/** The headers of every S3 write (PutObject, CreateMultipartUpload), shared by s3.ts and multipart.ts. */
import type { ServerSideEncryption, StorageClass } from '@aws-sdk/client-s3';
import type { S3Settings } from './types.js';

/** Object parameters common to every write (PutObject, CreateMultipartUpload); never an empty value. */
export interface ObjectWriteParams {
  ContentType?: string;
  StorageClass?: StorageClass;
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  /** User metadata (`x-amz-meta-*`): {@link WRITTEN_BY_METADATA} on everything this action writes. */
  Metadata?: Record<string, string>;
}

/**
 * Headers for a write (pure). Empty values are left out (R2 rejects an empty
 * `x-amz-storage-class`); the KMS key id is sent only with `aws:kms`.
 */
export function objectWriteParams(settings: S3Settings, contentType?: string): ObjectWriteParams {
  const params: ObjectWriteParams = {};
  if (contentType?.trim()) params.ContentType = contentType.trim();
  const storageClass = settings.storageClass?.trim();
  if (storageClass) params.StorageClass = storageClass as StorageClass;
  if (settings.sse) params.ServerSideEncryption = settings.sse;
  const kmsKeyId = settings.sseKmsKeyId?.trim();
  if (settings.sse === 'aws:kms' && kmsKeyId) params.SSEKMSKeyId = kmsKeyId;
  return params;
}
