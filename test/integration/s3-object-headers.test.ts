/**
 * End to end: the object settings inputs (s3-storage-class, s3-sse, s3-sse-kms-key-id) reach the
 * S3 server on every object a backup writes. The built bundle runs as a process against a real
 * PostgreSQL cluster and s3rver; the recording proxy of test/support sits between them and keeps
 * each request's method, path, query and headers exactly as they arrived.
 *
 * Objects a backup creates: the archive (one PutObject when it fits a part, else
 * CreateMultipartUpload + UploadPart… + CompleteMultipartUpload), the globals file (`globals: true`,
 * PutObject) and the manifest (PutObject). The headers belong on PutObject and
 * CreateMultipartUpload, the requests that create an object.
 *
 * s3rver checks x-amz-storage-class against its own list (STANDARD, STANDARD_IA, ONEZONE_IA, …;
 * not GLACIER_IR) and ignores the SSE headers, so the values below are ones it accepts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { runAction, type ActionRun } from '../support/action-runner.js';
import { loadPagila, startCluster, type Cluster } from '../support/pg-cluster.js';
import { startS3Proxy, startS3Server, testS3Inputs, type ProxiedRequest, type S3Proxy, type S3Server } from '../support/s3-server.js';

const BUCKET = 'object-headers';
const KMS_KEY_ID = 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
/** Every header name this test is about starts with one of these (case-insensitive on the wire, lower-case in Node). */
const SETTING_HEADER = /^x-amz-(storage-class|server-side-encryption)/;

type Operation = 'PutObject' | 'CreateMultipartUpload' | 'UploadPart' | 'CompleteMultipartUpload' | 'other';

function operationOf(request: ProxiedRequest): Operation {
  const { method, query, key } = request;
  if (key === '') return 'other';
  if (method === 'POST' && query.has('uploads')) return 'CreateMultipartUpload';
  if (method === 'POST' && query.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'PUT' && query.has('partNumber')) return 'UploadPart';
  if (method === 'PUT' && !query.has('uploadId') && request.headers['x-amz-copy-source'] === undefined) return 'PutObject';
  return 'other';
}

/** The storage-class and SSE headers of one request, name → value. */
function settingHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (SETTING_HEADER.test(name)) picked[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return picked;
}

