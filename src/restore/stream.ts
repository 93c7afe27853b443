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
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Log } from '../log.js';
import { ActionError, errorMessage } from '../errors.js';
import type { CompressorsAvailable } from '../pipeline/compression.js';
import { killedByUs, spawnStage, type ChildStage } from '../pipeline/process.js';
import { downloadProgressLine, startProgress } from '../pipeline/progress.js';
import { libpqEnv } from '../postgres/libpq.js';
import type { Connection, DumpFormat } from '../postgres/types.js';
import { StallError } from '../storage/stall.js';
import type { ObjectStore } from '../storage/types.js';
import { buildPgRestoreArgs, buildPsqlArgs, restoreMode, type PgRestoreOptions, type RestoreMode } from './args.js';
import { createDecompressor, streamSuffix, type Decompressor } from './decompress.js';
import { CorruptArchiveError, RestoreError, toolFailure } from './errors.js';
import { ChildSink, DigestGate, stopStage, verifyStored, type Expected } from './stages.js';
import { isPartial } from './toc.js';
import { writeSelectionList } from './toc-list.js';

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
  const run: RestoreRun = {
    input,
    mode,
    suffix: streamSuffix(input.key),
    env: libpqEnv(input.target),
    where: input.store.destination.url,
    children: [],
  };
  const onAbort = (): void => killAll(run);
  input.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (input.signal?.aborted)
      throw new RestoreError('The restore was cancelled before it started; nothing was restored.');
    const opened = await openSink(run);
    const streamed = await runStages(run, opened.sinkChild, buildStages(run, opened));
    if (!streamed.allOk) await throwUnlessDone(run, streamed);
    const measured = streamed.gate.actual ?? { bytes: input.expected.bytes, sha256: input.expected.sha256 };
    log.info(`${input.key}: ${measured.bytes} bytes, SHA-256 ${measured.sha256} matches the manifest.`);
    if (mode === 'pg_restore-directory' || mode === 'pg_restore-file') await restoreFromFile(run, opened.fileTarget);
    return { mode, bytes: measured.bytes, sha256: measured.sha256, seconds: (Date.now() - t0) / 1000 };
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    killAll(run);
    if (run.work) await rm(run.work, { recursive: true, force: true });
  }
}

/** One {@link streamRestore}: its input and mode, and every child it started (stopped together). */
interface RestoreRun {
  input: StreamRestoreInput;
  mode: RestoreMode;
  /** Stream compression of the archive (from its key): '', '.zst', '.lz4' or '.gz'. */
  suffix: string;
  /** libpq variables of the target (PGHOST, PGPASSWORD, …) for pg_restore and psql. */
  env: Record<string, string>;
  /** The destination URL, for messages. */
  where: string;
  children: ChildStage[];
  /** Temporary folder of the directory and file modes, removed at the end. */
  work?: string;
}

/** Stops every child of the run at once (a failed stream leaves them blocked on pipes). */
function killAll(run: RestoreRun): void {
  run.children.forEach(stopStage);
}

/** Starts pg_restore or psql from the client folder, with the target's libpq variables only. */
function spawnTool(run: RestoreRun, program: 'pg_restore' | 'psql', args: string[], stdin: boolean): ChildStage {
  const { log } = run.input;
  const child = spawnStage(program, join(run.input.binDir, program), args, {
    env: run.env,
    inherit: (name) => !name.startsWith('PG'),
    ...(stdin ? { stdin: 'pipe' as const } : {}),
    onStderrLine: (line) => log.info(`${program}: ${line.replace(/^(pg_restore|psql): /, '')}`),
  });
  run.children.push(child);
  child.stdout?.resume();
  return child;
}

/** Where the archive's bytes go: a child's stdin (the tool, or tar), or a file; and what pg_restore reads after. */
interface Sink {
  /** pg_restore or psql reading the stream (stdin and psql modes), or tar unpacking it (directory). */
  sinkChild?: ChildStage;
  /** The temporary archive file (custom format with jobs > 1). */
  file?: Writable;
  /** The folder or file pg_restore -j restores from once the stream is verified. */
  fileTarget?: string;
}

