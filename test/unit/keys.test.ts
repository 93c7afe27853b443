import {
  type ArchiveKeyParts,
  archiveKey,
  databaseSegment,
  formatKeyTime,
  globalsKey,
  manifestKey,
  parseArchiveKey,
} from '../../src/storage/keys.js';

const T = new Date('2026-11-25T07:14:03.987Z');

describe('object keys', () => {
  test.each([
    [{ prefix: 'prod', database: 'shop', time: T, extension: 'dump' }, 'prod/shop/2026-11-25T071403Z.dump'],
    [{ prefix: '', database: 'shop', time: T, extension: 'dump.zst' }, 'shop/2026-11-25T071403Z.dump.zst'],
    [
      { prefix: 'a/b', database: 'shop', time: T, label: 'pre-migration', extension: 'sql.gz' },
      'a/b/shop/2026-11-25T071403Z-pre-migration.sql.gz',
    ],
    [{ prefix: 'p', database: 'my db/x', time: T, extension: 'tar' }, 'p/my%20db%2Fx/2026-11-25T071403Z.tar'],
    [{ prefix: 'p', database: '..', time: T, extension: 'tar' }, 'p/%2E%2E/2026-11-25T071403Z.tar'],
    [{ prefix: 'p', database: 'bıgınt', time: T, extension: 'dump' }, 'p/b%C4%B1g%C4%B1nt/2026-11-25T071403Z.dump'],
  ] as [ArchiveKeyParts, string][])('archiveKey %#', (parts, expected) => {
    expect(archiveKey(parts)).toBe(expected);
    const parsed = parseArchiveKey(expected, parts.prefix);
    expect(parsed).toEqual({
      database: parts.database,
      time: new Date('2026-11-25T07:14:03Z'),
      extension: parts.extension,
      ...(parts.label ? { label: parts.label } : {}),
    });
  });

  test.each([
    ['prod/shop/2026-11-25T071403Z.dump.manifest.json', 'prod'],
    ['prod/shop/2026-11-25T071403Z.globals.sql', 'prod'],
    ['prod/shop/notes.txt', 'prod'],
    ['other/shop/2026-11-25T071403Z.dump', 'prod'],
    ['prod/shop/sub/2026-11-25T071403Z.dump', 'prod'],
    ['prod/shop/2026-02-30T000000Z.dump', 'prod'],
    ['prod/shop/2026-11-25T071403Z-Daily.dump', 'prod'],
    ['prod/shop/2026-11-25T071403Z.dump.bz2', 'prod'],
  ])('parseArchiveKey ignores %s', (key, prefix) => {
    expect(parseArchiveKey(key, prefix)).toBeUndefined();
  });

  test('manifest and globals keys sit beside the archive', () => {
    expect(manifestKey('p/db/2026-11-25T071403Z.dump.zst')).toBe('p/db/2026-11-25T071403Z.dump.zst.manifest.json');
    expect(globalsKey('p/db/2026-11-25T071403Z-daily.dump.zst')).toBe('p/db/2026-11-25T071403Z-daily.globals.sql');
    expect(globalsKey('p/db/2026-11-25T071403Z.tar')).toBe('p/db/2026-11-25T071403Z.globals.sql');
  });

  test('key times are UTC and sortable as strings', () => {
    expect(formatKeyTime(new Date('2024-02-29T23:59:59.999Z'))).toBe('2024-02-29T235959Z');
    expect(formatKeyTime(new Date('2026-01-01T00:00:00+02:00'))).toBe('2025-12-31T220000Z');
    expect(databaseSegment('app_prod-1.v2')).toBe('app_prod-1.v2');
  });
});

describe('encrypted archives', () => {
  test('keys with .gpg parse back, and their globals are encrypted too', () => {
    expect(parseArchiveKey('p/db/2026-11-25T071403Z-daily.dump.zst.gpg', 'p')).toEqual({
      database: 'db',
      time: new Date('2026-11-25T07:14:03Z'),
      label: 'daily',
      extension: 'dump.zst.gpg',
    });
    expect(globalsKey('p/db/2026-11-25T071403Z-daily.dump.zst.gpg')).toBe(
      'p/db/2026-11-25T071403Z-daily.globals.sql.gpg',
    );
    expect(globalsKey('p/db/2026-11-25T071403Z.sql.gpg')).toBe('p/db/2026-11-25T071403Z.globals.sql.gpg');
    expect(parseArchiveKey('p/db/2026-11-25T071403Z.gpg', 'p')).toBeUndefined();
  });
});
