/**
 * Where a backup's archive is compressed (by pg_dump, in the stream, or not at all) and what the
 * archive is called: a choice that needs both pg_dump's abilities (postgres/) and the stream's
 * compressors (pipeline/compression.ts).
 */
import {
  DEFAULT_LEVEL,
  type Compression,
  type CompressionPlan,
  type CompressorsAvailable,
  type StreamEngine,
} from '../pipeline/compression.js';
import type { DumpFormat } from '../postgres/types.js';

/**
 * Decides where the archive is compressed.
 *
 * gzip is always pg_dump's own (`--compress=N`; every supported major). zstd and lz4 are passed to
 * pg_dump from PostgreSQL 16 on (`--compress=zstd:3`, PostgreSQL docs "pg_dump", option
 * `--compress`), so custom and directory archives stay native for `pg_restore -j`. With an older
 * client the dump is taken with `--compress=0` and compressed in the stream: by the zstd/lz4
 * command-line tool when there is one, else (zstd only) by Node's zlib. For the plain format, pg_dump's own compression
 * compresses the whole file, so the suffix says so.
 * @throws Error when the method cannot be had (lz4 with pg_dump < 16 and no lz4 CLI, zstd likewise).
 */
export function planCompression(
  compression: Compression,
  format: DumpFormat,
  clientMajor: number,
  available: CompressorsAvailable,
): CompressionPlan {
  const { method } = compression;
  if (method === 'none') return { method, pgDumpCompress: '0', where: 'none', suffix: '' };
  const level = compression.level ?? DEFAULT_LEVEL[method];
  const plainSuffix = { gzip: '.gz', zstd: '.zst', lz4: '.lz4' }[method];
  if (method === 'gzip') {
    return {
      method,
      level,
      pgDumpCompress: String(level),
      where: 'pg_dump',
      suffix: format === 'plain' ? plainSuffix : '',
    };
  }
  if (clientMajor >= 16) {
    return {
      method,
      level,
      pgDumpCompress: `${method}:${level}`,
      where: 'pg_dump',
      suffix: format === 'plain' ? plainSuffix : '',
    };
  }
  let engine: StreamEngine | undefined;
  // The CLI first: pg_dump writes straight into it (no copy through Node) and it compresses on
  // every core (-T0); on Node 24 it took 3.4 s where Node's zlib zstd took 5.0 s (docs/benchmarks.md).
  if (method === 'zstd') engine = available.zstdCli ? 'zstd-cli' : available.nodeZstd ? 'node-zlib' : undefined;
  else engine = available.lz4Cli ? 'lz4-cli' : undefined;
  if (engine === undefined) {
    throw new Error(
      `compression ${method} needs pg_dump 16 or newer, ${method === 'zstd' ? "Node 24's zlib or " : ''}the ${method} command-line tool; ` +
        `pg_dump ${clientMajor} is in use and no ${method} tool was found. Install ${method} (apt-get install ${method}) or set compression: gzip.`,
    );
  }
  return { method, level, pgDumpCompress: '0', where: 'stream', engine, suffix: plainSuffix };
}

/** File extension of an archive: dump (custom), sql (plain), tar (directory, tarred) + suffix. */
export function archiveExtension(format: DumpFormat, plan: CompressionPlan): string {
  return { custom: 'dump', plain: 'sql', directory: 'tar' }[format] + plan.suffix;
}

/** The compression plan in the log's words, e.g. `zstd:3 (in the stream, zstd-cli)` or `none`. */
export function describeCompression(plan: CompressionPlan): string {
  if (plan.where === 'none') return 'none';
  return `${plan.method}:${plan.level} (${plan.where === 'pg_dump' ? 'by pg_dump' : `in the stream, ${plan.engine}`})`;
}
