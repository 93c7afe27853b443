import { archiveExtension, planCompression } from '../../src/backup/compression-plan.js';
import type { Compression, CompressorsAvailable } from '../../src/pipeline/compression.js';
import type { DumpFormat } from '../../src/postgres/types.js';

const ALL: CompressorsAvailable = { nodeZstd: true, zstdCli: '/usr/bin/zstd', lz4Cli: '/usr/bin/lz4' };
const CLI_ONLY: CompressorsAvailable = { nodeZstd: false, zstdCli: '/usr/bin/zstd', lz4Cli: '/usr/bin/lz4' };
const NOTHING: CompressorsAvailable = { nodeZstd: false };
const NODE_ONLY: CompressorsAvailable = { nodeZstd: true };

describe('planCompression', () => {
  test.each<[Compression, DumpFormat, number, CompressorsAvailable, string, string, string, string | undefined]>([
    // compression, format, client major, available → pg_dump --compress, where, extension, engine
    [{ method: 'zstd' }, 'custom', 15, ALL, '0', 'stream', 'dump.zst', 'zstd-cli'],
    [{ method: 'zstd' }, 'custom', 15, NODE_ONLY, '0', 'stream', 'dump.zst', 'node-zlib'],
    [{ method: 'zstd' }, 'custom', 15, CLI_ONLY, '0', 'stream', 'dump.zst', 'zstd-cli'],
    [{ method: 'zstd', level: 19 }, 'plain', 15, CLI_ONLY, '0', 'stream', 'sql.zst', 'zstd-cli'],
    [{ method: 'zstd' }, 'custom', 16, NOTHING, 'zstd:3', 'pg_dump', 'dump', undefined],
    [{ method: 'zstd', level: 7 }, 'directory', 17, NOTHING, 'zstd:7', 'pg_dump', 'tar', undefined],
    [{ method: 'zstd' }, 'plain', 17, NOTHING, 'zstd:3', 'pg_dump', 'sql.zst', undefined],
    [{ method: 'zstd' }, 'directory', 15, CLI_ONLY, '0', 'stream', 'tar.zst', 'zstd-cli'],
    [{ method: 'gzip' }, 'custom', 15, NOTHING, '6', 'pg_dump', 'dump', undefined],
    [{ method: 'gzip', level: 1 }, 'plain', 14, NOTHING, '1', 'pg_dump', 'sql.gz', undefined],
    [{ method: 'lz4' }, 'custom', 15, ALL, '0', 'stream', 'dump.lz4', 'lz4-cli'],
    [{ method: 'lz4' }, 'custom', 16, NOTHING, 'lz4:1', 'pg_dump', 'dump', undefined],
    [{ method: 'none' }, 'custom', 15, NOTHING, '0', 'none', 'dump', undefined],
    [{ method: 'none' }, 'plain', 17, ALL, '0', 'none', 'sql', undefined],
  ])('%j %s pg_dump %i', (...row) => {
    // One row of the table above: its eight columns are more than a parameter list should hold.
    const [compression, format, major, available, pgDumpCompress, where, extension, engine] = row;
    const plan = planCompression(compression, format, major, available);
    expect(plan.pgDumpCompress).toBe(pgDumpCompress);
    expect(plan.where).toBe(where);
    expect(plan.engine).toBe(engine);
    expect(archiveExtension(format, plan)).toBe(extension);
  });

  test.each<[Compression, RegExp]>([
    [
      { method: 'zstd' },
      /^compression zstd needs pg_dump 16 or newer, Node 24's zlib or the zstd command-line tool; pg_dump 15 is in use and no zstd tool was found\. Install zstd/,
    ],
    [{ method: 'lz4' }, /^compression lz4 needs pg_dump 16 or newer, the lz4 command-line tool; pg_dump 15 is in use/],
  ])('%j with pg_dump 15 and no tool is a clear error', (compression, message) => {
    expect(() => planCompression(compression, 'custom', 15, NOTHING)).toThrow(message);
  });
});
