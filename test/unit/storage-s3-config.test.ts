import { ConfigError } from '../../src/errors.js';
import { objectWriteParams, s3ClientConfig, S3_MAX_ATTEMPTS } from '../../src/storage/s3.js';
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
      `Input '${input}': is empty but its pair is set; give s3-access-key-id and s3-secret-access-key together (from secrets), or neither to use the AWS default credential chain (AWS_* environment, OIDC)`,
    );
  });
});

describe('objectWriteParams never sends an empty header', () => {
  test.each<[string, S3Settings, string | undefined, Record<string, string>]>([
    ['nothing set', base, undefined, {}],
    ['content type only', base, 'application/gzip', { ContentType: 'application/gzip' }],
    ['empty storage class and content type', { ...base, storageClass: '  ' }, '', {}],
    ['storage class', { ...base, storageClass: 'STANDARD_IA' }, 'application/gzip', { ContentType: 'application/gzip', StorageClass: 'STANDARD_IA' }],
    ['AES256 ignores a KMS key id', { ...base, sse: 'AES256', sseKmsKeyId: 'key-1' }, undefined, { ServerSideEncryption: 'AES256' }],
    ['aws:kms with key id', { ...base, sse: 'aws:kms', sseKmsKeyId: 'key-1' }, undefined, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'key-1' }],
    ['aws:kms with empty key id', { ...base, sse: 'aws:kms', sseKmsKeyId: '' }, undefined, { ServerSideEncryption: 'aws:kms' }],
  ])('%s', (_label, settings, contentType, expected) => {
    const params = objectWriteParams(settings, contentType);
    expect(params).toEqual(expected);
    expect(Object.values(params).every((value) => typeof value === 'string' && value !== '')).toBe(true);
  });
});
