import { runBackup, type BackupDeps } from './commands/backup.js';
import type { Log } from './log.js';
import { INPUT_DEFAULTS, withDefaults } from './config/inputs.js';
import { secretsToMask, urlCredentialSecrets } from './config/mask.js';
import { inapplicableInputsWarning } from './config/applicability.js';
import { resolveConfig } from './config/parse.js';
import { encryptionSecrets } from './config/encryption.js';
import type {
  BackupConfig,
  CheckConfig,
  ClientConfig,
  Config,
  DrillConfig,
  InputReader,
  ListConfig,
  PruneConfig,
} from './config/types.js';
import { ActionError, PruneError, errorMessage } from './errors.js';
import { detectCompressors } from './pipeline/compression.js';
import { tmpdir } from 'node:os';
import { ensureClient, execRunner } from './postgres/client.js';
import type { Host } from './host.js';
import { processDumper } from './postgres/dumper.js';
import { detectStdbuf } from './postgres/stdbuf.js';
import { connectInspector } from './postgres/inspect.js';
import { listOutputs, listSummary, pruneOutputs, pruneSummary } from './report/retention-report.js';
import {
  AnomalyError,
  anomalySummary,
  backupOutputs,
  backupSummary,
  PartialBackupError,
} from './report/backup-report.js';
import { anomalyRecorder, assessWithoutPrune } from './commands/anomaly.js';
import { describeAnomalies } from './retention/anomaly.js';
import { runList } from './commands/list.js';
import { runCheck } from './commands/check.js';
import { CheckError, checkOutputs, checkSummary } from './report/check-report.js';
import { runDrill } from './commands/drill.js';
import { DrillError, drillOutputs, drillSummary } from './report/drill-report.js';
import { runRestore } from './commands/restore.js';
import type { RestoreDeps } from './restore/deps.js';
import { restoreOutputs, restoreSummary } from './report/restore-report.js';
import { restoreSecrets } from './config/restore.js';
import { pruneAfterBackup, runPrune, type RetentionDeps } from './commands/prune.js';
import { reportOutcome, type Outcome } from './report/failure-report.js';
import { failureSummary } from './report/failure-summary.js';
import { redact } from './redact.js';
import { parseReportingInputs, reportingSecrets } from './config/reporting.js';
import { heartbeatSecrets, parseHeartbeatInputs } from './config/heartbeat.js';
import { sendHeartbeat, type HeartbeatConfig, type HeartbeatOutcome } from './report/heartbeat.js';
import { wantsReport, type ReportingConfig } from './report/reporting-config.js';
import { keepSchedule } from './report/keepalive.js';
import { readCatalog } from './storage/catalog.js';
import { createStore } from './storage/index.js';
import { VERSION } from './version.js';

/** What a command hands back for the outcome report. */
interface CommandOutcome {
  backupKey?: string;
}

/** What every command's run shares: the host, the cancel signal, and the secrets redacted from the job summary. */
interface RunContext {
  host: Host;
  signal: AbortSignal;
  secrets: readonly string[];
}

/**
 * Runs one command as its host asks: masks every secret (host.setSecret), reads the inputs into one
 * validated config, runs the command, publishes its outputs and summary, reports the outcome
 * (failure issue, webhook), and on failure calls host.setFailed. The action (main.ts) and the CLI
 * (cli/) are the two hosts. Never throws.
 * @param read the raw inputs by action.yml name, as the host received them ('' when unset).
 * @returns the validated config when it could be read (the CLI shapes its output by command).
 */
export async function run(read: InputReader, host: Host): Promise<Config | undefined> {
  const inputs = withDefaults(read);
  const secrets = maskSecrets(read, inputs, host);
  const controller = new AbortController();
  const cancel = (signal: NodeJS.Signals): void => {
    host.log.warning(`Received ${signal}: stopping pg_dump and aborting uploads.`);
    controller.abort();
  };
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  let config: Config | undefined;
  // Reporting settings are read on their own too, so that a bad input elsewhere is still reported.
  let reporting: ReportingConfig | undefined;
  try {
    reporting = parseReportingInputs(inputs);
  } catch {
    // parseConfig below throws the same error with the input's name.
  }
  const beat = heartbeatSender(inputs, host, secrets);
  let note: string | undefined; // keepalive's, for the failure issue
  try {
    config = await readConfig(read, host);
    await beat({ event: 'start', command: config.command, database: config.database });
    note = await keepSchedule(config, host, { env: process.env, secrets });
    const outcome = await runCommand(config, { host, signal: controller.signal, secrets });
    await beat({ event: 'success', command: config.command, database: config.database, ...outcome });
    await reportOutcome(
      {
        ok: true,
        command: config.command,
        database: config.database,
        ...(outcome.backupKey ? { backupKey: outcome.backupKey } : {}),
      },
      { config: config.reporting, env: process.env, log: host.log, secrets },
    );
  } catch (error) {
    await reportFailure(error, { config, reporting, inputs, secrets, host, beat, note });
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  }
  return config;
}

