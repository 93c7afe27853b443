/**
 * Odd answers from an S3 store, with the real AWS SDK client against s3rver behind a small HTTP
 * proxy on 127.0.0.1 that alters chosen answers:
 * - CreateMultipartUpload answered 200 without an UploadId;
 * - UploadPart answered 200 without an ETag;
 * - the MAX_PARTS guard of PooledUpload (a body that needs more than 10,000 parts).
 * Needs NODE_OPTIONS=--openssl-legacy-provider (s3rver's listing tokens use DES).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

import { AbortMultipartUploadCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import { UploadError } from '../../src/errors.js';
import { parseDestination } from '../../src/storage/destination.js';
import { PooledUpload } from '../../src/storage/multipart.js';
import { MAX_PARTS, MiB } from '../../src/storage/part-size.js';
import { S3ObjectStore, s3ClientConfig } from '../../src/storage/s3.js';
import {
  answerS3Error,
  startS3Proxy,
  startS3Server,
  testS3Settings,
  type Forward,
  type ProxiedRequest,
  type S3Proxy,
  type S3Server,
} from '../support/s3-server.js';
import { rejectionOf } from '../support/rejection.js';

const BUCKET = 'answers';
/** CreateMultipartUpload of this key is answered (by the proxy) 200 without an UploadId. */
const NO_UPLOAD_ID = 'db/no-upload-id.dump';
/** UploadPart 2 of this key is forwarded, and its answer (200) loses its ETag header. */
const NO_ETAG = 'db/no-etag.dump';
const NO_ETAG_PART = 2;
/** UploadPart (200 with an ETag) and CompleteMultipartUpload (400 InvalidPart) of this key are answered by the proxy, without reaching s3rver. */
const TOO_MANY_PARTS = 'db/too-many-parts.dump';

let server: S3Server;
let proxy: S3Proxy;
/** Client straight to s3rver, to look at what the store holds. */
let direct: S3Client;
/** Client through the proxy. */
let proxied: S3Client;
let store: S3ObjectStore;

function route(
  { method, key, query }: ProxiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
  forward: Forward,
): void {
  if (key === NO_UPLOAD_ID && method === 'POST' && query.has('uploads')) {
    // Answered here, not forwarded: the client could never abort an upload whose id it was not told.
    req.resume();
    res.writeHead(200, { 'Content-Type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${BUCKET}</Bucket><Key>${key}</Key></InitiateMultipartUploadResult>`,
    );
    return;
  }
  if (key === NO_ETAG && method === 'PUT' && query.get('partNumber') === String(NO_ETAG_PART)) {
    forward((headers) => {
      delete headers.etag;
      return headers;
    });
    return;
  }
  if (key === TOO_MANY_PARTS && method === 'PUT' && query.has('partNumber')) {
    const hash = createHash('md5');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => {
      res.writeHead(200, { ETag: `"${hash.digest('hex')}"`, 'Content-Length': '0' });
      res.end();
    });
    return;
  }
  if (key === TOO_MANY_PARTS && method === 'POST' && query.has('uploadId')) {
    // Never expected; s3rver holds none of these parts, so answer a completion at once (as S3 would).
    answerS3Error(req, res, 400, 'InvalidPart', 'One or more of the specified parts could not be found.');
    return;
  }
  forward();
}

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket(BUCKET);
  proxy = await startS3Proxy(server.port, route);
  direct = new S3Client(s3ClientConfig(testS3Settings(server.endpoint)));
  proxied = new S3Client(s3ClientConfig(testS3Settings(proxy.endpoint)));
  const destination = parseDestination(`s3://${BUCKET}/db`);
  if (destination.kind !== 's3') throw new Error('expected an s3 destination');
  store = new S3ObjectStore(destination, testS3Settings(proxy.endpoint));
});

afterAll(async () => {
  store?.close();
  proxied?.destroy();
  direct?.destroy();
  await proxy?.stop();
  await server?.stop();
});

/** `bytes` random bytes in chunks of at most `chunkSize`. */
function randomStream(bytes: number, chunkSize: number): Readable {
  const data = randomBytes(bytes);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes; at += chunkSize) chunks.push(data.subarray(at, Math.min(bytes, at + chunkSize)));
  return Readable.from(chunks);
}

/** Whether s3rver holds an object under `key` (HeadObject, and the listing of the key as a prefix). */
async function objectExists(key: string): Promise<boolean> {
  const listed = await direct.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: key }));
  const inListing = (listed.Contents ?? []).some((object) => object.Key === key);
  let headFound: boolean;
  try {
    await direct.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    headFound = true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
    headFound = false;
  }
  expect(headFound).toBe(inListing);
  return headFound;
}

/** Requests for `key` that reached `where` (`METHOD path?query [status]` lines), path-style. */
const forKey = (where: string[], key: string) =>
  where.filter((line) => line.split(' ')[1]?.split('?')[0] === `/${BUCKET}/${key}`);
const query = (line: string) => new URL(line.split(' ')[1] ?? '/', 'http://localhost').searchParams;
const isPart = (line: string) => line.startsWith('PUT ') && query(line).has('partNumber');

