/**
 * `command: restore`: the chosen backup (default: the newest complete one) of the `database`
 * input's database, from the first `destination`, streamed into the target database and verified
 * against its manifest on the way. Needs no connection to the source database.
 */
import { ConfigError } from '../errors.js';
import { filesPlan, restoreFiles, restoreFilesOnly } from './files-restore.js';
import type { RestoreResult } from '../report/restore-report.js';
import { round3 } from '../format.js';
import { chooseBackup, decrypterFor, requireGlobals, restoreChosen, restoreClient } from '../restore/archive.js';
import type { RestoreDeps } from '../restore/deps.js';
import { RestoreError } from '../restore/errors.js';
import type { RestoreConfig } from '../config/types.js';
import { propertySteps, type PropertySteps } from '../restore/database-properties.js';
import { withSerialRetry } from '../restore/retry.js';
import { checkTargetServer } from '../restore/cross-major.js';
import {
  confirmMessage,
  overwriteConfirmed,
  dropDatabase,
  inheritedIndexConstraints,
  userTableCount,
  withMaintenance,
  type TargetAccess,
  type TargetDb,
} from '../restore/target.js';

/**
 * `command: restore`. Steps: choose the backup and read its manifest; check what can be refused
 * without touching the target (decryption key, globals file, pg_restore of the archive's major or
 * newer); check the target (create it when missing and `createDatabase`; refuse a database with
 * user tables unless `confirm` equals its name — nothing is touched then); apply the globals when
 * asked; stream, verify and restore. With `files` (`files-target`): the backup's files part and an
 * empty (or `files-overwrite`) folder are checked before the target is touched, and the files
 * archive is extracted after the database (commands/files-restore.ts); with `files-only`, only that.
 *
 * @throws BackupNotFoundError (no such backup / manifest), ConfigError ('confirm',
 *   'create-database', 'restore-globals', 'files-target'), UnsafeArchiveError (files), ConnectionError, ClientInstallError,
 *   CorruptArchiveError (SHA-256/size mismatch, naming the key), RestoreError (pg_restore/psql
 *   stopped at the first error, classified).
 */
export async function runRestore(options: RestoreConfig, deps: RestoreDeps): Promise<RestoreResult> {
  const { log } = deps;
  const target = options.target;
  const chosen = await log.group('Select backup', () => chooseBackup(options, options.backup, deps));
  // Everything that can be refused without touching the target is checked first.
  const files = options.files && (await filesPlan(chosen, options.files));
  const decrypter = await decrypterFor(chosen, options.decryption, deps);
  if (files?.only) return restoreFilesOnly(chosen, files, decrypter, deps);
  if (options.restoreGlobals) requireGlobals(chosen);
  const client = await log.group('PostgreSQL client', () => restoreClient(deps, chosen.manifest));
  const server = await log.group('Target server', () => checkTargetServer(deps, target, chosen.manifest, client));

  const properties = propertySteps(deps, target, chosen.manifest.databaseProperties, options);
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
      await createTarget(deps, target, db, properties);
      return true;
    });
    if (!created) {
      const tables = await userTableCount(deps, target);
      const question = `The database '${target.database}' on ${target.host}:${target.port} has ${tables} user table(s). Restore into it${options.clean ? " (dropping the archive's objects first)" : ''}?`;
      if (tables > 0 && !(await overwriteConfirmed(deps, target, options.confirm, question)))
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
  const recreate = createdDatabase ? () => recreateTarget(deps, target, properties) : undefined;
  const outcome = await withSerialRetry({ jobs: options.jobs, recreate, log, signal: deps.signal }, (jobs) =>
    restoreChosen(
      { chosen, target, options: { ...options, jobs, noStatistics: server.noStatistics }, client, decrypter },
      deps,
    ),
  ).catch(async (error: unknown) => {
    if (createdDatabase) await dropCreated(deps, target);
    throw error;
  });
  if (createdDatabase) await properties.finish();
  const databaseSeconds = round3((deps.now().getTime() - started.getTime()) / 1000);
  log.info(`Restored ${chosen.entry.key} into '${target.database}' in ${databaseSeconds} s.`);
  const restoredFiles = files && (await restoreFiles({ chosen, record: files.record, decrypter }, files, deps));
  const restoreSeconds = round3((deps.now().getTime() - started.getTime()) / 1000);
  return {
    key: chosen.entry.key,
    url: chosen.store.destination.url,
    manifest: chosen.manifest,
    target: { host: target.host, port: target.port, database: target.database },
    createdDatabase,
    globalsApplied: outcome.globalsApplied,
    restoreSeconds,
    throughput: outcome.bytes / Math.max(databaseSeconds, 0.001),
    mode: outcome.mode,
    pgRestoreVersion: client.version,
    ...(restoredFiles ? { files: restoredFiles } : {}),
  };
}

/** Creates the target database (the one place restore creates it: first and for a serial retry). */
async function createTarget(
  deps: TargetAccess & Pick<RestoreDeps, 'log'>,
  target: RestoreConfig['target'],
  db: TargetDb,
  properties: PropertySteps,
): Promise<void> {
  await properties.create(db);
  deps.log.info(`Created database '${target.database}' on ${target.host}:${target.port}.`);
}

/** Drops the database this run created and creates it again (before a serial retry). */
async function recreateTarget(
  deps: RestoreDeps,
  target: RestoreConfig['target'],
  properties: PropertySteps,
): Promise<void> {
  const failed = await dropDatabase(deps, target);
  if (failed) throw new RestoreError(`Dropping '${target.database}' before the serial retry failed: ${failed}`);
  await withMaintenance(deps, target, (db) => createTarget(deps, target, db, properties));
}

/**
 * After a failed restore, drops the database this run created: a half-restored one would make the
 * retry refuse it (user tables without confirm), so that the same step can simply run again.
 */
async function dropCreated(deps: RestoreDeps, target: RestoreConfig['target']): Promise<void> {
  const failed = await dropDatabase(deps, target);
  if (failed) {
    deps.log.warning(
      `The restore failed, and '${target.database}', which this run had created, could not be dropped: ${failed}. Drop it by hand before retrying with create-database: true.`,
    );
  } else {
    deps.log.info(
      `The restore failed: dropped '${target.database}', which this run had created, so that a retry starts from a new database.`,
    );
  }
}