/**
 * Registers with the host every form of every secret input, before any other work; returns them,
 * for redacting what the host does not mask (summary, issue, webhook).
 */
function maskSecrets(read: InputReader, inputs: InputReader, host: Host): string[] {
  const secrets = [
    ...secretsToMask(read),
    // A URL with credentials in any input (a database URL pasted into `host`, …) is masked too.
    ...urlCredentialSecrets(read, Object.keys(INPUT_DEFAULTS)),
    ...reportingSecrets(inputs),
    ...encryptionSecrets(inputs),
    ...restoreSecrets(inputs),
    ...heartbeatSecrets(inputs),
  ];
  for (const secret of secrets) host.setSecret(secret);
  return secrets;
}

/** The validated config, and a warning naming the inputs set that its command ignores. */
async function readConfig(read: InputReader, host: Host): Promise<Config> {
  const config = await resolveConfig(read);
  const unused = inapplicableInputsWarning(config.command, read);
  if (unused) host.log.warning(unused);
  return config;
}

/** What a failed run knows when it reports: the config if it was read, the raw inputs otherwise. */
interface FailureContext {
  config: Config | undefined;
  reporting: ReportingConfig | undefined;
  inputs: InputReader;
  secrets: readonly string[];
  host: Host;
  beat: (outcome: HeartbeatOutcome) => Promise<unknown>;
  note: string | undefined;
}

/**
 * The run's pings to its outside monitor (`heartbeat-url`), none when it is unset or bad (parseConfig
 * then fails the run naming it). Each call never throws and is bounded (report/heartbeat.ts).
 */
function heartbeatSender(inputs: InputReader, host: Host, secrets: readonly string[]) {
  let config: HeartbeatConfig | undefined;
  try {
    config = parseHeartbeatInputs(inputs);
  } catch {
    // parseConfig throws the same error with the input's name.
  }
  return (outcome: HeartbeatOutcome): Promise<unknown> => sendHeartbeat(config, outcome, { log: host.log, secrets });
}

/** Fails the step, then writes the failure summary and reports (issue, webhook). Never throws. */
async function reportFailure(
  error: unknown,
  { config, reporting, inputs, secrets, host, beat, note }: FailureContext,
): Promise<void> {
  // A message may quote an input that holds a secret (a URL pasted into the wrong input): the log,
  // the issue and the webhook get it redacted as the runner would mask it.
  const message = redact(errorMessage(error), secrets);
  const phase = error instanceof ActionError ? error.phase : 'unknown';
  if (!(error instanceof ActionError) && error instanceof Error && error.stack) host.debug(error.stack);
  host.setFailed(message, phase);
  const command = config?.command ?? inputs('command');
  await beat({ event: 'fail', command, database: config?.database ?? '', phase, error: message });
  // `summary: false` is honoured even when the config as a whole could not be read.
  const writeSummary = config ? config.summary : inputs('summary').trim().toLowerCase() !== 'false';
  // The listing is only worth its cost when a summary, an issue or a webhook will show the result.
  const newest =
    config && (writeSummary || (reporting && wantsReport(reporting))) ? await lastSuccess(config, host.log) : {};
  if (writeSummary) {
    try {
      const failed = {
        command,
        database: config?.database ?? '',
        phase,
        error: message,
        time: new Date(),
        ...newest,
      };
      await host.writeSummary(failureSummary(failed, secrets));
    } catch (summaryError) {
      // The step has failed with the original error already; a summary problem only warns.
      host.log.warning(`Could not write the job summary of the failure: ${errorMessage(summaryError)}`);
    }
  }
  if (reporting) {
    const failure: Outcome = {
      ok: false,
      command,
      database: config?.database ?? '',
      error: message,
      phase,
      ...(newest.lastSuccess ? { lastSuccess: { key: newest.lastSuccess.key, time: newest.lastSuccess.time } } : {}),
      ...(note ? { note } : {}),
    };
    await reportOutcome(failure, { config: reporting, env: process.env, log: host.log, secrets });
  }
}

/** Runs the config's command, then sets its outputs and writes its job summary. */
async function runCommand(config: Config, context: RunContext): Promise<CommandOutcome> {
  switch (config.command) {
    case 'backup':
      return backup(config, context);
    case 'prune':
      await prune(config, context);
      return {};
    case 'list':
      await list(config, context);
      return {};
    case 'restore': {
      const result = await runRestore(config, restoreDeps(config, context.signal, context.host.log, context.host));
      await publish(config, context, restoreOutputs(result), restoreSummary(result));
      return {};
    }
    case 'drill':
      await drill(config, context);
      return {};
    case 'check':
      await check(config, context);
      return {};
  }
}

