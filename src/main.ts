import * as core from '@actions/core';
import { tmpdir } from 'node:os';
import { runBackup, type BackupDeps, type Log } from './commands/backup.js';
import { secretsToMask } from './config/mask.js';
import { parseConfig } from './config/parse.js';
import type { Config, InputReader } from './config/types.js';
import { ActionError, errorMessage } from './errors.js';
import { detectCompressors } from './pipeline/compression.js';
import { actionsCache, ensureClient, execRunner, readOsId } from './postgres/client.js';
import { processDumper } from './postgres/dumper.js';
import { connectInspector } from './postgres/inspect.js';
import { backupOutputs, backupSummary } from './report/backup-report.js';
import { createStore } from './storage/index.js';
import { VERSION } from './version.js';

/**
 * The action's entry: masks every secret, reads the inputs into one validated config, runs the
 * command, and reports. Never throws; a failure sets the step's exit code through core.setFailed.
 */
export async function run(): Promise<void> {
  const read: InputReader = (name) => core.getInput(name);
  for (const secret of secretsToMask(read)) core.setSecret(secret);

  const controller = new AbortController();
  const cancel = (signal: NodeJS.Signals): void => {
    core.warning(`Received ${signal}: stopping pg_dump and aborting uploads.`);
    controller.abort();
  };
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    const config = parseConfig(read);
    await runCommand(config, controller.signal);
  } catch (error) {
    const phase = error instanceof ActionError ? ` [${error.phase}]` : '';
    if (!(error instanceof ActionError) && error instanceof Error && error.stack) core.debug(error.stack);
    core.setFailed(`${errorMessage(error)}${phase}`);
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  }
}

async function runCommand(config: Config, signal: AbortSignal): Promise<void> {
  switch (config.command) {
    case 'backup': {
      const result = await runBackup(config, realDeps(config, signal));
      for (const [name, value] of Object.entries(backupOutputs(result))) core.setOutput(name, value);
      if (config.summary) await core.summary.addRaw(backupSummary(result)).write();
      return;
    }
  }
}

const log: Log = {
  info: (message) => core.info(message),
  warning: (message) => core.warning(message),
  group: (name, fn) => core.group(name, fn),
};

/** The real I/O behind a backup: node-pg, pg_dump processes, S3 or folder stores, apt/brew installs. */
export function realDeps(config: Config, signal: AbortSignal | undefined, logTo: Log = log): BackupDeps {
  return {
    log: logTo,
    connect: (connection) => connectInspector(connection),
    ensureClient: async (serverMajor) =>
      ensureClient({
        serverMajor,
        ...(config.clientMajor === undefined ? {} : { requestedMajor: config.clientMajor }),
        install: config.installClient,
        runner: execRunner(),
        log: logTo,
        cache: actionsCache(),
        osId: await readOsId(),
      }),
    detectCompressors,
    createStore,
    dumper: (binDir) => processDumper(binDir, (line) => logTo.info(line)),
    tempDir: process.env['RUNNER_TEMP'] || tmpdir(),
    now: () => new Date(),
    ...(signal ? { signal } : {}),
    version: VERSION,
  };
}
