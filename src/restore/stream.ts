/**
 * The restore's hot path: stored archive → SHA-256/size check → (decrypt) → undo stream
 * compression → pg_restore or psql, with the digest checked WHILE streaming.
 *
 * How a corrupt archive is kept from being restored "successfully":
 * - {@link DigestGate} hashes and counts the stored bytes and holds back the last chunk until the
 *   digest is known: a mismatch kills pg_restore/psql first, then ends the stream with an error, so
 *   the tool never sees the end of the archive and exits non-zero (psql would otherwise execute a
 *   truncated last statement at end of input).
 * - Any stream failure kills the restoring process before its stdin is closed ({@link ChildSink}).
 * - When the restore fails before the whole archive went through the gate (a decompressor or
 *   pg_restore choking on damaged data), the stored object is hashed again; a mismatch is reported
 *   as a corrupt archive rather than as the tool's error.
 * - Success needs both: the tool exited 0 and the digest matched the manifest.
 *
 * Formats:
 * - custom, jobs 1: streamed into `pg_restore` (stdin). Not parallel: pg_restore -j needs a
 *   seekable file.
 * - custom, jobs > 1: decompressed to a temporary file (disk ≈ the archive's size without stream
 *   compression), verified, then `pg_restore -j`.
 * - directory: the tar is unpacked into a temporary folder (disk ≈ the unpacked size), verified,
 *   then `pg_restore -j`.
 * - plain: streamed into `psql -v ON_ERROR_STOP=1`.
 * Restores stop on the first error (`pg_restore --exit-on-error`, `psql -v ON_ERROR_STOP=1`).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Duplex, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { Log } from '../log.js';
import { ActionError, VerifyError, errorMessage } from '../errors.js';
import type { CompressorsAvailable } from '../pipeline/compression.js';
import { ChildExitError, killedByUs, spawnStage, type ChildStage } from '../pipeline/process.js';
import { downloadProgressLine, startProgress } from '../pipeline/progress.js';
import { shorten } from './verify.js';
import { STREAM_HIGH_WATER_MARK, type Measurement } from '../pipeline/stages.js';
import { classifyPgError } from '../postgres/classify.js';
import { libpqEnv } from '../postgres/libpq.js';
import type { Connection, DumpFormat } from '../postgres/types.js';
import { hashObject, readObject } from '../storage/read.js';
import { StallError } from '../storage/stall.js';
import type { ObjectStore } from '../storage/types.js';
import { archiveSuffix } from '../storage/keys.js';

/** pg_restore or psql failed, or the archive could not be read or decompressed. */
export class RestoreError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'restore', options);
  }
}

/** The stored archive's SHA-256 or size differs from the manifest's: it must not be trusted. */
export class CorruptArchiveError extends VerifyError {
  constructor(
    readonly key: string,
    readonly where: string,
    readonly expected: { bytes: number; sha256: string },
    readonly actual: { bytes: number; sha256?: string },
  ) {
    super(
      `The archive ${key} in ${where} is corrupt: ` +
        (actual.sha256 === undefined
          ? `it holds more than the ${expected.bytes} bytes the manifest records (at least ${actual.bytes})`
          : `its SHA-256 is ${actual.sha256} (${actual.bytes} bytes) but the manifest records ${expected.sha256} (${expected.bytes} bytes)`) +
        '. The restore was stopped and nothing restored from it counts as good (the target database may hold a partial restore). ' +
        'Choose another backup (backup-key), and check the storage for damaged objects.',
    );
  }
}

/** SHA-256 and size the manifest records for the stored archive (what {@link Meter} measured). */
export type Expected = Measurement;

/**
 * Pass-through stage that hashes and counts the stored bytes and holds back the last chunk until
 * the stream has ended and the digest matched. On a mismatch (or as soon as more bytes than
 * expected arrive) `onMismatch` runs first (to kill the restoring process), then the stream fails
 * with a {@link CorruptArchiveError}.
 */
