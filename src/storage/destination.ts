/**
 * Parsing of the `destination` and `s3-endpoint` inputs.
 *
 * Every rejection is a {@link ConfigError} whose message says what was wrong and how to fix it, with
 * an example, because these are the inputs users most often get slightly wrong (an endpoint with
 * the bucket appended, `file://relative`, an `https://` URL of a bucket, …).
 */
import { isAbsolute, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ConfigError } from '../errors.js';
import type { Destination } from './types.js';

const DESTINATION_EXAMPLES = 's3://my-bucket/backups or file:///var/backups';

/**
 * Parses one line of the `destination` input.
 *
 * - `s3://bucket/optional/prefix`: the bucket is checked against the S3 naming rules; the prefix is
 *   taken literally (no percent-decoding, as the AWS CLI does), with leading, trailing and repeated
 *   slashes removed; `.` and `..` segments are refused.
 * - `file:///absolute/path`: a file URL (percent-decoded) of an absolute folder.
 */
export function parseDestination(line: string): Destination {
  const url = line.trim();
  if (url === '') {
    throw new ConfigError('destination', `is empty; write where backups go, e.g. ${DESTINATION_EXAMPLES}`);
  }
  if (CONTROL_CHAR.test(url)) {
    throw new ConfigError(
      'destination',
      `'${printable(url)}' contains control characters; write one destination per line, e.g. ${DESTINATION_EXAMPLES}`,
    );
  }
  if (/^[a-zA-Z]:[\\/]/.test(url)) {
    const drivePath = url.replace(/\\/g, '/');
    throw new ConfigError(
      'destination',
      `'${url}' is a bare path, not a URL; write it as a file URL, e.g. file:///${drivePath}`,
    );
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const hint = url.startsWith('/')
      ? `file://${url}`
      : 'file:///absolute/path/to/folder (relative paths are not allowed)';
    throw new ConfigError(
      'destination',
      `'${url}' is a bare path, not a URL; write it as a file URL, e.g. ${hint}, or use s3://my-bucket/prefix`,
    );
  }
  switch (scheme) {
    case 's3':
      return parseS3Destination(url);
    case 'file':
      return parseFileDestination(url);
    case 'http':
    case 'https':
      throw new ConfigError(
        'destination',
        `'${url}' is an ${scheme} URL; for S3-compatible storage write s3://<bucket>/<prefix> in \`destination\` and put the server's URL in \`s3-endpoint\`, e.g. destination s3://my-bucket/backups with s3-endpoint https://<account>.r2.cloudflarestorage.com`,
      );
    case 'gs':
      throw new ConfigError(
        'destination',
        `'${url}': gs:// is not supported; use Google Cloud Storage's S3-compatible API: destination s3://my-bucket/backups with s3-endpoint https://storage.googleapis.com and HMAC keys`,
      );
    default:
      throw new ConfigError('destination', `'${url}': unsupported scheme '${scheme}:'; write ${DESTINATION_EXAMPLES}`);
  }
}

function parseS3Destination(url: string): Destination {
  if (!/^s3:\/\//i.test(url)) {
    throw new ConfigError(
      'destination',
      `'${url}' is not a valid S3 URL; write s3:// followed by the bucket, e.g. s3://my-bucket/backups`,
    );
  }
  const rest = url.slice('s3://'.length);
  if (/[?#]/.test(rest)) {
    throw new ConfigError(
      'destination',
      `'${url}' has a query string or fragment; remove everything from '?' or '#', e.g. s3://my-bucket/backups`,
    );
  }
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash + 1);
  if (authority.includes('@')) {
    throw new ConfigError(
      'destination',
      `'${redactUserInfo(url)}' has credentials in the URL; remove them and pass them from secrets in \`s3-access-key-id\` and \`s3-secret-access-key\` (or use the AWS environment / OIDC), e.g. s3://my-bucket/backups`,
    );
  }
  if (authority === '') {
    throw new ConfigError(
      'destination',
      `'${url}' has no bucket; write s3://<bucket>/<prefix>, e.g. s3://my-bucket/backups`,
    );
  }
  if (authority.includes(':')) {
    throw new ConfigError(
      'destination',
      `'${url}': '${authority}' is not a bucket name (it has a port); put the server in \`s3-endpoint\` (e.g. http://${authority}) and only the bucket in \`destination\`, e.g. s3://my-bucket/backups`,
    );
  }
  const bucketProblem = bucketNameProblem(authority);
  if (bucketProblem !== undefined) {
    throw new ConfigError(
      'destination',
      `'${url}': bucket name '${authority}' ${bucketProblem}; e.g. s3://my-bucket/backups`,
    );
  }
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new ConfigError(
      'destination',
      `'${url}': the prefix must not contain '.' or '..' segments; write the prefix as it is, e.g. s3://${authority}/backups/daily`,
    );
  }
  return { kind: 's3', url, bucket: authority, prefix: segments.join('/') };
}

