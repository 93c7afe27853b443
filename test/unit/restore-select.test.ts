import { formatDuration, judgeCatalog, median } from '../../src/retention/freshness.js';
import type { Manifest } from '../../src/manifest.js';
import {
  BackupNotFoundError,
  checkManifest,
  selectBackup,
  skippedForLatest,
  skippedWarning,
} from '../../src/restore/select.js';
import type { BackupEntry, Catalog } from '../../src/storage/catalog.js';

function entry(
  time: string,
  options: { label?: string | undefined; manifest?: boolean; size?: number; ext?: string } = {},
): BackupEntry {
  const stamp = time.replace(/:/g, '').replace(/\.\d{3}Z$/, 'Z');
  const key = `prod/shop/${stamp}${options.label ? `-${options.label}` : ''}.${options.ext ?? 'dump.zst'}`;
  return {
    key,
    manifestKey: `${key}.manifest.json`,
    database: 'shop',
    time: new Date(time),
    ...(options.label ? { label: options.label } : {}),
    extension: options.ext ?? 'dump.zst',
    size: options.size ?? 1000,
    hasManifest: options.manifest ?? true,
  };
}

function catalog(backups: BackupEntry[]): Catalog {
  return { backups, foreign: [], orphanManifests: [], temporary: [] };
}

const CONTEXT = { database: 'shop', url: 's3://backups/prod' };

const SAMPLE = catalog([
  entry('2026-11-20T01:00:00Z', { label: 'daily' }),
  entry('2026-11-21T01:00:00Z', { label: 'weekly' }),
  entry('2026-11-22T01:00:00Z', { label: 'daily' }),
  entry('2026-11-23T01:00:00Z'),
  entry('2026-11-24T01:00:00Z', { label: 'daily', manifest: false }),
]);

function failure(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BackupNotFoundError);
    return error as Error;
  }
  throw new Error('expected a BackupNotFoundError');
}

describe('selectBackup', () => {
  test('latest: the newest archive that has a manifest (an interrupted newer one is skipped)', () => {
    expect(selectBackup(SAMPLE, { kind: 'latest' }, CONTEXT).key).toBe('prod/shop/2026-11-23T010000Z.dump.zst');
  });

  test('latest:<label>: the newest complete one with that label', () => {
    expect(selectBackup(SAMPLE, { kind: 'latest', label: 'daily' }, CONTEXT).key).toBe(
      'prod/shop/2026-11-22T010000Z-daily.dump.zst',
    );
    expect(selectBackup(SAMPLE, { kind: 'latest', label: 'weekly' }, CONTEXT).key).toBe(
      'prod/shop/2026-11-21T010000Z-weekly.dump.zst',
    );
  });

  test('a key: that archive', () => {
    expect(
      selectBackup(
        SAMPLE,
        { kind: 'key', key: 'prod/shop/2026-11-20T010000Z-daily.dump.zst' },
        CONTEXT,
      ).time.toISOString(),
    ).toBe('2026-11-20T01:00:00.000Z');
  });

  test('a key that is not there: the newest complete keys are listed', () => {
    expect(
      failure(() => selectBackup(SAMPLE, { kind: 'key', key: 'prod/shop/2025-01-01T000000Z.dump' }, CONTEXT)).message,
    ).toBe(
      "There is no archive 'prod/shop/2025-01-01T000000Z.dump' among the backups of database 'shop' in s3://backups/prod; the newest complete ones are: prod/shop/2026-11-23T010000Z.dump.zst, prod/shop/2026-11-22T010000Z-daily.dump.zst, prod/shop/2026-11-21T010000Z-weekly.dump.zst. Check backup-key, database and destination (keys include the destination's prefix and the database name).",
    );
  });

  test('a key without manifest is an interrupted backup and is refused', () => {
    expect(
      failure(() => selectBackup(SAMPLE, { kind: 'key', key: 'prod/shop/2026-11-24T010000Z-daily.dump.zst' }, CONTEXT))
        .message,
    ).toBe(
      "The archive 'prod/shop/2026-11-24T010000Z-daily.dump.zst' of database 'shop' in s3://backups/prod has no manifest (prod/shop/2026-11-24T010000Z-daily.dump.zst.manifest.json): it is from an interrupted backup and is never restored. Choose another backup-key, or latest.",
    );
  });

  test('a label nobody used: the labels in use are listed', () => {
    expect(failure(() => selectBackup(SAMPLE, { kind: 'latest', label: 'monthly' }, CONTEXT)).message).toBe(
      "No complete backup with label 'monthly' of database 'shop' in s3://backups/prod; labels found: (none), daily, weekly. Use backup-key: latest for the newest of any label.",
    );
  });

  test('an empty folder: says where it looked and how keys are made', () => {
    expect(failure(() => selectBackup(catalog([]), { kind: 'latest' }, CONTEXT)).message).toBe(
      "No backups of database 'shop' in s3://backups/prod. Check database (the source database's name, as in the keys) and destination (with its prefix); the backup command writes <prefix>/<database>/<time>.<ext>.",
    );
  });

  test('only interrupted archives', () => {
    const only = catalog([entry('2026-11-24T01:00:00Z', { manifest: false })]);
    expect(failure(() => selectBackup(only, { kind: 'latest' }, CONTEXT)).message).toBe(
      "No complete backup of database 'shop' in s3://backups/prod: the 1 archive(s) there have no manifest (interrupted runs), e.g. prod/shop/2026-11-24T010000Z.dump.zst.",
    );
    expect(
      failure(() => selectBackup(only, { kind: 'key', key: 'prod/shop/2026-11-24T010000Z.dump.zst' }, CONTEXT)).message,
    ).toMatch(/has no manifest/);
  });

  test('skippedForLatest: the newer archives without manifest that latest passed over, newest first, by label', () => {
    const chosen = selectBackup(SAMPLE, { kind: 'latest' }, CONTEXT);
    expect(skippedForLatest(SAMPLE, { kind: 'latest' }, chosen).map((b) => b.key)).toEqual([
      'prod/shop/2026-11-24T010000Z-daily.dump.zst',
    ]);
    const daily = selectBackup(SAMPLE, { kind: 'latest', label: 'daily' }, CONTEXT);
    expect(skippedForLatest(SAMPLE, { kind: 'latest', label: 'daily' }, daily).map((b) => b.key)).toEqual([
      'prod/shop/2026-11-24T010000Z-daily.dump.zst',
    ]);
    const weekly = selectBackup(SAMPLE, { kind: 'latest', label: 'weekly' }, CONTEXT);
    expect(skippedForLatest(SAMPLE, { kind: 'latest', label: 'weekly' }, weekly)).toEqual([]);
    expect(skippedForLatest(SAMPLE, { kind: 'key', key: chosen.key }, chosen)).toEqual([]);
    expect(
      skippedWarning(skippedForLatest(SAMPLE, { kind: 'latest', label: 'daily' }, daily), daily, CONTEXT.url),
    ).toBe(
      'The newest archive in s3://backups/prod has no manifest and is not used: prod/shop/2026-11-24T010000Z-daily.dump.zst (no prod/shop/2026-11-24T010000Z-daily.dump.zst.manifest.json). An interrupted backup (or one still running) leaves an archive without its manifest; using the older prod/shop/2026-11-22T010000Z-daily.dump.zst instead.',
    );
    expect(skippedWarning([], daily, CONTEXT.url)).toBeUndefined();
  });

  test('errors have the select phase', () => {
    expect((failure(() => selectBackup(catalog([]), { kind: 'latest' }, CONTEXT)) as BackupNotFoundError).phase).toBe(
      'select',
    );
  });
});

