/** The files part of a backup for list and check (retention/files-parts.ts): tables. */
import type { Manifest } from '../../src/manifest.js';
import { describeFilesPart, filesChecks, filesPartOf } from '../../src/retention/files-parts.js';
import type { BackupEntry } from '../../src/storage/catalog.js';

const KEY = 'p/app/2026-12-07T101010Z.dump';
const FILES_KEY = 'p/app/2026-12-07T101010Z.files.tar.zst';

function entry(files?: string[]): BackupEntry {
  return {
    key: KEY,
    manifestKey: `${KEY}.manifest.json`,
    database: 'app',
    time: new Date('2026-12-07T10:10:10Z'),
    extension: 'dump',
    size: 10,
    hasManifest: true,
    ...(files ? { files, filesBytes: 1234 } : {}),
  };
}

function manifest(fileCount?: number): Manifest {
  return {
    archive: { key: 'p/app/2026-12-06T101010Z.dump' },
    ...(fileCount === undefined
      ? {}
      : {
          files: {
            key: FILES_KEY,
            bytes: 1234,
            sha256: 'a'.repeat(64),
            compression: 'zstd',
            encrypted: false,
            fileCount,
            totalBytes: 5000,
            entries: fileCount + 2,
            listingFingerprint: 'b'.repeat(64),
            fingerprintVersion: 1,
            skipped: [],
          },
        }),
  } as unknown as Manifest;
}

describe('filesPartOf', () => {
  test.each([
    ['no files anywhere', undefined, undefined, undefined],
    [
      'recorded and stored',
      [FILES_KEY],
      12,
      { fileCount: 12, totalBytes: 5000, recordedKey: FILES_KEY, storedBytes: 1234, missing: false },
    ],
    [
      'recorded, not stored: incomplete',
      undefined,
      12,
      { fileCount: 12, totalBytes: 5000, recordedKey: FILES_KEY, storedBytes: 0, missing: true },
    ],
    ['stored, not recorded', [FILES_KEY], undefined, { storedBytes: 1234, missing: false }],
  ] as [string, string[] | undefined, number | undefined, unknown][])('%s', (_, files, count, expected) => {
    expect(filesPartOf(entry(files), manifest(count).files)).toEqual(expected);
  });

  test('the list line says incomplete', () => {
    const part = filesPartOf(entry(), manifest(3).files);
    expect(describeFilesPart(part as NonNullable<typeof part>, (n) => `${n} B`)).toMatch(/^files: INCOMPLETE/);
  });
});

describe('filesChecks (check of the newest backup)', () => {
  test.each([
    ['no files before or now', undefined, undefined, undefined, []],
    ['files now, none before', 10, undefined, undefined, [['files archive', true]]],
    ['had files, has none', undefined, 10, undefined, [['files', false]]],
    [
      'same count',
      10,
      10,
      0.5,
      [
        ['files archive', true],
        ['files', true],
      ],
    ],
    [
      'dropped within max-row-drop',
      6,
      10,
      0.5,
      [
        ['files archive', true],
        ['files', true],
      ],
    ],
    [
      'dropped past max-row-drop',
      4,
      10,
      0.5,
      [
        ['files archive', true],
        ['files', false],
      ],
    ],
    [
      'dropped, max-row-drop not set',
      1,
      10,
      undefined,
      [
        ['files archive', true],
        ['files', true],
      ],
    ],
  ] as [string, number | undefined, number | undefined, number | undefined, [string, boolean][]][])(
    '%s',
    (_, now, before, maxDrop, expected) => {
      const checks = filesChecks(
        entry(now === undefined ? undefined : [FILES_KEY]),
        manifest(now),
        manifest(before),
        maxDrop,
      );
      expect(checks.map((c) => [c.name, c.passed])).toEqual(expected);
    },
  );

  test('a recorded files archive missing from the listing fails', () => {
    const checks = filesChecks(entry(), manifest(5), undefined, undefined);
    expect(checks).toEqual([expect.objectContaining({ name: 'files archive', passed: false })]);
  });
});