/**
 * Why `name` is not a valid bucket name, or undefined when it is. Rules from the Amazon S3 user
 * guide, "General purpose bucket naming rules" (the ones every S3-compatible store shares).
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `must be 3 to 63 characters long (it has ${name.length})`;
  if (/[A-Z]/.test(name)) return 'must be lowercase';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may contain only lowercase letters, digits, dots and hyphens';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'must not look like an IP address';
  return undefined;
}

function parseFileDestination(url: string): Destination {
  if (!/^file:\/\//i.test(url)) {
    throw new ConfigError(
      'destination',
      `'${url}' is not an absolute file URL; write file:/// followed by an absolute path, e.g. file:///var/backups`,
    );
  }
  if (/[?#]/.test(url)) {
    throw new ConfigError(
      'destination',
      `'${url}' has a query string or fragment; remove everything from '?' or '#', e.g. file:///var/backups`,
    );
  }
  if (!/^file:\/\/\//i.test(url)) {
    const host = url.slice('file://'.length).split('/')[0] ?? '';
    const what = host.includes('@') ? 'has credentials or a host' : `reads '${host}' as a host name`;
    throw new ConfigError(
      'destination',
      `'${url}' ${what}; a file URL needs three slashes and an absolute path, e.g. file:///var/backups`,
    );
  }
  let path: string;
  try {
    path = fileURLToPath(new URL(url));
  } catch (error) {
    const reason =
      typeof (error as { message?: unknown })?.message === 'string'
        ? (error as { message: string }).message
        : String(error);
    throw new ConfigError(
      'destination',
      `'${url}' is not a valid file URL (${reason}); write file:/// followed by an absolute path, e.g. file:///var/backups`,
    );
  }
  // The URL parser silently resolves dot segments (also percent-encoded ones); refuse them instead.
  const rawSegments = url.slice('file://'.length).split('/').map(safeDecode);
  if (rawSegments.some((segment) => segment === '.' || segment === '..')) {
    throw new ConfigError(
      'destination',
      `'${url}': the path must not contain '.' or '..' segments; write the folder's absolute path, e.g. file:///var/backups`,
    );
  }
  if (!isAbsolute(path)) {
    throw new ConfigError(
      'destination',
      `'${url}' is not an absolute path; write file:/// followed by an absolute path, e.g. file:///var/backups`,
    );
  }
  let root = normalize(path);
  while (root.length > 1 && root.endsWith(sep) && !/^[a-zA-Z]:\\$/.test(root)) root = root.slice(0, -1);
  if (root === sep || /^[a-zA-Z]:\\$/.test(root)) {
    throw new ConfigError(
      'destination',
      `'${url}' is the root of the file system; write a folder for the backups, e.g. file:///var/backups`,
    );
  }
  return { kind: 'file', url, root, prefix: '' };
}

/**
 * Parses the `s3-endpoint` input: '' → undefined (AWS S3); otherwise an http(s) URL of the server
 * only (no bucket in the path, no credentials, query or fragment), returned as its origin without a
 * trailing slash, e.g. `https://<account>.r2.cloudflarestorage.com`.
 */
