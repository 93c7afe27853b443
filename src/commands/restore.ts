/**
 * `command: restore`: the chosen backup (default: the newest complete one) of the `database`
 * input's database, from the first `destination`, streamed into the target database and verified
 * against its manifest on the way. Needs no connection to the source database.
 *
 * Also home of what `drill` shares with it: finding the backup and its manifest, getting a
 * pg_restore of the archive's major or newer, and talking to the target server.
 */
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { decryptionMismatch, type DecryptionConfig } from '../crypto/specs.js';
import { ClientInstallError, ConfigError, ConnectionError, errorMessage } from '../errors.js';
import type { Manifest } from '../manifest.js';
import type { CompressorsAvailable } from '../pipeline/compression.js';
import { connectClient, type DatabaseInspector } from '../postgres/inspect.js';
import type { ClientTool, Connection } from '../postgres/types.js';
import { readCatalog, type BackupEntry } from '../storage/catalog.js';
import { ENCRYPTED_SUFFIX, globalsKey } from '../storage/keys.js';
import type { Destination, ObjectStore, S3Settings } from '../storage/types.js';
import type { RestoreConfig } from '../config/types.js';
import type { BackupSelector } from '../restore/options.js';
import { readManifest, selectBackup, skippedForLatest, skippedWarning } from '../restore/select.js';
import { applyGlobals, streamRestore, type PgRestoreOptions, type StreamOutcome } from '../restore/stream.js';
import { formatBytes, round3 } from '../format.js';
import type { Log } from '../log.js';

/**
 * The I/O of restore and drill. `realDeps` of main.ts (a BackupDeps) has every required member.
 */
export interface RestoreDeps {
  log: Log;
  createStore(destination: Destination, s3: S3Settings): ObjectStore;
  /**
   * Finds (or installs) client tools of `major` (the archive's pg_dump major) or newer; returns the
   * folder with pg_restore and psql. The real one is `ensureClient({ serverMajor: major, … })`.
   */
  ensureClient(major: number): Promise<{ pgDump: ClientTool; binDir: string; warning?: string }>;
  detectCompressors(): Promise<CompressorsAvailable>;
  /** node-pg inspector (drill: row counts and object counts of the restored database). */
  connect(connection: Connection): Promise<DatabaseInspector>;
  /** SQL access to the target server (default: {@link openTarget}). */
  connectTarget?(connection: Connection): Promise<TargetDb>;
  /** Folder for the directory format's unpacked tar and the custom format's file with jobs > 1. */
  tempDir: string;
  now(): Date;
  /** Aborted on SIGINT/SIGTERM: pg_restore/psql are killed. */
  signal?: AbortSignal;
  /**
   * Overrides how encrypted archives are decrypted (default: OpenPGP with the options'
   * `decryption`): returns a fresh decrypting stage for the manifest's archive or globals.
   */
  decrypt?(manifest: Manifest): Duplex | undefined;
}

/** What a restore did (outputs and summary are made from it). */
export interface RestoreResult {
  key: string;
  url: string;
  manifest: Manifest;
  target: { host: string; port: number; database: string };
  createdDatabase: boolean;
  /** The globals file (roles) was applied first. */
  globalsApplied: boolean;
  /** Wall seconds from the start of the download to the tool's successful exit. */
  restoreSeconds: number;
  /** Archive bytes per second over that time. */
  throughput: number;
  mode: StreamOutcome['mode'];
  pgRestoreVersion: string;
}

// ---------------------------------------------------------------------------------------------
// Target server access

/** A node-pg connection to the target server. */
export interface TargetDb {
  query<T extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    values?: unknown[],
  ): Promise<{ rows: T[]; fieldCount: number }>;
  close(): Promise<void>;
}

/** True when a ConnectionError was caused by a missing database (SQLSTATE 3D000). */
export function isMissingDatabase(error: unknown): boolean {
  return (error as { cause?: { code?: unknown } } | null)?.cause?.code === '3D000';
}

/**
 * Connects with libpq's sslmode semantics (retrying without TLS for allow/prefer/unset when the
 * server refuses it), like the inspector does.
 * @throws ConnectionError with the classified message; its `cause` keeps the driver's error.
 */
