import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupConfig } from '../config/types.js';
import type { EncryptionInfo } from '../crypto/encrypt.js';
import type { GpgEncrypter, GpgTool } from '../crypto/gpg.js';
import type { EncryptionConfig } from '../crypto/specs.js';
import {
  ActionError,
  ConfigError,
  DumpError,
  EncryptError,
  UploadError,
  VerifyError,
  errorMessage,
} from '../errors.js';
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
import { formatBytes, round3 } from '../format.js';
import type { Log } from '../log.js';
import { classifyPgError, poolerWarning } from '../postgres/classify.js';
import {
  buildPgDumpallGlobalsArgs,
  buildPgDumpArgs,
  checkPgDumpArgsForClient,
  EXTRA_ARGS_INPUT,
} from '../postgres/dump-args.js';
import type { Dumper } from '../postgres/dumper.js';
import type { DatabaseInspector } from '../postgres/inspect.js';
import { libpqEnv } from '../postgres/libpq.js';
import { describeHolder, lockWaitRelations, markLockWait, relationsOfLockQuery } from '../postgres/locks.js';
import type { ClientTool, Connection } from '../postgres/types.js';
import { readCatalog, removeStaleTemporaries } from '../storage/catalog.js';
import { claimKey, KeyTakenError, type Claim } from '../storage/claim.js';
import { archiveKey, ENCRYPTED_SUFFIX, globalsKey, manifestKey } from '../storage/keys.js';
import { hashObject } from '../storage/read.js';
import type { Destination, ObjectStore, S3Settings, UploadProgress, UploadResult } from '../storage/types.js';

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
 * Some destinations stored and verified the archive and its manifest, others failed. `result` holds
 * every destination (`ok` false with `error` for the failed ones); the backup as a whole failed.
 */
export class PartialBackupError extends UploadError {
  constructor(
    message: string,
    readonly result: BackupResult,
  ) {
    super(message);
  }
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