test('CreateMultipartUpload answered 200 without an UploadId: the upload fails saying so, sends no part and leaves no object', async () => {
  // 9 MiB: more than one 8 MiB part (no size estimate), so the upload is multipart.
  const body = randomStream(9 * MiB, MiB);
  const error = await rejectionOf(store.upload(NO_UPLOAD_ID, body), UploadError);

  const seen = forKey(
    proxy.requests.map((r) => r.line),
    NO_UPLOAD_ID,
  );
  expect(seen.filter((line) => line.startsWith('POST ') && query(line).has('uploads'))).toHaveLength(1);
  expect(seen.filter(isPart)).toEqual([]);
  // Nothing else was sent for the key either (no PutObject, no CompleteMultipartUpload; no abort: there is no id).
  expect(seen).toHaveLength(1);
  expect(forKey(server.requests, NO_UPLOAD_ID)).toEqual([]);

  expect(error.message).toContain(`s3://${BUCKET}/${NO_UPLOAD_ID}`);
  expect(error.message).toContain('CreateMultipartUpload was answered without an UploadId');
  expect(await objectExists(NO_UPLOAD_ID)).toBe(false);
}, 30_000);

test('UploadPart answered 200 without an ETag: the upload fails naming the part, is aborted and leaves no object', async () => {
  // 17 MiB in 8 MiB parts: parts 1 and 2 are full, part 3 has 1 MiB.
  const error = await rejectionOf(store.upload(NO_ETAG, randomStream(17 * MiB, MiB)), UploadError);
  expect(error.message).toContain(`s3://${BUCKET}/${NO_ETAG}`);
  expect(error.message).toContain(`UploadPart ${NO_ETAG_PART} was answered without an ETag`);

  // The upload was real: s3rver created it and stored part 2 (only its answer lost the ETag).
  const answered = forKey(server.responses, NO_ETAG);
  const created = answered.filter((line) => line.startsWith('POST ') && query(line).has('uploads'));
  expect(created).toHaveLength(1);
  expect(created[0]).toMatch(/ 200$/);
  expect(
    answered.filter(
      (line) => isPart(line) && query(line).get('partNumber') === String(NO_ETAG_PART) && line.endsWith(' 200'),
    ),
  ).toHaveLength(1);
  // Never completed; aborted (the test server answers AbortMultipartUpload with 204).
  expect(answered.filter((line) => line.startsWith('POST ') && query(line).has('uploadId'))).toEqual([]);
  expect(await server.pendingMultipartUploads(BUCKET)).toEqual([]);
  const aborts = answered.filter((line) => line.startsWith('DELETE ') && query(line).has('uploadId'));
  expect(aborts).toHaveLength(1);
  expect(aborts[0]).toMatch(/ 204$/);
  expect(await objectExists(NO_ETAG)).toBe(false);
}, 60_000);

test(`a body that needs more than MAX_PARTS (${MAX_PARTS}) parts: PooledUpload fails before sending part ${MAX_PARTS + 1}`, async () => {
  // 16-byte parts (PooledUpload does not check the 5 MiB minimum; part-size.ts never plans such parts),
  // and the proxy answers UploadPart itself: 10,000 parts take seconds, not 10,000 × 5 MiB.
  const partSize = 16;
  const body = randomStream((MAX_PARTS + 50) * partSize + 7, 4096);
  let stopped = 0;
  const upload = new PooledUpload(
    proxied,
    { Bucket: BUCKET, Key: TOO_MANY_PARTS, params: {}, partSize, queueSize: 8 },
    () => {
      stopped += 1;
      body.destroy();
    },
  );
  const failure = await upload.run(body).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failure).toBeInstanceOf(Error);
  expect((failure as Error).message).toContain(
    `the archive needs more than ${MAX_PARTS} parts of ${partSize} bytes (S3's limit)`,
  );
  expect(upload.failure?.kind).toBe('other');
  expect(stopped).toBe(1);

  const seen = forKey(
    proxy.requests.map((r) => r.line),
    TOO_MANY_PARTS,
  );
  const partNumbers = seen.filter(isPart).map((line) => Number(query(line).get('partNumber')));
  expect(partNumbers).toHaveLength(MAX_PARTS);
  expect(new Set(partNumbers).size).toBe(MAX_PARTS);
  expect(Math.max(...partNumbers)).toBe(MAX_PARTS);
  expect(upload.parts).toBe(MAX_PARTS);
  expect(upload.completed).toBe(false);
  // Nothing was completed or written as one object.
  expect(seen.filter((line) => line.startsWith('POST ') && query(line).has('uploadId'))).toEqual([]);
  expect(seen.filter((line) => line.startsWith('PUT ') && !query(line).has('partNumber'))).toEqual([]);
  expect(await objectExists(TOO_MANY_PARTS)).toBe(false);

  // PooledUpload leaves the abort to its caller (S3ObjectStore aborts when `uploadId` is set and
  // nothing was completed): the one open upload is the one it reports, and aborting that id closes it.
  const pending = async () =>
    (await server.pendingMultipartUploads(BUCKET)).filter((open) => open.key === TOO_MANY_PARTS);
  expect(await pending()).toEqual([{ uploadId: upload.uploadId, key: TOO_MANY_PARTS }]);
  await proxied.send(
    new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: TOO_MANY_PARTS, UploadId: upload.uploadId }),
  );
  expect(await pending()).toEqual([]);
  expect(await objectExists(TOO_MANY_PARTS)).toBe(false);
}, 60_000);
