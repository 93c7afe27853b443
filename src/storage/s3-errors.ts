/**
 * What failed S3 requests mean (pure): the error code of an SDK or network error, a one-line
 * description, and a hint naming the input or the store setting to fix.
 */
import { errorMessage } from '../errors.js';
import { S3_MAX_ATTEMPTS, s3TimeoutMs } from './s3-client.js';
import { STALL_CODE } from './stall.js';
import type { S3Destination, S3Settings } from './types.js';

/**
 * The store refused a conditional write (`If-None-Match: *`): 412 PreconditionFailed when an object
 * exists under the key, 409 ConditionalRequestConflict when another write of it is in progress
 * (AWS S3 user guide, "How to prevent object overwrites with conditional writes").
 */
export function isConditionRefusal(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || httpStatus(error) === 412;
}

/** The text of a write refused because an object exists under the key. */
export function refusedMessage(where: string): string {
  return `Writing ${where} was refused: an object already exists under that key (another run wrote it first; the store refused to replace it, If-None-Match). Nothing was overwritten.`;
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
export function isCredentialRefusal(error: unknown): boolean {
  const code = errorCode(error);
  const status = httpStatus(error);
  return (code !== undefined && CREDENTIAL_CODES.has(code)) || status === 401 || status === 403;
}

/** What to fix when the store refuses the credentials: the inputs when given, else the SDK's chain. */
export function credentialHint(destination: S3Destination, settings: S3Settings): string {
  const who =
    settings.accessKeyId === undefined
      ? '`s3-access-key-id` and `s3-secret-access-key` are empty, so the AWS SDK default credential chain was used (AWS_* environment variables, an OIDC role from aws-actions/configure-aws-credentials, the instance role): check that role or those variables'
      : 'check `s3-access-key-id` and `s3-secret-access-key` (the key pair, from secrets)';
  return `The store refused the credentials: ${who}, \`s3-region\` (${settings.region}), and that they may list, read and write bucket '${destination.bucket}'.`;
}

/** True for 404 NotFound / NoSuchKey. */
export function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'NotFound' || code === 'NoSuchKey' || httpStatus(error) === 404;
}

/** Errors with which stores refuse the DeleteObjects request itself (its checksum, or the operation). */
export function isBatchDeleteRefusal(error: unknown): boolean {
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