export function parseS3Endpoint(value: string): string | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  const example = 'https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      's3-endpoint',
      `'${text}' is not a URL; write the server's URL with its scheme, e.g. https://${text.replace(/^\/+/, '')}`,
    );
  }
  const protocol = url.protocol.toLowerCase();
  if (protocol === 's3:') {
    throw new ConfigError(
      's3-endpoint',
      `'${text}' is a bucket URL; \`s3-endpoint\` is the server's http(s) URL (e.g. ${example}) and the bucket goes in \`destination\` as ${text}`,
    );
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new ConfigError('s3-endpoint', `'${text}' must start with https:// or http://, e.g. ${example}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      's3-endpoint',
      `'${redactUserInfo(text)}' has credentials in the URL; remove them and pass them from secrets in \`s3-access-key-id\` and \`s3-secret-access-key\`, e.g. ${example}`,
    );
  }
  if (text.includes('?') || text.includes('#')) {
    throw new ConfigError(
      's3-endpoint',
      `'${text}' has a query string or fragment; write only the server's URL, e.g. ${url.origin}`,
    );
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    const first = url.pathname.split('/').filter((segment) => segment !== '')[0] ?? '';
    const bucket = safeDecode(first);
    throw new ConfigError(
      's3-endpoint',
      `'${text}' has a path ('${url.pathname}'); the endpoint must be the server only: remove the bucket from the endpoint (use ${url.origin}) and put it in \`destination\` as s3://${bucket}/...`,
    );
  }
  const hosted = bucketInHost(url.hostname);
  if (hosted) {
    const server = `${url.protocol}//${hosted.server}${url.port ? `:${url.port}` : ''}`;
    const fix = hosted.aws
      ? `leave \`s3-endpoint\` empty for AWS S3 (set \`s3-region\`${hosted.region ? ` to ${hosted.region}` : ''})`
      : `set \`s3-endpoint\` to the server only, ${server}`;
    throw new ConfigError(
      's3-endpoint',
      `'${text}' has the bucket '${hosted.bucket}' in its host name (a virtual-hosted-style bucket URL); the endpoint must be the server only: ${fix}, and put the bucket in \`destination\` as s3://${hosted.bucket}/...`,
    );
  }
  return url.origin;
}

/**
 * Host names of S3 services whose buckets also have their own host name (`<bucket>.<server>`):
 * the pattern of the server's own host name. AWS: "Virtual hosting of buckets" and "Amazon S3
 * endpoints" (s3, s3.<region>, s3-<region>, s3.dualstack.<region>, s3-fips…); Cloudflare R2:
 * `<account>.r2.cloudflarestorage.com` (the account id is 32 hex digits; optionally `.eu.`/`.fedramp.`); Backblaze B2, Wasabi,
 * DigitalOcean Spaces, Google Cloud Storage.
 */
const VIRTUAL_HOSTED: readonly { server: RegExp; aws?: true }[] = [
  {
    server: /^(s3(?:[.-]fips)?(?:\.dualstack)?(?:[.-]([a-z]{2}(?:-[a-z]+)+-\d+))?\.amazonaws\.com(?:\.cn)?)$/,
    aws: true,
  },
  { server: /^((?!(?:eu|fedramp)\.)[a-z0-9]+(?:\.(?:eu|fedramp))?\.r2\.cloudflarestorage\.com)$/ },
  { server: /^(s3\.[a-z0-9-]+\.backblazeb2\.com)$/ },
  { server: /^(s3(?:\.[a-z0-9-]+)?\.wasabisys\.com)$/ },
  { server: /^([a-z0-9-]+\.digitaloceanspaces\.com)$/ },
  { server: /^(storage\.googleapis\.com)$/ },
];

/**
 * The bucket of a virtual-hosted-style host name (`my-bucket.s3.eu-west-1.amazonaws.com`,
 * `my-bucket.<account>.r2.cloudflarestorage.com`), with the server's own host name, or undefined
 * when `hostname` is a server's (or unknown: other stores are not guessed at).
 */
export function bucketInHost(
  hostname: string,
): { bucket: string; server: string; aws: boolean; region?: string } | undefined {
  const host = hostname.toLowerCase();
  for (const { server, aws } of VIRTUAL_HOSTED) {
    // The bucket is everything before the server's name (bucket names may contain dots).
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const match = server.exec(host.slice(dot + 1));
      if (!match) continue;
      const region = aws ? match[2] : undefined;
      return {
        bucket: host.slice(0, dot),
        server: host.slice(dot + 1),
        aws: aws === true,
        ...(region ? { region } : {}),
      };
    }
  }
  return undefined;
}

function redactUserInfo(text: string): string {
  return text.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@]*@/, '$1***@');
}

/** C0 control characters and DEL, which no destination contains (a pasted newline or tab does). */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL_CHAR = /[\u0000-\u001f\u007f]/;

function printable(text: string): string {
  return text.replace(
    new RegExp(CONTROL_CHAR.source, 'g'),
    (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The one error for an S3 access key id without its secret or the reverse, naming the empty
 * input; undefined when both or neither are set (neither: the AWS SDK's default chain).
 */
export function keyPairError(accessKeyId: string, secretAccessKey: string): ConfigError | undefined {
  if ((accessKeyId === '') === (secretAccessKey === '')) return undefined;
  return new ConfigError(
    accessKeyId === '' ? 's3-access-key-id' : 's3-secret-access-key',
    'set both s3-access-key-id and s3-secret-access-key, or neither (then the AWS SDK default chain is used: AWS_* environment variables or OIDC).',
  );
}