/** Starts the sink of the run's mode (see the module comment); the work folder is made here. */
async function openSink(run: RestoreRun): Promise<Sink> {
  const { input, mode } = run;
  if (mode === 'pg_restore-stdin' || mode === 'psql') {
    const sinkChild =
      mode === 'psql'
        ? spawnTool(run, 'psql', buildPsqlArgs(), true)
        : spawnTool(run, 'pg_restore', buildPgRestoreArgs(input.target.database, input.options), true);
    return { sinkChild };
  }
  run.work = await mkdtemp(join(input.tempDir, 'pg-restore-'));
  await logDiskSpace(run.work, input, run.suffix, input.log);
  if (mode === 'pg_restore-directory') {
    const fileTarget = join(run.work, 'dump');
    await mkdir(fileTarget);
    const sinkChild = spawnStage('tar', 'tar', ['-x', '-f', '-', '-C', fileTarget, '--no-same-owner'], {
      stdin: 'pipe',
    });
    run.children.push(sinkChild);
    sinkChild.stdout?.resume();
    return { sinkChild, fileTarget };
  }
  const fileTarget = join(run.work, 'archive.dump');
  return { file: createWriteStream(fileTarget), fileTarget };
}

/** The stages after the download: digest gate, decryption, decompression, and the sink. */
interface Stages {
  gate: DigestGate;
  decompressor: Decompressor | undefined;
  /** Decryption and an in-stream decompressor, between the gate and the sink. */
  middle: Duplex[];
  sink: Writable;
}

/** Builds the stages; nothing here opens the download (which must not be left open by a throw). */
function buildStages(run: RestoreRun, opened: Sink): Stages {
  const { input, mode, suffix } = run;
  const gate = new DigestGate(input.expected, input.key, run.where, () => killAll(run));
  const decrypt = input.decrypt?.();
  // zstd -d / lz4 -d write straight into pg_restore or tar, which fail on a truncated input. Not
  // into psql: a decompressor dying mid-stream would give psql a clean end of a cut script, so
  // for plain archives Node stays in between (ChildSink stops psql before closing its stdin).
  const decompressor = createDecompressor(suffix, input.compressors, mode === 'psql' ? undefined : opened.sinkChild);
  if (decompressor?.kind === 'child') run.children.push(decompressor.child);
  if (decompressor)
    input.log.info(
      `Undoing ${suffix} stream compression with ${decompressor.engine}${decompressor.into ? ` straight into ${decompressor.into.name}` : ''}.`,
    );
  let sink = opened.file;
  if (decompressor?.into) {
    const { child, into } = decompressor;
    sink = new ChildSink(child, () => stopStage(into));
  } else if (opened.sinkChild) sink = new ChildSink(opened.sinkChild);
  if (!sink) throw new Error(`no sink for restore mode ${mode}`);
  const middle = [...(decrypt ? [decrypt] : []), ...(decompressor?.stream ? [decompressor.stream] : [])];
  return { gate, decompressor, middle, sink };
}

/** How the stream and the children it waited for ended. */
interface Streamed {
  gate: DigestGate;
  decompressor: Decompressor | undefined;
  flow: PromiseSettledResult<void>;
  /** The sink child's exit (the stream's own result when the sink is a file). */
  sinkExit: PromiseSettledResult<void>;
  decompressExit: PromiseSettledResult<void> | undefined;
  /** Every stage and child succeeded and the digest matched. */
  allOk: boolean;
}