  // Refused credentials or a missing bucket are reported before the database is touched.
  await log.group('Storage', () => preflightStores(config, deps));
  const { inspector, server } = await log.group('Connect', async () => {
    const db = await deps.connect(connection);
    try {
      const info = await db.serverInfo();
      log.info(
        `Connected to ${connection.host}:${connection.port}/${connection.database}: PostgreSQL ${info.version}, database size ${formatBytes(info.databaseSizeBytes)}.`,
      );
      // Also when the backup then succeeds: it may fail on the next run.
      const pooler = poolerWarning(connection);
      if (pooler) log.warning(pooler);
      await checkPatterns(db, dump, connection.database);
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
      // pg-dump-args against the options of this pg_dump, before it runs.
      const problem = checkPgDumpArgsForClient(dump.extraArgs, found.pgDump);
      if (problem !== undefined) throw new ConfigError(EXTRA_ARGS_INPUT, problem);
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

    let claims: (Claim | undefined)[] = [];
    // What this run wrote in each store, so that a run failing after the upload leaves nothing under
    // the final keys: an archive (or globals file) without its manifest is removed in `finally`.
    let uploaded: (UploadResult | undefined)[] = [];
    const globalsWritten: boolean[] = [];
    const manifestWritten: boolean[] = [];
    try {
      const streamed = await log.group('Dump and upload', async () => {
        log.info(
          `Format ${dump.format}, compression ${describeCompression(plan)}${stdbuf ? '; pg_dump stdout buffer 1 MiB (stdbuf)' : ''}; streaming to ${stores.map((s, i) => `${s.destination.url} → ${keys[i]}`).join(', ')}.`,
        );
        return streamDump(
          config,
          deps,
          inspector,
          client.binDir,
          { plan, compressors, stdbuf },
          stores,
          keys,
          contentType,
          server.databaseSizeBytes,
        );
      });
      claims = streamed.claims;
      uploaded = streamed.uploads.map((u) => (u.status === 'fulfilled' ? (u.value as UploadResult) : undefined));

      const results: DestinationResult[] = stores.map((store, i) => ({
        url: store.destination.url,
        key: keys[i] as string,
        manifestKey: manifestKey(keys[i] as string),
        ok: streamed.uploads[i]?.status === 'fulfilled',
        ...(streamed.uploads[i]?.status === 'rejected' ? { error: errorMessage(streamed.uploads[i].reason) } : {}),
      }));

      await log.group('Verify', async () => {
        for (const [i, store] of stores.entries()) {
          const result = results[i] as DestinationResult;
          if (!result.ok) continue;
          try {
            await verifyArchive(
              store,
              result.key,
              streamed.measurement,
              (streamed.uploads[i] as PromiseFulfilledResult<UploadResult>).value?.etag,
            );
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
            if (!results[i]?.ok) continue;
            await putOwn(
              store,
              globalsKey(keys[i] as string),
              data,
              config.encryption ? 'application/pgp-encrypted' : 'application/sql',
            );
            globalsWritten[i] = true;
          }
          log.info(
            `Globals (roles, tablespaces; no role passwords): ${data.length} bytes${config.encryption ? ', encrypted' : ''}.`,
          );
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
        compression: {
          method: plan.method,
          level: plan.level ?? null,
          where: plan.where,
          engine: plan.engine ?? (plan.where === 'pg_dump' ? 'pg_dump' : null),
        },
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
        archive: {
          key: keys[0] as string,
          bytes: streamed.measurement.bytes,
          sha256: streamed.measurement.sha256,
          contentType,
        },
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
            await putOwn(store, result.manifestKey, `${JSON.stringify(own, null, 2)}\n`, 'application/json');
            manifestWritten[i] = true;
            log.info(`${store.destination.url}: manifest ${result.manifestKey}`);
          } catch (error) {
            result.ok = false;
            result.error = `the archive ${result.key} was stored and verified but its manifest could not be written: ${errorMessage(error)}`;
          }
        }
      });

      const result: BackupResult = {
        manifest,
        destinations: results,
        throughput: streamed.measurement.bytes / Math.max(streamed.seconds, 0.001),
      };
      await cleanUpTemporaries(
        stores.filter((_, i) => results[i]?.ok),
        connection.database,
        log,
      );

      const failed = results.filter((r) => !r.ok);
      if (failed.length > 0) {
        const good = results.filter((r) => r.ok);
        const message =
          `${failed.length} of ${results.length} destinations failed: ${failed.map((r) => `${r.url}: ${r.error}`).join('; ')}` +
          (good.length > 0 ? ` (stored and verified: ${good.map((r) => `${r.url} ${r.key}`).join(', ')})` : '');
        // The stored ones still get their outputs, summary rows and retention (main.ts).
        if (good.length > 0) throw new PartialBackupError(message, result);
        throw new UploadError(message);
      }
      return result;
    } finally {
      await Promise.all(
        stores.map((store, i) =>
          manifestWritten[i]
            ? undefined
            : removeUnfinished(store, keys[i] as string, uploaded[i], globalsWritten[i] === true, log),
        ),
      );
      // A claim is released once its manifest is written, or when nothing was written under its key.
      // An archive stored without its manifest keeps its claim: the claim marks it as this action's.
      await Promise.all(claims.map((claim, i) => (claim && stores[i] ? releaseClaim(stores[i], claim) : undefined)));
    }
  } finally {
    await inspector.close();
  }
}

/**
 * Removes what this run stored under `key` when it could not write the archive's manifest (a later
 * phase failed, or the run was cancelled): nothing is left under a final key. The archive is removed
 * only when it is provably this run's: in a folder (written by an exclusive link), or on S3 when
 * HeadObject answers the ETag of this run's upload. When the removal fails or ownership cannot be
 * proven, the object stays with its claim beside it (which marks it as this action's, so a later
 * prune deletes it) and a warning names it. Never throws.
 */
async function removeUnfinished(
  store: ObjectStore,
  key: string,
  upload: UploadResult | undefined,
  globals: boolean,
  log: Log,
): Promise<void> {
  if (!upload && !globals) return;
  const where = store.destination.url;
  try {
    const doomed = globals ? [globalsKey(key)] : [];
    if (upload) {
      const info = await store.head(key);
      const ours =
        info !== undefined &&
        (store.destination.kind === 'file' || (upload.etag !== undefined && info.etag === upload.etag));
      if (ours) doomed.unshift(key);
      else if (info)
        log.warning(
          `${where}: ${key} was left in place: it could not be proven to be this run's upload (ETag ${info.etag ?? 'unknown'}).`,
        );
    }
    if (doomed.length === 0) return;
    const { deleted, errors } = await store.delete(doomed);
    if (deleted.length > 0)
      log.info(
        `${where}: removed ${deleted.join(', ')}, stored by this run before it failed (no manifest was written).`,
      );
    for (const e of errors)
      log.warning(
        `${where}: could not remove ${e.key} after the failure (${e.message}); it keeps its claim, so the next prune deletes it.`,
      );
  } catch (error) {
    log.warning(
      `${where}: could not remove ${key} after the failure (${errorMessage(error)}); it keeps its claim, so the next prune deletes it.`,
    );
  }
}

/**
 * Releases `claim` once its manifest exists or nothing is stored under its key. An archive stored
 * without its manifest keeps the claim: in a folder the claim is what marks it as this action's
 * (storage/claim.ts). When the store cannot be asked, the claim stays too (it goes stale in 24 h).
 */
async function releaseClaim(store: ObjectStore, claim: Claim): Promise<void> {
  const there = (key: string, unknown: boolean): Promise<boolean> =>
    store.head(key).then(
      (info) => info !== undefined,
      () => unknown,
    );
  if ((await there(manifestKey(claim.archiveKey), false)) || !(await there(claim.archiveKey, true)))
    await claim.release();
}

/**
 * Writes a small object (manifest, globals) with an exclusive create, then checks with a HeadObject
 * that the object under the key is this write's (same size and, when the store answered one, same
 * ETag): a store that ignores `If-None-Match` would otherwise let another writer's object pass.
 * @throws UploadError when the key is taken or the object is not this write's.
 */
async function putOwn(store: ObjectStore, key: string, data: string | Buffer, contentType: string): Promise<void> {
  const written = await store.put(key, data, contentType);
  const info = await store.head(key);
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (
    !info ||
    info.size !== bytes ||
    (written.etag !== undefined && info.etag !== undefined && info.etag !== written.etag)
  ) {
    throw new UploadError(
      `${store.destination.url}: the object under ${key} is not the one this run wrote (${info ? `${info.size} bytes, ETag ${info.etag ?? 'none'}` : 'missing'}; written ${bytes} bytes, ETag ${written.etag ?? 'none'}): another writer replaced it.`,
    );
  }
}

/**
 * Removes temporary objects (claims, `.partial` files) older than 24 h under the database's folder
 * of each store, left by killed runs (storage/catalog.ts). Never throws: a failure is a warning.
 */
async function cleanUpTemporaries(stores: ObjectStore[], database: string, log: Log): Promise<void> {
  for (const store of stores) {
    try {
      const catalog = await readCatalog(store, database);
      const { removed, errors } = await removeStaleTemporaries(store, catalog, new Date());
      if (removed.length > 0)
        log.info(
          `${store.destination.url}: removed ${removed.length} temporary object(s) older than 24 h left by killed runs: ${removed.map((t) => t.key).join(', ')}.`,
        );
      for (const error of errors)
        log.warning(`${store.destination.url}: could not remove the temporary object ${error.key}: ${error.message}`);
    } catch (error) {
      log.warning(
        `${store.destination.url}: could not look for temporary objects left by earlier runs: ${errorMessage(error)}`,
      );
    }
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
  /** Each store's claim of its key (storage/claim.ts), held until the manifest is written; undefined where it failed. */
  claims: (Claim | undefined)[];
}

/**
 * Fails naming the input and the pattern when a `schema` or `table` pattern matches nothing (even
 * when another one matches: pg_dump alone would then dump the others and say nothing), before pg_dump
 * runs. Patterns are matched as pg_dump matches them (postgres/patterns.ts).
 * @throws ConfigError naming `schema` or `table`.
 */
async function checkPatterns(db: DatabaseInspector, dump: BackupConfig['dump'], database: string): Promise<void> {
  const patterns = [
    ...dump.schemas.map((pattern) => ({ kind: 'schema' as const, pattern })),
    ...dump.tables.map((pattern) => ({ kind: 'table' as const, pattern })),
  ];
  const unmatched = (await db.unmatchedPatterns?.(patterns)) ?? [];
  const first = unmatched[0];
  if (first === undefined) return;
  const others = unmatched.slice(1).map((u) => `${u.kind} '${u.pattern}'`);
  const what = first.kind === 'schema' ? 'schema' : 'table, view, sequence or foreign table';
  const problem = first.malformed
    ? `pattern '${first.pattern}' has too many dot-separated parts (at most ${first.kind === 'schema' ? 'database.schema' : 'database.schema.table'}).`
    : `pattern '${first.pattern}' matches no ${what} in database '${database}'.`;
  throw new ConfigError(
    first.kind,
    `${problem}${others.length > 0 ? ` Nor do: ${others.join(', ')}.` : ''} Patterns follow pg_dump's rules: unquoted names are folded to lower case (quote them for capitals: "MyTable"), * and ? are wildcards, schema.table qualifies${first.kind === 'table' ? ', and a table without a schema must be in the search path' : ''}. Fix or remove the pattern.`,
  );
}

/**
 * One cheap request to each destination ({@link ObjectStore.preflight}) before any work, all at once.
 * When every destination fails, the backup stops before touching the database; when only some do,
 * they are named in a warning and the backup goes on for the others (the failed ones fail again at
 * upload and are reported with the run's result, see runBackup).
 * @throws the first destination's error when all fail (ConfigError for refused credentials,
 *   UploadError otherwise).
 */
async function preflightStores(config: BackupConfig, deps: BackupDeps): Promise<void> {
  const stores = config.destinations.map((d) => deps.createStore(d, config.s3));
  try {
    const asked = stores.filter((s) => s.preflight !== undefined);
    if (asked.length === 0) return;
    const results = await Promise.allSettled(
      asked.map((store) => (store.preflight as () => Promise<void>).call(store)),
    );
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ url: asked[i]?.destination.url, reason: r.reason as unknown }] : [],
    );
    if (failed.length > 0 && failed.length === stores.length) throw failed[0]?.reason;
    for (const f of failed)
      deps.log.warning(`${f.url}: ${errorMessage(f.reason)} The backup goes on for the other destinations.`);
    const good = asked.filter((_, i) => results[i]?.status === 'fulfilled');
    if (good.length > 0)
      deps.log.info(`${good.map((s) => s.destination.url).join(', ')}: reachable, credentials accepted.`);
  } finally {
    // These stores only asked; the backup makes its own. Their S3 clients' sockets are closed now.
    for (const store of stores) store.close();
  }
}