export class DigestGate extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;
  private held: Buffer | undefined;
  /** 'pending' until the end of the stream; then 'ok' or 'mismatch'. */
  verdict: 'pending' | 'ok' | 'mismatch' = 'pending';
  error: CorruptArchiveError | undefined;
  actual: { bytes: number; sha256: string } | undefined;

  constructor(
    private readonly expected: Expected,
    private readonly key: string,
    private readonly where: string,
    private readonly onMismatch: () => void,
  ) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    if (this.count > this.expected.bytes) {
      callback(this.fail({ bytes: this.count }));
      return;
    }
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.hash.digest('hex');
    this.actual = { bytes: this.count, sha256 };
    if (sha256 !== this.expected.sha256 || this.count !== this.expected.bytes) {
      callback(this.fail(this.actual));
      return;
    }
    this.verdict = 'ok';
    callback(null, this.held);
  }

  /** Bytes read so far (for progress lines). */
  get bytes(): number {
    return this.count;
  }

  private fail(actual: { bytes: number; sha256?: string }): CorruptArchiveError {
    this.verdict = 'mismatch';
    this.error = new CorruptArchiveError(this.key, this.where, this.expected, actual);
    this.held = undefined;
    this.onMismatch();
    return this.error;
  }
}

/**
 * Sink that writes into a child's stdin with back-pressure. When the stream fails it kills the
 * child BEFORE closing its stdin, so the child never reads a clean end of a truncated input.
 */
export class ChildSink extends Writable {
  /**
   * @param first on failure, called before the child is killed: when the child writes straight into
   *   another (zstd -d → pg_restore), that one must be stopped first, or it would read the end of
   *   its input as a clean end.
   */
  constructor(
    private readonly child: ChildStage,
    private readonly first?: () => void,
  ) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
    if (!child.stdin) throw new Error(`${child.name} has no stdin`);
    // Errors are reported through write callbacks; avoid an unhandled 'error' event (EPIPE).
    child.stdin.on('error', () => undefined);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const stdin = this.child.stdin as Writable;
    if (stdin.destroyed) {
      callback(new Error(`${this.child.name} closed its input`));
      return;
    }
    let settled = false;
    const done = (error?: Error | null): void => {
      if (settled) return;
      settled = true;
      stdin.off('close', onClose);
      callback(error);
    };
    const onClose = (): void => done(new Error(`${this.child.name} closed its input`));
    stdin.once('close', onClose);
    stdin.write(chunk, (error) => done(error ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    (this.child.stdin as Writable).end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) {
      this.first?.();
      this.child.kill();
      (this.child.stdin as Writable).destroy();
    }
    callback(error);
  }
}

/** Stream compression around the archive, from its key (before any `.gpg`): `.zst`, `.lz4`, `.gz` or '' (none). */
export function streamSuffix(key: string): '' | '.zst' | '.lz4' | '.gz' {
  return archiveSuffix(key)?.streamCompression ?? '';
}

/**
 * A decompressing stage: a Duplex in the stream, or a CLI child (whose exit status counts) that
 * either sits in the stream or, given the restoring tool, writes straight into its stdin.
 */