let cluster: Cluster;
let s3: S3Server;
let proxy: S3Proxy;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 's3-object-headers-'));
  [cluster, s3] = await Promise.all([startCluster(), startS3Server()]);
  proxy = await startS3Proxy(s3.port);
  await s3.createBucket(BUCKET);
  // Small: pagila's zstd archive fits one part (a single PutObject).
  await loadPagila(cluster, 'pagila');
  // Large: ~20 MiB of rows dumped uncompressed, well over one 8 MiB part (a multipart upload).
  await cluster.createDatabase('bulky');
  await cluster.psql('bulky', 'CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 32) AS pad FROM generate_series(1, 20000) AS g');
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([cluster?.stop(), s3?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Shape {
  name: string;
  database: string;
  extraInputs: Record<string, string>;
  archiveCreatedBy: 'PutObject' | 'CreateMultipartUpload';
}

const SHAPES: Shape[] = [
  { name: 'single-part archive (PutObject)', database: 'pagila', extraInputs: {}, archiveCreatedBy: 'PutObject' },
  { name: 'multipart archive (CreateMultipartUpload)', database: 'bulky', extraInputs: { compression: 'none' }, archiveCreatedBy: 'CreateMultipartUpload' },
];

interface Settings {
  name: string;
  inputs: Record<string, string>;
  /** Exactly the storage-class/SSE headers every object-creating request must carry (empty = none at all). */
  expected: Record<string, string>;
}

const SETTINGS: Settings[] = [
  { name: 'inputs unset', inputs: {}, expected: {} },
  {
    name: 's3-storage-class STANDARD_IA, s3-sse AES256',
    inputs: { 's3-storage-class': 'STANDARD_IA', 's3-sse': 'AES256' },
    expected: { 'x-amz-storage-class': 'STANDARD_IA', 'x-amz-server-side-encryption': 'AES256' },
  },
  {
    name: 's3-storage-class ONEZONE_IA, s3-sse aws:kms with s3-sse-kms-key-id',
    inputs: { 's3-storage-class': 'ONEZONE_IA', 's3-sse': 'aws:kms', 's3-sse-kms-key-id': KMS_KEY_ID },
    expected: {
      'x-amz-storage-class': 'ONEZONE_IA',
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': KMS_KEY_ID,
    },
  },
];

let runCounter = 0;

/** Runs one backup through the proxy into its own prefix; returns the run and the requests it made. */
async function backupThroughProxy(shape: Shape, settings: Settings): Promise<{ run: ActionRun; prefix: string; requests: ProxiedRequest[] }> {
  const prefix = `run-${++runCounter}`;
  const first = proxy.requests.length;
  const run = await runAction({
    inputs: {
      'database-url': cluster.url(shape.database),
      destination: `s3://${BUCKET}/${prefix}`,
      ...testS3Inputs(proxy.endpoint),
      globals: 'true',
      summary: 'false',
      'issue-on-failure': 'false',
      ...shape.extraInputs,
      ...settings.inputs,
    },
    timeoutMs: 150_000,
  });
  return { run, prefix, requests: proxy.requests.slice(first) };
}

describe.each(SHAPES)('$name', (shape) => {
  test.each(SETTINGS)('$name: exactly these headers on the archive, globals and manifest', async (settings) => {
    const { run, prefix, requests } = await backupThroughProxy(shape, settings);
    if (run.exitCode !== 0) throw new Error(`backup failed (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`);
    expect(run.exitCode).toBe(0);

    const archiveKey = run.outputs['backup-key'] as string;
    const manifestKey = run.outputs['manifest-key'] as string;
    expect(archiveKey.startsWith(`${prefix}/${shape.database}/`)).toBe(true);
    expect(manifestKey).toBe(`${archiveKey}.manifest.json`);
    // The globals file sits beside the archive: same name without the archive suffixes, `.globals.sql`.
    const globalsKey = archiveKey.replace(/\.dump(\.zst)?$/, '') + '.globals.sql';

    // Every request of this run went to our bucket and prefix (nothing else could have been written).
    const objectRequests = requests.filter((r) => r.key !== '');
    for (const r of objectRequests) {
      expect(r.bucket).toBe(BUCKET);
      expect(r.key.startsWith(`${prefix}/`)).toBe(true);
    }

    // The requests that create objects, by key: exactly the archive, the globals file and the manifest.
    const creating = objectRequests.filter((r) => {
      const operation = operationOf(r);
      return operation === 'PutObject' || operation === 'CreateMultipartUpload';
    });
    const created = creating.map((r) => `${operationOf(r)} ${r.key}`).sort();
    expect(created).toEqual(
      [`${shape.archiveCreatedBy} ${archiveKey}`, `PutObject ${globalsKey}`, `PutObject ${manifestKey}`].sort(),
    );

    // For the multipart shape, make sure it really was multipart (several parts, then completed).
    if (shape.archiveCreatedBy === 'CreateMultipartUpload') {
      const parts = objectRequests.filter((r) => r.key === archiveKey && operationOf(r) === 'UploadPart');
      expect(parts.length).toBeGreaterThanOrEqual(2);
      expect(objectRequests.filter((r) => r.key === archiveKey && operationOf(r) === 'CompleteMultipartUpload')).toHaveLength(1);
    }

    // The headers the server received on each creating request: exactly the expected set, same values.
    const received = Object.fromEntries(creating.map((r) => [`${operationOf(r)} ${r.key}`, settingHeaders(r.headers)]));
    const wanted = Object.fromEntries(created.map((name) => [name, settings.expected]));
    expect(received).toEqual(wanted);

    if (Object.keys(settings.expected).length === 0) {
      // Without the inputs, no request of the run carries any such header (not only the creating ones).
      const anyWithHeaders = requests.filter((r) => Object.keys(settingHeaders(r.headers)).length > 0);
      expect(anyWithHeaders.map((r) => `${r.method} ${r.key}?${r.query.toString()}`)).toEqual([]);
    }
  }, 180_000);
});
