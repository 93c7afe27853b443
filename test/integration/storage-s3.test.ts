/**
 * S3ObjectStore against a real s3rver (real HTTP, real AWS SDK). Needs
 * NODE_OPTIONS=--openssl-legacy-provider (s3rver's listing tokens use DES).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { UploadError } from '../../src/errors.js';
import { parseDestination } from '../../src/storage/destination.js';
import { MiB } from '../../src/storage/part-size.js';
import { S3ObjectStore } from '../../src/storage/s3.js';
import {
  answerS3Error,
  startS3Proxy,
  startS3Server,
  testS3Settings,
  type S3Proxy,
  type S3Server,
} from '../support/s3-server.js';
import { eventually } from '../support/poll.js';
import { rejectionOf } from '../support/rejection.js';

const BUCKET = 'backups';

function s3Destination(url: string) {
  const destination = parseDestination(url);
  if (destination.kind !== 's3') throw new Error('expected an s3 destination');
  return destination;
}

/** A stream of random 1 MiB chunks; optionally slow, optionally failing after `failAfterChunks`. */
function randomBody(options: { chunks: number; delayMs?: number; failAfterChunks?: number; error?: Error }) {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      const produce = () => {
        if (this.destroyed) return;
        if (options.failAfterChunks !== undefined && sent >= options.failAfterChunks) {
          this.destroy(options.error ?? new Error('body failed'));
          return;
        }
        if (sent >= options.chunks) {
          this.push(null);
          return;
        }
        const chunk = randomBytes(MiB);
        hash.update(chunk);
        sent += 1;
        this.push(chunk);
      };
      if (options.delayMs) setTimeout(produce, options.delayMs);
      else produce();
    },
  });
  return { stream, sha256: () => hash.digest('hex'), sentBytes: () => sent * MiB };
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  if (!(await eventually(condition, { timeoutMs, intervalMs: 20 }))) throw new Error(`timed out waiting for ${what}`);
}

