import type { Log } from './log.js';
import { INPUT_DEFAULTS, withDefaults } from './config/inputs.js';
import { secretsToMask, urlCredentialSecrets } from './config/mask.js';
import { inapplicableInputsWarning } from './config/applicability.js';
import { resolveConfig } from './config/parse.js';
import { encryptionSecrets } from './config/encryption.js';
import type { Config, InputReader } from './config/types.js';
import { ActionError, errorMessage } from './errors.js';
import type { Host } from './host.js';
import { restoreSecrets } from './config/restore.js';
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
import { runCommand } from './run/commands.js';

export { realDeps, restoreDeps } from './run/deps.js';

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
  if (config.database === '' || config.databases) return {};
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
