/**
 * A real S3-compatible server for integration tests: s3rver 3.7.1, in-process, on 127.0.0.1.
 *
 * Notes on s3rver (verified on this machine):
 * - Its ListObjectsV2 continuation tokens are DES-encrypted: run with
 *   `NODE_OPTIONS=--openssl-legacy-provider` (the integration test command sets it).
 * - Clients need `forcePathStyle: true` and checksums `WHEN_REQUIRED` (see {@link testS3Settings}).
 * - It does not implement AbortMultipartUpload (DELETE ?uploadId= answers 405 MethodNotAllowed) nor
 *   ListMultipartUploads (GET ?uploads answers 501 NotImplemented). This server therefore answers
 *   AbortMultipartUpload itself, as S3 does: it removes the upload's folder from s3rver's storage
 *   (204) or answers 404 NoSuchUpload. `pendingMultipartUploads` reads that storage to show which
 *   multipart uploads are still open. Pass `abortMultipartUpload: false` for s3rver's own behaviour.
 * - `stop()` drops open connections at once (requests in flight fail as on a crash).
 */
import { mkdtemp, readFile, readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

import type { S3Settings } from '../../src/storage/types.js';

const require = createRequire(import.meta.url);

interface S3rverApp {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  store: { putBucket(name: string): Promise<unknown> };
  logger?: { exceptions?: { unhandle(): void }; close(): void };
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverApp;

/** s3rver keeps multipart uploads in `<dir>/<bucket>/._S3rver_uploads/<uploadId>/` (with a `key` file). */
const UPLOADS_FOLDER = '._S3rver_uploads';

export interface S3ServerOptions {
  /** Storage folder; kept on stop. Default: a new temporary folder, removed on stop. */
  dir?: string;
  /** Port on 127.0.0.1; default: a free one. */
  port?: number;
  /** Answer AbortMultipartUpload (s3rver itself does not). Default true. */
  abortMultipartUpload?: boolean;
}

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  createBucket(name: string): Promise<void>;
  /** Multipart uploads started and neither completed nor aborted. */
  pendingMultipartUploads(bucket: string): Promise<{ uploadId: string; key: string }[]>;
  /** Requests received so far, as `METHOD path?query` (path-style), in order of arrival. */
  requests: string[];
  /** Responses sent so far, as `METHOD path?query status`, in order of completion. */
  responses: string[];
}

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const S3rver = require('s3rver') as S3rverConstructor;
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 's3rver-')));
  const app = new S3rver({ silent: true, directory: dir, resetOnClose: false });
  const handle = app.callback();
  const answerAborts = options.abortMultipartUpload ?? true;
  const requests: string[] = [];
  const responses: string[] = [];

  const server: Server = createServer((req, res) => {
    const line = `${req.method ?? ''} ${req.url ?? ''}`;
    requests.push(line);
    res.on('finish', () => responses.push(`${line} ${res.statusCode}`));
    if (answerAborts && req.method === 'DELETE' && isAbortMultipart(req.url ?? '')) {
      abortMultipart(dir, req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir,
    requests,
    responses,
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      app.logger?.exceptions?.unhandle();
      app.logger?.close();
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    },
    async createBucket(name: string) {
      await app.store.putBucket(name);
    },
    async pendingMultipartUploads(bucket: string) {
      const folder = join(dir, bucket, UPLOADS_FOLDER);
      let ids: string[];
      try {
        ids = await readdir(folder);
      } catch (error) {
        if ((error as { code?: string }).code === 'ENOENT') return [];
        throw error;
      }
      return Promise.all(
        ids.map(async (uploadId) => ({
          uploadId,
          key: await readFile(join(folder, uploadId, 'key'), 'utf8').catch(() => ''),
        })),
      );
    },
  };
}

function isAbortMultipart(url: string): boolean {
  return new URL(url, 'http://localhost').searchParams.has('uploadId');
}

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/xml');
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

/** AbortMultipartUpload (path-style `DELETE /<bucket>/<key>?uploadId=<id>`) on s3rver's storage. */
async function abortMultipart(dir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const uploadId = url.searchParams.get('uploadId') ?? '';
  const [, bucket = '', ...keyParts] = url.pathname.split('/');
  const key = keyParts.map((part) => decodeURIComponent(part)).join('/');
  if (!/^[0-9a-f]+$/.test(uploadId)) return xmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  const folder = join(dir, decodeURIComponent(bucket), UPLOADS_FOLDER, uploadId);
  const exists = await stat(folder).then(
    () => true,
    () => false,
  );
  const storedKey = exists ? await readFile(join(folder, 'key'), 'utf8').catch(() => undefined) : undefined;
  if (!exists || storedKey !== key) return xmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  await rm(folder, { recursive: true, force: true });
  res.statusCode = 204;
  res.end();
}

/** Settings for a client of {@link startS3Server}. */
/** The action's S3 inputs for the test server (s3rver's fixed credentials). */
export function testS3Inputs(endpoint: string): Record<string, string> {
  return { 's3-endpoint': endpoint, 's3-access-key-id': 'S3RVER', 's3-secret-access-key': 'S3RVER' };
}

export function testS3Settings(endpoint: string): S3Settings {
  return {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    checksums: 'when_required',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  };
}

interface S3rverStorePaths {
  getResourcePath(bucket: string, key: string, resource: string): string;
  getBucketPath(bucket: string): string;
}

interface S3rverFilesystemStore {
  prototype: S3rverStorePaths & {
    /** A function property with its `this` (not a method): it is taken off the prototype and put back. */
    deleteObject: (this: S3rverStorePaths, bucket: string, key: string) => Promise<void>;
  };
}

/**
 * s3rver's FilesystemStore.deleteObject runs `readdirSync` on the key's folder after every delete
 * (to remove emptied folders): quadratic in the folder's size, minutes for 20,000 objects in one
 * database folder. This installs the same behaviour without the scan (`rmdir` fails on a folder
 * that is not empty); listing, DeleteObjects parsing and answers stay s3rver's own.
 * @returns a function that puts s3rver's own deleteObject back.
 */
export function speedUpS3rverDeletes(): () => void {
  const store = require('s3rver/lib/stores/filesystem.js') as S3rverFilesystemStore;
  const original = store.prototype.deleteObject;
  store.prototype.deleteObject = async function deleteObject(bucket, key) {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((resource) =>
        unlink(this.getResourcePath(bucket, key, resource)).catch((error: { code?: string }) => {
          if (error.code !== 'ENOENT') throw error;
        }),
      ),
    );
    const parts = key.split('/');
    parts.pop();
    while (parts.length > 0) {
      try {
        await rmdir(join(this.getBucketPath(bucket), ...parts));
      } catch {
        break; // not empty (or already gone)
      }
      parts.pop();
    }
  };
  return () => {
    store.prototype.deleteObject = original;
  };
}