export type Decompressor = {
  /** What does it, for logs: `node-zlib gunzip`, `zstd -d`, … */
  engine: string;
} & (
  | { stream: Duplex; child?: ChildStage; into?: undefined }
  /** A CLI writing straight into `into`, the restoring tool (whose stdin was handed over to it). */
  | { stream?: undefined; child: ChildStage; into: ChildStage }
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
  if (suffix === '.gz') return { stream: zlib.createGunzip({ chunkSize: 64 * 1024 }), engine: 'node-zlib gunzip' };
  if (suffix === '.zst' && available.nodeZstd && !available.zstdCli) {
    const z = zlib as unknown as { createZstdDecompress(options?: object): Duplex };
    return { stream: z.createZstdDecompress(), engine: 'node-zlib zstd' };
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
  const child = spawnStage(`${tool.name} -d`, tool.path, ['-d', '-q', '-c'], {
    stdin: 'pipe',
    ...(into?.stdin ? { stdout: into.stdin } : {}),
  });
  if (into?.stdin) return { child, into, engine: `${tool.name} -d` };
  return {
    stream: Duplex.from({ writable: child.stdin as Writable, readable: child.stdout as Readable }),
    child,
    engine: `${tool.name} -d`,
  };
}

/** The pg_restore options of restore and drill. */
export interface PgRestoreOptions {
  clean: boolean;
  jobs: number;
  noOwner: boolean;
  noPrivileges: boolean;
}

/** How an archive reaches the database. */
export type RestoreMode = 'pg_restore-stdin' | 'pg_restore-file' | 'pg_restore-directory' | 'psql';

/** Picks the mode for a format and `jobs` (see the module comment); `warnings` for ignored options. */
export function restoreMode(format: DumpFormat, options: PgRestoreOptions): { mode: RestoreMode; warnings: string[] } {
  const warnings: string[] = [];
  if (format === 'plain') {
    if (options.jobs > 1) warnings.push('jobs is ignored for a plain SQL archive: psql runs it in one session.');
    if (options.noOwner || options.noPrivileges) {
      warnings.push(
        'no-owner and no-privileges do not apply to a plain SQL archive: its ownership and GRANT statements were fixed when it was dumped.',
      );
    }
    if (options.clean) {
      throw new RestoreError(
        'clean applies to custom and directory archives (pg_restore --clean); a plain SQL archive carries DROP statements only when it was dumped with --clean. Restore it into an empty database (create-database: true) instead.',
      );
    }
    return { mode: 'psql', warnings };
  }
  if (format === 'directory') return { mode: 'pg_restore-directory', warnings };
  return { mode: options.jobs > 1 ? 'pg_restore-file' : 'pg_restore-stdin', warnings };
}

/** A libpq conninfo naming only the database (quoted per libpq's rules); the rest comes from PG* variables. */
export function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * pg_restore arguments (PostgreSQL docs, "pg_restore"): `--exit-on-error` (stop at the first
 * error), `--no-password` (never prompt), `--dbname` as a conninfo holding only the database name
 * (host, port, user and password come from PGHOST… and PGPASSWORD), `--clean --if-exists`,
 * `--no-owner`, `--no-privileges`, `--jobs=N` (only with a file or folder input), then the input
 * (none = stdin).
 */
export function buildPgRestoreArgs(database: string, options: PgRestoreOptions, input?: string): string[] {
  const args = ['--exit-on-error', '--no-password', `--dbname=${dbnameConninfo(database)}`];
  if (options.clean) args.push('--clean', '--if-exists');
  if (options.noOwner) args.push('--no-owner');
  if (options.noPrivileges) args.push('--no-privileges');
  if (input !== undefined && options.jobs > 1) args.push(`--jobs=${options.jobs}`);
  if (input !== undefined) args.push(input);
  return args;
}

/**
 * psql arguments for a script on stdin: `-X` (no psqlrc), `-q`, `-v ON_ERROR_STOP=1` (stop at the
 * first error, exit 3), `--no-password`, `-f -`. The database comes from PGDATABASE.
 */
export function buildPsqlArgs(): string[] {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-f', '-'];
}

/** Everything {@link streamRestore} needs. */
export interface StreamRestoreInput {
  store: ObjectStore;
  key: string;
  expected: Expected;
  format: DumpFormat;
  /** Folder with pg_restore and psql. */
  binDir: string;
  target: Connection;
  options: PgRestoreOptions;
  compressors: CompressorsAvailable;
  /** Parent folder for the directory format's unpacked tar and the custom format's file (jobs > 1). */
  tempDir: string;
  log: Log;
  signal?: AbortSignal;
  /** For encrypted archives: a stage that decrypts the stored bytes (placed after the digest check). */
  decrypt?: () => Duplex | undefined;
}

/** What a successful {@link streamRestore} measured. */
export interface StreamOutcome {
  mode: RestoreMode;
  /** Stored bytes read and verified. */
  bytes: number;
  sha256: string;
  /** Wall seconds from the first request to the tool's exit. */
  seconds: number;
}

/**
 * Restores the stored archive `key` into `target`, verifying it against `expected` on the way.
 * @throws CorruptArchiveError (digest or size mismatch; the key is named), RestoreError (the tool's
 *   classified error, a decompressor's failure, a read failure, or cancellation).
 */
export async function streamRestore(input: StreamRestoreInput): Promise<StreamOutcome> {
  const { log } = input;
  const t0 = Date.now();
  const { mode, warnings } = restoreMode(input.format, input.options);
  for (const warning of warnings) log.warning(warning);
  const suffix = streamSuffix(input.key);
  const env = libpqEnv(input.target);
  const where = input.store.destination.url;
  const children: ChildStage[] = [];
  const killAll = (): void => children.forEach(stopStage);
  const onAbort = (): void => killAll();
  input.signal?.addEventListener('abort', onAbort, { once: true });
  let work: string | undefined;
  try {
    if (input.signal?.aborted)
      throw new RestoreError('The restore was cancelled before it started; nothing was restored.');
    const spawnTool = (program: 'pg_restore' | 'psql', args: string[], stdin: boolean): ChildStage => {
      const child = spawnStage(program, join(input.binDir, program), args, {
        env,
        inherit: (name) => !name.startsWith('PG'),
        ...(stdin ? { stdin: 'pipe' as const } : {}),
        onStderrLine: (line) => log.info(`${program}: ${line.replace(/^(pg_restore|psql): /, '')}`),
      });
      children.push(child);
      child.stdout?.resume();
      return child;
    };

    let sink: Writable | undefined;
    let sinkChild: ChildStage | undefined;
    let fileTarget: string | undefined;
    if (mode === 'pg_restore-stdin' || mode === 'psql') {
      sinkChild =
        mode === 'psql'
          ? spawnTool('psql', buildPsqlArgs(), true)
          : spawnTool('pg_restore', buildPgRestoreArgs(input.target.database, input.options), true);
    } else {
      work = await mkdtemp(join(input.tempDir, 'pg-restore-'));
      await logDiskSpace(work, input, suffix, log);
      if (mode === 'pg_restore-directory') {
        fileTarget = join(work, 'dump');
        await mkdir(fileTarget);
        sinkChild = spawnStage('tar', 'tar', ['-x', '-f', '-', '-C', fileTarget, '--no-same-owner'], { stdin: 'pipe' });
        children.push(sinkChild);
        sinkChild.stdout?.resume();
      } else {
        fileTarget = join(work, 'archive.dump');
        sink = createWriteStream(fileTarget);
      }
    }

    const gate = new DigestGate(input.expected, input.key, where, killAll);
    const decrypt = input.decrypt?.();
    // zstd -d / lz4 -d write straight into pg_restore or tar, which fail on a truncated input. Not
    // into psql: a decompressor dying mid-stream would give psql a clean end of a cut script, so
    // for plain archives Node stays in between (ChildSink stops psql before closing its stdin).
    const decompressor = createDecompressor(suffix, input.compressors, mode === 'psql' ? undefined : sinkChild);
    if (decompressor?.child) children.push(decompressor.child);
    if (decompressor)
      log.info(
        `Undoing ${suffix} stream compression with ${decompressor.engine}${decompressor.into ? ` straight into ${decompressor.into.name}` : ''}.`,
      );
    if (decompressor?.into) sink = new ChildSink(decompressor.child, () => stopStage(decompressor.into));
    else if (sinkChild) sink = new ChildSink(sinkChild);
    if (!sink) throw new Error(`no sink for restore mode ${mode}`);
    // Opened last: nothing above may throw and leave the download open.
    const source = await input.store.get(input.key).catch((error: unknown) => {
      throw new RestoreError(`Reading the archive ${input.key} from ${where} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    });
    const stages = [
      source,
      gate,
      ...(decrypt ? [decrypt] : []),
      ...(decompressor?.stream ? [decompressor.stream] : []),
      sink,
    ];
    const progress = startProgress(
      log,
      () => gate.bytes,
      (start, previous, now) => downloadProgressLine(input.key, start, previous, now, input.expected.bytes),
    );
    const flowing = pipeline(stages as unknown as [Readable, ...NodeJS.WritableStream[]]);
    flowing.then(progress.stop, progress.stop);
    // A failed stream leaves CLI stages blocked on pipes nobody drains: stop them all at once.
    flowing.catch(() => killAll());
    // The restoring tool exiting (even with 0) ends the stream's purpose; a decompressor still
    // writing into its closed stdin must not keep the stream open.
    sinkChild?.done.catch(() => killAll());
    const waited = [
      flowing,
      ...(sinkChild ? [sinkChild.done] : []),
      ...(decompressor?.child ? [decompressor.child.done] : []),
    ];
    const settled = await Promise.allSettled(waited);
    const flow = settled[0] as PromiseSettledResult<void>;
    const sinkExit = sinkChild ? (settled[1] as PromiseSettledResult<void>) : flow;
    const decompressExit = decompressor?.child
      ? (settled[settled.length - 1] as PromiseSettledResult<void>)
      : undefined;

    const allOk = settled.every((s) => s.status === 'fulfilled') && gate.verdict === 'ok';
    if (!allOk) {
      killAll();
      if (input.signal?.aborted)
        throw new RestoreError(
          `The restore of ${input.key} was cancelled (SIGINT/SIGTERM); the target database may hold a partial restore.`,
        );
      if (gate.verdict === 'mismatch' && gate.error) {
        // Fewer bytes than recorded may be a download cut short rather than a damaged object.
        const short = gate.actual !== undefined && gate.actual.bytes < input.expected.bytes;
        if (short && (await verifyStored(input.store, input.key, input.expected, where)) === 'ok') {
          throw new RestoreError(
            `The download of ${input.key} from ${where} ended after ${gate.actual?.bytes} of ${input.expected.bytes} bytes (the stored object is intact); the restore was stopped and the target database may hold a partial restore. Run it again.`,
          );
        }
        throw gate.error;
      }
      // The stream stopped before the gate saw the end: is the stored object itself damaged?
      const recheck = gate.verdict === 'ok' ? 'ok' : await verifyStored(input.store, input.key, input.expected, where);
      if (recheck instanceof CorruptArchiveError) throw recheck;
      // A tool that exits 0 without reading its input to the end (pg_restore stops after the last
      // item it needs) is a success once the stored bytes are known to be good.
      const toolDone = mode === 'pg_restore-stdin' || mode === 'psql';
      if (!(toolDone && recheck === 'ok' && sinkExit.status === 'fulfilled')) {
        throw rootCause({
          sinkExit,
          decompressExit,
          flow,
          mode,
          decompressor,
          key: input.key,
          where,
          target: input.target,
          readFailed: recheck instanceof Error ? recheck : undefined,
        });
      }
    }
    const measured = gate.actual ?? { bytes: input.expected.bytes, sha256: input.expected.sha256 };
    log.info(`${input.key}: ${measured.bytes} bytes, SHA-256 ${measured.sha256} matches the manifest.`);

    if (mode === 'pg_restore-directory' || mode === 'pg_restore-file') {
      const tool = spawnTool('pg_restore', buildPgRestoreArgs(input.target.database, input.options, fileTarget), false);
      await tool.done.catch((error: unknown) => {
        if (input.signal?.aborted)
          throw new RestoreError(
            `The restore of ${input.key} was cancelled (SIGINT/SIGTERM); the target database may hold a partial restore.`,
          );
        throw toolFailure(error, input.target, input.key);
      });
    }
    return { mode, bytes: measured.bytes, sha256: measured.sha256, seconds: (Date.now() - t0) / 1000 };
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    killAll();
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/** Logs the free space of the work folder and warns when it looks too small (directory/file modes). */
async function logDiskSpace(folder: string, input: StreamRestoreInput, suffix: string, log: Log): Promise<void> {
  try {
    const fs = await statfs(folder);
    const free = fs.bavail * fs.bsize;
    const need = input.expected.bytes;
    const note = suffix === '' ? '' : ` (more once the ${suffix} stream compression is undone)`;
    log.info(`Unpacking into ${folder}: needs about ${need} bytes${note}; ${free} bytes free.`);
    if (free < need)
      log.warning(
        `${folder} has ${free} bytes free but the archive alone is ${need} bytes: the restore will likely run out of disk. Point RUNNER_TEMP at a larger disk, or use jobs: 1 with a custom archive (streamed, no temporary file).`,
      );
  } catch {
    // statfs unsupported here: nothing to report.
  }
}

/**
 * Streams the stored object once more and compares it with `expected`: 'ok', a
 * {@link CorruptArchiveError}, or the read error (the object could not be read again).
 */
export async function verifyStored(
  store: ObjectStore,
  key: string,
  expected: Expected,
  where: string,
): Promise<'ok' | CorruptArchiveError | Error> {
  try {
    const { bytes, sha256 } = await hashObject(store, key);
    if (sha256 !== expected.sha256 || bytes !== expected.bytes)
      return new CorruptArchiveError(key, where, expected, { bytes, sha256 });
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Kills a stage and destroys its pipes: a child's `close` (and so its `done`) waits for its stdout
 * to reach EOF, which never happens when a torn-down pipeline left that stream paused.
 */
function stopStage(child: ChildStage): void {
  child.kill();
  child.stdin?.destroy();
  child.stdout?.destroy();
}

/** The real reason a restore stream failed: the tool's own error first, then the decompressor's, then the read. */
function rootCause(c: {
  sinkExit: PromiseSettledResult<void>;
  decompressExit: PromiseSettledResult<void> | undefined;
  flow: PromiseSettledResult<void>;
  mode: RestoreMode;
  decompressor: Decompressor | undefined;
  key: string;
  where: string;
  target: Connection;
  readFailed: Error | undefined;
}): Error {
  const toolIsSink = c.mode === 'pg_restore-stdin' || c.mode === 'psql';
  const read = c.readFailed ? ` (reading it again to check its digest failed too: ${errorMessage(c.readFailed)})` : '';
  // A stalled download is the cause: the tool was stopped by us after it (pg_restore then says "terminated by user").
  if (c.flow.status === 'rejected' && c.flow.reason instanceof StallError) {
    return new RestoreError(
      `Reading the archive ${c.key} from ${c.where} failed: ${errorMessage(c.flow.reason)}${read}. The target database may hold a partial restore.`,
      { cause: c.flow.reason },
    );
  }
  if (toolIsSink && c.sinkExit.status === 'rejected' && !killedByUs(c.sinkExit.reason))
    return toolFailure(c.sinkExit.reason, c.target, c.key);
  // A stage of ours failed with a typed error (the decryption: wrong key, integrity check): that is the cause.
  if (c.flow.status === 'rejected' && c.flow.reason instanceof ActionError) return c.flow.reason;
  if (c.decompressExit?.status === 'rejected' && !killedByUs(c.decompressExit.reason)) {
    return new RestoreError(
      `Decompressing ${c.key} with ${c.decompressor?.engine} failed: ${errorMessage(c.decompressExit.reason)}`,
      { cause: c.decompressExit.reason },
    );
  }
  if (!toolIsSink && c.sinkExit.status === 'rejected' && !killedByUs(c.sinkExit.reason)) {
    return new RestoreError(`Unpacking ${c.key} failed: ${errorMessage(c.sinkExit.reason)}`, {
      cause: c.sinkExit.reason,
    });
  }
  const reason =
    c.flow.status === 'rejected'
      ? c.flow.reason
      : c.sinkExit.status === 'rejected'
        ? c.sinkExit.reason
        : new Error('the stream ended early');
  if (
    c.decompressor &&
    !c.decompressor.child &&
    c.flow.status === 'rejected' &&
    /zlib|zstd|gzip|header|incorrect|invalid/i.test(errorMessage(reason))
  ) {
    return new RestoreError(`Decompressing ${c.key} with ${c.decompressor.engine} failed: ${errorMessage(reason)}`, {
      cause: reason,
    });
  }
  return new RestoreError(
    `Reading the archive ${c.key} from ${c.where} failed: ${errorMessage(reason)}${read}. The target database may hold a partial restore.`,
    { cause: reason },
  );
}

/**
 * pg_restore's or psql's exit as a RestoreError. A failed SQL statement (`ERROR:` from the server
 * while restoring) is quoted with the command it ran and a hint; connection failures, a too-old
 * pg_restore and a full disk get the shared classification (classify.ts).
 */
export function toolFailure(error: unknown, target: Connection, key: string): RestoreError {
  if (!(error instanceof ChildExitError))
    return new RestoreError(`Restoring ${key} failed: ${errorMessage(error)}`, { cause: error });
  const stderr = error.stderr || error.message;
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const classified = classifyPgError(stderr, { host: target.host, port: target.port, tool: error.stage });
  const sqlError = lines.find((l) => /\bERROR:\s/.test(l));
  const head = `Restoring ${key} into database '${target.database}' stopped at the first error: `;
  if (!sqlError || classified.kind === 'out-of-disk' || classified.kind === 'version-mismatch') {
    return new RestoreError(`${head}${classified.message}`, { cause: error });
  }
  const statement = lines[lines.indexOf(sqlError) + 1];
  const command =
    statement && /^Command was:/.test(statement)
      ? ` while running \`${shorten(statement.replace(/^Command was:\s*/, ''), 200)}\``
      : '';
  const said = shorten(sqlError.replace(/^.*?\bERROR:\s+/, 'ERROR: '), 400);
  let hint = '';
  if (/already exists/i.test(sqlError)) {
    hint =
      ' The target database already holds objects of this archive: restore with clean: true (and confirm), or into an empty database.';
  } else if (/role "[^"]+" does not exist/i.test(sqlError)) {
    hint =
      ' The archive names roles (owners, grantees) the target server lacks: set no-owner: true and no-privileges: true, or restore-globals: true for a backup made with globals: true.';
  } else if (/must be owner of|permission denied|must be superuser/i.test(sqlError)) {
    hint =
      ' The target role lacks privileges for this archive: restore as the database owner or a superuser, or set no-owner: true and no-privileges: true.';
  } else if (/extension|could not (open|access) file/i.test(sqlError)) {
    hint = ' The target server lacks something the source had (an extension or library): install it there first.';
  }
  return new RestoreError(`${head}${error.stage} said "${said}"${command}.${hint}`, { cause: error });
}

/**
 * Rewrites `pg_dumpall --globals-only` output so it can be applied with ON_ERROR_STOP to a server
 * that already has some of the roles: each `CREATE ROLE x;` becomes a DO block that ignores
 * `duplicate_object` (the following `ALTER ROLE` still sets the attributes); tablespace statements
 * are commented out (their folders belong to the source server). Returns the SQL and the skipped lines.
 */
export function prepareGlobalsSql(sql: string): { sql: string; skipped: string[] } {
  const skipped: string[] = [];
  const out = sql.split('\n').map((line) => {
    const role = /^CREATE ROLE (.+);\s*$/.exec(line);
    if (role && !line.includes('$globals$')) {
      return `DO $globals$ BEGIN CREATE ROLE ${role[1]}; EXCEPTION WHEN duplicate_object THEN NULL; END $globals$;`;
    }
    if (
      /^(CREATE|ALTER|DROP) TABLESPACE |^(COMMENT|SECURITY LABEL)\b.* ON TABLESPACE |^(GRANT|REVOKE)\b.* ON TABLESPACE /.test(
        line,
      )
    ) {
      skipped.push(line);
      return `-- skipped: ${line}`;
    }
    return line;
  });
  return { sql: out.join('\n'), skipped };
}

/**
 * Applies the globals file (roles) with psql, after checking its SHA-256 and size against the
 * manifest. Connects to the target database (roles are cluster-wide).
 * @throws CorruptArchiveError, RestoreError.
 */
export async function applyGlobals(input: {
  store: ObjectStore;
  key: string;
  expected: Expected;
  binDir: string;
  target: Connection;
  log: Log;
  /** Decrypting stage for an encrypted globals file (`.globals.sql.gpg`). */
  decrypt?: Duplex;
}): Promise<{ roles: number; skipped: string[] }> {
  const where = input.store.destination.url;
  let data: Buffer;
  try {
    data = await readObject(input.store, input.key);
  } catch (error) {
    throw new RestoreError(`Reading the globals ${input.key} from ${where} failed: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  if (sha256 !== input.expected.sha256 || data.length !== input.expected.bytes) {
    throw new CorruptArchiveError(input.key, where, input.expected, { bytes: data.length, sha256 });
  }
  let plain = data;
  if (input.decrypt) {
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([data]),
      input.decrypt,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out.push(chunk);
          callback();
        },
      }),
    );
    plain = Buffer.concat(out);
  }
  const { sql, skipped } = prepareGlobalsSql(plain.toString('utf8'));
  for (const line of skipped)
    input.log.warning(`Globals: not applied (tablespaces belong to the source server): ${line}`);
  const child = spawnStage('psql', join(input.binDir, 'psql'), buildPsqlArgs(), {
    env: libpqEnv(input.target),
    inherit: (name) => !name.startsWith('PG'),
    stdin: 'pipe',
    onStderrLine: (line) => input.log.info(`psql: ${line.replace(/^psql: /, '')}`),
  });
  child.stdout?.resume();
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(sql);
  await child.done.catch((error: unknown) => {
    throw toolFailure(error, input.target, input.key);
  });
  return { roles: (sql.match(/CREATE ROLE /g) ?? []).length, skipped };
}
