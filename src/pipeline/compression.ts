import zlib from 'node:zlib';
import type { Duplex, Writable } from 'node:stream';
import { which } from '@actions/io';
import type { Compression, CompressionMethod, DumpFormat } from '../postgres/types.js';
import { spawnStage, type ChildStage } from './process.js';
import { STREAM_HIGH_WATER_MARK } from './stages.js';

/** Default levels: zstd 3 and lz4 1 are the fast settings; gzip 6 is gzip's own default. */
export const DEFAULT_LEVEL: Record<Exclude<CompressionMethod, 'none'>, number> = { zstd: 3, gzip: 6, lz4: 1 };

/** The compressors this process can use for in-stream compression. */
export interface CompressorsAvailable {
  /** Node's zlib has zstd (Node ≥ 22.15 / 23.8, so Node 24 runners). */
  nodeZstd: boolean;
  /** Path of the `zstd` CLI, when found. */
  zstdCli?: string;
  /** Path of the `lz4` CLI, when found. */
  lz4Cli?: string;
}

export type StreamEngine = 'node-zlib' | 'zstd-cli' | 'lz4-cli';

/** Where compression happens and what the archive is called. */
export interface CompressionPlan {
  method: CompressionMethod;
  level?: number;
  /** `--compress` value for pg_dump: '0' when the stream compresses, else pg_dump's own spec. */
  pgDumpCompress: string;
  /** 'pg_dump': inside the archive (native, `pg_restore` reads it as is); 'stream': around it. */
  where: 'pg_dump' | 'stream' | 'none';
  engine?: StreamEngine;
  /** Suffix after the format's extension: '', '.zst', '.lz4' or '.gz'. */
  suffix: string;
}

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

/**
 * An in-stream compressor: either a Duplex inside Node (zlib), or a child process (zstd/lz4 CLI)
 * whose stdin the producer (pg_dump, tar) writes to directly and whose stdout is the stream given
 * to {@link createCompressor}; its exit status counts like pg_dump's.
 */
export type Compressor =
  { kind: 'in-process'; stream: Duplex } | { kind: 'child'; child: ChildStage & { stdin: Writable } };

/**
 * Starts the compressor a plan asks for; undefined when the plan compresses in pg_dump or not at all.
 * A CLI compressor writes into `stdout` (the backup's pooled pipe); Node's zlib is a Duplex instead.
 */
export function createCompressor(
  plan: CompressionPlan,
  available: CompressorsAvailable,
  stdout: Writable,
): Compressor | undefined {
  if (plan.where !== 'stream' || plan.level === undefined) return undefined;
  if (plan.engine === 'node-zlib') {
    const z = zlib as unknown as {
      createZstdCompress(options: object): Duplex;
      constants: Record<string, number>;
    };
    return {
      kind: 'in-process',
      stream: z.createZstdCompress({
        chunkSize: STREAM_HIGH_WATER_MARK,
        params: { [z.constants.ZSTD_c_compressionLevel as number]: plan.level },
      }),
    };
  }
  const [name, path, args] =
    plan.engine === 'zstd-cli'
      ? ['zstd', available.zstdCli, ['-q', '-c', `-${plan.level}`, '-T0', ...(plan.level > 19 ? ['--ultra'] : [])]]
      : ['lz4', available.lz4Cli, ['-q', '-c', `-${plan.level}`]];
  if (!path) throw new Error(`${name} is not available`);
  const child = spawnStage(name, path, args, { stdin: 'pipe', stdout });
  if (!child.stdin) throw new Error(`${name} was started without a stdin pipe`);
  return { kind: 'child', child: { ...child, stdin: child.stdin } };
}

/** Looks for the compressors this machine has (Node's zlib zstd, and `zstd`/`lz4` on PATH). */
export async function detectCompressors(): Promise<CompressorsAvailable> {
  const [zstdCli, lz4Cli] = await Promise.all([which('zstd', false), which('lz4', false)]);
  return {
    nodeZstd: typeof (zlib as unknown as { createZstdCompress?: unknown }).createZstdCompress === 'function',
    ...(zstdCli ? { zstdCli } : {}),
    ...(lz4Cli ? { lz4Cli } : {}),
  };
}
