import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config/types.js';
import type { EncryptionInfo } from '../crypto/encrypt.js';
import type { GpgEncrypter, GpgTool } from '../crypto/gpg.js';
import { ENCRYPTED_SUFFIX, type EncryptionConfig } from '../crypto/specs.js';
import { ActionError, ConfigError, DumpError, EncryptError, UploadError, VerifyError, errorMessage } from '../errors.js';
import { archiveContentType, MANIFEST_FORMAT_VERSION, type Manifest } from '../manifest.js';
import {
  archiveExtension,
  createCompressor,
  planCompression,
  type CompressionPlan,
  type CompressorsAvailable,
} from '../pipeline/compression.js';
import { openPooledPipe, type PooledPipe } from '../pipeline/pooled-pipe.js';
import { ChildExitError, killedByUs, spawnStage, type ChildStage } from '../pipeline/process.js';
import { AllOutputsFailedError, ExitGate, Fanout, Meter } from '../pipeline/stages.js';
import { startProgress, uploadProgressLine } from '../pipeline/progress.js';
import { classifyPgError } from '../postgres/classify.js';
import { buildPgDumpallGlobalsArgs, buildPgDumpArgs } from '../postgres/dump-args.js';
import type { Dumper } from '../postgres/dumper.js';
import type { DatabaseInspector } from '../postgres/inspect.js';
import { libpqEnv } from '../postgres/libpq.js';
import type { ClientTool, Connection } from '../postgres/types.js';
import { archiveKey, globalsKey, manifestKey } from '../storage/keys.js';
import { hashObject } from '../storage/read.js';
import type { Destination, ObjectStore, S3Settings, UploadProgress } from '../storage/types.js';