export async function openTarget(conn: Connection): Promise<TargetDb> {
  let client: pg.Client;
  try {
    client = await connectClient(conn);
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    throw new ConnectionError(
      error.message.replace('Check the database name in the connection inputs', 'Check the target database name'),
      { cause: error.cause },
    );
  }
  return {
    async query<T extends Record<string, unknown>>(sql: string, values?: unknown[]) {
      const result = await client.query<T>(values === undefined ? sql : { text: sql, values });
      return { rows: result.rows, fieldCount: result.fields?.length ?? 0 };
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

/** `DROP DATABASE IF EXISTS`, with `WITH (FORCE)` from PostgreSQL 13 on (ends leftover sessions). */
export function dropDatabaseSql(database: string, versionNum: number): string {
  return `DROP DATABASE IF EXISTS ${quoteIdent(database)}${versionNum >= 130000 ? ' WITH (FORCE)' : ''}`;
}

/**
 * Drops `target.database` through the maintenance database (a drill's scratch database, or one a
 * failed restore created). Never throws.
 * @returns undefined once dropped, else why it could not be.
 */
export async function dropDatabase(deps: RestoreDeps, target: Connection): Promise<string | undefined> {
  try {
    await withMaintenance(deps, target, (db, versionNum) => db.query(dropDatabaseSql(target.database, versionNum)));
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/** `"name"` with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Runs `fn` on a maintenance connection (database `postgres`, else `template1`) of the target's
 * server with the target's credentials: for CREATE/DROP DATABASE.
 */
export async function withMaintenance<T>(
  deps: RestoreDeps,
  target: Connection,
  fn: (db: TargetDb, serverVersionNum: number) => Promise<T>,
): Promise<T> {
  const connect = deps.connectTarget ?? openTarget;
  let db: TargetDb;
  try {
    db = await connect({ ...target, database: 'postgres' });
  } catch (error) {
    if (!isMissingDatabase(error)) throw error;
    db = await connect({ ...target, database: 'template1' });
  }
  try {
    const { rows } = await db.query<{ num: string }>(`SELECT current_setting('server_version_num') AS num`);
    return await fn(db, Number(rows[0]?.num));
  } finally {
    await db.close();
  }
}

/** SQL: user tables (plain and partitioned, extension members excluded) of the current database. */
const USER_TABLE_COUNT_SQL = `
  SELECT count(*)::int AS n FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/** Number of user tables in the target database. */
export async function userTableCount(deps: RestoreDeps, target: Connection): Promise<number> {
  const db = await (deps.connectTarget ?? openTarget)(target);
  try {
    const { rows } = await db.query<{ n: number }>(USER_TABLE_COUNT_SQL);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await db.close();
  }
}

/**
 * Constraints of partitions that are attached to a partitioned table's primary key, unique or
 * exclusion constraint (`conparentid <> 0`, PostgreSQL 11+), as `schema.table.constraint`:
 * `pg_restore --clean` emits a DROP for each and fails on them.
 */
export async function inheritedIndexConstraints(deps: RestoreDeps, target: Connection): Promise<string[]> {
  const db = await (deps.connectTarget ?? openTarget)(target);
  try {
    const { rows: version } = await db.query<{ num: string }>(`SELECT current_setting('server_version_num') AS num`);
    if (Number(version[0]?.num) < 110000) return [];
    const { rows } = await db.query<{ name: string }>(
      `SELECT n.nspname || '.' || c.relname || '.' || k.conname AS name FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE k.conparentid <> 0 AND k.contype IN ('p', 'u', 'x') ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  } finally {
    await db.close();
  }
}

/** The message when a non-empty target is used without `confirm`. */
export function confirmMessage(target: Connection, tables: number, command: 'restore' | 'drill'): string {
  const name = target.database;
  return command === 'restore'
    ? `the target database '${name}' on ${target.host}:${target.port} already has ${tables} user table(s); nothing was touched. To restore into it anyway set confirm: ${name} (with clean: true to drop the archive's objects first), or restore into a new database with create-database: true.`
    : `the scratch database '${name}' on ${target.host}:${target.port} already has ${tables} user table(s); nothing was touched. A drill drops and recreates it: set confirm: ${name} if that is what you want, or use a new name (it is created).`;
}

// ---------------------------------------------------------------------------------------------
// Shared steps

/** The chosen backup: its store, catalog entry and manifest. */
export interface ChosenBackup {
  store: ObjectStore;
  entry: BackupEntry;
  manifest: Manifest;
}

/**
 * Lists the first destination, picks the backup and reads its manifest.
 * @throws BackupNotFoundError, or the store's error when listing fails.
 */
export async function chooseBackup(
  source: { database: string; destinations: Destination[]; s3: S3Settings },
  selector: BackupSelector,
  deps: RestoreDeps,
): Promise<ChosenBackup> {
  const destination = source.destinations[0];
  if (!destination)
    throw new ConfigError(
      'destination',
      'required; set where the backups are, e.g. s3://bucket/prefix or file:///absolute/folder.',
    );
  if (source.destinations.length > 1) deps.log.info(`Reading backups from the first destination, ${destination.url}.`);
  const store = deps.createStore(destination, source.s3);
  const catalog = await readCatalog(store, source.database);
  const entry = selectBackup(catalog, selector, { database: source.database, url: destination.url });
  const skipped = skippedWarning(skippedForLatest(catalog, selector, entry), entry, destination.url);
  if (skipped) deps.log.warning(skipped);
  const manifest = await readManifest(store, entry);
  if (manifest.archive.key !== entry.key) {
    deps.log.warning(
      `The manifest names the archive ${manifest.archive.key} but it lies at ${entry.key} (copied or moved?); using ${entry.key} with the manifest's size and SHA-256.`,
    );
  }
  if (entry.size !== manifest.archive.bytes) {
    deps.log.warning(
      `The listing says ${entry.key} is ${entry.size} bytes but the manifest records ${manifest.archive.bytes}: the restore will stop at the digest check.`,
    );
  }
  deps.log.info(
    `Backup ${entry.key} (${destination.url}): ${manifest.format} format, ${formatBytes(manifest.archive.bytes)}, taken ${manifest.startedAt} from PostgreSQL ${manifest.server.version} by pg_dump ${manifest.client.pgDumpVersion}.`,
  );
  return { store, entry, manifest };
}

/**
 * pg_restore and psql of the archive's pg_dump major or newer (an older pg_restore refuses a newer
 * archive: "unsupported version … in file header").
 * @throws ClientInstallError.
 */
export async function restoreClient(
  deps: RestoreDeps,
  manifest: Manifest,
): Promise<{ binDir: string; version: string; major: number }> {
  const wanted = manifest.client.major;
  const found = await deps.ensureClient(wanted);
  if (found.warning) deps.log.warning(found.warning.replace(/pg_dump/g, 'pg_restore'));
  if (found.pgDump.major < wanted) {
    throw new ClientInstallError(
      `The archive was written by pg_dump ${manifest.client.pgDumpVersion}; pg_restore ${found.pgDump.version} (${found.binDir}) cannot read it. Install postgresql-client-${wanted} (or newer), or set client-version to ${wanted} or more.`,
    );
  }
  deps.log.info(
    `Using pg_restore/psql ${found.pgDump.version} (${found.binDir}) for an archive of pg_dump ${manifest.client.pgDumpVersion}.`,
  );
  return { binDir: found.binDir, version: found.pgDump.version, major: found.pgDump.major };
}

/** True when the backup is encrypted (the manifest says so, or the key ends in `.gpg`). */
export function isEncrypted(manifest: Manifest, key: string): boolean {
  return Boolean(manifest.encryption) || key.endsWith(ENCRYPTED_SUFFIX);
}

/**
 * A factory of fresh decrypting stages for an encrypted backup (undefined when it is not
 * encrypted): `deps.decrypt` when given, else OpenPGP with `decryption`. Call it right after
 * choosing the backup, so a missing or wrong key fails before the target is touched.
 * @throws ConfigError('decryption-private-key' or 'decryption-passphrase') when the backup is
 *   encrypted and no decryption is configured, or the manifest shows it cannot open the archive
 *   ({@link decryptionMismatch}: wrong mode, or a private key that is none of the recipients).
 */
export async function decrypterFor(
  chosen: ChosenBackup,
  decryption: DecryptionConfig | undefined,
  deps: RestoreDeps,
): Promise<(() => Duplex) | undefined> {
  const { manifest, entry } = chosen;
  if (!isEncrypted(manifest, entry.key)) return undefined;
  const passphrase = manifest.encryption?.mode === 'passphrase';
  const input = passphrase ? 'decryption-passphrase' : 'decryption-private-key';
  const override = deps.decrypt;
  if (override) {
    return () => {
      const stage = override(manifest);
      if (!stage)
        throw new ConfigError(input, `the backup ${entry.key} is encrypted and no decryption stage was given for it.`);
      return stage;
    };
  }
  if (!decryption) {
    const recipients = manifest.encryption?.recipients.length ? `: ${manifest.encryption.recipients.join(', ')}` : '';
    const how = passphrase
      ? 'decryption-passphrase (the encryption-passphrase of the backup)'
      : `decryption-private-key (the private key of one of the recipients${recipients})`;
    throw new ConfigError(
      input,
      `the backup ${entry.key} is encrypted (OpenPGP${manifest.encryption ? `, ${manifest.encryption.mode}` : ''}); set ${how} from a secret to restore it.`,
    );
  }
  const mismatch = manifest.encryption ? decryptionMismatch(manifest.encryption, decryption) : undefined;
  if (mismatch)
    throw new ConfigError(
      decryption.mode === 'passphrase' ? 'decryption-passphrase' : 'decryption-private-key',
      `${mismatch} Nothing was touched.`,
    );
  // OpenPGP.js is loaded only for encrypted backups.
  const { createDecryptStage } = await import('../crypto/decrypt.js');
  return () => createDecryptStage(decryption);
}

/**
 * The globals file of the backup, for `restore-globals`.
 * @throws ConfigError('restore-globals') when the backup was taken without globals.
 */
export function requireGlobals(chosen: ChosenBackup): NonNullable<Manifest['globals']> {
  const globals = chosen.manifest.globals;
  if (!globals) {
    throw new ConfigError(
      'restore-globals',
      `the backup ${chosen.entry.key} has no globals file (it was taken with globals: false); set restore-globals: false, or choose a backup taken with globals: true.`,
    );
  }
  return globals;
}

/** Applies globals (when asked) then streams the archive into `target` (decrypting with `decrypter`). */
export async function restoreChosen(
  chosen: ChosenBackup,
  target: Connection,
  options: PgRestoreOptions & { restoreGlobals: boolean },
  client: { binDir: string },
  deps: RestoreDeps,
  decrypter: (() => Duplex) | undefined,
): Promise<StreamOutcome & { globalsApplied: boolean }> {
  const { log } = deps;
  const { manifest, entry, store } = chosen;
  if (decrypter)
    log.info(
      `${entry.key} is encrypted (OpenPGP${manifest.encryption ? `, ${manifest.encryption.mode}` : ''}): decrypting after the digest check.`,
    );
  let globalsApplied = false;
  if (options.restoreGlobals) {
    const globals = requireGlobals(chosen);
    await log.group('Globals', async () => {
      const applied = await applyGlobals({
        store,
        key: globalsKey(entry.key),
        expected: { bytes: globals.bytes, sha256: globals.sha256 },
        binDir: client.binDir,
        target,
        log,
        ...(decrypter ? { decrypt: decrypter() } : {}),
      });
      log.info(`Applied the globals (${applied.roles} role(s); existing roles kept and altered).`);
    });
    globalsApplied = true;
  }
  const compressors = await deps.detectCompressors();
  const outcome = await log.group('Download and restore', () =>
    streamRestore({
      store,
      key: entry.key,
      expected: { bytes: manifest.archive.bytes, sha256: manifest.archive.sha256 },
      format: manifest.format,
      binDir: client.binDir,
      target,
      options,
      compressors,
      tempDir: deps.tempDir,
      log,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(decrypter ? { decrypt: decrypter } : {}),
    }),
  );
  return { ...outcome, globalsApplied };
}

// ---------------------------------------------------------------------------------------------
// restore

/**
 * `command: restore`. Steps: choose the backup and read its manifest; check what can be refused
 * without touching the target (decryption key, globals file, pg_restore of the archive's major or
 * newer); check the target (create it when missing and `createDatabase`; refuse a database with
 * user tables unless `confirm` equals its name — nothing is touched then); apply the globals when
 * asked; stream, verify and restore.
 *
 * @throws BackupNotFoundError (no such backup / manifest), ConfigError ('confirm',
 *   'create-database', 'restore-globals'), ConnectionError, ClientInstallError,
 *   CorruptArchiveError (SHA-256/size mismatch, naming the key), RestoreError (pg_restore/psql
 *   stopped at the first error, classified).
 */
export async function runRestore(options: RestoreConfig, deps: RestoreDeps): Promise<RestoreResult> {
  const { log } = deps;
  const target = options.target;
  const chosen = await log.group('Select backup', () => chooseBackup(options, options.backup, deps));
  // Everything that can be refused without touching the target is checked first.
  const decrypter = await decrypterFor(chosen, options.decryption, deps);
  if (options.restoreGlobals) requireGlobals(chosen);
  const client = await log.group('PostgreSQL client', () => restoreClient(deps, chosen.manifest));

  const createdDatabase = await log.group('Target database', async () => {
    const created = await withMaintenance(deps, target, async (db) => {
      const { rows } = await db.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [target.database]);
      if (rows.length > 0) return false;
      if (!options.createDatabase) {
        throw new ConfigError(
          'create-database',
          `the target database '${target.database}' does not exist on ${target.host}:${target.port}; set create-database: true to create it, or create it in an earlier step.`,
        );
      }
      await db.query(`CREATE DATABASE ${quoteIdent(target.database)} TEMPLATE template0`);
      log.info(`Created database '${target.database}' on ${target.host}:${target.port}.`);
      return true;
    });
    if (!created) {
      const tables = await userTableCount(deps, target);
      if (tables > 0 && options.confirm !== target.database)
        throw new ConfigError('confirm', confirmMessage(target, tables, 'restore'));
      if (tables > 0 && options.clean) {
        const inherited = await inheritedIndexConstraints(deps, target);
        if (inherited.length > 0) {
          throw new ConfigError(
            'clean',
            `the target database '${target.database}' has partitions whose primary key, unique or exclusion constraints belong to their partitioned table (${inherited.slice(0, 3).join(', ')}${inherited.length > 3 ? ', …' : ''}); pg_restore --clean drops those one by one and stops at "cannot drop inherited constraint" after dropping other objects. Nothing was touched. Drop and recreate the target database in an earlier step and restore without clean, or restore into a new database (create-database: true).`,
          );
        }
      }
      log.info(
        tables > 0
          ? `Restoring into '${target.database}', which has ${tables} user table(s) (confirmed${options.clean ? "; clean: the archive's objects are dropped first" : ''}).`
          : `Restoring into the existing, empty database '${target.database}'.`,
      );
    }
    return created;
  });

  const started = deps.now();
  const outcome = await restoreChosen(chosen, target, options, client, deps, decrypter).catch(
    async (error: unknown) => {
      // A half-restored database that this run created would make the retry refuse it (user tables
      // without confirm): drop it, so that the same step can simply run again.
      if (createdDatabase) {
        const failed = await dropDatabase(deps, target);
        if (failed) {
          log.warning(
            `The restore failed, and '${target.database}', which this run had created, could not be dropped: ${failed}. Drop it by hand before retrying with create-database: true.`,
          );
        } else {
          log.info(
            `The restore failed: dropped '${target.database}', which this run had created, so that a retry starts from a new database.`,
          );
        }
      }
      throw error;
    },
  );
  const restoreSeconds = round3((deps.now().getTime() - started.getTime()) / 1000);
  log.info(`Restored ${chosen.entry.key} into '${target.database}' in ${restoreSeconds} s.`);
  return {
    key: chosen.entry.key,
    url: chosen.store.destination.url,
    manifest: chosen.manifest,
    target: { host: target.host, port: target.port, database: target.database },
    createdDatabase,
    globalsApplied: outcome.globalsApplied,
    restoreSeconds,
    throughput: outcome.bytes / Math.max(restoreSeconds, 0.001),
    mode: outcome.mode,
    pgRestoreVersion: client.version,
  };
}

/** Step outputs of `command: restore` (names as in action.yml). */
export function restoreOutputs(result: RestoreResult): Record<string, string> {
  return { 'restored-key': result.key, 'restore-seconds': String(result.restoreSeconds) };
}

/** Markdown for the job summary of a restore. */
export function restoreSummary(result: RestoreResult): string {
  const m = result.manifest;
  const rows: [string, string][] = [
    ['Backup', `\`${result.key}\` (${result.url})`],
    ['Taken', `${m.startedAt} from PostgreSQL ${m.server.version}`],
    [
      'Restored into',
      `\`${result.target.database}\` on ${result.target.host}:${result.target.port}${result.createdDatabase ? ' (created)' : ''}`,
    ],
    ['Format', `${m.format} via ${result.mode}`],
    ['Archive size', `${formatBytes(m.archive.bytes)} (${m.archive.bytes} bytes), SHA-256 verified`],
    ['Restore time', `${result.restoreSeconds} s (${formatBytes(result.throughput)}/s)`],
    ['Globals', result.globalsApplied ? 'applied' : 'not applied'],
    ['pg_restore', result.pgRestoreVersion],
  ];
  return `## PostgreSQL restore: ${m.database}\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
}
