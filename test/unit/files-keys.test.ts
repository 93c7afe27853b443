/**
 * The files archive's key beside its backup (storage/keys.ts filesKey), and the grouping of a
 * listing's files archives with their archives (filesKeysByArchive, read by the catalog so that
 * retention keeps and deletes both parts of a backup together).
 */
import { readCatalog } from '../../src/storage/catalog.js';
import {
  filesKey,
  filesKeyStem,
  filesKeysByArchive,
  parseArchiveKey,
  type FilesCompression,
} from '../../src/storage/keys.js';
import type { ObjectStore } from '../../src/storage/types.js';

describe('filesKey', () => {
  test.each([
    ['prod/app/2026-12-07T101010Z-daily.dump', 'zstd', true, 'prod/app/2026-12-07T101010Z-daily.files.tar.zst.gpg'],
    ['prod/app/2026-12-07T101010Z-daily.dump', 'zstd', false, 'prod/app/2026-12-07T101010Z-daily.files.tar.zst'],
    ['prod/app/2026-12-07T101010Z.dump.zst.gpg', 'zstd', true, 'prod/app/2026-12-07T101010Z.files.tar.zst.gpg'],
    ['app/2026-12-07T101010Z.sql.gz', 'gzip', false, 'app/2026-12-07T101010Z.files.tar.gz'],
    ['app/2026-12-07T101010Z.dump', 'gzip', true, 'app/2026-12-07T101010Z.files.tar.gz.gpg'],
    ['app/2026-12-07T101010Z.tar.lz4', 'lz4', false, 'app/2026-12-07T101010Z.files.tar.lz4'],
    ['app/2026-12-07T101010Z.dump.gpg', 'none', true, 'app/2026-12-07T101010Z.files.tar.gpg'],
    ['app/2026-12-07T101010Z.dump', 'none', false, 'app/2026-12-07T101010Z.files.tar'],
  ] as [string, FilesCompression, boolean, string][])('%s + %s, encrypted %s → %s', (archive, c, e, expected) => {
    const key = filesKey(archive, { compression: c, encrypted: e });
    expect(key).toBe(expected);
    // Never read back as an archive of its own, and its stem is the archive's.
    expect(parseArchiveKey(key, key.split('/').length === 4 ? 'prod' : '')).toBeUndefined();
    expect(filesKeyStem(key)).toBe(expected.replace(/\.files\.tar.*$/, ''));
  });

  test.each(['a/2026-12-07T101010Z.dump', 'a/2026-12-07T101010Z.globals.sql', 'a/x.files.tar.bz2', 'a/x.files.zst'])(
    '%s is not a files archive',
    (key) => expect(filesKeyStem(key)).toBeUndefined(),
  );
});

describe('filesKeysByArchive', () => {
  const a1 = 'p/app/2026-12-01T000000Z.dump';
  const a2 = 'p/app/2026-12-02T000000Z-daily.dump.zst.gpg';
  const a3 = 'p/app/2026-12-03T000000Z.sql';
  test.each([
    [
      'one each',
      [a1, a2],
      [`p/app/2026-12-01T000000Z.files.tar.zst`, 'p/app/2026-12-02T000000Z-daily.files.tar.zst.gpg'],
      {
        [a1]: ['p/app/2026-12-01T000000Z.files.tar.zst'],
        [a2]: ['p/app/2026-12-02T000000Z-daily.files.tar.zst.gpg'],
      },
    ],
    ['none', [a1, a3], ['p/app/2026-12-01T000000Z.globals.sql'], {}],
    ['another label is another backup', [a2], ['p/app/2026-12-02T000000Z.files.tar.zst.gpg'], {}],
    ['an orphan files archive belongs to nobody', [a1], ['p/app/2026-12-09T000000Z.files.tar'], {}],
    [
      'two compressions (a re-run) both go with it',
      [a3],
      ['p/app/2026-12-03T000000Z.files.tar.gz', 'p/app/2026-12-03T000000Z.files.tar'],
      {
        [a3]: ['p/app/2026-12-03T000000Z.files.tar', 'p/app/2026-12-03T000000Z.files.tar.gz'],
      },
    ],
  ] as [string, string[], string[], Record<string, string[]>][])('%s', (_, archives, others, expected) => {
    const grouped = filesKeysByArchive(archives, [...archives, ...others]);
    expect(Object.fromEntries(grouped)).toEqual(expected);
  });
});

describe('the catalog holds the files archive with its backup', () => {
  test('owned, sized, and not foreign', async () => {
    const objects = [
      { key: 'p/app/2026-12-01T000000Z.dump', size: 100 },
      { key: 'p/app/2026-12-01T000000Z.dump.manifest.json', size: 1 },
      { key: 'p/app/2026-12-01T000000Z.files.tar.zst', size: 5000 },
      { key: 'p/app/2026-12-02T000000Z.dump', size: 100 },
      { key: 'p/app/2026-12-02T000000Z.dump.manifest.json', size: 1 },
      { key: 'p/app/2026-12-05T000000Z.files.tar.zst', size: 7 },
      { key: 'p/app/2026-12-02T000000Z.files.tar.zst.claim-20261202T000001000Z-0123456789ab', size: 0 },
    ];
    const store = {
      destination: { kind: 's3', url: 's3://b/p', bucket: 'b', prefix: 'p' },
      head: () => Promise.resolve(undefined),
      // eslint-disable-next-line @typescript-eslint/require-await -- an in-memory listing
      async *list(prefix: string) {
        yield* objects.filter((o) => o.key.startsWith(prefix));
      },
    } as unknown as ObjectStore;
    const catalog = await readCatalog(store, 'app');
    expect(catalog.backups.map((b) => [b.key, b.files, b.filesBytes])).toEqual([
      ['p/app/2026-12-01T000000Z.dump', ['p/app/2026-12-01T000000Z.files.tar.zst'], 5000],
      ['p/app/2026-12-02T000000Z.dump', undefined, undefined],
    ]);
    expect(catalog.foreign).toEqual(['p/app/2026-12-05T000000Z.files.tar.zst']);
    // A killed run's claim of a files key is a temporary object (removed once stale), not foreign.
    expect(catalog.temporary.map((t) => [t.key, t.kind])).toEqual([
      ['p/app/2026-12-02T000000Z.files.tar.zst.claim-20261202T000001000Z-0123456789ab', 'claim'],
    ]);
  });
});
