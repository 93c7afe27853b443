/**
 * PooledUpload (src/storage/multipart.ts) with the real AWS SDK client against s3rver: part
 * boundaries, the fixed buffer pool, and flexible checksums. Failure and abort paths are covered
 * through S3ObjectStore in storage-s3.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';

import { openPooledPipe, POOLED_READ_BYTES } from '../../src/pipeline/pooled-pipe.js';
import { spawnStage } from '../../src/pipeline/process.js';
import { PooledUpload } from '../../src/storage/multipart.js';
import { MiB } from '../../src/storage/part-size.js';
import { s3ClientConfig } from '../../src/storage/s3.js';
import { startS3Server, testS3Settings, type S3Server } from '../support/s3-server.js';

const BUCKET = 'pool';
let server: S3Server;
let client: S3Client;

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket(BUCKET);
  client = new S3Client(s3ClientConfig(testS3Settings(server.endpoint)));
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

/** `total` random bytes in chunks of `chunkSize` (the last one shorter), with their sha256. */
function body(total: number, chunkSize: number): { stream: Readable; sha256: string } {
  const data = randomBytes(total);
  const chunks: Buffer[] = [];
  for (let at = 0; at < total; at += chunkSize) chunks.push(data.subarray(at, Math.min(total, at + chunkSize)));
  return { stream: Readable.from(chunks), sha256: createHash('sha256').update(data).digest('hex') };
}

async function stored(key: string, c: S3Client = client): Promise<{ sha256: string; bytes: number }> {
  const output = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of output.Body as Readable) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

const partRequests = (key: string) =>
  server.requests.filter((line) => line.startsWith(`PUT /${BUCKET}/${key}?`) && line.includes('partNumber='));

test.each<[string, number, number, number]>([
  // name, total bytes, chunk bytes, parts expected (5 MiB parts)
  ['chunks that straddle part boundaries', 12 * MiB + 123, 37 * 1024 + 5, 3],
  ['one chunk larger than three parts', 16 * MiB + 1, 16 * MiB + 1, 4],
  ['exactly two parts: no empty third part', 10 * MiB, 64 * 1024, 2],
  ['exactly one part: one multipart part', 5 * MiB, MiB, 1],
  ['less than a part: one PutObject', 5 * MiB - 1, MiB, 0],
])(
  '%s',
  async (name, total, chunkSize, parts) => {
    const key = `t/${name.replace(/\W+/g, '-')}`;
    const { stream, sha256 } = body(total, chunkSize);
    const upload = new PooledUpload(
      client,
      {
        Bucket: BUCKET,
        Key: key,
        params: { ContentType: 'application/octet-stream' },
        partSize: 5 * MiB,
        queueSize: 2,
      },
      () => stream.destroy(),
    );
    await upload.run(stream);
    expect(upload.failure).toBeUndefined();
    expect(upload.completed).toBe(true);
    expect({ bytes: upload.bytes, parts: upload.parts }).toEqual({ bytes: total, parts: Math.max(parts, 1) });
    expect(partRequests(key)).toHaveLength(parts);
    expect(await stored(key)).toEqual({ sha256, bytes: total });
    expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
  },
  60_000,
);

test('60 MiB from a fast producer: at most queueSize + 1 part buffers, at most queueSize parts in flight', async () => {
  const { stream, sha256 } = body(60 * MiB, 64 * 1024);
  const upload = new PooledUpload(
    client,
    { Bucket: BUCKET, Key: 't/pool', params: {}, partSize: 5 * MiB, queueSize: 3 },
    () => stream.destroy(),
  );
  await upload.run(stream);
  expect(upload.parts).toBe(12);
  // The producer outpaces the store, so the bounds are reached, and held.
  expect(upload.buffers).toBe(4);
  expect(upload.peakPartsInFlight).toBe(3);
  expect(await stored('t/pool')).toEqual({ sha256, bytes: 60 * MiB });
}, 60_000);

test('flexible checksums (when_supported, as for AWS S3): the upload is created for CRC32 and every part carries one', async () => {
  const crcClient = new S3Client(s3ClientConfig({ ...testS3Settings(server.endpoint), checksums: 'when_supported' }));
  const headers: Record<string, string>[] = [];
  crcClient.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; query?: Record<string, string> };
      if (request.headers) headers.push({ ...request.headers, query: JSON.stringify(request.query ?? {}) });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordHeaders' },
  );
  try {
    const { stream, sha256 } = body(11 * MiB, MiB);
    const upload = new PooledUpload(
      crcClient,
      { Bucket: BUCKET, Key: 't/crc', params: {}, partSize: 5 * MiB, queueSize: 2 },
      () => stream.destroy(),
    );
    await upload.run(stream);
    expect(upload.parts).toBe(3);
    const create = headers.find((h) => h.query?.includes('"uploads"'));
    expect(create?.['x-amz-checksum-algorithm']).toBe('CRC32');
    const parts = headers.filter((h) => h.query?.includes('partNumber'));
    expect(parts).toHaveLength(3);
    for (const part of parts) expect(part['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(await stored('t/crc')).toEqual({ sha256, bytes: 11 * MiB });
  } finally {
    crcClient.destroy();
  }
}, 60_000);

test("a child's output read through a pooled pipe: stored intact, every read buffer released and reused", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pool-pipe-'));
  try {
    const data = randomBytes(23 * MiB + 7);
    writeFileSync(join(dir, 'archive'), data);
    const pooled = await openPooledPipe(dir);
    const child = spawnStage('cat', 'cat', [join(dir, 'archive')], { stdout: pooled.childEnd });
    pooled.writtenBy(child);
    const upload = new PooledUpload(
      client,
      { Bucket: BUCKET, Key: 't/pooled', params: {}, partSize: 5 * MiB, queueSize: 2 },
      () => pooled.output.destroy(),
    );
    await upload.run(pooled.output);
    await child.done;
    expect(await stored('t/pooled')).toEqual({
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: data.length,
    });
    // ≥ 92 reads of at most 256 KiB; without releases each would need a buffer of its own.
    expect(pooled.buffersAllocated()).toBeLessThan(data.length / POOLED_READ_BYTES / 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
