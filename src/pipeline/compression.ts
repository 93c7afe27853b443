import zlib from 'node:zlib';
import type { Duplex, Writable } from 'node:stream';
import { which } from '@actions/io';
import { spawnStage, type ChildStage } from './process.js';
import { STREAM_HIGH_WATER_MARK } from './stages.js';

/** The compression methods of an archive (`compression` input). */
export type CompressionMethod = 'zstd' | 'gzip' | 'lz4' | 'none';

/** A compression method and, when the user gave one, its level. */
export interface Compression {
  method: CompressionMethod;
  /** Level, when the user gave one (zstd 1–22, gzip 1–9, lz4 1–12). */
  level?: number;
}

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