describe('checkManifest', () => {
  const e = entry('2026-11-23T01:00:00Z');
  const good: Partial<Manifest> = {
    formatVersion: 1,
    database: 'shop',
    format: 'custom',
    client: { pgDumpVersion: '17.2', major: 17 },
    archive: { key: e.key, bytes: 1000, sha256: 'a'.repeat(64), contentType: 'application/zstd' },
    rowCounts: { mode: 'exact', tables: [] },
  };

  test('a good manifest is returned', () => {
    expect(checkManifest(JSON.stringify(good), e).client.major).toBe(17);
  });

  test.each([
    [
      'not JSON',
      '{oops',
      /^The manifest prod\/shop\/2026-11-23T010000Z\.dump\.zst\.manifest\.json is not valid JSON \(.*\); the backup cannot be verified, so it is not restored\.$/,
    ],
    ['not an object', 'null', /is not a JSON object/],
    [
      'another format version',
      JSON.stringify({ ...good, formatVersion: 3 }),
      /has format version 3; this version of the action reads versions 1 to 2\. Use the action version that wrote it\.$/,
    ],
    [
      'no sha256',
      JSON.stringify({ ...good, archive: { key: e.key, bytes: 1 } }),
      /lacks fields a restore needs \(archive\.sha256, archive\.bytes, format, client\.major, rowCounts\); it is damaged\.$/,
    ],
    ['unknown format', JSON.stringify({ ...good, format: 'tar' }), /lacks fields a restore needs/],
    [
      'another database',
      JSON.stringify({ ...good, database: 'other' }),
      /is for database 'other', not 'shop'; it is not used\.$/,
    ],
    [
      'no format version',
      JSON.stringify({ ...good, formatVersion: undefined }),
      /has no formatVersion; it was not written by this action, or it is damaged\.$/,
    ],
    [
      'a format version no action writes',
      JSON.stringify({ ...good, formatVersion: '1' }),
      /has format version "1", which no version of this action writes \(it writes 2\); it is damaged\.$/,
    ],
  ])('%s is refused', (_name, text, message) => {
    expect(failure(() => checkManifest(text, e)).message).toMatch(message);
  });
});

