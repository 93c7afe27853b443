import { ConfigError } from '../../src/errors.js';
import { bucketInHost, bucketNameProblem, parseDestination, parseS3Endpoint } from '../../src/storage/destination.js';
import type { Destination } from '../../src/storage/types.js';

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseDestination: accepted', () => {
  test.each<[string, Destination]>([
    ['s3://my-bucket', { kind: 's3', url: 's3://my-bucket', bucket: 'my-bucket', prefix: '' }],
    ['s3://my-bucket/', { kind: 's3', url: 's3://my-bucket/', bucket: 'my-bucket', prefix: '' }],
    ['s3://my-bucket/backups', { kind: 's3', url: 's3://my-bucket/backups', bucket: 'my-bucket', prefix: 'backups' }],
    [
      '  s3://my-bucket/backups/daily/  ',
      { kind: 's3', url: 's3://my-bucket/backups/daily/', bucket: 'my-bucket', prefix: 'backups/daily' },
    ],
    [
      's3://my-bucket//daily//db/',
      { kind: 's3', url: 's3://my-bucket//daily//db/', bucket: 'my-bucket', prefix: 'daily/db' },
    ],
    [
      'S3://logs.example.com/x',
      { kind: 's3', url: 'S3://logs.example.com/x', bucket: 'logs.example.com', prefix: 'x' },
    ],
    [
      's3://abc/with space/%20',
      { kind: 's3', url: 's3://abc/with space/%20', bucket: 'abc', prefix: 'with space/%20' },
    ],
    [`s3://${'a'.repeat(63)}`, { kind: 's3', url: `s3://${'a'.repeat(63)}`, bucket: 'a'.repeat(63), prefix: '' }],
    ['file:///var/backups', { kind: 'file', url: 'file:///var/backups', root: '/var/backups', prefix: '' }],
    ['file:///var/backups/', { kind: 'file', url: 'file:///var/backups/', root: '/var/backups', prefix: '' }],
    [
      'file:///var/my%20backups',
      { kind: 'file', url: 'file:///var/my%20backups', root: '/var/my backups', prefix: '' },
    ],
    ['file:////var//backups', { kind: 'file', url: 'file:////var//backups', root: '/var/backups', prefix: '' }],
  ])('%s', (line, expected) => {
    expect(parseDestination(line)).toEqual(expected);
  });
});