/** Log sink and phase grouping (core.info / core.warning / core.group in the action). */
export interface Log {
  info(message: string): void;
  warning(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** The I/O a backup needs, passed in so tests can run it against real servers with other settings. */
export interface BackupDeps {
  log: Log;
  connect(connection: Connection): Promise<DatabaseInspector>;
  /** Finds (or installs) a client for the server's major; returns pg_dump and the folder of its siblings. */
  ensureClient(serverMajor: number): Promise<{ pgDump: ClientTool; binDir: string; warning?: string }>;
  detectCompressors(): Promise<CompressorsAvailable>;
  /** Finds the gpg command line, which encrypts outside the process when its probe passes (crypto/gpg.ts). */
  detectGpg(): Promise<GpgTool | undefined>;
  /** The path of `stdbuf` when it works for this pg_dump (postgres/stdbuf.ts), else undefined. */
  detectStdbuf(pgDump: string): Promise<string | undefined>;
  createStore(destination: Destination, s3: S3Settings): ObjectStore;
  dumper(binDir: string): Dumper;
  /** Folder for the directory format's dump (RUNNER_TEMP on a runner). */
  tempDir: string;
  now(): Date;
  /** Aborted on SIGINT/SIGTERM: the dump is killed and uploads aborted. */
  signal?: AbortSignal;
  /** Version of this action, for the manifest. */
  version: string;
}

/** One destination's outcome. */
export interface DestinationResult {
  url: string;
  key: string;
  manifestKey: string;
  ok: boolean;
  error?: string;
}

/** What a successful backup produced (outputs and summary are made from it). */
export interface BackupResult {
  manifest: Manifest;
  destinations: DestinationResult[];
  /** Bytes per second of archive stored, over the dump+upload phase. */
  throughput: number;
}

/**
 * `command: backup`: connect, get a matching client, stream pg_dump (→ compress) → sha256/bytes →
 * every destination at once, verify each stored archive, then write the manifests.
 *
 * @throws ConnectionError, ClientInstallError, DumpError (classified pg_dump stderr), UploadError,
 *   VerifyError. When some destinations succeed and others fail, the good ones keep their archive
 *   and manifest and an UploadError naming the failed ones is thrown after.
 */
export async function runBackup(config: Config, deps: BackupDeps): Promise<BackupResult> {
  const { log } = deps;
  const started = deps.now();
  const { connection, dump } = config;
  if (!connection) throw new ConfigError('database-url', 'required for command backup; set it from a repository secret.');

  const { inspector, server } = await log.group('Connect', async () => {
    const db = await deps.connect(connection);
    try {
      const info = await db.serverInfo();
      log.info(`Connected to ${connection.host}:${connection.port}/${connection.database}: PostgreSQL ${info.version}, database size ${formatBytes(info.databaseSizeBytes)}.`);
      return { inspector: db, server: info };
    } catch (error) {
      await db.close();
      throw error;
    }
  });
  try {
    const client = await log.group('PostgreSQL client', async () => {
      const found = await deps.ensureClient(server.major);
      if (found.warning) log.warning(found.warning);
      log.info(`Using pg_dump ${found.pgDump.version} (${found.pgDump.path}) for server ${server.version}.`);
      return found;
    });

    // pg_dump's stdout is a pipe only for custom and plain; the directory format writes files.
    const [compressors, stdbuf] = await Promise.all([
      deps.detectCompressors(),
      dump.format === 'directory' ? undefined : deps.detectStdbuf(client.pgDump.path),
    ]);
    const plan = planCompression(dump.compression, dump.format, client.pgDump.major, compressors);
    const extension = archiveExtension(dump.format, plan) + (config.encryption ? ENCRYPTED_SUFFIX : '');
    const contentType = archiveContentType(extension);
    const stores = config.destinations.map((d) => deps.createStore(d, config.s3));
    const keys = stores.map((s) =>
      archiveKey({
        prefix: s.destination.prefix,
        database: connection.database,
        time: started,
        ...(config.label ? { label: config.label } : {}),
        extension,
      }),
    );

    const streamed = await log.group('Dump and upload', async () => {
      log.info(
        `Format ${dump.format}, compression ${describeCompression(plan)}${stdbuf ? '; pg_dump stdout buffer 1 MiB (stdbuf)' : ''}; streaming to ${stores.map((s, i) => `${s.destination.url} → ${keys[i]}`).join(', ')}.`,
      );
      return streamDump(config, deps, inspector, client.binDir, { plan, compressors, stdbuf }, stores, keys, contentType, server.databaseSizeBytes);
    });

    const results: DestinationResult[] = stores.map((store, i) => ({
      url: store.destination.url,
      key: keys[i] as string,
      manifestKey: manifestKey(keys[i] as string),
      ok: streamed.uploads[i]?.status === 'fulfilled',
      ...(streamed.uploads[i]?.status === 'rejected' ? { error: errorMessage((streamed.uploads[i] as PromiseRejectedResult).reason) } : {}),
    }));

    await log.group('Verify', async () => {
      for (const [i, store] of stores.entries()) {
        const result = results[i] as DestinationResult;
        if (!result.ok) continue;
        try {
          await verifyArchive(store, result.key, streamed.measurement);
          log.info(`${store.destination.url}: ${result.key} verified (${streamed.measurement.bytes} bytes).`);
        } catch (error) {
          result.ok = false;
          result.error = errorMessage(error);
          log.warning(result.error);
        }
      }
    });

    let globals: Manifest['globals'] = null;
    if (dump.globals) {
      globals = await log.group('Globals', async () => {
        const plain = await dumpGlobals(deps.dumper(client.binDir), connection);
        const data = config.encryption ? await encryptBuffer(plain, config.encryption) : plain;
        const sha256 = createHash('sha256').update(data).digest('hex');
        const key = globalsKey(keys[0] as string);
        for (const [i, store] of stores.entries()) {
          if (results[i]?.ok) await store.put(globalsKey(keys[i] as string), data, config.encryption ? 'application/pgp-encrypted' : 'application/sql');
        }
        log.info(`Globals (roles, tablespaces; no role passwords): ${data.length} bytes${config.encryption ? ', encrypted' : ''}.`);
        return { key, bytes: data.length, sha256 };
      });
    }

    const finished = deps.now();
    const durationSeconds = round3((finished.getTime() - started.getTime()) / 1000);
    const manifest: Manifest = {
      formatVersion: MANIFEST_FORMAT_VERSION,
      tool: { name: 'postgres-backup-action', version: deps.version },
      database: connection.database,
      label: config.label ?? null,
      server: { version: server.version.split(' ')[0] as string, versionNum: server.versionNum, major: server.major },
      client: { pgDumpVersion: client.pgDump.version, major: client.pgDump.major },
      format: dump.format,
      compression: { method: plan.method, level: plan.level ?? null, where: plan.where, engine: plan.engine ?? (plan.where === 'pg_dump' ? 'pg_dump' : null) },
      encryption: streamed.encryption,
      options: {
        jobs: dump.jobs,
        schemas: dump.schemas,
        excludeSchemas: dump.excludeSchemas,
        tables: dump.tables,
        excludeTables: dump.excludeTables,
        excludeTableData: dump.excludeTableData,
        schemaOnly: dump.schemaOnly,
        dataOnly: dump.dataOnly,
        noOwner: dump.noOwner,
        noPrivileges: dump.noPrivileges,
        globals: dump.globals,
        extraArgs: dump.extraArgs,
      },
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds,
      archive: { key: keys[0] as string, bytes: streamed.measurement.bytes, sha256: streamed.measurement.sha256, contentType },
      globals,
      databaseSizeBytes: server.databaseSizeBytes,
      snapshot: streamed.snapshot,
      rowCounts: { mode: config.rowCounts, tables: streamed.rowCounts },
      objects: streamed.catalogCounts,
    };

    await log.group('Manifest', async () => {
      for (const [i, store] of stores.entries()) {
        const result = results[i] as DestinationResult;
        if (!result.ok) continue;
        const own: Manifest = {
          ...manifest,
          archive: { ...manifest.archive, key: result.key },
          globals: globals ? { ...globals, key: globalsKey(result.key) } : null,
        };
        try {
          await store.put(result.manifestKey, `${JSON.stringify(own, null, 2)}\n`, 'application/json');
          log.info(`${store.destination.url}: manifest ${result.manifestKey}`);
        } catch (error) {
          result.ok = false;
          result.error = `the archive ${result.key} was stored and verified but its manifest could not be written: ${errorMessage(error)}`;
        }
      }
    });

    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      const good = results.filter((r) => r.ok);
      throw new UploadError(
        `${failed.length} of ${results.length} destinations failed: ${failed.map((r) => `${r.url}: ${r.error}`).join('; ')}` +
          (good.length > 0 ? ` (stored and verified: ${good.map((r) => `${r.url} ${r.key}`).join(', ')})` : ''),
      );
    }
    return { manifest, destinations: results, throughput: streamed.measurement.bytes / Math.max(streamed.seconds, 0.001) };
  } finally {
    await inspector.close();
  }
}

interface Streamed {
  measurement: { bytes: number; sha256: string };
  encryption: EncryptionInfo | null;
  uploads: PromiseSettledResult<unknown>[];
  snapshot: string;
  rowCounts: Manifest['rowCounts']['tables'];
  catalogCounts: Manifest['objects'];
  seconds: number;
}

/** The hot path: one pg_dump run streamed to every store, in the dump's exported snapshot. */
async function streamDump(
  config: Config,
  deps: BackupDeps,
  inspector: DatabaseInspector,
  binDir: string,
  { plan, compressors, stdbuf }: { plan: CompressionPlan; compressors: CompressorsAvailable; stdbuf: string | undefined },
  stores: ObjectStore[],
  keys: string[],
  contentType: string,
  expectedBytes: number,
): Promise<Streamed> {
  const { dump } = config;
  const connection = config.connection as Connection;
  const t0 = Date.now();
  const env = libpqEnv(connection);
  const dumper = deps.dumper(binDir);
  const session = await inspector.openSnapshot();
  const children: ChildStage[] = [];
  const killAll = (): void => children.forEach((c) => c.kill());
  const onAbort = (): void => killAll();
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  let tempDir: string | undefined;
  let pooled: PooledPipe | undefined;
  let gpg: GpgEncrypter | undefined;
  try {
    if (deps.signal?.aborted) throw new DumpError('The backup was cancelled before the dump started.');
    gpg = await chooseGpg(config, deps, plan);
    // The last child of the chain writes into a pooled pipe: Node reads it into reused buffers.
    // Each child starts before the one that writes into it, so that pg_dump (or tar) writes
    // straight into the compressor CLI and that into gpg: OS pipes between them, the dump never
    // passes through Node until it is compressed (and encrypted).
    pooled = await openPooledPipe(deps.tempDir);
    const encrypter = gpg?.start(pooled.childEnd);
    if (encrypter) children.push(encrypter);
    const tail = encrypter ? encrypter.stdin : pooled.childEnd;
    const compressor = createCompressor(plan, compressors, tail);
    if (compressor?.kind === 'child') children.push(compressor.child);
    const stdout = compressor?.kind === 'child' ? compressor.child.stdin : tail;
    let producer: ChildStage;
    if (dump.format === 'directory') {
      tempDir = await mkdtemp(join(deps.tempDir, 'pg-backup-'));
      const outputDir = join(tempDir, 'dump');
      const pgDump = dumper.start('pg_dump', buildPgDumpArgs(dump, { compress: plan.pgDumpCompress, snapshot: session.snapshotId, outputDir }), env);
      children.push(pgDump);
      pgDump.stdout?.resume();
      await pgDump.done.catch((error: unknown) => {
        throw dumpFailure(error, connection);
      });
      producer = spawnStage('tar', 'tar', ['-C', outputDir, '-cf', '-', '.'], { stdout });
    } else {
      producer = dumper.start('pg_dump', buildPgDumpArgs(dump, { compress: plan.pgDumpCompress, snapshot: session.snapshotId }), env, {
        stdout,
        ...(stdbuf ? { stdbuf } : {}),
      });
    }
    children.push(producer);
    // The check that no object exists under the new keys (for S3 the SDK's load, ~70 ms of this
    // thread, and a HeadObject) runs once the dump has started instead of before it. The end of
    // the stream (and so every upload's completion) waits for it and for every child's exit
    // status, so no upload completes under a taken key; a key found taken stops the stream at once.
    const keysFree = Promise.all(stores.map((store, i) => keyIsFree(store, keys[i] as string)));
    const gate = new ExitGate(() => [...children.map((c) => c.done), keysFree]);
    let keyTaken: UploadError | undefined;
    keysFree.catch((error: UploadError) => {
      keyTaken = error;
      gate.destroy(error);
    });
    pooled.writtenBy(encrypter ?? (compressor?.kind === 'child' ? compressor.child : producer));
    const source = pooled.output;
    const counts = Promise.all([session.rowCounts(config.rowCounts), session.catalogCounts()]);
    counts.catch(() => undefined);

    // dump → compress → encrypt → hash → upload: the sha256 and size are those of what is stored.
    const encryption = config.encryption && !gpg ? await (await import('../crypto/encrypt.js')).createEncryptStage(config.encryption) : undefined;
    const meter = new Meter();
    const fanout = new Fanout(stores.length);
    const uploadProgress = stores.map((): UploadProgress => ({}));
    const uploads = stores.map((store, i) =>
      store.upload(keys[i] as string, fanout.outputs[i] as Readable, {
        contentType,
        expectedBytes,
        ...(deps.signal ? { signal: deps.signal } : {}),
        progress: uploadProgress[i] as UploadProgress,
      }),
    );
    // A line about every 15 s while the archive streams, so a slow or stalled store shows in the log.
    const progress = startProgress(deps.log, () => meter.bytes, (start, previous, now) =>
      uploadProgressLine(start, previous, now, stores.map((store, i) => ({ where: store.destination.url, ...(uploadProgress[i]?.stored?.() ?? { bytes: 0 }) }))),
    );
    Promise.allSettled(uploads).then(progress.stop, progress.stop);
    // A store that gives up stops reading its stream: drop it from the fan-out so the others go on.
    uploads.forEach((upload, i) => upload.catch((error: unknown) => fanout.outputs[i]?.destroy(error instanceof Error ? error : new Error(String(error)))));
    const stages = [source, ...(compressor?.kind === 'in-process' ? [compressor.stream] : []), ...(encryption ? [encryption.stream] : []), meter, gate, fanout] as const;
    const flowing = pipeline(stages as unknown as [Readable, ...NodeJS.WritableStream[]]);
    const [flow, ...settled] = await Promise.allSettled([flowing, ...uploads]);
    if (flow?.status === 'rejected') {
      killAll();
      if (keyTaken) {
        // As rootCause does: the killed children have exited before the error is reported.
        await Promise.allSettled(children.map((c) => c.done));
        throw keyTaken;
      }
      throw await rootCause(children, connection, settled, deps.signal, flow.reason);
    }
    const [rowCounts, catalogCounts] = await counts;
    return { measurement: meter.result(), encryption: gpg?.info ?? encryption?.info ?? null, uploads: settled, snapshot: session.snapshotId, rowCounts, catalogCounts, seconds: (Date.now() - t0) / 1000 };
  } finally {
    deps.signal?.removeEventListener('abort', onAbort);
    killAll();
    // Both ends are closed by now unless something failed before the children started.
    pooled?.childEnd.destroy();
    pooled?.output.destroy();
    await session.close().catch(() => undefined);
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    await gpg?.close().catch(() => undefined);
  }
}

/**
 * The gpg encrypter when the archive is encrypted, gpg is there and its probe passes, and no stage
 * of the chain runs inside Node (gpg reads its input from another child);
 * else undefined, and OpenPGP.js encrypts in the process. Logs which one and why.
 */
async function chooseGpg(config: Config, deps: BackupDeps, plan: CompressionPlan): Promise<GpgEncrypter | undefined> {
  const encryption = config.encryption;
  if (!encryption) return undefined;
  const recipients = encryption.mode === 'public-key' ? `to ${encryption.recipients.length} public key${encryption.recipients.length === 1 ? '' : 's'}` : 'with a passphrase';
  const found = await gpgEncrypter(encryption, deps, plan);
  if (found.encrypter) {
    deps.log.info(`Encryption: AES-256 ${recipients}, by gpg ${found.tool.version} (${found.tool.path}) outside the action's process.`);
    return found.encrypter;
  }
  const { openpgpVersion } = await import('../crypto/encrypt.js');
  deps.log.info(`Encryption: AES-256 ${recipients}, by OpenPGP.js ${openpgpVersion()} in the action's process: ${found.reason}.`);
  return undefined;
}

/** {@link chooseGpg}'s search: the encrypter and its gpg, or why there is none. */
async function gpgEncrypter(
  encryption: EncryptionConfig,
  deps: BackupDeps,
  plan: CompressionPlan,
): Promise<{ encrypter: GpgEncrypter; tool: GpgTool } | { encrypter?: undefined; reason: string }> {
  if (plan.engine === 'node-zlib') return { reason: 'compression runs in the process (no zstd command line)' };
  const tool = await deps.detectGpg();
  if (!tool) return { reason: 'no gpg command line was found' };
  const { prepareGpgEncrypter } = await import('../crypto/gpg.js');
  const prepared = await prepareGpgEncrypter(tool, encryption, deps.tempDir);
  return prepared.encrypter ? { encrypter: prepared.encrypter, tool } : { reason: prepared.reason };
}

/** The real reason a stream failed: a child's exit status first, then the stores' errors. */
async function rootCause(
  children: ChildStage[],
  connection: Connection,
  uploads: PromiseSettledResult<unknown>[],
  signal: AbortSignal | undefined,
  streamError: unknown,
): Promise<Error> {
  const exits = await Promise.allSettled(children.map((c) => c.done));
  const uploadErrors = uploads.filter((u): u is PromiseRejectedResult => u.status === 'rejected').map((u) => errorMessage(u.reason));
  // Every store failed first: the dump was stopped because of them (pg_dump then sees a broken pipe).
  if (streamError instanceof AllOutputsFailedError && uploadErrors.length > 0 && !signal?.aborted) {
    return new UploadError(uploadErrors.join('; '), { cause: streamError });
  }
  if (signal?.aborted) return new DumpError('The backup was cancelled (SIGINT/SIGTERM): pg_dump was stopped and every upload aborted; no archive was stored.');
  // gpg is never failed by what is upstream of it (a failing pg_dump gives it end-of-file) and is
  // stopped by us when a store fails: its own failure is the cause, even if pg_dump then sees EPIPE.
  const gpgFailed = exits.find((e, i) => e.status === 'rejected' && children[i]?.name === 'gpg' && !killedByUs(e.reason));
  if (gpgFailed?.status === 'rejected') return new EncryptError(`gpg could not encrypt the archive: ${errorMessage(gpgFailed.reason)}`, { cause: gpgFailed.reason });
  const pgDumpFailed = exits.find((e, i) => e.status === 'rejected' && children[i]?.name === 'pg_dump' && !killedByUs(e.reason));
  if (pgDumpFailed?.status === 'rejected') return dumpFailure(pgDumpFailed.reason, connection);
  // A stage of ours failed with a typed error (e.g. encryption): that is the cause.
  if (streamError instanceof ActionError && !(streamError instanceof UploadError)) return streamError;
  const otherFailed = exits.find((e) => e.status === 'rejected' && !killedByUs(e.reason));
  if (otherFailed?.status === 'rejected') return new DumpError(`The dump stream failed: ${errorMessage(otherFailed.reason)}`, { cause: otherFailed.reason });
  if (uploadErrors.length > 0) return new UploadError(uploadErrors.join('; '), { cause: streamError });
  return new DumpError(`The dump stream failed: ${errorMessage(streamError)}`, { cause: streamError });
}

/** Turns pg_dump's exit into a DumpError with the classified, actionable message. */
function dumpFailure(error: unknown, connection: Connection): DumpError {
  if (error instanceof ChildExitError) {
    const { message } = classifyPgError(error.stderr || error.message, { host: connection.host, port: connection.port, tool: error.stage });
    return new DumpError(message, { cause: error });
  }
  return error instanceof DumpError ? error : new DumpError(errorMessage(error), { cause: error });
}

/**
 * Resolves when no object exists under `key` in `store` (HeadObject, or stat for a folder).
 * @throws UploadError when one does (another backup of this database started in the same second),
 *   or when the store could not be asked.
 */
async function keyIsFree(store: ObjectStore, key: string): Promise<void> {
  const found = await store.head(key).catch((error: unknown) => {
    throw new UploadError(errorMessage(error), { cause: error });
  });
  if (found) {
    throw new UploadError(
      `${store.destination.url}: an object already exists at ${key}; another backup of this database started in the same second. Nothing was overwritten; use a concurrency group so backups of one database never overlap.`,
    );
  }
}

/** HeadObject (or stat) the stored archive and compare with what was streamed; a local file is re-hashed. */
async function verifyArchive(store: ObjectStore, key: string, expected: { bytes: number; sha256: string }): Promise<void> {
  const info = await store.head(key);
  const where = `${store.destination.url}: ${key}`;
  if (!info) throw new VerifyError(`${where} is missing after the upload completed; the store did not keep it.`);
  if (info.size !== expected.bytes) {
    throw new VerifyError(`${where} holds ${info.size} bytes but ${expected.bytes} were streamed; the stored archive is incomplete.`);
  }
  if (store.destination.kind === 'file') {
    const { sha256 } = await hashObject(store, key);
    if (sha256 !== expected.sha256) throw new VerifyError(`${where} has sha256 ${sha256} but ${expected.sha256} was streamed.`);
  }
}

/** Encrypts a small buffer (the globals) with the same stage as the archive. */
async function encryptBuffer(data: Buffer, encryption: EncryptionConfig): Promise<Buffer> {
  const { createEncryptStage } = await import('../crypto/encrypt.js');
  const { stream } = await createEncryptStage(encryption);
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  })();
  stream.end(data);
  await collected;
  return Buffer.concat(chunks);
}

/** `pg_dumpall --globals-only --no-role-passwords`, buffered (a few KB). */
async function dumpGlobals(dumper: Dumper, connection: Connection): Promise<Buffer> {
  const child = dumper.start('pg_dumpall', [...buildPgDumpallGlobalsArgs(), `--database=${connection.database}`], libpqEnv(connection));
  const chunks: Buffer[] = [];
  if (!child.stdout) throw new Error('pg_dumpall was started without a stdout');
  for await (const chunk of child.stdout) chunks.push(chunk as Buffer);
  await child.done.catch((error: unknown) => {
    throw dumpFailure(error, connection);
  });
  return Buffer.concat(chunks);
}

function describeCompression(plan: CompressionPlan): string {
  if (plan.where === 'none') return 'none';
  return `${plan.method}:${plan.level} (${plan.where === 'pg_dump' ? 'by pg_dump' : `in the stream, ${plan.engine}`})`;
}

/** `1.5 MB`-style size for logs (decimal units). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
