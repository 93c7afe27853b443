import { algorithmFor } from '../postgres/fingerprint.js';
import { archiveExtension, describeCompression, planCompression } from '../backup/compression-plan.js';
import { streamDump, type Streamed } from '../backup/dump-stream.js';
import { storeGlobals } from '../backup/globals.js';
import { buildManifest, manifestText } from '../backup/manifest.js';
import { checkPatterns, preflightStores } from '../backup/preflight.js';
import { cleanUpTemporaries, settleUnfinished, type Written } from '../backup/unfinished.js';
import { verifyArchive } from '../backup/verify.js';
import type { BackupConfig } from '../config/types.js';
import { checkFilesSelection, settleFilesArchive, storeFilesArchive, type FilesWritten } from './backup-files.js';
import type { GpgTool } from '../crypto/gpg.js';
import { ConfigError, UploadError, errorMessage } from '../errors.js';
import { formatBytes } from '../format.js';
import type { Log } from '../log.js';
import { archiveContentType, type FilesRecord, type Manifest } from '../manifest.js';
import type { CompressionPlan, CompressorsAvailable } from '../pipeline/compression.js';
import { poolerWarning } from '../postgres/classify.js';
import { checkPgDumpArgsForClient, EXTRA_ARGS_INPUT } from '../postgres/dump-args.js';
import type { Dumper } from '../postgres/dumper.js';
import { withoutSecret, type DatabaseProperties } from '../postgres/database-properties.js';
import type { DatabaseInspector, ServerInfo } from '../postgres/inspect.js';
import type { ClientTool, ClientToolName, Connection, DumpOptions } from '../postgres/types.js';
import { PartialBackupError, type BackupResult, type DestinationResult } from '../report/backup-report.js';
import { archiveKey, ENCRYPTED_SUFFIX, manifestKey } from '../storage/keys.js';
import { putOwn } from '../storage/put-own.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';

/** The I/O a backup needs, passed in so tests can run it against real servers with other settings. */
export interface BackupDeps {
  log: Log;
  connect(connection: Connection): Promise<DatabaseInspector>;
  /** Finds (or installs) a client for the server's major; returns pg_dump and the folder of its siblings. */
  ensureClient(
    serverMajor: number,
    tool?: ClientToolName,
  ): Promise<{ pgDump: ClientTool; binDir: string; warning?: string }>;
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
  /** Folder relative `files` entries start from (GITHUB_WORKSPACE, or the CLI's folder); default: the current folder. */
  workspace?: string;
}

/**
 * `command: backup`: connect, get a matching client, stream pg_dump (→ compress) → sha256/bytes →
 * every destination at once, verify each stored archive, then write the manifests.
 *
 * @throws ConnectionError, ClientInstallError, DumpError (classified pg_dump stderr), UploadError,
 *   VerifyError. When some destinations succeed and others fail, the good ones keep their archive
 *   and manifest and a {@link PartialBackupError} (an UploadError) naming the failed ones, with
 *   the result of every destination, is thrown after.
 */