/** Runs `work` over `items`, `concurrency` at a time (seeding thousands of objects). */
export async function bounded<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** A request as it reached an {@link S3Proxy} (path-style URLs: `/bucket/key?query`). */
export interface ProxiedRequest {
  /** `METHOD /path?query`, as received. */
  line: string;
  method: string;
  bucket: string;
  /** The object key, decoded; '' for bucket-level requests. */
  key: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/**
 * Sends the request on to the upstream server; `alterHeaders` may change its answer's headers
 * first. `through.request` / `through.response`, when given, carry the request's body to the
 * upstream server / the answer's body to the client (fault-proxy.ts uses them to stall, slow down
 * or cut a transfer).
 */
export type Forward = (
  alterHeaders?: (headers: IncomingHttpHeaders) => IncomingHttpHeaders,
  through?: { request?: Duplex; response?: Duplex },
) => void;

export interface S3Proxy {
  endpoint: string;
  /** Every request, in order of arrival. */
  requests: ProxiedRequest[];
  stop(): Promise<void>;
}

/** A certificate and its key (PEM) for an {@link S3Proxy} that answers over HTTPS. */
export interface TlsIdentity {
  cert: string;
  key: string;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of an S3 server on `upstreamPort`, for answers s3rver does
 * not give (refusals, missing headers). It records every request, then hands it to `route`, which
 * either answers it (see {@link answerS3Error}) or calls `forward()`: the request goes on unchanged,
 * Host included, so SigV4 signatures still match. Without `route` everything is forwarded. With
 * `tls` it listens for HTTPS (its endpoint is `https://…`) and forwards over plain HTTP.
 */
export async function startS3Proxy(
  upstreamPort: number,
  route: (request: ProxiedRequest, req: IncomingMessage, res: ServerResponse, forward: Forward) => void = (
    _r,
    _req,
    _res,
    forward,
  ) => forward(),
  tls?: TlsIdentity,
): Promise<S3Proxy> {
  const requests: ProxiedRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, bucket = '', ...keyParts] = url.pathname.split('/');
    const request: ProxiedRequest = {
      line: `${req.method ?? ''} ${req.url ?? ''}`,
      method: req.method ?? '',
      bucket: decodeURIComponent(bucket),
      key: keyParts.map((part) => decodeURIComponent(part)).join('/'),
      query: url.searchParams,
      headers: { ...req.headers },
    };
    requests.push(request);
    const forward: Forward = (alterHeaders, through = {}) => {
      const upstream = httpRequest(
        { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, alterHeaders ? alterHeaders({ ...answer.headers }) : answer.headers);
          if (through.response) answer.pipe(through.response).pipe(res);
          else answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      // The client went away (e.g. it gave up on a stalled request): so does the upstream request.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      if (through.request) req.pipe(through.request).pipe(upstream);
      else req.pipe(upstream);
    };
    route(request, req, res, forward);
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    endpoint: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Answers a request with an S3 error document (`<Error><Code>…`), without reading its body. */
export function answerS3Error(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  req.resume();
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}