/** `backup`, then retention on the destinations that stored it. */
async function backup(config: BackupConfig, context: RunContext): Promise<CommandOutcome> {
  // Some destinations failed, others stored the backup: those get their outputs, summary rows
  // and retention, and the run still fails (with the error naming the failed ones) below.
  let partial: PartialBackupError | undefined;
  const result = await runBackup(config, realDeps(config, context.signal, context.host.log, context.host)).catch(
    (error: unknown) => {
      if (!(error instanceof PartialBackupError)) throw error;
      partial = error;
      return error.result;
    },
  );
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
async function prune(config: PruneConfig, context: RunContext): Promise<void> {
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
async function list(config: ListConfig, context: RunContext): Promise<void> {
  const result = await runList(config, retentionDeps(context.host.log));
  await publish(config, context, listOutputs(result), listSummary(result));
  const failed = result.destinations.filter((d) => d.error);
  if (failed.length > 0)
    throw new PruneError(`Listing failed: ${failed.map((d) => `${d.url}: ${d.error}`).join('; ')}`);
}

/** `drill`: a failed drill still publishes its table of checks; any other failure says drill-passed=false. */
async function drill(config: DrillConfig, context: RunContext): Promise<void> {
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
async function check(config: CheckConfig, context: RunContext): Promise<void> {
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

/** The real I/O of prune and list (and of the prune after a backup): stores, and the time now. */
function retentionDeps(log: Log): RetentionDeps {
  return { now: new Date(), log, createStore };
}

/**
 * The newest complete backup (archive with manifest) for the failure summary and issue, best effort:
 * one listing of `<prefix>/<database>/` per destination, in order, until one holds a complete
 * backup. A listing that fails is an info line; this never throws, so it never hides the run's own
 * error.
 */
async function lastSuccess(
  config: Config,
  log: Log,
): Promise<{ lastSuccess?: { key: string; time: Date; url: string } }> {
  if (config.database === '') return {};
  for (const destination of config.destinations) {
    let store: ReturnType<typeof createStore> | undefined;
    try {
      store = createStore(destination, config.s3);
      const catalog = await readCatalog(store, config.database);
      const newest = catalog.backups.filter((b) => b.hasManifest).at(-1);
      if (newest) return { lastSuccess: { key: newest.key, time: newest.time, url: destination.url } };
    } catch (error) {
      log.info(`Could not list ${destination.url} for the last successful backup: ${errorMessage(error)}`);
    } finally {
      store?.close();
    }
  }
  return {};
}

/** What the deps take from the host besides the log: the installer's runner and cache, a temporary folder. */
type HostIo = Pick<Host, 'runner' | 'cache' | 'tempDir'>;

/** Outside a host (tests, the bench): a quiet runner, no cache, the system's temporary folder. */
const PLAIN_IO: HostIo = { runner: execRunner({ silent: true }), tempDir: tmpdir() };

/** The real I/O behind a backup: node-pg, pg_dump processes, S3 or folder stores, apt/brew installs. */
export function realDeps(
  config: BackupConfig,
  signal: AbortSignal | undefined,
  logTo: Log,
  io: HostIo = PLAIN_IO,
): BackupDeps {
  return {
    log: logTo,
    connect: (connection) => connectInspector(connection),
    ensureClient: clientFinder(config, logTo, io),
    detectCompressors,
    detectGpg: async () => (await import('./crypto/gpg.js')).detectGpg(),
    detectStdbuf,
    createStore,
    dumper: (binDir) => processDumper(binDir, (line) => logTo.info(line)),
    tempDir: io.tempDir,
    now: () => new Date(),
    ...(signal ? { signal } : {}),
    version: VERSION,
  };
}

/** The real I/O behind a restore or a drill: node-pg, pg_restore and psql processes, stores. */
export function restoreDeps(
  config: ClientConfig,
  signal: AbortSignal | undefined,
  logTo: Log,
  io: HostIo & Pick<Host, 'confirmOverwrite'> = PLAIN_IO,
): RestoreDeps {
  return {
    log: logTo,
    connect: (connection) => connectInspector(connection),
    ensureClient: clientFinder(config, logTo, io),
    detectCompressors,
    createStore,
    tempDir: io.tempDir,
    now: () => new Date(),
    ...(signal ? { signal } : {}),
    ...(io.confirmOverwrite ? { confirmOverwrite: io.confirmOverwrite } : {}),
  };
}

/** Finds (or installs, per `install-client`) the client tools for a server or archive major. */
function clientFinder(config: ClientConfig, logTo: Log, io: HostIo): BackupDeps['ensureClient'] {
  return (serverMajor, tool) =>
    ensureClient({
      serverMajor,
      tool,
      ...(config.clientMajor === undefined ? {} : { requestedMajor: config.clientMajor }),
      install: config.installClient,
      runner: io.runner,
      log: logTo,
      ...(io.cache ? { cache: io.cache } : {}),
    });
}