describe('check: judgeCatalog', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  const week = Array.from({ length: 8 }, (_, i) =>
    entry(`2026-11-${String(17 + i).padStart(2, '0')}T01:00:00Z`, {
      size: 1000 + 10 * i,
      label: i % 2 === 0 ? 'daily' : undefined,
    }),
  );

  test('fresh and of normal size: passes, with the newest key and age', () => {
    const r = judgeCatalog(catalog(week), { maxAgeSeconds: 48 * 3600, minSizeRatio: 0.5 }, now, 's3://b/p', 'shop');
    expect(r.passed).toBe(true);
    expect(r.latest).toEqual({
      key: 'prod/shop/2026-11-24T010000Z.dump.zst',
      time: '2026-11-24T01:00:00.000Z',
      ageSeconds: 126_000,
      bytes: 1070,
    });
    expect(r.history).toBe(7);
    expect(r.medianBytes).toBe(1030);
    expect(r.checks.map((c) => [c.name, c.passed])).toEqual([
      ['complete backup', true],
      ['age', true],
      ['size', true],
    ]);
  });

  test('too old: the age check fails', () => {
    const r = judgeCatalog(catalog(week), { maxAgeSeconds: 6 * 3600 }, now, 's3://b/p', 'shop');
    expect(r.passed).toBe(false);
    expect(r.checks[1]).toEqual({ name: 'age', expected: '≤ 6h', actual: '1d 11h', passed: false });
  });

  test('a tiny newest archive fails the size check against the median of the previous 7', () => {
    const r = judgeCatalog(
      catalog([...week, entry('2026-11-25T01:00:00Z', { size: 100 })]),
      { minSizeRatio: 0.5 },
      now,
      's3://b/p',
      'shop',
    );
    expect(r.checks[1]).toEqual({
      name: 'size',
      expected: '≥ 50% of the median 1.0 kB (7 earlier)',
      actual: '100 B (9.6%)',
      passed: false,
    });
    expect(r.medianBytes).toBe(1040);
  });

  test('expect-label: only backups with the label count; a newest one with the label but no manifest fails', () => {
    const r = judgeCatalog(
      catalog([...week, entry('2026-11-25T02:00:00Z', { label: 'daily', manifest: false })]),
      { expectLabel: 'daily', maxAgeSeconds: 86_400 },
      now,
      's3://b/p',
      'shop',
    );
    expect(r.latest?.key).toBe('prod/shop/2026-11-23T010000Z-daily.dump.zst');
    expect(r.checks.map((c) => c.name)).toEqual(["complete backup with label 'daily'", 'newest archive', 'age']);
    expect(r.checks[1]).toEqual({
      name: 'newest archive',
      expected: 'has a manifest',
      actual:
        'prod/shop/2026-11-25T020000Z-daily.dump.zst has no manifest (prod/shop/2026-11-25T020000Z-daily.dump.zst.manifest.json is missing): an interrupted backup, or one still running',
      passed: false,
    });
    expect(r.checks[2]?.passed).toBe(false);
    expect(r.passed).toBe(false);
    expect(r.warnings).toEqual([]);
  });

  test('expect-label: a newer archive of another label without manifest is only a warning', () => {
    const r = judgeCatalog(
      catalog([...week, entry('2026-11-25T02:00:00Z', { manifest: false })]),
      { expectLabel: 'daily' },
      now,
      's3://b/p',
      'shop',
    );
    expect(r.passed).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual(["complete backup with label 'daily'"]);
    expect(r.warnings).toEqual([
      "1 newer archive(s) of 'shop' have no manifest (interrupted or running backups): prod/shop/2026-11-25T020000Z.dump.zst.",
    ]);
  });

  test('no complete backup: one failed check naming the newest archive', () => {
    const r = judgeCatalog(
      catalog([entry('2026-11-24T01:00:00Z', { manifest: false }), entry('2026-11-25T01:00:00Z', { manifest: false })]),
      { maxAgeSeconds: 3600 },
      now,
      's3://b/p',
      'shop',
    );
    expect(r.passed).toBe(false);
    expect(r.checks).toEqual([
      {
        name: 'complete backup',
        expected: 'at least one',
        actual:
          'none: the newest archive prod/shop/2026-11-25T010000Z.dump.zst has no manifest (prod/shop/2026-11-25T010000Z.dump.zst.manifest.json is missing), nor do the 1 older one(s)',
        passed: false,
      },
    ]);
  });

  test('a single backup: the size check is skipped with a warning', () => {
    const r = judgeCatalog(
      catalog([entry('2026-11-25T01:00:00Z', { size: 1 })]),
      { minSizeRatio: 0.9 },
      now,
      's3://b/p',
      'shop',
    );
    expect(r.passed).toBe(true);
    expect(r.warnings).toEqual(['No earlier complete backup to compare the size with: the size check is skipped.']);
  });

  test('helpers', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(93_600)).toBe('1d 2h');
    expect(formatDuration(3661)).toBe('1h 1m');
    expect(formatDuration(59)).toBe('59s');
  });
});
