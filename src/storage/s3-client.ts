/**
 * The S3 client of a store: SDK settings from the inputs (region, endpoint, credentials, checksums,
 * retries, timeouts), connections watched for stalls (stall.ts), and bodies sent unsigned over HTTPS.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

import { keyPairError } from './destination.js';
import { StallWatchdog, watchedAgents } from './stall.js';
import { S3_TIMEOUT_SECONDS_DEFAULT, type S3Settings } from './types.js';

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
