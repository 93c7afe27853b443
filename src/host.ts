/**
 * What the command runner (run.ts) needs from whoever runs it: the action on a runner (main.ts:
 * @actions/core) or a person at a terminal (cli/). One interface, so both share every line of the
 * engine and differ only in how they read inputs and show results.
 */
import type { Log } from './log.js';
import type { ClientCache, CommandRunner } from './postgres/client/install.js';

export interface Host {
  /** Phase lines, info and warnings; `group` runs one phase. */
  log: Log;
  /** Detail for debugging (the runner's debug log; the CLI's --verbose). */
  debug(message: string): void;
  /** Registers a secret before any other work: the host never prints it. */
  setSecret(secret: string): void;
  /** Publishes a command's outputs (names and values as action.yml's outputs declare them). */
  setOutputs(outputs: Readonly<Record<string, string>>): void;
  /** Writes the job summary (Markdown, already redacted); a terminal has none. */
  writeSummary(markdown: string): Promise<void>;
  /** Marks the run failed with `message` (already redacted); `phase` is where it failed. */
  setFailed(message: string, phase: string): void;
  /** Runs apt/brew for a client install (the runner prints the commands; a terminal keeps quiet). */
  runner: CommandRunner;
  /** Keeps downloaded client packages between runs (the actions cache), when the host has one. */
  cache?: ClientCache;
  /** Folder for temporary files (RUNNER_TEMP on a runner, else the system's). */
  tempDir: string;
  /**
   * Asks a person whether to restore into a database that already has tables; undefined when no
   * one can answer (a runner, a terminal without a TTY, `--yes`): then `confirm` alone decides.
   */
  confirmOverwrite?: (question: string) => Promise<boolean>;
}
