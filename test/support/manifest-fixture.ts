/**
 * A manifest for tests of pure functions that read one (drill verdicts, restore planning): a custom
 * zstd backup of `shop` on PostgreSQL 15.20 with no filters, version 1 unless `content` is given.
 */
import type { Manifest } from '../../src/manifest.js';
import { dumpOptionsFixture } from './dump-options.js';

/** The fields a test varies; `options` are merged into the unfiltered defaults. */
export type ManifestPatch = Partial<Omit<Manifest, 'options'>> & { options?: Partial<Manifest['options']> };

/** The options of a backup with no filters, as the manifest records them (no format, no compression). */
const { format: _format, compression: _compression, ...UNFILTERED } = dumpOptionsFixture();

export function manifestFixture(patch: ManifestPatch = {}): Manifest {
  const { options, ...rest } = patch;
  return {
    formatVersion: rest.content === undefined ? 1 : 2,
    tool: { name: 'postgres-backup-action', version: '0.1.0' },
    database: 'shop',
    label: null,
    server: { version: '15.20', versionNum: 150020, major: 15 },
    client: { pgDumpVersion: '15.20', major: 15 },
    format: 'custom',
    compression: { method: 'zstd', level: 3, where: 'stream', engine: 'zstd-cli' },
    encryption: null,
    options: { ...UNFILTERED, ...options },
    startedAt: '2026-11-25T07:00:00.000Z',
    finishedAt: '2026-11-25T07:00:10.000Z',
    durationSeconds: 10,
    archive: {
      key: 'prod/shop/2026-11-25T070000Z.dump.zst',
      bytes: 1000,
      sha256: 'a'.repeat(64),
      contentType: 'application/zstd',
    },
    globals: null,
    databaseSizeBytes: 5000,
    snapshot: '00000003-00000002-1',
    rowCounts: { mode: 'exact', tables: [] },
    objects: {
      tables: 0,
      partitionedTables: 0,
      indexes: 0,
      constraints: 0,
      views: 0,
      materializedViews: 0,
      functions: 0,
      sequences: 0,
    },
    ...rest,
  };
}
