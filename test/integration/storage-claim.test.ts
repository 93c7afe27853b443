/**
 * The claim protocol (src/storage/claim.ts) and the conditional writes against real stores: s3rver
 * (which ignores If-None-Match, so the claims alone must keep two runs apart) and a local folder.
 * Interleavings are forced with a store wrapper that holds `list` at a barrier.
 */
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import { UploadError } from '../../src/errors.js';
import { claimKey, claimObjectKey, CLAIM_INFIX, type Claim } from '../../src/storage/claim.js';
import { parseDestination } from '../../src/storage/destination.js';
import { createStore } from '../../src/storage/index.js';
import type { ObjectInfo, ObjectStore } from '../../src/storage/types.js';
import { rejectionOf } from '../support/rejection.js';
import { answerS3Error, startS3Proxy, startS3Server, testS3Settings, type S3Server } from '../support/s3-server.js';

let server: S3Server;
let base: string;

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket('claims');
  base = await mkdtemp(join(tmpdir(), 'claims-'));
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out.sort();
}

/**
 * `store` on which `parties` runs claim in lock-step: each run's first listing (before it claims)
 * finds no claim, each claim's put waits until every run has made that listing, and each later
 * listing waits until every claim is written. So every run sees every other's claim.
 */
function listBarrier(store: ObjectStore, parties: number): ObjectStore {
  let lists = 0;
  let listed = 0;
  let puts = 0;
  let allListed!: () => void;
  let allPut!: () => void;
  const everyListed = new Promise<void>((resolve) => (allListed = resolve));
  const put = new Promise<void>((resolve) => (allPut = resolve));
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'list') {
        return async function* (prefix: string): AsyncGenerator<ObjectInfo> {
          lists += 1;
          const first = lists <= parties;
          if (!first) await put;
          yield* target.list(prefix);
          // Counted once the listing is read: a claim written earlier would have been in it.
          if (first && ++listed === parties) allListed();
        };
      }
      if (name === 'put') {
        return async (...args: Parameters<ObjectStore['put']>) => {
          await everyListed;
          const result = await target.put(...args);
          puts += 1;
          if (puts === parties) allPut();
          return result;
        };
      }
      // Other methods run on the store itself, so that its own inner calls are not counted.
      const value = Reflect.get(target, name, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

let counter = 0;
const stores: [string, () => ObjectStore][] = [
  ['s3rver', () => createStore(parseDestination(`s3://claims/run${++counter}`), testS3Settings(server.endpoint))],
  [
    'a folder',
    () =>
      createStore(
        parseDestination(pathToFileURL(join(base, `run${++counter}`)).href),
        testS3Settings('http://127.0.0.1:9'),
      ),
  ],
];

describe.each(stores)('claims in %s', (_name, makeStore) => {
  let store: ObjectStore;
  let key: string;
  beforeEach(() => {
    store = makeStore();
    key = [store.destination.prefix, 'db', '2026-12-07T010203Z.dump.zst'].filter((s) => s !== '').join('/');
  });

  test('a sole claim owns the key; release removes the claim object', async () => {
    const claim = await claimKey(store, key);
    expect(claim.key.startsWith(`${key}${CLAIM_INFIX}`)).toBe(true);
    expect(await keysUnder(store, `${key}${CLAIM_INFIX}`)).toEqual([claim.key]);
    await claim.release();
    expect(await keysUnder(store, `${key}${CLAIM_INFIX}`)).toEqual([]);
  });

  test('A claimed and listed before B claims: B sees A and fails, its claim withdrawn; A keeps the key', async () => {
    const a = await claimKey(store, key);
    const error = await rejectionOf(claimKey(store, key, { attempts: 2, backoffMs: () => 10 }), UploadError);
    expect(error.message).toBe(
      `${store.destination.url}: another run holds ${key} (its claim ${a.key}); another backup of this database started in the same second. Nothing was written under that key; use a concurrency group so backups of one database never overlap.`,
    );
    expect(await keysUnder(store, `${key}${CLAIM_INFIX}`)).toEqual([a.key]);
    await a.release();
  });

  test('both claim, then both list: neither owns the key in that round (both withdraw)', async () => {
    const barrier = listBarrier(store, 2);
    const outcomes = await Promise.allSettled([
      claimKey(barrier, key, { attempts: 1 }),
      claimKey(barrier, key, { attempts: 1 }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(await keysUnder(store, `${key}${CLAIM_INFIX}`)).toEqual([]);
  });

  test('both claim, then both list: the later claim withdraws, the earliest owns the key on the next round', async () => {
    const barrier = listBarrier(store, 2);
    const outcomes = await Promise.allSettled([
      claimKey(barrier, key, { attempts: 3, backoffMs: () => 10 }),
      claimKey(barrier, key, { attempts: 3, backoffMs: () => 10 }),
    ]);
    const owners = outcomes.filter((o): o is PromiseFulfilledResult<Claim> => o.status === 'fulfilled');
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(owners).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.reason).toBeInstanceOf(UploadError);
    // The owner's is the earlier claim: the one the loser names as holding the key.
    const owner = (owners[0] as PromiseFulfilledResult<Claim>).value;
    expect((failed[0]?.reason as Error).message).toContain(`(its claim ${owner.key})`);
    expect(await keysUnder(store, `${key}${CLAIM_INFIX}`)).toEqual([owner.key]);
    await owner.release();
  });

  test('six runs at once with the default back-off: one owns the key, the others fail', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => claimKey(store, key)));
    const owners = outcomes.filter((o): o is PromiseFulfilledResult<Claim> => o.status === 'fulfilled');
    expect(owners).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(UploadError);
    await Promise.all(owners.map((o) => o.value.release()));
  });

  test('an owner that finished (archive written, claim released) still keeps a later run out', async () => {
    const a = await claimKey(store, key);
    await store.upload(key, Readable.from([Buffer.from('archive of A')]));
    await a.release();
    const error = await rejectionOf(claimKey(store, key), UploadError);
    expect(error.message).toBe(
      `${store.destination.url}: an object already exists at ${key}; another backup of this database started in the same second. Nothing was overwritten; use a concurrency group so backups of one database never overlap.`,
    );
    expect(await keysUnder(store, `${key}${CLAIM_INFIX}`)).toEqual([]);
  });
});