describe('parseDestination: rejected', () => {
  test.each([
    ['', "Input 'destination': is empty; write where backups go, e.g. s3://my-bucket/backups or file:///var/backups"],
    ['s3://', "Input 'destination': 's3://' has no bucket; write s3://<bucket>/<prefix>, e.g. s3://my-bucket/backups"],
    [
      's3:///backups',
      "Input 'destination': 's3:///backups' has no bucket; write s3://<bucket>/<prefix>, e.g. s3://my-bucket/backups",
    ],
    [
      's3:my-bucket',
      "Input 'destination': 's3:my-bucket' is not a valid S3 URL; write s3:// followed by the bucket, e.g. s3://my-bucket/backups",
    ],
    [
      's3://My-Bucket/x',
      "Input 'destination': 's3://My-Bucket/x': bucket name 'My-Bucket' must be lowercase; e.g. s3://my-bucket/backups",
    ],
    [
      's3://ab/x',
      "Input 'destination': 's3://ab/x': bucket name 'ab' must be 3 to 63 characters long (it has 2); e.g. s3://my-bucket/backups",
    ],
    [
      `s3://${'a'.repeat(64)}`,
      `Input 'destination': 's3://${'a'.repeat(64)}': bucket name '${'a'.repeat(64)}' must be 3 to 63 characters long (it has 64); e.g. s3://my-bucket/backups`,
    ],
    [
      's3://my_bucket',
      "Input 'destination': 's3://my_bucket': bucket name 'my_bucket' may contain only lowercase letters, digits, dots and hyphens; e.g. s3://my-bucket/backups",
    ],
    [
      's3://-bucket',
      "Input 'destination': 's3://-bucket': bucket name '-bucket' must begin and end with a letter or digit; e.g. s3://my-bucket/backups",
    ],
    [
      's3://a..b',
      "Input 'destination': 's3://a..b': bucket name 'a..b' must not contain two adjacent dots; e.g. s3://my-bucket/backups",
    ],
    [
      's3://192.168.1.1/x',
      "Input 'destination': 's3://192.168.1.1/x': bucket name '192.168.1.1' must not look like an IP address; e.g. s3://my-bucket/backups",
    ],
    [
      's3://my-bucket/a/../b',
      "Input 'destination': 's3://my-bucket/a/../b': the prefix must not contain '.' or '..' segments; write the prefix as it is, e.g. s3://my-bucket/backups/daily",
    ],
    [
      's3://my-bucket/x?versionId=1',
      "Input 'destination': 's3://my-bucket/x?versionId=1' has a query string or fragment; remove everything from '?' or '#', e.g. s3://my-bucket/backups",
    ],
    [
      's3://AKIAEXAMPLE:secret@my-bucket/x',
      "Input 'destination': 's3://***@my-bucket/x' has credentials in the URL; remove them and pass them from secrets in `s3-access-key-id` and `s3-secret-access-key` (or use the AWS environment / OIDC), e.g. s3://my-bucket/backups",
    ],
    [
      's3://localhost:9000/bucket',
      "Input 'destination': 's3://localhost:9000/bucket': 'localhost:9000' is not a bucket name (it has a port); put the server in `s3-endpoint` (e.g. http://localhost:9000) and only the bucket in `destination`, e.g. s3://my-bucket/backups",
    ],
    [
      'https://my-bucket.s3.amazonaws.com/x',
      "Input 'destination': 'https://my-bucket.s3.amazonaws.com/x' is an https URL; for S3-compatible storage write s3://<bucket>/<prefix> in `destination` and put the server's URL in `s3-endpoint`, e.g. destination s3://my-bucket/backups with s3-endpoint https://<account>.r2.cloudflarestorage.com",
    ],
    [
      'gs://my-bucket/x',
      "Input 'destination': 'gs://my-bucket/x': gs:// is not supported; use Google Cloud Storage's S3-compatible API: destination s3://my-bucket/backups with s3-endpoint https://storage.googleapis.com and HMAC keys",
    ],
    [
      'ftp://host/x',
      "Input 'destination': 'ftp://host/x': unsupported scheme 'ftp:'; write s3://my-bucket/backups or file:///var/backups",
    ],
    [
      '/var/backups',
      "Input 'destination': '/var/backups' is a bare path, not a URL; write it as a file URL, e.g. file:///var/backups, or use s3://my-bucket/prefix",
    ],
    [
      'backups',
      "Input 'destination': 'backups' is a bare path, not a URL; write it as a file URL, e.g. file:///absolute/path/to/folder (relative paths are not allowed), or use s3://my-bucket/prefix",
    ],
    [
      'C:\\backups',
      "Input 'destination': 'C:\\backups' is a bare path, not a URL; write it as a file URL, e.g. file:///C:/backups",
    ],
    [
      'file://backups',
      "Input 'destination': 'file://backups' reads 'backups' as a host name; a file URL needs three slashes and an absolute path, e.g. file:///var/backups",
    ],
    [
      'file:backups',
      "Input 'destination': 'file:backups' is not an absolute file URL; write file:/// followed by an absolute path, e.g. file:///var/backups",
    ],
    [
      'file:///var/../etc',
      "Input 'destination': 'file:///var/../etc': the path must not contain '.' or '..' segments; write the folder's absolute path, e.g. file:///var/backups",
    ],
    [
      'file:///var/%2e%2e/etc',
      "Input 'destination': 'file:///var/%2e%2e/etc': the path must not contain '.' or '..' segments; write the folder's absolute path, e.g. file:///var/backups",
    ],
    [
      'file:///var/backups?x=1',
      "Input 'destination': 'file:///var/backups?x=1' has a query string or fragment; remove everything from '?' or '#', e.g. file:///var/backups",
    ],
    [
      'file:///',
      "Input 'destination': 'file:///' is the root of the file system; write a folder for the backups, e.g. file:///var/backups",
    ],
  ])('%j', (line, message) => {
    const error = thrown(() => parseDestination(line));
    expect(error.message).toBe(message);
    expect(error.input).toBe('destination');
    expect(error.phase).toBe('config');
  });
});

