import { ConfigError } from '../../src/errors.js';
import { describeS3Error, s3ClientConfig, s3ErrorHint, S3_MAX_ATTEMPTS } from '../../src/storage/s3.js';
import { objectWriteParams } from '../../src/storage/s3-params.js';
import type { S3Settings } from '../../src/storage/types.js';

const base: S3Settings = { region: 'us-east-1', forcePathStyle: false, checksums: 'when_supported' };

describe('s3ClientConfig', () => {
  test.each<[string, S3Settings, Record<string, unknown>]>([
    [
      'AWS S3, default credential chain',
      base,
      {
        region: 'us-east-1',
        forcePathStyle: false,
        requestChecksumCalculation: 'WHEN_SUPPORTED',
        responseChecksumValidation: 'WHEN_SUPPORTED',
      },
    ],
    [
      'R2: endpoint, region auto, checksums when required, explicit keys',
      {
        ...base,
        endpoint: 'https://acc.r2.cloudflarestorage.com',
        region: 'auto',
        checksums: 'when_required',
        accessKeyId: 'AK',
        secretAccessKey: 'SK',
      },
      {
        region: 'auto',
        endpoint: 'https://acc.r2.cloudflarestorage.com',
        forcePathStyle: false,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      },
    ],
    [
      'MinIO: path style, session token',
      {
        ...base,
        endpoint: 'http://127.0.0.1:9000',
        forcePathStyle: true,
        checksums: 'when_required',
        accessKeyId: 'AK',
        secretAccessKey: 'SK',
        sessionToken: 'TOKEN',
      },
      {
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:9000',
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'TOKEN' },
      },
    ],
    [
      'empty optional values are left out',
      { ...base, endpoint: '', region: ' ', accessKeyId: '', secretAccessKey: '', sessionToken: '' },
      {
        region: 'us-east-1',
        forcePathStyle: false,
        requestChecksumCalculation: 'WHEN_SUPPORTED',
        responseChecksumValidation: 'WHEN_SUPPORTED',
      },
    ],
  ])('%s', (_label, settings, expected) => {
    const config = s3ClientConfig(settings);
    const { maxAttempts, retryMode, requestHandler, ...rest } = config;
    expect(rest).toEqual(expected);
    expect('credentials' in config).toBe('credentials' in expected);
    expect('endpoint' in config).toBe('endpoint' in expected);
    expect(maxAttempts).toBe(S3_MAX_ATTEMPTS);
    expect(maxAttempts).toBeGreaterThan(1);
    expect(retryMode).toBe('standard');
    expect(requestHandler).toEqual({ connectionTimeout: 10_000, socketTimeout: 120_000 });
  });

  test.each([
    ['key id without secret', { accessKeyId: 'AK' }, 's3-secret-access-key'],
    ['secret without key id', { secretAccessKey: 'SK' }, 's3-access-key-id'],
  ])('%s is refused', (_label, credentials, input) => {
    let error: unknown;
    try {
      s3ClientConfig({ ...base, ...credentials });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).input).toBe(input);
    expect((error as ConfigError).message).toBe(
      `Input '${input}': set both s3-access-key-id and s3-secret-access-key, or neither (then the AWS SDK default chain is used: AWS_* environment variables or OIDC).`,
    );
  });
});

describe('objectWriteParams never sends an empty header', () => {
  test.each<[string, S3Settings, string | undefined, Record<string, string>]>([
    ['nothing set', base, undefined, {}],
    ['content type only', base, 'application/gzip', { ContentType: 'application/gzip' }],
    ['empty storage class and content type', { ...base, storageClass: '  ' }, '', {}],
    [
      'storage class',
      { ...base, storageClass: 'STANDARD_IA' },
      'application/gzip',
      { ContentType: 'application/gzip', StorageClass: 'STANDARD_IA' },
    ],
    [
      'AES256 ignores a KMS key id',
      { ...base, sse: 'AES256', sseKmsKeyId: 'key-1' },
      undefined,
      { ServerSideEncryption: 'AES256' },
    ],
    [
      'aws:kms with key id',
      { ...base, sse: 'aws:kms', sseKmsKeyId: 'key-1' },
      undefined,
      { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'key-1' },
    ],
    [
      'aws:kms with empty key id',
      { ...base, sse: 'aws:kms', sseKmsKeyId: '' },
      undefined,
      { ServerSideEncryption: 'aws:kms' },
    ],
  ])('%s', (_label, settings, contentType, expected) => {
    const params = objectWriteParams(settings, contentType);
    expect(params).toEqual(expected);
    expect(Object.values(params).every((value) => typeof value === 'string' && value !== '')).toBe(true);
  });
});

