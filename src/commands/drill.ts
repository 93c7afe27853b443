/**
 * `command: drill`: "a backup that was never restored is not a backup". Restores the chosen backup
 * into a scratch database and verifies it against the manifest (see restore/verify.ts), then drops
 * the scratch database (`drop-after`). Reports every check in the log and the job summary.
 */
import { ConfigError } from '../errors.js';
import { drillFiles } from './files-restore.js';
import { round3 } from '../format.js';
import { drillFailure, provenLine, type DrillResult } from '../report/drill-report.js';
import {
  chooseBackup,
  decrypterFor,
  requireGlobals,
  restoreChosen,
  restoreClient,
  type ChosenBackup,
} from '../restore/archive.js';
import type { RestoreDeps } from '../restore/deps.js';
import type { DrillConfig } from '../config/types.js';
import { propertySteps } from '../restore/database-properties.js';
import { verifyRestored } from '../restore/restored-state.js';
import { recreateScratch, withSerialRetry } from '../restore/retry.js';
import { checkTargetServer } from '../restore/cross-major.js';
import { dropScratch, prepareScratch } from '../restore/target.js';

/**
 * `command: drill`. Steps: choose the backup; check the decryption key, globals file and
 * pg_restore; prepare the scratch database (create it when missing;
 * when it exists with user tables, refuse unless `confirm` equals its name, then drop and recreate
 * it); restore it as `restore` does (digest verified while streaming, first error stops); verify;
 * drop the scratch database when `dropAfter` (also after a failure). A backup with a files part
 * adds the `files` category (commands/files-restore.ts: extracted into a scratch folder and
 * compared with the manifest's listing).
 *
 * @throws DrillError (a check failed; `result` has them all), ConfigError ('confirm', a data-only
 *   archive), and the errors of restore (BackupNotFoundError, ConnectionError, ClientInstallError,
 *   CorruptArchiveError, RestoreError).
 */
export async function runDrill(options: DrillConfig, deps: RestoreDeps): Promise<DrillResult> {
  const { log } = deps;
  const target = options.target;
  const chosen = await log.group('Select backup', () => chooseBackup(options, options.backup, deps));
  const { manifest, entry } = chosen;
  const decrypter = await decrypterFor(chosen, options.decryption, deps);
  if (options.restoreGlobals) requireGlobals(chosen);
  requireSchema(chosen);

  const client = await log.group('PostgreSQL client', () => restoreClient(deps, manifest));
  const server = await log.group('Target server', () => checkTargetServer(deps, target, manifest, client));

  const properties = propertySteps(deps, target, manifest.databaseProperties, options);
  let created = false;
  let prepared = false;
  // Set once the drop was attempted, so that a failed drop is not tried (and warned about) twice.
  let dropTried = false;
  try {
    await log.group('Scratch database', async () => {
      created = await prepareScratch(deps, target, options.confirm, (db) => properties.create(db));
      prepared = true;
    });
    const started = deps.now();
    const pgRestore = {
      clean: false,
      jobs: options.jobs,
      noOwner: options.noOwner,
      noPrivileges: options.noPrivileges,
      restoreGlobals: options.restoreGlobals,
    };
    // The scratch database is the drill's own: a parallel restore that pg_restore ordered wrongly is
    // retried serially in a recreated one.
    const recreateWithProperties = async (): Promise<void> => {
      await recreateScratch(deps, target, (db) => properties.create(db));
      created = true;
    };
    const retry = { jobs: options.jobs, recreate: recreateWithProperties, log, signal: deps.signal };
    const outcome = await withSerialRetry(retry, (jobs) =>
      restoreChosen(
        { chosen, target, options: { ...pgRestore, jobs, noStatistics: server.noStatistics }, client, decrypter },
        deps,
      ),
    );
    const missingRoles = created ? await properties.finish() : [];
    const restored = deps.now();
    const files = await drillFiles(chosen, decrypter, deps);
    const verdict = await log.group('Verify', async () => {
      const own = await properties.checks(created, missingRoles);
      const category = { name: 'database properties', checks: own, proven: `${own.length} database properties` };
      return verifyRestored(deps, target, manifest, options.drillSql, [category, ...(files ? [files] : [])]);
    });
    const verified = deps.now();
    const restoreSeconds = round3((verified.getTime() - started.getTime()) / 1000);
    const downloadSeconds = (restored.getTime() - started.getTime()) / 1000;
    const result: DrillResult = {
      key: entry.key,
      url: chosen.store.destination.url,
      manifest,
      target: { host: target.host, port: target.port, database: target.database },
      checks: verdict.checks,
      categories: verdict.categories,
      skipped: verdict.skipped,
      passed: verdict.passed,
      restoreSeconds,
      verifySeconds: round3((verified.getTime() - restored.getTime()) / 1000),
      archiveBytes: outcome.bytes,
      throughput: outcome.bytes / Math.max(downloadSeconds, 0.001),
      mode: outcome.mode,
      pgRestoreVersion: client.version,
      dropped: false,
    };
    if (options.dropAfter) {
      dropTried = true;
      result.dropped = await dropScratch(deps, target);
    }
    const failure = drillFailure(result);
    if (failure) throw failure;
    log.info(
      `Drill passed: ${result.checks.length} checks, RTO ${restoreSeconds} s. ${provenLine(verdict.categories)}`,
    );
    return result;
  } finally {
    if (prepared && options.dropAfter && !dropTried) await dropScratch(deps, target);
  }
}

/**
 * @throws ConfigError('backup-key') for a data-only backup: it holds no tables to restore into a
 *   scratch database.
 */
function requireSchema({ manifest, entry }: ChosenBackup): void {
  if (manifest.options.dataOnly) {
    throw new ConfigError(
      'backup-key',
      `the backup ${entry.key} is data-only (data-only: true): it holds no tables to restore into a scratch database, so it cannot be drilled. Drill a backup with the schema.`,
    );
  }
}
