/**
 * readCatalog's sorting of a listing into this action's backups, foreign objects and temporary
 * objects, over an in-memory ObjectStore (the interface of src/storage/types.ts; the real stores
 * are exercised in test/integration/storage-*.test.ts and retention.test.ts).
 */
import { readCatalog, staleTemporaries } from '../../src/storage/catalog.js';
import { claimObjectKey } from '../../src/storage/claim.js';
import type { ObjectInfo, ObjectStore } from '../../src/storage/types.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const DAY = 86_400_000;

function memoryStore(
  objects: (ObjectInfo & { marked?: boolean })[],
  partials: ObjectInfo[] = [],
): ObjectStore & { heads: string[] } {
  const heads: string[] = [];
  const byKey = new Map(objects.map((o) => [o.key, o]));
  return {
    heads,
    destination: { kind: 's3', url: 's3://b/p', bucket: 'b', prefix: 'p' },
    upload: () => Promise.reject(new Error('not used')),
    put: () => Promise.reject(new Error('not used')),
    get: () => Promise.reject(new Error('not used')),
    delete: () => Promise.reject(new Error('not used')),
    close: () => undefined,
    head(key) {
      heads.push(key);
      const o = byKey.get(key);
      return Promise.resolve(o ? { key, size: o.size, writtenByUs: o.marked === true } : undefined);
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- an in-memory listing has nothing to wait for; the store's is async
    async *list(prefix) {
      yield* objects
        .filter((o) => o.key.startsWith(prefix))
        .map(({ key, size, lastModified }) => ({ key, size, ...(lastModified ? { lastModified } : {}) }));
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- an in-memory listing has nothing to wait for; the store's is async
    async *temporaries(prefix) {
      yield* partials.filter((o) => o.key.startsWith(prefix));
    },
  };
}

const complete = 'p/shop/2026-12-01T000000Z.dump.zst';
const interruptedMarked = 'p/shop/2026-12-02T000000Z.dump.zst';
const interruptedClaimed = 'p/shop/2026-12-03T000000Z.dump.zst';
const foreignDump = 'p/shop/2020-01-01T000000Z.dump';
const leftClaim = claimObjectKey(interruptedClaimed, new Date('2026-12-03T00:00:01Z'), '0123456789ab');
const oldClaim = claimObjectKey(complete, new Date('2026-12-01T00:00:01Z'), 'aaaaaaaaaaaa');
const freshClaim = claimObjectKey(
  'p/shop/2026-12-07T115959Z.dump.zst',
  new Date('2026-12-07T11:59:59Z'),
  'bbbbbbbbbbbb',
);

const store = memoryStore(
  [
    { key: complete, size: 10 },
    { key: `${complete}.manifest.json`, size: 1 },
    { key: interruptedMarked, size: 5, marked: true },
    { key: interruptedClaimed, size: 6 },
    { key: leftClaim, size: 1, lastModified: new Date('2026-12-03T00:00:01Z') },
    { key: oldClaim, size: 1, lastModified: new Date(NOW.getTime() - 2 * DAY) },
    { key: freshClaim, size: 1, lastModified: new Date(NOW.getTime() - 1000) },
    { key: foreignDump, size: 7 },
    { key: 'p/shop/notes.txt', size: 2 },
  ],
  [
    {
      key: 'p/shop/.2026-12-04T000000Z.dump.zst.abcdefabcdef.partial',
      size: 84_000_000,
      lastModified: new Date(NOW.getTime() - 2 * DAY),
    },
    {
      key: 'p/shop/.2026-12-07T115900Z.dump.zst.abcdefabcdef.partial',
      size: 1000,
      lastModified: new Date(NOW.getTime() - 60_000),
    },
  ],
);

test('an archive-named object without manifest, claim or marker is foreign; ours are kept apart by manifest, claim or marker', async () => {
  const catalog = await readCatalog(store, 'shop');
  expect(catalog.backups.map((b) => [b.key, b.hasManifest, b.claims ?? []])).toEqual([
    [complete, true, []],
    [interruptedMarked, false, []],
    [interruptedClaimed, false, [leftClaim]],
  ]);
  expect(catalog.foreign).toEqual([foreignDump, 'p/shop/notes.txt']);
  // Only the archives with neither manifest nor claim were asked for their marker.
  expect(store.heads.sort()).toEqual([foreignDump, interruptedMarked].sort());
});

test('claims not marking an archive and .partial files are temporary; those older than 24 h are stale', async () => {
  const catalog = await readCatalog(store, 'shop');
  expect(catalog.temporary.map((t) => [t.key, t.kind])).toEqual(
    [
      [oldClaim, 'claim'],
      [freshClaim, 'claim'],
      ['p/shop/.2026-12-04T000000Z.dump.zst.abcdefabcdef.partial', 'partial'],
      ['p/shop/.2026-12-07T115900Z.dump.zst.abcdefabcdef.partial', 'partial'],
    ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
  );
  expect(
    staleTemporaries(catalog, NOW)
      .map((t) => t.key)
      .sort(),
  ).toEqual([oldClaim, 'p/shop/.2026-12-04T000000Z.dump.zst.abcdefabcdef.partial'].sort());
});
