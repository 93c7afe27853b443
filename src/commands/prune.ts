/**
 * `command: prune` and the prune that follows a backup: for each destination, read the catalog of
 * the database's backups, plan retention, delete (unless a dry run), and log what was kept and why.
 */
import { ConfigError, errorMessage } from '../errors.js';
import { pruneResult, type PruneResult } from '../report/retention-report.js';
import type { RetentionOptions } from '../retention/options.js';
import { PRUNE_NEEDS_POLICY } from '../config/retention.js';
import type { PruneConfig } from '../config/types.js';
import { describePolicy } from '../retention/policy.js';
import { keysToKeep, pruneDestination, type DestinationPrune } from '../retention/prune-destination.js';
import type { BackupResult } from '../report/backup-report.js';
import { recomputeHook } from './anomaly.js';

/** Everything runPrune and runList need (no database connection: backups are found by name). */
export type RetentionCommandOptions = RetentionOptions;

/** The I/O of prune and list. */
export type RetentionDeps = Pick<RetentionOptions, 'log' | 'createStore' | 'now'>;

/**
 * `command: prune`: for each destination, catalog → plan → execute, logging a kept/deleted table.
 *
 * Never throws for storage problems: a destination that cannot be listed gets `ok: false` and an
 * `error`, a failed delete ends in `execution.failed`; both are logged as warnings and collected in
 * `warnings` (the caller decides whether `command: prune` fails on them).
 */
export async function runPrune(config: PruneConfig, deps: RetentionDeps): Promise<PruneResult> {
  const { destinations, s3, database, policy, dryRun } = config;
  const anomalous = config.anomaly ? { anomalous: recomputeHook(config.anomaly, deps.log) } : {};
  return prune({ destinations, s3, database, policy, dryRun, ...anomalous, ...deps });
}

/**
 * {@link runPrune} of `options`, also the prune after a backup (with `mustKeep`).
 * @throws ConfigError('command', …) when `policy` is undefined: prune needs a policy (checked before any I/O).
 */
async function prune(options: RetentionCommandOptions): Promise<PruneResult> {
  const { log, policy } = options;
  if (!policy) {
    throw new ConfigError('command', PRUNE_NEEDS_POLICY);
  }
  const outcomes: DestinationPrune[] = [];
  for (const destination of options.destinations) {
    const title = `Retention ${options.dryRun ? '(dry run) ' : ''}${destination.url}: ${describePolicy(policy)}`;
    outcomes.push(await log.group(title, () => pruneDestination(destination, policy, options)));
  }
  return pruneResult({ database: options.database, policy, dryRun: options.dryRun }, outcomes);
}

/**
 * The prune that follows a successful backup: prunes only the destinations where the backup was
 * stored and verified (`ok`), never deleting the new archive (its key is `mustKeep` there).
 *
 * Never throws: any failure (even a ConfigError for a missing policy) becomes a warning in the
 * result, so a prune problem never fails a good backup. Call it after runBackup resolved; for a
 * partial result (some destinations failed) pass the destinations that succeeded.
 */
export async function pruneAfterBackup(
  backup: Pick<BackupResult, 'destinations'>,
  options: Omit<RetentionCommandOptions, 'mustKeep'>,
): Promise<PruneResult> {
  const good = keysToKeep(backup.destinations);
  const destinations = options.destinations.filter((d) => good.has(d.url));
  try {
    return await prune({ ...options, destinations, mustKeep: Object.fromEntries(good) });
  } catch (error) {
    const message = `Retention skipped after the backup: ${errorMessage(error)}`;
    options.log.warning(message);
    const skipped = pruneResult(
      { database: options.database, policy: options.policy ?? { labels: [] }, dryRun: options.dryRun },
      [],
    );
    return { ...skipped, warnings: [message] };
  }
}