describe('describeS3Error and s3ErrorHint', () => {
  const destination = { kind: 's3' as const, url: 's3://my-bucket/db', bucket: 'my-bucket', prefix: 'db' };
  const r2: S3Settings = {
    ...base,
    endpoint: 'https://acc.r2.cloudflarestorage.com',
    region: 'auto',
    checksums: 'when_supported',
  };
  const sdkError = (name: string, message: string, status: number) =>
    Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: status } });
  const netError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const keys: S3Settings = { ...base, accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' };

  test.each<[string, unknown, S3Settings, string, string | undefined]>([
    [
      'missing bucket',
      sdkError('NoSuchBucket', 'The specified bucket does not exist', 404),
      r2,
      'NoSuchBucket: The specified bucket does not exist',
      "The bucket 'my-bucket' does not exist at https://acc.r2.cloudflarestorage.com: create the bucket or fix `destination` (s3://my-bucket/db). If the bucket exists, the store may need path-style addressing: set `s3-force-path-style: true` (MinIO, Hetzner, Ceph).",
    ],
    [
      'bad secret',
      sdkError(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
        403,
      ),
      keys,
      'SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided',
      "The store refused the credentials: check `s3-access-key-id` and `s3-secret-access-key` (the key pair, from secrets), `s3-region` (us-east-1), and that they may list, read and write bucket 'my-bucket'.",
    ],
    [
      'HeadObject 403 without a body (no error code: "Unknown"), keys given',
      sdkError('Unknown', 'UnknownError', 403),
      keys,
      'Unknown: HTTP 403',
      "The store refused the credentials: check `s3-access-key-id` and `s3-secret-access-key` (the key pair, from secrets), `s3-region` (us-east-1), and that they may list, read and write bucket 'my-bucket'.",
    ],
    [
      '401 with the key inputs empty: the credential chain is named',
      sdkError('Unknown', 'UnknownError', 401),
      base,
      'Unknown: HTTP 401',
      "The store refused the credentials: `s3-access-key-id` and `s3-secret-access-key` are empty, so the AWS SDK default credential chain was used (AWS_* environment variables, an OIDC role from aws-actions/configure-aws-credentials, the instance role): check that role or those variables, `s3-region` (us-east-1), and that they may list, read and write bucket 'my-bucket'.",
    ],
    [
      'connection refused',
      netError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9000'),
      { ...base, endpoint: 'http://127.0.0.1:9000' },
      'connect ECONNREFUSED 127.0.0.1:9000',
      'Could not reach the S3 endpoint (http://127.0.0.1:9000): check `s3-endpoint` and that the server is up and reachable from the runner.',
    ],
    [
      'unknown host, wrapped by the SDK retry layer',
      new Error('AWS SDK error wrapper for Error: getaddrinfo ENOTFOUND minio'),
      { ...base, endpoint: 'http://minio:9000' },
      'getaddrinfo ENOTFOUND minio',
      'Could not reach the S3 endpoint (http://minio:9000): check `s3-endpoint` and that the server is up and reachable from the runner.',
    ],
    [
      'R2 refusing the CRC32 header',
      sdkError('NotImplemented', "Header 'x-amz-checksum-crc32' with value 'AAAAAA==' not implemented", 501),
      r2,
      "NotImplemented: Header 'x-amz-checksum-crc32' with value 'AAAAAA==' not implemented",
      "This store does not accept the AWS SDK's default checksum headers (x-amz-checksum-*): set `s3-checksums: when_required` (R2, B2 and older MinIO need it).",
    ],
    [
      'B2 refusing the CRC32 header',
      sdkError('InvalidArgument', "Unsupported header 'x-amz-checksum-crc32' received for this API call.", 400),
      r2,
      "InvalidArgument: Unsupported header 'x-amz-checksum-crc32' received for this API call",
      "This store does not accept the AWS SDK's default checksum headers (x-amz-checksum-*): set `s3-checksums: when_required` (R2, B2 and older MinIO need it).",
    ],
    ['HeadObject 404 without a body', sdkError('NotFound', 'UnknownError', 404), base, 'NotFound: HTTP 404', undefined],
  ])('%s', (_label, error, settings, text, hint) => {
    expect(describeS3Error(error).text).toBe(text);
    expect(s3ErrorHint(error, destination, settings)).toBe(hint);
  });
});
