import {
  describeS3Error,
  s3ClientConfig,
  s3ErrorHint,
  stalledRequestBoundMs,
  S3_MAX_ATTEMPTS,
} from '../../src/storage/s3.js';
import { s3Operation, StallError } from '../../src/storage/stall.js';
import type { S3Settings } from '../../src/storage/types.js';

const settings: S3Settings = {
  region: 'us-east-1',
  forcePathStyle: true,
  checksums: 'when_required',
  endpoint: 'https://minio.example:9000',
};
const destination = { kind: 's3' as const, url: 's3://b/db', bucket: 'b', prefix: 'db' };

describe('s3-timeout in the client configuration', () => {
  test('default 120 s; a configured timeout sets the silence allowed and caps the connect timeout', () => {
    expect(s3ClientConfig(settings).requestHandler).toEqual({ connectionTimeout: 10_000, socketTimeout: 120_000 });
    expect(s3ClientConfig({ ...settings, timeoutSeconds: 2 }).requestHandler).toEqual({
      connectionTimeout: 2_000,
      socketTimeout: 2_000,
    });
    expect(s3ClientConfig({ ...settings, timeoutSeconds: 30 }).requestHandler).toEqual({
      connectionTimeout: 10_000,
      socketTimeout: 30_000,
    });
  });

  test('the bound of a request to a store that stalls every try: attempts × (timeout + tick) + backoff', () => {
    expect(S3_MAX_ATTEMPTS).toBe(5);
    expect(stalledRequestBoundMs(settings)).toBe(5 * 121_000 + 3_000);
    expect(stalledRequestBoundMs({ ...settings, timeoutSeconds: 2 })).toBe(5 * 2_200 + 3_000);
  });
});

describe('s3Operation', () => {
  test.each([
    ['PUT', '/b/db/x.dump?partNumber=3&uploadId=abc', 'UploadPart 3'],
    ['PUT', '/b/db/x.dump?x-id=UploadPart&partNumber=12&uploadId=abc', 'UploadPart 12'],
    ['PUT', '/b/db/x.dump?x-id=PutObject', 'PutObject'],
    ['POST', '/b/db/x.dump?uploads', 'CreateMultipartUpload'],
    ['POST', '/b/db/x.dump?uploadId=abc', 'CompleteMultipartUpload'],
    ['DELETE', '/b/db/x.dump?uploadId=abc', 'AbortMultipartUpload'],
    ['DELETE', '/b/db/x.dump', 'DeleteObject'],
    ['POST', '/b?delete', 'DeleteObjects'],
    ['GET', '/b/db/x.dump', 'GetObject'],
    ['GET', '/b?list-type=2&prefix=db%2F', 'ListObjectsV2'],
    ['HEAD', '/b/db/x.dump', 'HeadObject'],
  ])('%s %s → %s', (method, path, operation) => {
    expect(s3Operation(method, path)).toBe(operation);
  });
});

describe('a stalled request is described as stalled, not as unreachable', () => {
  test('while sending the request', () => {
    const error = new StallError('UploadPart 3', 120, 'request');
    expect(describeS3Error(error).text).toBe(
      'the S3 server accepted the connection and then stopped answering for 120 s during UploadPart 3; it stalled',
    );
    const hint = s3ErrorHint(error, destination, settings) ?? '';
    expect(hint).toContain('took the connection but then sent or took nothing for 120 s on each of 5 tries');
    expect(hint).toContain('`s3-timeout`');
    expect(hint).not.toMatch(/could not reach/i);
  });

  test('awaiting the answer, and receiving the body', () => {
    expect(new StallError('CompleteMultipartUpload', 2, 'answer').message).toBe(
      'the S3 server accepted the connection and the whole CompleteMultipartUpload request and then sent no answer for 2 s; it stalled',
    );
    expect(new StallError('GetObject', 2, 'body').message).toBe(
      'the S3 server answered GetObject and then stopped sending its body for 2 s; it stalled',
    );
  });

  test('retryable by the SDK (retry trait), with its own code', () => {
    const error = new StallError('UploadPart 1', 2, 'request');
    expect(error.$retryable).toEqual({});
    expect(describeS3Error(error).code).toBe('S3Stalled');
  });

  test('a refused connection still says it could not reach the endpoint; a reset says the connection was closed', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(s3ErrorHint(refused, destination, settings)).toMatch(/^Could not reach the S3 endpoint/);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(s3ErrorHint(reset, destination, settings)).toMatch(
      /accepted the connection and then closed it on every try/,
    );
  });
});