/** Opens the download and streams it through the stages; waits for the stream and every child. */
async function runStages(run: RestoreRun, sinkChild: ChildStage | undefined, stages: Stages): Promise<Streamed> {
  const { input } = run;
  const { gate, decompressor } = stages;
  // Opened last: nothing above may throw and leave the download open.
  const source = await input.store.get(input.key).catch((error: unknown) => {
    throw new RestoreError(`Reading the archive ${input.key} from ${run.where} failed: ${errorMessage(error)}`, {
      cause: error,
    });
  });
  const progress = startProgress(
    input.log,
    () => gate.bytes,
    (start, previous, now) => downloadProgressLine(input.key, start, previous, now, input.expected.bytes),
  );
  const all = [source, gate, ...stages.middle, stages.sink];
  const flowing = pipeline(all as unknown as [Readable, ...NodeJS.WritableStream[]]);
  flowing.then(
    () => progress.stop(),
    () => progress.stop(),
  );
  // A failed stream leaves CLI stages blocked on pipes nobody drains: stop them all at once.
  flowing.catch(() => killAll(run));
  // The restoring tool exiting (even with 0) ends the stream's purpose; a decompressor still
  // writing into its closed stdin must not keep the stream open.
  sinkChild?.done.catch(() => killAll(run));
  const decompressing = decompressor?.kind === 'child' ? decompressor.child : undefined;
  const waited = [flowing, ...(sinkChild ? [sinkChild.done] : []), ...(decompressing ? [decompressing.done] : [])];
  const settled = await Promise.allSettled(waited);
  const flow = settled[0] as PromiseSettledResult<void>;
  return {
    gate,
    decompressor,
    flow,
    sinkExit: sinkChild ? (settled[1] as PromiseSettledResult<void>) : flow,
    decompressExit: decompressing ? settled[settled.length - 1] : undefined,
    allOk: settled.every((s) => s.status === 'fulfilled') && gate.verdict === 'ok',
  };
}

/** The error of a restore stopped by SIGINT/SIGTERM. */
function cancelled(key: string): RestoreError {
  return new RestoreError(
    `The restore of ${key} was cancelled (SIGINT/SIGTERM); the target database may hold a partial restore.`,
  );
}

/**
 * After a stream that did not fully succeed: throws why (cancellation, a corrupt or cut download,
 * the tool's or a stage's error). Returns only when the tool exited 0 without reading its input to
 * the end and the stored bytes are known to be good.
 */
async function throwUnlessDone(run: RestoreRun, streamed: Streamed): Promise<void> {
  const { input, mode, where } = run;
  const { gate } = streamed;
  killAll(run);
  if (input.signal?.aborted) throw cancelled(input.key);
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
  if (!(toolDone && recheck === 'ok' && streamed.sinkExit.status === 'fulfilled')) {
    throw rootCause({
      sinkExit: streamed.sinkExit,
      decompressExit: streamed.decompressExit,
      flow: streamed.flow,
      mode,
      decompressor: streamed.decompressor,
      key: input.key,
      where,
      target: input.target,
      readFailed: recheck instanceof Error ? recheck : undefined,
    });
  }
}

/** pg_restore -j from the verified file or folder (file and directory modes). */
async function restoreFromFile(run: RestoreRun, fileTarget: string | undefined): Promise<void> {
  const { input } = run;
  const list =
    fileTarget && isPartial(input.options.selection)
      ? await writeSelectionList({
          binDir: input.binDir,
          env: run.env,
          archive: fileTarget,
          folder: run.work ?? input.tempDir,
          key: input.key,
          selection: input.options.selection,
          log: input.log,
        })
      : undefined;
  const tool = spawnTool(
    run,
    'pg_restore',
    buildPgRestoreArgs(input.target.database, input.options, fileTarget, list),
    false,
  );
  await tool.done.catch((error: unknown) => {
    if (input.signal?.aborted) throw cancelled(input.key);
    throw toolFailure(error, input.target, input.key);
  });
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
  const reason: unknown =
    c.flow.status === 'rejected'
      ? c.flow.reason
      : c.sinkExit.status === 'rejected'
        ? c.sinkExit.reason
        : new Error('the stream ended early');
  if (
    c.decompressor &&
    c.decompressor.kind === 'in-process' &&
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
