/**
 * The terminal as a {@link Host}: phases as short lines, info and warnings on stderr (so that
 * stdout carries only the result), one redrawn progress line on a TTY, colour only on a TTY,
 * every line redacted with the run's secrets, and the restore question asked of the person.
 */
import { tmpdir } from 'node:os';
import pc from 'picocolors';
import type { Host } from '../host.js';
import type { ProgressSink } from '../log.js';
import { execRunner } from '../postgres/client.js';
import { redact } from '../redact.js';

/** The streams and switches the terminal host uses (process's in the CLI; others in tests). */
export interface TerminalOptions {
  stderr: NodeJS.WriteStream;
  /** True when a person can answer a question (stdin and stderr are TTYs). */
  interactive: boolean;
  /** `--yes`: a target with tables is used without asking. */
  yes: boolean;
  verbose: boolean;
  color: boolean;
  /** Asks a yes/no question (default no); the CLI's is @inquirer/confirm on stderr. */
  ask?: (question: string) => Promise<boolean>;
}

/** The host, and what the run left for the CLI to print: its outputs and its failure. */
export interface Terminal {
  host: Host;
  outputs: Record<string, string>;
  failure(): { message: string; phase: string } | undefined;
  /** Secrets registered so far: everything printed is redacted with them. */
  secrets: readonly string[];
}

/** Milliseconds between two redraws of the progress line on a TTY. */
const REDRAW_MS = 1000;

/** Makes the terminal host. No output until the run writes. */
export function terminal(options: TerminalOptions): Terminal {
  const { stderr } = options;
  const colors = pc.createColors(options.color);
  const secrets: string[] = [];
  const outputs: Record<string, string> = {};
  let failed: { message: string; phase: string } | undefined;
  let drawn = false;
  const write = (text: string): void => {
    if (drawn) stderr.write('\r\x1b[2K');
    drawn = false;
    stderr.write(`${redact(text, secrets)}\n`);
  };
  const progress: ProgressSink | undefined = stderr.isTTY
    ? {
        intervalMs: REDRAW_MS,
        update(line) {
          const width = stderr.columns > 10 ? stderr.columns - 1 : 100;
          stderr.write(`\r\x1b[2K${colors.dim(redact(line, secrets).slice(0, width))}`);
          drawn = true;
        },
        done() {
          if (drawn) stderr.write('\r\x1b[2K');
          drawn = false;
        },
      }
    : undefined;
  const host: Host = {
    log: {
      info: (message) => write(message),
      warning: (message) => write(colors.yellow(`warning: ${message}`)),
      group: async (name, fn) => {
        write(colors.bold(colors.cyan(`==> ${name}`)));
        return fn();
      },
      ...(progress ? { progress } : {}),
    },
    debug: (message) => {
      if (options.verbose) write(colors.dim(message));
    },
    setSecret: (secret) => {
      if (secret !== '') secrets.push(secret);
    },
    setOutputs: (values) => Object.assign(outputs, values),
    // A terminal has no job summary: the CLI prints the outputs instead.
    writeSummary: () => Promise.resolve(),
    setFailed: (message, phase) => {
      failed = { message, phase };
    },
    // apt's and brew's own output would drown the phases: the installer logs what it does.
    runner: execRunner({ silent: true }),
    tempDir: tmpdir(),
    ...confirmation(options),
  };
  return { host, outputs, failure: () => failed, secrets };
}

/** `--yes` answers yes; a person on a TTY is asked; otherwise only `confirm` decides. */
function confirmation(options: TerminalOptions): Pick<Host, 'confirmOverwrite'> {
  if (options.yes) return { confirmOverwrite: () => Promise.resolve(true) };
  const { ask } = options;
  if (options.interactive && ask) return { confirmOverwrite: (question) => ask(question) };
  return {};
}
