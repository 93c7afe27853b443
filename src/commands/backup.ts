import { createHash } from 'node:crypto';
import { archiveExtension, describeCompression, planCompression } from '../backup/compression-plan.js';
import { encryptBuffer } from '../backup/encryption.js';
import { dumpGlobals } from '../backup/globals.js';
import { checkPatterns, preflightStores } from '../backup/preflight.js';
import { streamDump } from '../backup/dump-stream.js';
import { cleanUpTemporaries, releaseClaim, removeUnfinished } from '../backup/unfinished.js';
import { verifyArchive } from '../backup/verify.js';
import type { Config } from '../config/types.js';
import type { GpgTool } from '../crypto/gpg.js';
import { ConfigError, UploadError, errorMessage } from '../errors.js';
import { formatBytes, round3 } from '../format.js';
import type { Log } from '../log.js';
import { archiveContentType, MANIFEST_FORMAT_VERSION, type Manifest } from '../manifest.js';
import type { CompressorsAvailable } from '../pipeline/compression.js';
import { poolerWarning } from '../postgres/classify.js';
import { checkPgDumpArgsForClient, EXTRA_ARGS_INPUT } from '../postgres/dump-args.js';
import type { Dumper } from '../postgres/dumper.js';
import type { DatabaseInspector } from '../postgres/inspect.js';
import type { ClientTool, Connection } from '../postgres/types.js';
import { PartialBackupError, type BackupResult, type DestinationResult } from '../report/backup-report.js';
import type { Claim } from '../storage/claim.js';
import { archiveKey, ENCRYPTED_SUFFIX, globalsKey, manifestKey } from '../storage/keys.js';
import { putOwn } from '../storage/put-own.js';
import type { Destination, ObjectStore, S3Settings, UploadResult } from '../storage/types.js';

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

/**
 * `command: backup`: connect, get a matching client, stream pg_dump (→ compress) → sha256/bytes →
 * every destination at once, verify each stored archive, then write the manifests.
 *
 * @throws ConnectionError, ClientInstallError, DumpError (classified pg_dump stderr), UploadError,
 *   VerifyError. When some destinations succeed and others fail, the good ones keep their archive
 *   and manifest and a {@link PartialBackupError} (an UploadError) naming the failed ones, with
 *   the result of every destination, is thrown after.
 */
export async function runBackup(config: Config, deps: BackupDeps): Promise<BackupResult> {
  const { log } = deps;
  const started = deps.now();
  const { connection, dump } = config;
  if (!connection)
    throw new ConfigError('database-url', 'required for command backup; set it from a repository secret.');

  // Refused credentials or a missing bucket are reported before the database is touched.
  await log.group('Storage', () =>
    preflightStores(
      config.destinations.map((d) => deps.createStore(d, config.s3)),
      log,
    ),
  );
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
        return streamDump({
          connection,
          dump,
          rowCounts: config.rowCounts,
          encryption: config.encryption,
          inspector,
          dumper: deps.dumper(client.binDir),
          compression: { plan, compressors, stdbuf },
          stores,
          keys,
          contentType,
          expectedBytes: server.databaseSizeBytes,
          log,
          tempDir: deps.tempDir,
          detectGpg: () => deps.detectGpg(),
          signal: deps.signal,
        });
      });
      claims = streamed.claims;
      uploaded = streamed.uploads.map((u) => (u.status === 'fulfilled' ? u.value : undefined));

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
