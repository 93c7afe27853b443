import type { Manifest } from '../../src/manifest.js';
import { restoreOutputs, restoreSummary, type RestoreResult } from '../../src/report/restore-report.js';

const manifest = {
  database: 'shop',
  startedAt: '2026-12-07T10:10:10Z',
  server: { version: '15.10' },
  format: 'custom',
  archive: { key: 'shop/2026-12-07T101010Z.dump', bytes: 2048, sha256: 'ab' },
} as unknown as Manifest;

const files = {
  key: 'shop/2026-12-07T101010Z.files.tar.zst',
  storedBytes: 4096,
  folder: '/srv/app/uploads',
  files: 502,
  bytes: 5_500_000,
  entries: 520,
  seconds: 0.5,
};

const base: RestoreResult = {
  key: 'shop/2026-12-07T101010Z.dump',
  url: 'file:///backups',
  manifest,
  target: { host: 'db', port: 5432, database: 'restored' },
  createdDatabase: true,
  globalsApplied: false,
  restoreSeconds: 2.5,
  throughput: 1000,
  mode: 'pg_restore-stdin',
  pgRestoreVersion: '15.10',
};

describe('restoreSummary with files', () => {
  test.each([
    ['database only', base, ['Restored into', 'pg_restore'], ['| Files |', 'files-only']],
    [
      'database and files',
      { ...base, files },
      [
        'Restored into',
        '| Files | 502 files (5.5 MB), 520 entries into `/srv/app/uploads` in 0.5 s',
        'SHA-256 verified',
      ],
      ['files-only'],
    ],
    [
      'files only',
      { ...base, files, filesOnly: true, mode: 'none' as const, pgRestoreVersion: '' },
      ['| Files | 502 files', '| Database | not restored (files-only) |'],
      ['Restored into', 'pg_restore'],
    ],
  ])('%s', (_name, result: RestoreResult, present: string[], absent: string[]) => {
    const summary = restoreSummary(result);
    expect(summary).toMatch(/^## PostgreSQL restore: shop\n/);
    for (const text of present) expect(summary).toContain(text);
    for (const text of absent) expect(summary).not.toContain(text);
    expect(restoreOutputs(result)).toEqual({ 'restored-key': base.key, 'restore-seconds': '2.5' });
  });
});
