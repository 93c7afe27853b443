/** The files part in the backup's job summary and in list's summary and `backups` output. */
import type { Manifest } from '../../src/manifest.js';
import { filesRow } from '../../src/report/backup-report.js';
import { listJson, listSummary, type ListResult } from '../../src/report/retention-report.js';
import type { BackupEntry } from '../../src/storage/catalog.js';

const FILES: NonNullable<Manifest['files']> = {
  key: 'p/app/2026-12-07T101010Z.files.tar.zst.gpg',
  bytes: 2_000_000,
  sha256: 'c'.repeat(64),
  compression: 'zstd',
  encrypted: true,
  fileCount: 507,
  totalBytes: 5_500_000,
  entries: 523,
  listingFingerprint: 'd'.repeat(64),
  fingerprintVersion: 1,
  skipped: ['uploads/queue.fifo'],
};

test('the summary row of a backup with files', () => {
  const [name, text] = filesRow(FILES);
  expect(name).toBe('Files');
  expect(text).toContain('507 file(s)');
  expect(text).toContain('`p/app/2026-12-07T101010Z.files.tar.zst.gpg`');
  expect(text).toContain('zstd, encrypted');
  expect(text).toContain('1 special file(s) skipped');
});

describe('list', () => {
  const backup = (key: string, files?: string[]): BackupEntry => ({
    key,
    manifestKey: `${key}.manifest.json`,
    database: 'app',
    time: new Date('2026-12-07T10:10:10Z'),
    extension: 'dump',
    size: 10,
    hasManifest: true,
    ...(files ? { files, filesBytes: 2_000_000 } : {}),
  });
  const withFiles = backup('p/app/2026-12-07T101010Z.dump', [FILES.key]);
  const without = backup('p/app/2026-12-06T101010Z.dump');
  const result: ListResult = {
    database: 'app',
    now: new Date('2026-12-08T00:00:00Z'),
    warnings: [],
    destinations: [
      {
        url: 's3://b/p',
        catalog: { backups: [without, withFiles], foreign: [], orphanManifests: [], temporary: [] },
        files: new Map([
          [
            withFiles.key,
            { fileCount: 507, totalBytes: 5_500_000, recordedKey: FILES.key, storedBytes: 2_000_000, missing: false },
          ],
        ]),
      },
    ],
  };

  test('the backups output has the files part of the backups that have one', () => {
    const listed = JSON.parse(listJson(result)) as { key: string; files?: unknown }[];
    expect(listed.map((b) => [b.key, b.files])).toEqual([
      [without.key, undefined],
      [withFiles.key, { fileCount: 507, totalBytes: 5_500_000, storedBytes: 2_000_000, missing: false }],
    ]);
  });

  test('the summary has a Files column', () => {
    const summary = listSummary(result);
    expect(summary).toContain('| Files |');
    expect(summary).toMatch(/507 file\(s\)/);
  });
});