async function putMany(store: S3ObjectStore, keys: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      await store.put(key, key, 'text/plain');
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

const uploadParts = (server: S3Server, key: string) =>
  server.requests.filter((line) => line.startsWith(`PUT /${BUCKET}/${key}?`) && line.includes('partNumber=')).length;

describe('S3ObjectStore against s3rver', () => {
  let server: S3Server;
  let store: S3ObjectStore;

  beforeAll(async () => {
    server = await startS3Server();
    await server.createBucket(BUCKET);
    store = new S3ObjectStore(s3Destination(`s3://${BUCKET}/db`), testS3Settings(server.endpoint));
  });

  afterAll(async () => {
    store?.close();
    await server?.stop();
  });

  test('put, head and get round trip; missing keys', async () => {
    const manifest = JSON.stringify({ database: 'app', sha256: 'x'.repeat(64) });
    await store.put('db/manifest.json', manifest, 'application/json');

    const info = await store.head('db/manifest.json');
    expect(info).toMatchObject({ key: 'db/manifest.json', size: Buffer.byteLength(manifest) });
    expect(info?.lastModified).toBeInstanceOf(Date);
    expect(info?.etag).toMatch(/^[0-9a-f]{32}$/);

    expect(await readAll(await store.get('db/manifest.json'))).toBe(manifest);
    expect(await store.head('db/missing.json')).toBeUndefined();
    await expect(store.get('db/missing.json')).rejects.toThrow(
      'There is no object s3://backups/db/missing.json: NoSuchKey',
    );
  });

  test('streams 40 MiB in several parts and reads it back byte-identical', async () => {
    const body = randomBody({ chunks: 40 });
    const result = await store.upload('db/big.dump', body.stream, { expectedBytes: 1 * MiB });
    expect(result).toEqual({
      key: 'db/big.dump',
      bytes: 40 * MiB,
      parts: 5,
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
      etag: expect.stringMatching(/^[0-9a-f]{32}-5$|^[0-9a-f]{32}$/),
    });
    expect(uploadParts(server, 'db/big.dump')).toBe(5);

    expect((await store.head('db/big.dump'))?.size).toBe(40 * MiB);
    const stored = await sha256Of(await store.get('db/big.dump'));
    expect(stored).toEqual({ sha256: body.sha256(), bytes: 40 * MiB });
    expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
  }, 60_000);

  test('small and empty bodies go up in one PutObject', async () => {
    const result = await store.upload('db/small.dump', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    expect(result).toEqual({ key: 'db/small.dump', bytes: 11, parts: 1, etag: '5eb63bbbe01eeed093cb22bb8f5acdc3' });
    expect(await readAll(await store.get('db/small.dump'))).toBe('hello world');

    const empty = await store.upload('db/empty.dump', Readable.from([]));
    expect(empty).toEqual({ key: 'db/empty.dump', bytes: 0, parts: 1, etag: 'd41d8cd98f00b204e9800998ecf8427e' });
    expect((await store.head('db/empty.dump'))?.size).toBe(0);
  });

  describe('with 1,050 objects', () => {
    const keys = Array.from({ length: 1050 }, (_, i) => `db/many/${String(i).padStart(4, '0')}.txt`);

    beforeAll(async () => {
      await putMany(store, keys);
    }, 60_000);

    test('list follows continuation tokens across pages', async () => {
      const before = server.responses.length;
      const listed = await collect(store.list('db/many/'));
      expect(listed.map((o) => o.key).sort()).toEqual(keys);
      expect(listed.every((o) => o.size === Buffer.byteLength(o.key))).toBe(true);
      const listRequests = server.responses
        .slice(before)
        .filter((line) => /^GET \/backups\/?\?(.*&)?list-type=2/.test(line));
      expect(listRequests).toHaveLength(2);
      expect(listRequests[0]).not.toContain('continuation-token=');
      expect(listRequests[1]).toContain('continuation-token=');
      expect(listRequests.every((line) => line.endsWith(' 200'))).toBe(true);
    }, 30_000);

    test('delete removes them in two DeleteObjects batches', async () => {
      const before = server.responses.length;
      const result = await store.delete(keys);
      expect(result.errors).toEqual([]);
      expect(result.deleted).toEqual(keys);
      const batches = server.responses.slice(before).filter((line) => /^POST \/backups\/?\?delete/.test(line));
      expect(batches.filter((line) => line.endsWith(' 200'))).toHaveLength(2);
      // s3rver sometimes answers 500 when concurrent deletes race to remove the emptied folder
      // (readdirSync ENOENT); the SDK's retries absorb it.
      expect(batches.filter((line) => !line.endsWith(' 200') && !line.endsWith(' 500'))).toEqual([]);
      expect(store.usesSingleDeletes).toBe(false);
      expect(await collect(store.list('db/many/'))).toEqual([]);
    }, 30_000);
  });

  describe('when the store refuses DeleteObjects (proxy answering 501 NotImplemented)', () => {
    let proxy: S3Proxy;
    let proxyStore: S3ObjectStore;
    const seen: string[] = [];
    const denied = 'db/fallback/denied.txt';
    /** Arrivals (`> line`) and finished answers (`< line`) of requests for {@link partDenied}, in order. */
    const partEvents: string[] = [];
    const partDenied = 'db/part-denied.dump';

    beforeAll(async () => {
      proxy = await startS3Proxy(server.port, ({ line, method, bucket, key, query }, req, res, forward) => {
        seen.push(line);
        if (bucket === BUCKET && key === partDenied) {
          partEvents.push(`> ${line}`);
          res.on('finish', () => partEvents.push(`< ${line}`));
          if (query.get('partNumber') === '2') {
            answerS3Error(req, res, 403, 'AccessDenied', 'Access Denied');
            return;
          }
        }
        if (method === 'POST' && query.has('delete')) {
          answerS3Error(
            req,
            res,
            501,
            'NotImplemented',
            "Header 'x-amz-checksum-crc32' with value 'AAAAAA==' not implemented",
          );
          return;
        }
        if (method === 'DELETE' && bucket === BUCKET && key === denied) {
          answerS3Error(req, res, 403, 'AccessDenied', 'Access Denied');
          return;
        }
        forward();
      });
      const endpoint = proxy.endpoint;
      proxyStore = new S3ObjectStore(s3Destination(`s3://${BUCKET}/db`), testS3Settings(endpoint));
    });

    afterAll(async () => {
      proxyStore?.close();
      await proxy?.stop();
    });

    test('falls back to single DeleteObject calls and reports per-key errors', async () => {
      const keys = Array.from({ length: 20 }, (_, i) => `db/fallback/${i}.txt`);
      await putMany(proxyStore, [...keys, denied]);

      const result = await proxyStore.delete([...keys, denied, 'db/fallback/never-existed.txt']);
      expect(result.deleted.sort()).toEqual([...keys, 'db/fallback/never-existed.txt'].sort());
      expect(result.errors).toEqual([{ key: denied, message: 'AccessDenied: Access Denied' }]);
      expect(proxyStore.usesSingleDeletes).toBe(true);
      expect(seen.filter((line) => /^POST \/backups\/?\?delete/.test(line))).toHaveLength(1);
      expect(seen.filter((line) => line.startsWith(`DELETE /${BUCKET}/db/fallback/`))).toHaveLength(22);
      expect((await collect(proxyStore.list('db/fallback/'))).map((o) => o.key)).toEqual([denied]);

      // Later deletes go key by key straight away.
      const again = await proxyStore.delete(['db/fallback/0.txt']);
      expect(again).toEqual({ deleted: ['db/fallback/0.txt'], errors: [] });
      expect(seen.filter((line) => /^POST \/backups\/?\?delete/.test(line))).toHaveLength(1);
    }, 30_000);

    test('an UploadPart refused (403) while other parts upload: UploadError, abort only after every part was answered, no object', async () => {
      const body = randomBody({ chunks: 40 });
      const error = await rejectionOf(proxyStore.upload(partDenied, body.stream, { expectedBytes: MiB }), UploadError);
      expect(error.message).toMatch(/AccessDenied/);
      expect(error.message).toContain('Nothing was left under the key.');
      const abort = partEvents.findIndex((e) => e.startsWith('> DELETE ') && e.includes('uploadId='));
      expect(abort).toBeGreaterThan(0);
      const partsSent = partEvents.filter((e) => e.startsWith('> PUT ') && e.includes('partNumber='));
      expect(partsSent.length).toBeGreaterThanOrEqual(2);
      // Every part request that reached the store was answered before the abort was sent.
      for (const sent of partsSent) expect(partEvents.slice(0, abort)).toContain(`< ${sent.slice(2)}`);
      expect(await proxyStore.head(partDenied)).toBeUndefined();
      expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
    }, 30_000);
  });

  test('a body that fails after 20 MiB: UploadError with that cause, no object, multipart upload aborted', async () => {
    const bodyError = new Error('pg_dump exited with code 1');
    const body = randomBody({ chunks: 100, failAfterChunks: 20, delayMs: 10, error: bodyError });
    const before = server.requests.length;
    const error = await rejectionOf(store.upload('db/broken.dump', body.stream, { expectedBytes: MiB }), UploadError);

    expect(error.cause).toBe(bodyError);
    expect(error.message).toBe(
      'Upload to s3://backups/db/broken.dump failed because the data stream failed: pg_dump exited with code 1. Nothing was left under the key.',
    );
    const requests = server.requests.slice(before);
    expect(requests.some((line) => line.startsWith(`POST /${BUCKET}/db/broken.dump?uploads`))).toBe(true);
    expect(uploadParts(server, 'db/broken.dump')).toBeGreaterThanOrEqual(1);
    expect(requests.some((line) => line.startsWith(`DELETE /${BUCKET}/db/broken.dump?uploadId=`))).toBe(true);
    expect(await store.head('db/broken.dump')).toBeUndefined();
    expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
  }, 30_000);

  test.each([
    ['a single PutObject', 1],
    ['a multipart upload', 12],
  ])(
    'missing bucket (%s) → UploadError naming the bucket',
    async (_what, chunks) => {
      const missing = new S3ObjectStore(s3Destination('s3://no-such-bucket-here/db'), testS3Settings(server.endpoint));
      try {
        const body = randomBody({ chunks });
        const error = await rejectionOf(missing.upload('db/x.dump', body.stream), UploadError);
        expect(error.message).toContain(
          'Upload to s3://no-such-bucket-here/db/x.dump failed: NoSuchBucket: The specified bucket does not exist.',
        );
        expect(error.message).toContain(
          "The bucket 'no-such-bucket-here' does not exist at " +
            server.endpoint +
            ': create the bucket or fix `destination` (s3://no-such-bucket-here/db).',
        );
        expect(body.stream.destroyed).toBe(true);
      } finally {
        missing.close();
      }
    },
    30_000,
  );

  test('AbortSignal cancels the upload: UploadError, nothing left', async () => {
    const body = randomBody({ chunks: 1000, delayMs: 5 });
    const controller = new AbortController();
    const upload = store.upload('db/aborted.dump', body.stream, { signal: controller.signal, expectedBytes: MiB });
    await waitFor(() => uploadParts(server, 'db/aborted.dump') >= 1, 20_000, 'the first part');
    const abortedAt = Date.now();
    controller.abort(new Error('cancelled by the test'));
    const error = await rejectionOf(upload, UploadError);

    expect(Date.now() - abortedAt).toBeLessThan(5_000);
    expect(error.message).toBe(
      'Upload to s3://backups/db/aborted.dump was aborted (cancelled by the test). Nothing was left under the key.',
    );
    expect(body.stream.destroyed).toBe(true);
    expect(await store.head('db/aborted.dump')).toBeUndefined();
    expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
  }, 30_000);

  test('an already aborted signal uploads nothing', async () => {
    const body = randomBody({ chunks: 1 });
    const before = server.requests.length;
    const error = await rejectionOf(
      store.upload('db/never.dump', body.stream, { signal: AbortSignal.abort() }),
      UploadError,
    );
    expect(error.message).toMatch(/^Upload to s3:\/\/backups\/db\/never\.dump was aborted before it started/);
    expect(server.requests.length).toBe(before);
  });
});

describe('S3ObjectStore when the server goes away', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3rver-crash-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('server stopped mid-upload → UploadError within bounded time; after restart no object under the key', async () => {
    const first = await startS3Server({ dir });
    await first.createBucket(BUCKET);
    const store = new S3ObjectStore(s3Destination(`s3://${BUCKET}/db`), testS3Settings(first.endpoint));
    try {
      const body = randomBody({ chunks: 1000, delayMs: 5 });
      const upload = store.upload('db/crash.dump', body.stream, { expectedBytes: MiB });
      const settled = upload.then(
        () => undefined,
        (e: unknown) => e,
      );
      await waitFor(() => uploadParts(first, 'db/crash.dump') >= 2, 20_000, 'two parts');
      const stoppedAt = Date.now();
      await first.stop();
      const error = await settled;
      const elapsed = Date.now() - stoppedAt;

      expect(error).toBeInstanceOf(UploadError);
      expect(elapsed).toBeLessThan(20_000);
      const message = (error as UploadError).message;
      expect(message).toMatch(/^Upload to s3:\/\/backups\/db\/crash\.dump failed: /);
      expect(message).toMatch(/ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/);
      expect(message).toContain(`Could not reach the S3 endpoint (${first.endpoint})`);
      expect(message).toMatch(
        /The incomplete multipart upload [0-9a-f]+ could not be aborted .*AbortIncompleteMultipartUpload/,
      );
      expect(body.stream.destroyed).toBe(true);

      const second = await startS3Server({ dir, port: first.port });
      try {
        expect(await store.head('db/crash.dump')).toBeUndefined();
        // The upload id the store could not abort is still open on the server, as the message says.
        const pending = await second.pendingMultipartUploads(BUCKET);
        expect(pending.map((open) => open.key)).toEqual(['db/crash.dump']);
        expect(message).toContain(pending[0]?.uploadId ?? '?');
      } finally {
        await second.stop();
      }
    } finally {
      store.close();
    }
  }, 60_000);

  test('a store without AbortMultipartUpload (plain s3rver): the message says the upload is left', async () => {
    const plain = await startS3Server({ abortMultipartUpload: false });
    await plain.createBucket(BUCKET);
    const store = new S3ObjectStore(s3Destination(`s3://${BUCKET}/db`), testS3Settings(plain.endpoint));
    try {
      const bodyError = new Error('disk full');
      const body = randomBody({ chunks: 100, failAfterChunks: 12, error: bodyError });
      const error = await rejectionOf(store.upload('db/left.dump', body.stream, { expectedBytes: MiB }), UploadError);
      expect(error.cause).toBe(bodyError);
      expect(error.message).toMatch(
        /^Upload to s3:\/\/backups\/db\/left\.dump failed because the data stream failed: disk full\. The incomplete multipart upload [0-9a-f]+ could not be aborted \(MethodNotAllowed: The specified method is not allowed against this resource\)/,
      );
      expect(await store.head('db/left.dump')).toBeUndefined();
      expect((await plain.pendingMultipartUploads(BUCKET)).map((u) => u.key)).toEqual(['db/left.dump']);
    } finally {
      store.close();
      await plain.stop();
    }
  }, 30_000);
});