describe('parseS3Endpoint', () => {
  test.each<[string, string | undefined]>([
    ['', undefined],
    ['   ', undefined],
    ['https://acc.r2.cloudflarestorage.com', 'https://acc.r2.cloudflarestorage.com'],
    ['https://acc.r2.cloudflarestorage.com/', 'https://acc.r2.cloudflarestorage.com'],
    ['http://127.0.0.1:9000', 'http://127.0.0.1:9000'],
    ['HTTPS://S3.Example.COM:443/', 'https://s3.example.com'],
  ])('%j → %j', (value, expected) => {
    expect(parseS3Endpoint(value)).toBe(expected);
  });

  test.each([
    [
      'https://acc.r2.cloudflarestorage.com/my-bucket',
      "Input 's3-endpoint': 'https://acc.r2.cloudflarestorage.com/my-bucket' has a path ('/my-bucket'); the endpoint must be the server only: remove the bucket from the endpoint (use https://acc.r2.cloudflarestorage.com) and put it in `destination` as s3://my-bucket/...",
    ],
    [
      'https://acc.r2.cloudflarestorage.com/my-bucket/backups',
      "Input 's3-endpoint': 'https://acc.r2.cloudflarestorage.com/my-bucket/backups' has a path ('/my-bucket/backups'); the endpoint must be the server only: remove the bucket from the endpoint (use https://acc.r2.cloudflarestorage.com) and put it in `destination` as s3://my-bucket/...",
    ],
    [
      's3.example.com',
      "Input 's3-endpoint': 's3.example.com' is not a URL; write the server's URL with its scheme, e.g. https://s3.example.com",
    ],
    [
      'localhost:9000',
      "Input 's3-endpoint': 'localhost:9000' must start with https:// or http://, e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000",
    ],
    [
      'ftp://s3.example.com',
      "Input 's3-endpoint': 'ftp://s3.example.com' must start with https:// or http://, e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000",
    ],
    [
      's3://my-bucket',
      "Input 's3-endpoint': 's3://my-bucket' is a bucket URL; `s3-endpoint` is the server's http(s) URL (e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000) and the bucket goes in `destination` as s3://my-bucket",
    ],
    [
      'https://user:pw@s3.example.com',
      "Input 's3-endpoint': 'https://***@s3.example.com' has credentials in the URL; remove them and pass them from secrets in `s3-access-key-id` and `s3-secret-access-key`, e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000",
    ],
    [
      'https://s3.example.com/?x=1',
      "Input 's3-endpoint': 'https://s3.example.com/?x=1' has a query string or fragment; write only the server's URL, e.g. https://s3.example.com",
    ],
    [
      'https://s3.example.com#frag',
      "Input 's3-endpoint': 'https://s3.example.com#frag' has a query string or fragment; write only the server's URL, e.g. https://s3.example.com",
    ],
  ])('%j is rejected', (value, message) => {
    const error = thrown(() => parseS3Endpoint(value));
    expect(error.message).toBe(message);
    expect(error.input).toBe('s3-endpoint');
  });
});

describe('bucketNameProblem', () => {
  test.each([
    ['abc', undefined],
    ['my.bucket-1', undefined],
    ['ends-', 'must begin and end with a letter or digit'],
    ['white space', 'may contain only lowercase letters, digits, dots and hyphens'],
  ])('%j', (name, problem) => {
    expect(bucketNameProblem(name)).toBe(problem);
  });
});

