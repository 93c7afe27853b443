/**
 * End to end: the object settings inputs (s3-storage-class, s3-sse, s3-sse-kms-key-id) reach the
 * S3 server on every object a backup writes, and archive bodies carry the payload hash the
 * protocol calls for (their SHA-256 over HTTP, UNSIGNED-PAYLOAD over HTTPS). The built bundle runs as a process against a real
 * PostgreSQL cluster and s3rver; the recording proxy of test/support sits between them and keeps
 * each request's method, path, query and headers exactly as they arrived.
 *
 * Objects a backup creates: the archive (one PutObject when it fits a part, else
 * CreateMultipartUpload + UploadPart… + CompleteMultipartUpload), the globals file (`globals: true`,
 * PutObject), the manifest (PutObject) and the run's claim of the key (PutObject, then deleted). The headers belong on PutObject and
 * CreateMultipartUpload, the requests that create an object.
 *
 * s3rver checks x-amz-storage-class against its own list (STANDARD, STANDARD_IA, ONEZONE_IA, …;
 * not GLACIER_IR) and ignores the SSE headers, so the values below are ones it accepts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import { s3ClientConfig } from '../../src/storage/s3.js';
import { runAction, type ActionRun } from '../support/action-runner.js';
import { loadSampleDb, startCluster, type Cluster } from '../support/pg-cluster.js';
import {
  startS3Proxy,
  startS3Server,
  testS3Inputs,
  testS3Settings,
  type ProxiedRequest,
  type S3Proxy,
  type S3Server,
} from '../support/s3-server.js';

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
  if (method === 'PUT' && !query.has('uploadId') && request.headers['x-amz-copy-source'] === undefined)
    return 'PutObject';
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
  // Small: the sample shop's zstd archive (~250 kB) fits one part (a single PutObject).
  await loadSampleDb(cluster, 'shop');
  // Large: ~20 MiB of rows dumped uncompressed, well over one 8 MiB part (a multipart upload).
  await cluster.createDatabase('bulky');
  await cluster.psql(
    'bulky',
    'CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 32) AS pad FROM generate_series(1, 20000) AS g',
  );
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
  { name: 'single-part archive (PutObject)', database: 'shop', extraInputs: {}, archiveCreatedBy: 'PutObject' },
  {
    name: 'multipart archive (CreateMultipartUpload)',
    database: 'bulky',
    extraInputs: { compression: 'none' },
    archiveCreatedBy: 'CreateMultipartUpload',
  },
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
async function backupThroughProxy(
  shape: Shape,
  settings: Settings,
  via: S3Proxy = proxy,
  env: Record<string, string> = {},
): Promise<{ run: ActionRun; prefix: string; requests: ProxiedRequest[] }> {
  const prefix = `run-${++runCounter}`;
  const first = via.requests.length;
  const run = await runAction({
    env,
    inputs: {
      'database-url': cluster.url(shape.database),
      destination: `s3://${BUCKET}/${prefix}`,
      ...testS3Inputs(via.endpoint),
      globals: 'true',
      summary: 'false',
      'issue-on-failure': 'false',
      ...shape.extraInputs,
      ...settings.inputs,
    },
    timeoutMs: 150_000,
  });
  return { run, prefix, requests: via.requests.slice(first) };
}

describe.each(SHAPES)('$name', (shape) => {
  test.each(SETTINGS)(
    '$name: exactly these headers on the archive, globals and manifest',
    async (settings) => {
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
      // …and the run's claim of the archive key (src/storage/claim.ts), deleted once the manifest is written.
      const claim = created.find((name) => name.startsWith(`PutObject ${archiveKey}.claim-`)) as string;
      expect(claim).toMatch(/\.claim-\d{8}T\d{9}Z-[0-9a-f]{12}$/);
      expect(created).toEqual(
        [
          `${shape.archiveCreatedBy} ${archiveKey}`,
          `PutObject ${globalsKey}`,
          `PutObject ${manifestKey}`,
          claim,
        ].sort(),
      );
      const listed = await new S3Client(s3ClientConfig(testS3Settings(s3.endpoint))).send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }),
      );
      expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([archiveKey, globalsKey, manifestKey].sort());

      // For the multipart shape, make sure it really was multipart (several parts, then completed).
      if (shape.archiveCreatedBy === 'CreateMultipartUpload') {
        const parts = objectRequests.filter((r) => r.key === archiveKey && operationOf(r) === 'UploadPart');
        expect(parts.length).toBeGreaterThanOrEqual(2);
        expect(
          objectRequests.filter((r) => r.key === archiveKey && operationOf(r) === 'CompleteMultipartUpload'),
        ).toHaveLength(1);
      }

      // The headers the server received on each creating request: exactly the expected set, same values.
      const received = Object.fromEntries(
        creating.map((r) => [`${operationOf(r)} ${r.key}`, settingHeaders(r.headers)]),
      );
      const wanted = Object.fromEntries(created.map((name) => [name, settings.expected]));
      expect(received).toEqual(wanted);

      if (Object.keys(settings.expected).length === 0) {
        // Without the inputs, no request of the run carries any such header (not only the creating ones).
        const anyWithHeaders = requests.filter((r) => Object.keys(settingHeaders(r.headers)).length > 0);
        expect(anyWithHeaders.map((r) => `${r.method} ${r.key}?${r.query.toString()}`)).toEqual([]);
      }
    },
    180_000,
  );
});

/**
 * x-amz-content-sha256 of the requests that carry archive bytes (UploadPart, or the one PutObject):
 * the body's SHA-256 over plain HTTP (SigV4 payload signing, the SDK's default), the literal
 * UNSIGNED-PAYLOAD over HTTPS, where TLS protects the body and hashing it again costs the action a
 * pass over the archive (createS3Client in src/storage/s3.ts).
 */
