/**
 * Undoing the stream compression around an archive (`.zst`, `.lz4`, `.gz`), shaped like the
 * backup's compressor (pipeline/compression.ts): Node's zlib in the process, or a CLI child
 * whose exit status counts.
 */
import { Duplex, type Readable, type Writable } from 'node:stream';
import zlib from 'node:zlib';
import type { CompressorsAvailable } from '../pipeline/compression.js';
import { spawnStage, type ChildStage } from '../pipeline/process.js';
import { archiveSuffix } from '../storage/keys.js';
import { RestoreError } from './errors.js';

/** Stream compression around the archive, from its key (before any `.gpg`): `.zst`, `.lz4`, `.gz` or '' (none). */
export function streamSuffix(key: string): '' | '.zst' | '.lz4' | '.gz' {
  return archiveSuffix(key)?.streamCompression ?? '';
}

/**
 * A decompressing stage, like the backup's `Compressor`: a Duplex inside Node (zlib), or a CLI
 * child (zstd/lz4 -d) whose stdin Node writes and whose exit status counts. The child either sits
 * in the stream (`stream` wraps its stdin and stdout) or, given the restoring tool, writes
 * straight into that tool's stdin (`into`).
 */
export type Decompressor = {
  /** What does it, for logs: `node-zlib gunzip`, `zstd -d`, … */
  engine: string;
} & (
  | { kind: 'in-process'; stream: Duplex; into?: undefined }
  | { kind: 'child'; child: ChildStage & { stdin: Writable }; stream: Duplex; into?: undefined }
  /** A CLI writing straight into `into`, the restoring tool (whose stdin was handed over to it). */
  | { kind: 'child'; child: ChildStage & { stdin: Writable }; stream?: undefined; into: ChildStage }
);

/**
 * The stage that undoes `suffix`: `.gz` → Node's gunzip; `.zst` → `zstd -d`, else Node's zstd
 * (Node ≥ 22.15); `.lz4` → `lz4 -d`; '' → none. With `into` (the restoring tool, started with a
 * stdin pipe), a CLI writes straight into that tool's stdin: the decompressed archive never passes
 * through Node.
 * @throws RestoreError when the tool is missing (naming the package to install).
 */
export function createDecompressor(
  suffix: string,
  available: CompressorsAvailable,
  into?: ChildStage,
): Decompressor | undefined {
  if (suffix === '') return undefined;
  if (suffix === '.gz')
    return { kind: 'in-process', stream: zlib.createGunzip({ chunkSize: 64 * 1024 }), engine: 'node-zlib gunzip' };
  if (suffix === '.zst' && available.nodeZstd && !available.zstdCli) {
    const z = zlib as unknown as { createZstdDecompress(options?: object): Duplex };
    return { kind: 'in-process', stream: z.createZstdDecompress(), engine: 'node-zlib zstd' };
  }
  const tool =
    suffix === '.zst'
      ? { name: 'zstd', path: available.zstdCli }
      : suffix === '.lz4'
        ? { name: 'lz4', path: available.lz4Cli }
        : undefined;
  if (!tool) throw new RestoreError(`Unknown stream compression '${suffix}'.`);
  if (!tool.path) {
    throw new RestoreError(
      `The archive is compressed with ${tool.name} around the dump and no ${tool.name} tool was found to undo it: install it in an earlier step (apt-get install ${tool.name}; brew install ${tool.name})${tool.name === 'zstd' ? ' or run on Node 24, whose zlib has zstd' : ''}.`,
    );
  }
  const engine = `${tool.name} -d`;
  const spawned = spawnStage(engine, tool.path, ['-d', '-q', '-c'], {
    stdin: 'pipe',
    ...(into?.stdin ? { stdout: into.stdin } : {}),
  });
  if (!spawned.stdin) throw new Error(`${engine} was started without a stdin pipe`);
  const child = { ...spawned, stdin: spawned.stdin };
  if (into?.stdin) return { kind: 'child', child, into, engine };
  return {
    kind: 'child',
    stream: Duplex.from({ writable: child.stdin, readable: child.stdout as Readable }),
    child,
    engine,
  };
}
