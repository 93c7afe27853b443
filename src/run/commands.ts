/**
 * Each command as the runner runs it: the command itself (src/commands/), then its step outputs and
 * job summary, and the error that fails the run when the command's result says so.
 */
import { runBackup } from '../commands/backup.js';
import { anomalyRecorder, assessWithoutPrune } from '../commands/anomaly.js';
import { runCheck } from '../commands/check.js';
import { runDrill } from '../commands/drill.js';
import { runList } from '../commands/list.js';
import { pruneAfterBackup, runPrune } from '../commands/prune.js';
import { runRestore } from '../commands/restore.js';
import type {
  BackupConfig,
  CheckConfig,
  Config,
  DrillConfig,
  ListConfig,
  PruneConfig,
  RestoreConfig,
} from '../config/types.js';
import { PruneError } from '../errors.js';
import { redact } from '../redact.js';
import {
  AnomalyError,
  anomalySummary,
  backupOutputs,
  backupSummary,
  PartialBackupError,
} from '../report/backup-report.js';
import { CheckError, checkOutputs, checkSummary } from '../report/check-report.js';
import { DrillError, drillOutputs, drillSummary } from '../report/drill-report.js';
import { restoreOutputs, restoreSummary } from '../report/restore-report.js';
import { listOutputs, listSummary, pruneOutputs, pruneSummary } from '../report/retention-report.js';
import { describeAnomalies } from '../retention/anomaly.js';
import { createStore } from '../storage/index.js';
import { realDeps, restoreDeps, retentionDeps } from './deps.js';
import type { CommandOutcome, RunContext } from './context.js';
import { runDatabases, runWithBackupsJson } from './databases.js';

export type { CommandOutcome, RunContext } from './context.js';

/**
 * Runs the config's command, then sets its outputs and writes its job summary: for each database
 * when the config names several (run/databases.ts).
 */
export async function runCommand(config: Config, context: RunContext): Promise<CommandOutcome> {
  const { databases } = config;
  if (databases) return runDatabases({ ...config, databases }, context, runOne);
  if (config.command === 'backup') return runWithBackupsJson(config, context, runOne);
  return runOne(config, context);
}

/** One database's command. */
async function runOne(config: Config, context: RunContext): Promise<CommandOutcome> {
  switch (config.command) {
    case 'backup':
      return backup(config, context);
    case 'prune':
      await prune(config, context);
      return {};
    case 'list':
      await list(config, context);
      return {};
    case 'restore':
      await restore(config, context);
      return {};
    case 'drill':
      await drill(config, context);
      return {};
    case 'check':
      await check(config, context);
      return {};
  }
}

/** `restore`: into the target database. */
async function restore(config: RestoreConfig, context: RunContext): Promise<void> {
  const result = await runRestore(config, restoreDeps(config, context.signal, context.host.log, context.host));
  await publish(config, context, restoreOutputs(result), restoreSummary(result));
}