/** The hot path: one pg_dump run streamed to every store, in the dump's exported snapshot. */
async function streamDump(
  config: BackupConfig,
  deps: BackupDeps,
  inspector: DatabaseInspector,
  binDir: string,
  {
    plan,
    compressors,
    stdbuf,
  }: { plan: CompressionPlan; compressors: CompressorsAvailable; stdbuf: string | undefined },
  stores: ObjectStore[],
  keys: string[],
  contentType: string,
  expectedBytes: number,
): Promise<Streamed> {
  const { connection, dump } = config;
  const t0 = Date.now();
  const env = libpqEnv(connection);
  const dumper = deps.dumper(binDir);
  const lockWaitTimeoutMs = dump.lockWaitTimeoutMs ?? 0;
  const session = await inspector.openSnapshot({ lockTimeoutMs: lockWaitTimeoutMs });
  const children: ChildStage[] = [];
  const killAll = (): void => children.forEach((c) => c.kill());
  const onAbort = (): void => killAll();
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  // pg_dump's backends are found by the application_name libpq gives them.
  const lockWatch = inspector.watchLocks(
    {
      countingPid: session.pid,
      pgDumpApplicationName: connection.params.application_name ?? 'pg_dump',
      since: new Date(),
    },
    (line) => deps.log.info(line),
    lockWaitTimeoutMs > 0
      ? ` The backup goes on once the lock is released, or fails after lock-wait-timeout (${lockWaitTimeoutMs / 1000} s).`
      : ' The backup goes on once the lock is released (lock-wait-timeout is 0: no limit).',
  );
  // The row counts run beside pg_dump, in its snapshot. A failed count stops the dump at once:
  // the children are killed and the stream (so every upload) is destroyed, and the end of the
  // stream waits for the counts, so no archive is stored without them.
  let gate: ExitGate | undefined;
  let countFailed: Error | undefined;
  const counts = Promise.all([session.rowCounts(config.rowCounts), session.catalogCounts()]);
  counts.catch((error: unknown) => {
    countFailed = error instanceof Error ? error : new DumpError(String(error));
    gate?.destroy(countFailed);
    killAll();
  });
  let tempDir: string | undefined;
  let pooled: PooledPipe | undefined;
  let gpg: GpgEncrypter | undefined;
  let claiming: Promise<Claim>[] = [];
  let claimed = false;
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
    if (countFailed) throw countFailed;
    if (dump.format === 'directory') {
      tempDir = await mkdtemp(join(deps.tempDir, 'pg-backup-'));
      const outputDir = join(tempDir, 'dump');
      const pgDump = dumper.start(
        'pg_dump',
        buildPgDumpArgs(dump, { compress: plan.pgDumpCompress, snapshot: session.snapshotId, outputDir }),
        env,
      );
      children.push(pgDump);
      pgDump.stdout?.resume();
      await pgDump.done.catch((error: unknown) => {
        // pg_dump stopped by us after a failed count may exit 1 (its SIGTERM handler says
        // "terminated by user"): the count's failure is the cause either way.
        throw countFailed ?? dumpFailure(error, connection);
      });
      if (countFailed) throw countFailed;
      producer = spawnStage('tar', 'tar', ['-C', outputDir, '-cf', '-', '.'], { stdout });
    } else {
      producer = dumper.start(
        'pg_dump',
        buildPgDumpArgs(dump, { compress: plan.pgDumpCompress, snapshot: session.snapshotId }),
        env,
        {
          stdout,
          ...(stdbuf ? { stdbuf } : {}),
        },
      );
    }
    children.push(producer);
    // The claim of the new keys (storage/claim.ts; for S3 the SDK's load, ~70 ms of this thread, a
    // HeadObject, the claim's PutObject and a listing) runs once the dump has started instead of
    // before it. The end of the stream (and so every upload's completion) waits for it and for every
    // child's exit status, so no upload completes under a key this run does not own; a key found
    // taken stops the stream at once.
    // A key taken (KeyTakenError) stops the whole run; a store that cannot be asked fails only its
    // own destination (below), as an upload failure would.
    claiming = stores.map((store, i) => claimKey(store, keys[i] as string));
    const claimErrors: unknown[] = [];
    const keysFree = Promise.all(
      claiming.map((claim, i) =>
        claim.catch((error: unknown) => {
          if (error instanceof KeyTakenError) throw error;
          claimErrors[i] = error;
          return undefined;
        }),
      ),
    );
    gate = new ExitGate(() => [...children.map((c) => c.done), keysFree, counts]);
    if (countFailed) gate.destroy(countFailed);
    let keyTaken: UploadError | undefined;
    keysFree.catch((error: UploadError) => {
      keyTaken = error;
      gate?.destroy(error);
    });
    pooled.writtenBy(encrypter ?? (compressor?.kind === 'child' ? compressor.child : producer));
    const source = pooled.output;

    // dump → compress → encrypt → hash → upload: the sha256 and size are those of what is stored.
    const encryption =
      config.encryption && !gpg
        ? await (await import('../crypto/encrypt.js')).createEncryptStage(config.encryption)
        : undefined;
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
    const progress = startProgress(
      deps.log,
      () => meter.bytes,
      (start, previous, now) =>
        uploadProgressLine(
          start,
          previous,
          now,
          stores.map((store, i) => ({
            where: store.destination.url,
            ...(uploadProgress[i]?.stored?.() ?? { bytes: 0 }),
          })),
        ),
    );
    Promise.allSettled(uploads).then(progress.stop, progress.stop);
    // A store that gives up stops reading its stream: drop it from the fan-out so the others go on.
    uploads.forEach((upload, i) =>
      upload.catch((error: unknown) =>
        fanout.outputs[i]?.destroy(error instanceof Error ? error : new Error(String(error))),
      ),
    );
    // So does a store whose claim could not be made: its upload must not complete.
    claiming.forEach((claim, i) =>
      claim.catch((error: unknown) => {
        if (!(error instanceof KeyTakenError))
          fanout.outputs[i]?.destroy(error instanceof Error ? error : new Error(String(error)));
      }),
    );
    const stages = [
      source,
      ...(compressor?.kind === 'in-process' ? [compressor.stream] : []),
      ...(encryption ? [encryption.stream] : []),
      meter,
      gate,
      fanout,
    ] as const;
    const flowing = pipeline(stages as unknown as [Readable, ...NodeJS.WritableStream[]]);
    const [flow, ...settled] = await Promise.allSettled([flowing, ...uploads]);
    if (flow?.status === 'rejected') {
      killAll();
      if (keyTaken) {
        // As rootCause does: the killed children have exited before the error is reported.
        await Promise.allSettled(children.map((c) => c.done));
        throw keyTaken;
      }
      if (countFailed && !deps.signal?.aborted) {
        await Promise.allSettled(children.map((c) => c.done));
        throw await explainLockWait(countFailed, inspector);
      }
      claimErrors.forEach((reason, i) => (settled[i] = { status: 'rejected', reason }));
      throw await explainLockWait(await rootCause(children, connection, settled, deps.signal, flow.reason), inspector);
    }
    const [rowCounts, catalogCounts] = await counts;
    const claims = await keysFree;
    claimed = true;
    // A destination whose claim failed reports the store's answer, not its upload's broken stream.
    claimErrors.forEach((reason, i) => (settled[i] = { status: 'rejected', reason }));
    return {
      measurement: meter.result(),
      encryption: gpg?.info ?? encryption?.info ?? null,
      uploads: settled,
      snapshot: session.snapshotId,
      rowCounts,
      catalogCounts,
      seconds: (Date.now() - t0) / 1000,
      claims,
    };
  } catch (error) {
    // A failure before the stream (the directory format's pg_dump): name a lock's holder too.
    throw error instanceof Error ? await explainLockWait(error, inspector) : error;
  } finally {
    // Failed before the claims were handed over: release them (unless an archive was stored).
    if (!claimed) {
      const outcomes = await Promise.allSettled(claiming);
      await Promise.all(
        outcomes.map((o, i) =>
          o.status === 'fulfilled' ? releaseClaim(stores[i] as ObjectStore, o.value) : undefined,
        ),
      );
    }
    deps.signal?.removeEventListener('abort', onAbort);
    killAll();
    await lockWatch.stop();
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
async function chooseGpg(
  config: BackupConfig,
  deps: BackupDeps,
  plan: CompressionPlan,
): Promise<GpgEncrypter | undefined> {
  const encryption = config.encryption;
  if (!encryption) return undefined;
  const recipients =
    encryption.mode === 'public-key'
      ? `to ${encryption.recipients.length} public key${encryption.recipients.length === 1 ? '' : 's'}`
      : 'with a passphrase';
  const found = await gpgEncrypter(encryption, deps, plan);
  if (found.encrypter) {
    deps.log.info(
      `Encryption: AES-256 ${recipients}, by gpg ${found.tool.version} (${found.tool.path}) outside the action's process.`,
    );
    return found.encrypter;
  }
  const { openpgpVersion } = await import('../crypto/encrypt.js');
  deps.log.info(
    `Encryption: AES-256 ${recipients}, by OpenPGP.js ${openpgpVersion()} in the action's process: ${found.reason}.`,
  );
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
  const uploadErrors = uploads
    .filter((u): u is PromiseRejectedResult => u.status === 'rejected')
    .map((u) => errorMessage(u.reason));
  // Every store failed first: the dump was stopped because of them (pg_dump then sees a broken pipe).
  if (streamError instanceof AllOutputsFailedError && uploadErrors.length > 0 && !signal?.aborted) {
    return new UploadError(uploadErrors.join('; '), { cause: streamError });
  }
  if (signal?.aborted)
    return new DumpError(
      'The backup was cancelled (SIGINT/SIGTERM): pg_dump was stopped and every upload aborted; no archive was stored.',
    );
  // gpg is never failed by what is upstream of it (a failing pg_dump gives it end-of-file) and is
  // stopped by us when a store fails: its own failure is the cause, even if pg_dump then sees EPIPE.
  const gpgFailed = exits.find(
    (e, i) => e.status === 'rejected' && children[i]?.name === 'gpg' && !killedByUs(e.reason),
  );
  if (gpgFailed?.status === 'rejected')
    return new EncryptError(`gpg could not encrypt the archive: ${errorMessage(gpgFailed.reason)}`, {
      cause: gpgFailed.reason,
    });
  const pgDumpFailed = exits.find(
    (e, i) => e.status === 'rejected' && children[i]?.name === 'pg_dump' && !killedByUs(e.reason),
  );
  if (pgDumpFailed?.status === 'rejected') return dumpFailure(pgDumpFailed.reason, connection);
  // A stage of ours failed with a typed error (e.g. encryption): that is the cause.
  if (streamError instanceof ActionError && !(streamError instanceof UploadError)) return streamError;
  const otherFailed = exits.find((e) => e.status === 'rejected' && !killedByUs(e.reason));
  if (otherFailed?.status === 'rejected')
    return new DumpError(`The dump stream failed: ${errorMessage(otherFailed.reason)}`, { cause: otherFailed.reason });
  if (uploadErrors.length > 0) return new UploadError(uploadErrors.join('; '), { cause: streamError });
  return new DumpError(`The dump stream failed: ${errorMessage(streamError)}`, { cause: streamError });
}

/**
 * A lock wait that timed out (marked by markLockWait: a count, or pg_dump's LOCK TABLE) gets the
 * relation and the sessions holding ACCESS EXCLUSIVE on it appended, read from pg_locks now.
 * Other errors are returned as they are.
 */
async function explainLockWait(error: Error, inspector: DatabaseInspector): Promise<Error> {
  const relations = lockWaitRelations(error);
  if (!relations || relations.length === 0 || lockWaitRelations(error.cause) === relations) return error;
  const holders = await inspector.exclusiveHolders(relations).catch(() => new Map<string, never[]>());
  const named = [...holders].filter(([, list]) => list.length > 0);
  const text =
    named.length > 0
      ? named.map(([relation, list]) => `${relation} is locked by ${list.map(describeHolder).join('; ')}`).join('; ')
      : `The wait was for ${relations.length === 1 ? relations[0] : `one of ${relations.slice(0, 5).join(', ')}${relations.length > 5 ? ', …' : ''}`}; its holder had gone when the wait ended`;
  return markLockWait(new DumpError(`${error.message} ${text}.`, { cause: error }), relations);
}

/** Turns pg_dump's exit into a DumpError with the classified, actionable message. */
function dumpFailure(error: unknown, connection: Connection): DumpError {
  if (error instanceof ChildExitError) {
    const stderr = error.stderr || error.message;
    const { kind, message } = classifyPgError(stderr, {
      host: connection.host,
      port: connection.port,
      tool: error.stage,
    });
    const failure = new DumpError(message, { cause: error });
    // pg_dump's lock wait ends as a timeout of its LOCK TABLE (detail line "Query was: LOCK TABLE …").
    const relations = kind === 'timeout' ? relationsOfLockQuery(stderr) : [];
    return relations.length > 0 ? markLockWait(failure, relations) : failure;
  }
  return error instanceof DumpError ? error : new DumpError(errorMessage(error), { cause: error });
}

/**
 * HeadObject (or stat) the stored archive and compare with what was streamed (size, and the ETag
 * the upload was answered with, when the store sent one: another writer's object has another); a
 * local file is re-hashed.
 */
async function verifyArchive(
  store: ObjectStore,
  key: string,
  expected: { bytes: number; sha256: string },
  etag?: string,
): Promise<void> {
  const info = await store.head(key);
  const where = `${store.destination.url}: ${key}`;
  if (!info) throw new VerifyError(`${where} is missing after the upload completed; the store did not keep it.`);
  if (etag !== undefined && info.etag !== undefined && info.etag !== etag) {
    throw new VerifyError(
      `${where} has ETag ${info.etag} but the upload was answered with ${etag}: another writer replaced the archive after this run stored it.`,
    );
  }
  if (info.size !== expected.bytes) {
    throw new VerifyError(
      `${where} holds ${info.size} bytes but ${expected.bytes} were streamed; the stored archive is incomplete.`,
    );
  }
  if (store.destination.kind === 'file') {
    const { sha256 } = await hashObject(store, key);
    if (sha256 !== expected.sha256)
      throw new VerifyError(`${where} has sha256 ${sha256} but ${expected.sha256} was streamed.`);
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
  const child = dumper.start(
    'pg_dumpall',
    [...buildPgDumpallGlobalsArgs(), `--database=${connection.database}`],
    libpqEnv(connection),
  );
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