describe('a bucket in the endpoint host name (virtual-hosted style) is detected', () => {
  test.each<[string, ReturnType<typeof bucketInHost>]>([
    // Servers' own host names: no bucket.
    ['s3.amazonaws.com', undefined],
    ['s3.eu-west-1.amazonaws.com', undefined],
    ['s3-eu-west-1.amazonaws.com', undefined],
    ['s3.dualstack.us-east-2.amazonaws.com', undefined],
    ['0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com', undefined],
    ['acc.eu.r2.cloudflarestorage.com', undefined],
    ['s3.us-west-004.backblazeb2.com', undefined],
    ['s3.eu-central-1.wasabisys.com', undefined],
    ['nyc3.digitaloceanspaces.com', undefined],
    ['storage.googleapis.com', undefined],
    ['127.0.0.1', undefined],
    ['minio.internal.example.com', undefined],
    // Buckets in the host name.
    ['my-bucket.s3.amazonaws.com', { bucket: 'my-bucket', server: 's3.amazonaws.com', aws: true }],
    [
      'my.dotted.bucket.s3.eu-west-1.amazonaws.com',
      { bucket: 'my.dotted.bucket', server: 's3.eu-west-1.amazonaws.com', aws: true, region: 'eu-west-1' },
    ],
    [
      'my-bucket.s3-us-west-2.amazonaws.com',
      { bucket: 'my-bucket', server: 's3-us-west-2.amazonaws.com', aws: true, region: 'us-west-2' },
    ],
    [
      'my-bucket.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com',
      { bucket: 'my-bucket', server: '0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com', aws: false },
    ],
    [
      'my-bucket.acc.eu.r2.cloudflarestorage.com',
      { bucket: 'my-bucket', server: 'acc.eu.r2.cloudflarestorage.com', aws: false },
    ],
    [
      'my-bucket.s3.us-west-004.backblazeb2.com',
      { bucket: 'my-bucket', server: 's3.us-west-004.backblazeb2.com', aws: false },
    ],
    ['my-bucket.s3.wasabisys.com', { bucket: 'my-bucket', server: 's3.wasabisys.com', aws: false }],
    [
      'my-bucket.nyc3.digitaloceanspaces.com',
      { bucket: 'my-bucket', server: 'nyc3.digitaloceanspaces.com', aws: false },
    ],
    ['my-bucket.storage.googleapis.com', { bucket: 'my-bucket', server: 'storage.googleapis.com', aws: false }],
  ])('%s', (host, expected) => {
    expect(bucketInHost(host)).toEqual(expected);
  });

  test.each([
    [
      'https://my-bucket.s3.amazonaws.com',
      "Input 's3-endpoint': 'https://my-bucket.s3.amazonaws.com' has the bucket 'my-bucket' in its host name (a virtual-hosted-style bucket URL); the endpoint must be the server only: leave `s3-endpoint` empty for AWS S3 (set `s3-region`), and put the bucket in `destination` as s3://my-bucket/...",
    ],
    [
      'https://my-bucket.s3.eu-west-1.amazonaws.com/',
      "Input 's3-endpoint': 'https://my-bucket.s3.eu-west-1.amazonaws.com/' has the bucket 'my-bucket' in its host name (a virtual-hosted-style bucket URL); the endpoint must be the server only: leave `s3-endpoint` empty for AWS S3 (set `s3-region` to eu-west-1), and put the bucket in `destination` as s3://my-bucket/...",
    ],
    [
      'https://backups.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com',
      "Input 's3-endpoint': 'https://backups.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com' has the bucket 'backups' in its host name (a virtual-hosted-style bucket URL); the endpoint must be the server only: set `s3-endpoint` to the server only, https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com, and put the bucket in `destination` as s3://backups/...",
    ],
  ])('%s is refused with the fix', (value, message) => {
    expect(() => parseS3Endpoint(value)).toThrow(message);
  });
});