/** `backup`, then retention on the destinations that stored it. */
export async function backup(config: BackupConfig, context: RunContext): Promise<CommandOutcome> {
  // Some destinations failed, others stored the backup: those get their outputs, summary rows
  // and retention, and the run still fails (with the error naming the failed ones) below.
  let partial: PartialBackupError | undefined;
  const deps = realDeps(config, context.signal, context.host.log, context.host, context.probes);
  const result = await runBackup(config, deps).catch((error: unknown) => {
    if (!(error instanceof PartialBackupError)) throw error;
    partial = error;
    return error.result;
  });
  context.host.setOutputs(backupOutputs(result));
  let summary = backupSummary(result);
  const { policy, prune: pruneAfter, dryRun } = config.retention;
  const recorder = anomalyRecorder(result, config.anomaly, context.host.log);
  if (policy && pruneAfter) {
    // A prune failure warns (inside pruneAfterBackup); the verified backup stands.
    // pruneAfterBackup prunes only the destinations that stored and verified the new backup.
    const { destinations, s3, database } = config;
    const pruned = await pruneAfterBackup(result, {
      destinations,
      s3,
      database,
      policy,
      dryRun,
      anomalous: (store, catalog) => recorder.hook(store, catalog),
      ...retentionDeps(context.host.log),
    });
    context.host.setOutputs(pruneOutputs(pruned));
    summary += `\n${pruneSummary(pruned)}`;
  }
  const assessment =
    recorder.assessments[0] ??
    (await assessWithoutPrune(result, { ...config, policy: config.anomaly }, { createStore, log: context.host.log }));
  if (assessment) summary = summary.replace(/\n?$/, '\n') + anomalySummary(assessment, config.anomaly.mode);
  if (config.summary) await context.host.writeSummary(redact(summary, context.secrets));
  if (partial) throw partial;
  if (assessment && assessment.findings.anomalies.length > 0 && config.anomaly.mode === 'fail')
    throw new AnomalyError(
      `The backup ${assessment.key} was stored and verified but is anomalous against ${assessment.previousKey ?? 'the previous backup'} (anomaly: fail): ${describeAnomalies(assessment.findings.anomalies)}. Find out why the data went; the previous backup is kept until a later normal backup. Set anomaly: warn to only warn, or raise max-row-drop.`,
    );
  return { backupKey: result.manifest.archive.key };
}

/** `prune`: fails when a destination could not be listed or a delete failed. */
export async function prune(config: PruneConfig, context: RunContext): Promise<void> {
  const result = await runPrune(config, retentionDeps(context.host.log));
  await publish(config, context, pruneOutputs(result), pruneSummary(result));
  const failed = result.destinations.filter((d) => !d.ok || (d.execution?.failed.length ?? 0) > 0);
  if (failed.length > 0) {
    throw new PruneError(
      `Pruning failed in ${failed.map((d) => d.url).join(', ')}: ${failed.map((d) => d.error ?? d.execution?.failed.map((f) => `${f.key}: ${f.message}`).join('; ')).join('; ')}. Nothing else was deleted; the keys named are left in place.`,
    );
  }
}

/** `list`: fails when a destination could not be listed. */
export async function list(config: ListConfig, context: RunContext): Promise<void> {
  const result = await runList(config, retentionDeps(context.host.log));
  await publish(config, context, listOutputs(result), listSummary(result));
  const failed = result.destinations.filter((d) => d.error);
  if (failed.length > 0)
    throw new PruneError(`Listing failed: ${failed.map((d) => `${d.url}: ${d.error}`).join('; ')}`);
}

/** `drill`: a failed drill still publishes its table of checks; any other failure says drill-passed=false. */
export async function drill(config: DrillConfig, context: RunContext): Promise<void> {
  try {
    const result = await runDrill(config, restoreDeps(config, context.signal, context.host.log, context.host));
    await publish(config, context, drillOutputs(result), drillSummary(result));
  } catch (error) {
    if (error instanceof DrillError)
      await publish(config, context, drillOutputs(error.result), drillSummary(error.result));
    else context.host.setOutputs({ 'drill-passed': 'false' });
    throw error;
  }
}

/** `check`: a failed check still publishes its outputs and summary. */
export async function check(config: CheckConfig, context: RunContext): Promise<void> {
  try {
    const result = await runCheck(config, { log: context.host.log, createStore, now: () => new Date() });
    await publish(config, context, checkOutputs(result), checkSummary(result));
  } catch (error) {
    if (error instanceof CheckError)
      await publish(config, context, checkOutputs(error.result), checkSummary(error.result));
    throw error;
  }
}

/**
 * Sets the step's outputs, and writes the job summary when `summary` is on. The job summary is a
 * file the runner does not mask, so it is redacted with the run's secrets (a URL pasted into
 * `database` would otherwise reach it). Step outputs are left as they are: later steps read them as
 * data (a key holding a short password's text must stay usable).
 */
async function publish(
  config: Config,
  context: RunContext,
  outputs: Record<string, string>,
  summary: string,
): Promise<void> {
  context.host.setOutputs(outputs);
  if (config.summary) await context.host.writeSummary(redact(summary, context.secrets));
}