export async function runBackup(config: BackupConfig, deps: BackupDeps): Promise<BackupResult> {
  const { log } = deps;
  const started = deps.now();
  const { connection, dump } = config;
  // A `files` entry that matches nothing is refused before any work (docs/files.md).
  const { files } = config;
  if (files) await log.group('Files', () => checkFilesSelection(files, deps.workspace ?? process.cwd(), log));

  // Refused credentials or a missing bucket are reported before the database is touched.
  await log.group('Storage', () =>
    preflightStores(
      config.destinations.map((d) => deps.createStore(d, config.s3)),
      log,
    ),
  );
  const { inspector, server } = await log.group('Connect', () => openSource(connection, dump, deps));
  try {
    const client = await log.group('PostgreSQL client', () => findClient(server, dump, deps));
    const source: Source = { connection, inspector, server, client };
    const archive = await planArchive(config, deps, source, started);
    // What this run wrote in each store, so that a run failing after the upload leaves nothing under
    // the final keys: an archive (or globals file) without its manifest is removed in `finally`.
    const written: Written = { claims: [], uploads: [], globals: [], manifests: [] };
    const filesWritten: FilesWritten = { keys: [], uploads: [], claims: [] };
    try {
      const streamed = await log.group('Dump and upload', () => dumpAndUpload(config, deps, source, archive));
      written.claims = streamed.claims;
      written.uploads = streamed.uploads.map((u) => (u.status === 'fulfilled' ? u.value : undefined));
      const results = destinationResults(archive, streamed);
      await log.group('Verify', () => verifyStored(archive.stores, results, streamed, log));

      const globals = dump.globals
        ? await log.group('Globals', () =>
            storeGlobals({
              dumper: deps.dumper(client.binDir),
              connection,
              encryption: config.encryption,
              stores: archive.stores,
              keys: archive.keys,
              stored: results.map((r) => r.ok),
              written: written.globals,
              log,
            }),
          )
        : null;
      const filesRecord = await storeFiles(config, deps, archive, results, filesWritten);
      const databaseProperties = await recordedProperties(inspector, connection.password, log);
      const manifest = buildManifest({
        version: deps.version,
        database: connection.database,
        label: config.label,
        server,
        pgDump: client.pgDump,
        dump,
        compression: archive.plan,
        streamed,
        rowCountMode: config.rowCounts,
        key: archive.keys[0] as string,
        contentType: archive.contentType,
        globals,
        ...(databaseProperties ? { databaseProperties } : {}),
        ...(filesRecord ? { files: filesRecord } : {}),
        started,
        finished: deps.now(),
      });
      await log.group('Manifest', () => writeManifests(archive.stores, results, manifest, written.manifests, log));

      const result: BackupResult = {
        manifest,
        destinations: results,
        throughput: streamed.measurement.bytes / Math.max(streamed.seconds, 0.001),
      };
      await cleanUpTemporaries(
        archive.stores.filter((_, i) => results[i]?.ok),
        connection.database,
        log,
      );
      throwIfFailed(result);
      return result;
    } finally {
      await settleFilesArchive(archive.stores, filesWritten, written.manifests, log);
      await settleUnfinished(archive.stores, archive.keys, written, log);
    }
  } finally {
    await inspector.close();
  }
}

/**
 * The database's own properties for the manifest (undefined with a test double that cannot read
 * them), without any setting that holds the connection password.
 */
async function recordedProperties(
  inspector: DatabaseInspector,
  password: string | undefined,
  log: Log,
): Promise<DatabaseProperties | undefined> {
  const read = await inspector.databaseProperties?.();
  if (!read) return undefined;
  const { properties, removed } = withoutSecret(read, password);
  if (removed.length > 0)
    log.warning(
      `Setting(s) ${removed.join(', ')} of the database may hold a secret (a credential-like name, or the connection password): not recorded in the manifest, so a restore does not recreate them; set them again after a restore.`,
    );
  return properties;
}

/** The source once connected: the open connection, its server, and the client chosen for it. */
interface Source {
  connection: Connection;
  inspector: DatabaseInspector;
  server: ServerInfo;
  client: { pgDump: ClientTool; binDir: string };
}

/** Where the archive goes and how it is compressed; `stores` and `keys` share their index. */
interface Archive {
  plan: CompressionPlan;
  compressors: CompressorsAvailable;
  /** Path of a working `stdbuf` for pg_dump's stdout; undefined: none (or the directory format). */
  stdbuf: string | undefined;
  contentType: string;
  stores: ObjectStore[];
  keys: string[];
}

/**
 * Connects, logs the server, warns of a transaction pooler (also when the backup then succeeds:
 * it may fail on the next run) and checks the name patterns; the connection is closed on failure.
 */
