/**
 * The action: a thin adapter from the runner to the command runner (run.ts). Inputs come from
 * `INPUT_*` (core.getInput), secrets are masked with core.setSecret, phases are log groups,
 * outputs and the job summary go to the runner's files, and a failure fails the step.
 */
import * as core from '@actions/core';
import { tmpdir } from 'node:os';
import type { Host } from './host.js';
import { actionsCache, execRunner } from './postgres/client.js';
import { run } from './run.js';

/** The action's entry. Never throws; a failure sets the exit code through core.setFailed. */
export async function runAction(): Promise<void> {
  await run((name) => core.getInput(name), actionsHost());
}

/** The runner as a {@link Host}. */
function actionsHost(): Host {
  return {
    log: {
      info: (message) => core.info(message),
      warning: (message) => core.warning(message),
      group: (name, fn) => core.group(name, fn),
    },
    debug: (message) => core.debug(message),
    setSecret: (secret) => core.setSecret(secret),
    setOutputs: (outputs) => {
      for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
    },
    writeSummary: async (markdown) => {
      await core.summary.addRaw(markdown).write();
    },
    setFailed: (message, phase) => core.setFailed(`${message} [${phase}]`),
    // apt's and brew's commands are shown in the step's log, as a runner's user expects.
    runner: execRunner(),
    cache: actionsCache(),
    tempDir: process.env['RUNNER_TEMP'] || tmpdir(),
  };
}