test('a folder: a claim older than 24 h (a killed run) is ignored', async () => {
  const root = join(base, 'stale');
  const store = createStore(parseDestination(pathToFileURL(root).href), testS3Settings('http://127.0.0.1:9'));
  const key = 'db/2026-12-07T010203Z.dump';
  const dead = claimObjectKey(key, new Date(Date.now() - 2 * 86_400_000), '0123456789ab');
  await store.put(dead, '{}', 'application/json');
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
  await utimes(join(root, ...dead.split('/')), twoDaysAgo, twoDaysAgo);
  const claim = await claimKey(store, key, { attempts: 1 });
  await claim.release();
  // A fresh one is not ignored.
  const live = claimObjectKey(key, new Date(), 'ba9876543210');
  await store.put(live, '{}', 'application/json');
  await rejectionOf(claimKey(store, key, { attempts: 1 }), UploadError);
});

describe('conditional writes on S3 (If-None-Match: *) and the marker metadata', () => {
  test('PutObject and CompleteMultipartUpload carry If-None-Match: * and x-amz-meta-written-by; head reads the marker', async () => {
    const proxy = await startS3Proxy(server.port);
    try {
      const store = createStore(parseDestination('s3://claims/headers'), testS3Settings(proxy.endpoint));
      await store.put('headers/db/small.json', '{}', 'application/json');
      const big = Buffer.alloc(6 * 1024 * 1024, 7);
      const uploaded = await store.upload('headers/db/big.dump', Readable.from([big, big]), { expectedBytes: 1024 });
      expect(uploaded.parts).toBeGreaterThan(1);
      const put = proxy.requests.find((r) => r.method === 'PUT' && r.key === 'headers/db/small.json');
      expect(put?.headers['if-none-match']).toBe('*');
      expect(put?.headers['x-amz-meta-written-by']).toBe('postgres-backup-action');
      const create = proxy.requests.find((r) => r.method === 'POST' && r.query.has('uploads'));
      expect(create?.headers['x-amz-meta-written-by']).toBe('postgres-backup-action');
      const complete = proxy.requests.find((r) => r.method === 'POST' && r.query.has('uploadId'));
      expect(complete?.headers['if-none-match']).toBe('*');
      const info = await store.head('headers/db/big.dump');
      expect(info?.writtenByUs).toBe(true);
      expect(info?.etag).toBe(uploaded.etag);
    } finally {
      await proxy.stop();
    }
  });

  test('a store that does not implement If-None-Match (501): the write goes again without it, and later writes go without it', async () => {
    const proxy = await startS3Proxy(server.port, (request, req, res, forward) => {
      if (request.headers['if-none-match'] !== undefined)
        answerS3Error(
          req,
          res,
          501,
          'NotImplemented',
          'A header you provided implies functionality that is not implemented',
        );
      else forward();
    });
    try {
      const store = createStore(parseDestination('s3://claims/unconditional'), testS3Settings(proxy.endpoint));
      const big = Buffer.alloc(6 * 1024 * 1024, 7);
      const uploaded = await store.upload('unconditional/db/big.dump', Readable.from([big, big]), {
        expectedBytes: 1024,
      });
      expect(uploaded.bytes).toBe(big.length * 2);
      await store.put('unconditional/db/m.json', '{}', 'application/json');
      const writes = proxy.requests.filter(
        (r) => (r.method === 'POST' && r.query.has('uploadId')) || (r.method === 'PUT' && !r.query.has('partNumber')),
      );
      expect(writes.map((r) => `${r.method} ${r.key} ${r.headers['if-none-match'] ?? '-'}`)).toEqual([
        'POST unconditional/db/big.dump *',
        'POST unconditional/db/big.dump -',
        'PUT unconditional/db/m.json -',
      ]);
      expect((await store.head('unconditional/db/big.dump'))?.size).toBe(big.length * 2);
    } finally {
      await proxy.stop();
    }
  });

  test('412 PreconditionFailed on PutObject and on CompleteMultipartUpload: UploadError that says so, nothing left', async () => {
    const proxy = await startS3Proxy(server.port, (request, req, res, forward) => {
      const refused =
        (request.method === 'PUT' && !request.query.has('partNumber')) ||
        (request.method === 'POST' && request.query.has('uploadId'));
      if (refused && request.key.startsWith('refused/'))
        answerS3Error(
          req,
          res,
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
        );
      else forward();
    });
    try {
      const store = createStore(parseDestination('s3://claims/refused'), testS3Settings(proxy.endpoint));
      const single = await rejectionOf(store.put('refused/db/m.json', '{}', 'application/json'), UploadError);
      expect(single.message).toBe(
        'Writing s3://claims/refused/db/m.json was refused: an object already exists under that key (another run wrote it first; the store refused to replace it, If-None-Match). Nothing was overwritten.',
      );
      const big = Buffer.alloc(6 * 1024 * 1024, 7);
      const multi = await rejectionOf(
        store.upload('refused/db/big.dump', Readable.from([big, big]), { expectedBytes: 1024 }),
        UploadError,
      );
      expect(multi.message).toBe(
        'Writing s3://claims/refused/db/big.dump was refused: an object already exists under that key (another run wrote it first; the store refused to replace it, If-None-Match). Nothing was overwritten.',
      );
      // The multipart upload was aborted.
      expect(proxy.requests.some((r) => r.method === 'DELETE' && r.query.has('uploadId'))).toBe(true);
      expect(await keysUnder(store, 'refused/')).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});