describe('payload hash of archive bodies', () => {
  let tlsProxy: S3Proxy;
  let certFile: string;

  beforeAll(async () => {
    // A self-signed certificate for 127.0.0.1, which the action trusts through NODE_EXTRA_CA_CERTS.
    certFile = path.join(work, 'cert.pem');
    const keyFile = path.join(work, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    tlsProxy = await startS3Proxy(s3.port, undefined, {
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
    });
  }, 60_000);

  afterAll(async () => {
    await tlsProxy?.stop();
  });

  /** SHA-256 of the stored object, and the archive sha256 of the manifest stored beside it. */
  async function storedAndManifest(archiveKey: string): Promise<{ stored: string; manifest: string }> {
    const s3Client = new S3Client(s3ClientConfig(testS3Settings(s3.endpoint)));
    try {
      const archive = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: archiveKey }));
      const bytes = await (archive.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
      const manifest = await s3Client.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: `${archiveKey}.manifest.json` }),
      );
      const parsed = JSON.parse(
        await (manifest.Body as { transformToString(): Promise<string> }).transformToString(),
      ) as { archive: { sha256: string } };
      return { stored: createHash('sha256').update(bytes).digest('hex'), manifest: parsed.archive.sha256 };
    } finally {
      s3Client.destroy();
    }
  }

  function archiveBodyHashes(requests: ProxiedRequest[], archiveKey: string): string[] {
    return requests
      .filter((r) => r.key === archiveKey && (operationOf(r) === 'UploadPart' || operationOf(r) === 'PutObject'))
      .map((r) => String(r.headers['x-amz-content-sha256']));
  }

  test.each(SHAPES)(
    'over HTTPS, $name: UNSIGNED-PAYLOAD on every archive body, and the object is what the manifest says',
    async (shape) => {
      const { run, requests } = await backupThroughProxy(shape, SETTINGS[0] as Settings, tlsProxy, {
        NODE_EXTRA_CA_CERTS: certFile,
      });
      if (run.exitCode !== 0) throw new Error(`backup failed (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`);
      const archiveKey = run.outputs['backup-key'] as string;
      const hashes = archiveBodyHashes(requests, archiveKey);
      expect(hashes.length).toBeGreaterThanOrEqual(shape.archiveCreatedBy === 'PutObject' ? 1 : 2);
      expect(new Set(hashes)).toEqual(new Set(['UNSIGNED-PAYLOAD']));
      const { stored, manifest } = await storedAndManifest(archiveKey);
      expect(stored).toBe(manifest);
    },
    180_000,
  );

  test.each(SHAPES)(
    'over HTTP, $name: every archive body is signed with its own SHA-256',
    async (shape) => {
      const { run, requests } = await backupThroughProxy(shape, SETTINGS[0] as Settings);
      if (run.exitCode !== 0) throw new Error(`backup failed (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`);
      const archiveKey = run.outputs['backup-key'] as string;
      const hashes = archiveBodyHashes(requests, archiveKey);
      expect(hashes.length).toBeGreaterThanOrEqual(shape.archiveCreatedBy === 'PutObject' ? 1 : 2);
      for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
      const { stored, manifest } = await storedAndManifest(archiveKey);
      expect(stored).toBe(manifest);
      // A single PutObject carries the whole archive: its payload hash is the archive's sha256.
      if (shape.archiveCreatedBy === 'PutObject') expect(hashes).toEqual([manifest]);
      else expect(new Set(hashes).size).toBe(hashes.length);
    },
    180_000,
  );
});