async function openSource(
  connection: Connection,
  dump: DumpOptions,
  deps: BackupDeps,
): Promise<{ inspector: DatabaseInspector; server: ServerInfo }> {
  const { log } = deps;
  const db = await deps.connect(connection);
  try {
    const info = await db.serverInfo();
    log.info(
      `Connected to ${connection.host}:${connection.port}/${connection.database}: PostgreSQL ${info.version}, database size ${formatBytes(info.databaseSizeBytes)}.`,
    );
    const pooler = poolerWarning(connection);
    if (pooler) log.warning(pooler);
    await checkPatterns(db, dump, connection.database);
    return { inspector: db, server: info };
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** A pg_dump for the server's major, with pg-dump-args checked against its options before it runs. */
async function findClient(server: ServerInfo, dump: DumpOptions, deps: BackupDeps): Promise<Source['client']> {
  const found = await deps.ensureClient(server.major);
  if (found.warning) deps.log.warning(found.warning);
  deps.log.info(`Using pg_dump ${found.pgDump.version} (${found.pgDump.path}) for server ${server.version}.`);
  const problem = checkPgDumpArgsForClient(dump.extraArgs, found.pgDump);
  if (problem !== undefined) throw new ConfigError(EXTRA_ARGS_INPUT, problem);
  return found;
}

/** The compression, the archive's name and type, and the stores with each one's archive key. */
async function planArchive(config: BackupConfig, deps: BackupDeps, source: Source, started: Date): Promise<Archive> {
  const { dump } = config;
  const { pgDump } = source.client;
  // pg_dump's stdout is a pipe only for custom and plain; the directory format writes files.
  const [compressors, stdbuf] = await Promise.all([
    deps.detectCompressors(),
    dump.format === 'directory' ? undefined : deps.detectStdbuf(pgDump.path),
  ]);
  const plan = planCompression(dump.compression, dump.format, pgDump.major, compressors);
  const extension = archiveExtension(dump.format, plan) + (config.encryption ? ENCRYPTED_SUFFIX : '');
  const contentType = archiveContentType(extension);
  const stores = config.destinations.map((d) => deps.createStore(d, config.s3));
  const keys = stores.map((s) =>
    archiveKey({
      prefix: s.destination.prefix,
      database: source.connection.database,
      time: started,
      ...(config.label ? { label: config.label } : {}),
      extension,
    }),
  );
  return { plan, compressors, stdbuf, contentType, stores, keys };
}

/** Logs the plan and runs the dump stream into every store (backup/dump-stream.ts). */
async function dumpAndUpload(
  config: BackupConfig,
  deps: BackupDeps,
  source: Source,
  archive: Archive,
): Promise<Streamed> {
  const { log } = deps;
  const { plan, compressors, stdbuf, stores, keys } = archive;
  log.info(
    `Format ${config.dump.format}, compression ${describeCompression(plan)}${stdbuf ? '; pg_dump stdout buffer 1 MiB (stdbuf)' : ''}; streaming to ${stores.map((s, i) => `${s.destination.url} → ${keys[i]}`).join(', ')}.`,
  );
  return streamDump({
    connection: source.connection,
    dump: config.dump,
    rowCounts: config.rowCounts,
    content: { algorithm: algorithmFor(source.server.versionNum), fingerprints: config.verify === 'content' },
    encryption: config.encryption,
    inspector: source.inspector,
    dumper: deps.dumper(source.client.binDir),
    compression: { plan, compressors, stdbuf },
    stores,
    keys,
    contentType: archive.contentType,
    expectedBytes: source.server.databaseSizeBytes,
    log,
    tempDir: deps.tempDir,
    detectGpg: () => deps.detectGpg(),
    signal: deps.signal,
  });
}

/** One result per destination: ok where the upload (and the claim) succeeded, else its error. */
function destinationResults(archive: Archive, streamed: Streamed): DestinationResult[] {
  return archive.stores.map((store, i) => {
    const key = archive.keys[i] as string;
    const upload = streamed.uploads[i];
    return {
      url: store.destination.url,
      key,
      manifestKey: manifestKey(key),
      ok: upload?.status === 'fulfilled',
      ...(upload?.status === 'rejected' ? { error: errorMessage(upload.reason) } : {}),
    };
  });
}

/** Verifies each stored archive ({@link verifyArchive}); a mismatch fails that destination only, with a warning. */
async function verifyStored(
  stores: ObjectStore[],
  results: DestinationResult[],
  streamed: Streamed,
  log: Log,
): Promise<void> {
  for (const [i, store] of stores.entries()) {
    const result = results[i];
    const upload = streamed.uploads[i];
    if (!result?.ok || upload?.status !== 'fulfilled') continue;
    try {
      await verifyArchive(store, result.key, streamed.measurement, upload.value.etag);
      log.info(`${store.destination.url}: ${result.key} verified (${streamed.measurement.bytes} bytes).`);
    } catch (error) {
      result.ok = false;
      result.error = errorMessage(error);
      log.warning(result.error);
    }
  }
}

/**
 * The files archive (commands/backup-files.ts) into each destination that holds the verified
 * archive; a destination where it failed fails. Undefined without `files`.
 */
async function storeFiles(
  config: BackupConfig,
  deps: BackupDeps,
  archive: Archive,
  results: DestinationResult[],
  written: FilesWritten,
): Promise<FilesRecord | undefined> {
  const { files } = config;
  // No destination holds the verified archive: the run fails with their errors, no files are stored.
  if (!files || !results.some((r) => r.ok)) return undefined;
  const stored = await deps.log.group('Files archive', () =>
    storeFilesArchive(
      {
        settings: files,
        workspace: deps.workspace ?? process.cwd(),
        compression: config.dump.compression,
        compressors: archive.compressors,
        encryption: config.encryption,
        stores: archive.stores,
        archiveKeys: archive.keys,
        stored: results.map((r) => r.ok),
        log: deps.log,
        tempDir: deps.tempDir,
        detectGpg: () => deps.detectGpg(),
        signal: deps.signal,
      },
      written,
    ),
  );
  failDestinations(results, stored.errors);
  return stored.record;
}

/** A destination whose files archive failed fails: it gets no manifest (its archive is removed). */
function failDestinations(results: DestinationResult[], errors: (string | undefined)[]): void {
  errors.forEach((error, i) => {
    const result = results[i];
    if (error !== undefined && result?.ok) {
      result.ok = false;
      result.error = error;
    }
  });
}

/** Writes each good destination's manifest; one that cannot be written fails that destination only. */
async function writeManifests(
  stores: ObjectStore[],
  results: DestinationResult[],
  manifest: Manifest,
  written: boolean[],
  log: Log,
): Promise<void> {
  for (const [i, store] of stores.entries()) {
    const result = results[i];
    if (!result?.ok) continue;
    try {
      await putOwn(store, result.manifestKey, manifestText(manifest, result.key), 'application/json');
      written[i] = true;
      log.info(`${store.destination.url}: manifest ${result.manifestKey}`);
    } catch (error) {
      result.ok = false;
      result.error = `the archive ${result.key} was stored and verified but its manifest could not be written: ${errorMessage(error)}`;
    }
  }
}

/**
 * @throws PartialBackupError (with `result`) when some destinations failed and others stored the
 *   backup: those still get their outputs, summary rows and retention (main.ts); UploadError when
 *   every destination failed.
 */
function throwIfFailed(result: BackupResult): void {
  const results = result.destinations;
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return;
  const good = results.filter((r) => r.ok);
  const message =
    `${failed.length} of ${results.length} destinations failed: ${failed.map((r) => `${r.url}: ${r.error}`).join('; ')}` +
    (good.length > 0 ? ` (stored and verified: ${good.map((r) => `${r.url} ${r.key}`).join(', ')})` : '');
  if (good.length > 0) throw new PartialBackupError(message, result);
  throw new UploadError(message);
}
