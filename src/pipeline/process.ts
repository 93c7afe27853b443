import { execFile, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Milliseconds a tool's `--version` (or a like probe) may take before it counts as not answering. */
const TOOL_OUTPUT_TIMEOUT_MS = 15_000;

/**
 * Runs `command args` to its end (an argument array, never a shell), e.g. a tool's `--version`:
 * its stdout and stderr, or undefined when it cannot start, exits non-zero, or takes longer than
 * 15 s. Never throws.
 */
export async function toolOutput(
  command: string,
  args: string[],
): Promise<{ stdout: string; stderr: string } | undefined> {
  try {
    return await execFileAsync(command, args, { timeout: TOOL_OUTPUT_TIMEOUT_MS, windowsHide: true });
  } catch {
    return undefined;
  }
}

/** The last bytes of a child's stderr kept for error messages (bytes). */
const STDERR_TAIL_BYTES = 16 * 1024;

/** A child process that is one stage of the stream (pg_dump, tar, a compressor CLI). */
export interface ChildStage {
  readonly name: string;
  /** The child's stdin when `stdin: 'pipe'`, else null. */
  readonly stdin: Writable | null;
  /** The child's stdout, or null when it was connected straight to another child ({@link SpawnOptions.stdout}). */
  readonly stdout: Readable | null;
  /**
   * Settles when the child has exited and its stdio closed: resolves on exit code 0, rejects with a
   * {@link ChildExitError} otherwise (including when it was killed).
   */
  readonly done: Promise<void>;
  /** Stops the child (SIGTERM) if it still runs. Safe to call more than once. */
  kill(): void;
  /** What the child wrote to stderr so far (the last 16 KiB). */
  stderr(): string;
}

export class ChildExitError extends Error {
  constructor(
    readonly stage: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(
      `${stage} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode}`}` +
        (stderr.trim() ? `: ${stderr.trim().split('\n').slice(-5).join(' | ')}` : ''),
    );
    this.name = 'ChildExitError';
  }
}

/** True when a stage ended because we stopped it (SIGTERM) or its reader went away (SIGPIPE, exit 141). */
export function killedByUs(reason: unknown): boolean {
  return (
    reason instanceof ChildExitError &&
    (reason.signal === 'SIGTERM' || reason.signal === 'SIGPIPE' || reason.exitCode === 141)
  );
}

export interface SpawnOptions {
  /** Extra environment variables (merged over process.env). */
  env?: Record<string, string>;
  /** Which inherited variables to keep (default: all), e.g. to drop a runner's stray PG* settings. */
  inherit?: (name: string) => boolean;
  stdin?: 'pipe' | 'ignore';
  /**
   * Connect stdout to a stream with a descriptor: another child's stdin (e.g. pg_dump → zstd, an OS
   * pipe, the bytes never pass through Node) or a pooled pipe's socket (pooled-pipe.ts). The stream
   * is handed over: Node's end of it is closed once this child has started, so the reader sees
   * end-of-file when this child exits.
   */
  stdout?: Writable;
  /** Called with each complete stderr line, e.g. to log pg_dump warnings. */
  onStderrLine?: (line: string) => void;
  /**
   * Written to the child's file descriptor 3 (a pipe), which is then closed: how a secret reaches a
   * child without its arguments or environment (e.g. gpg `--passphrase-fd 3`).
   */
  fd3Input?: string;
}

/**
 * Starts `command` with an argument array (never a shell) and exposes it as a stream stage.
 * A failure to start (ENOENT) rejects `done` as well.
 */
export function spawnStage(name: string, command: string, args: string[], options: SpawnOptions = {}): ChildStage {
  const child = spawn(command, args, {
    env: { ...inherited(options.inherit), ...options.env },
    stdio: [
      options.stdin ?? 'ignore',
      options.stdout ?? 'pipe',
      'pipe',
      ...(options.fd3Input === undefined ? [] : ['pipe' as const]),
    ],
  });
  if (options.fd3Input !== undefined) {
    const fd3 = child.stdio[3] as Writable;
    fd3.on('error', () => undefined); // a child that exits without reading it; its exit status says why
    fd3.end(options.fd3Input);
  }
  // The child holds its own copy of the pipe now; keeping Node's open would delay end-of-file.
  options.stdout?.destroy();
  let tail = '';
  let partial = '';
  const stderr = child.stderr as Readable;
  stderr.setEncoding('utf8');
  stderr.on('data', (text: string) => {
    tail = (tail + text).slice(-STDERR_TAIL_BYTES);
    if (options.onStderrLine) {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) options.onStderrLine(line);
    }
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new ChildExitError(name, null, null, `${error.message}`)));
    child.once('close', (code, signal) => {
      if (options.onStderrLine && partial.trim()) options.onStderrLine(partial);
      if (code === 0) resolve();
      else reject(new ChildExitError(name, code, signal, tail));
    });
  });
  // Observed by the pipeline; avoid an unhandled rejection when the stage is abandoned early.
  done.catch(() => undefined);
  return {
    name,
    stdin: child.stdin,
    stdout: child.stdout,
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
    stderr: () => tail,
  };
}

function inherited(keep: ((name: string) => boolean) | undefined): NodeJS.ProcessEnv {
  if (!keep) return process.env;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => keep(name)));
}

/**
 * A producer made of child processes (e.g. the files archive: GNU tar → tee) that can write straight
 * into the next child's stdin, as pg_dump writes into zstd's: no byte passes through Node.
 */
export interface ChildProducer {
  /** Starts the producer writing into `stdin`, a child's stdin pipe (handed over: Node's copy is closed). */
  pipeInto(stdin: Writable): void;
  /** Starts the producer writing into a stream Node reads (when no compressor child follows). */
  stream(): Readable;
  /** Stops the producer's children (SIGTERM) if they still run. Safe to call more than once. */
  stop(): void;
}

/** True when `source` is a {@link ChildProducer} rather than a stream. */
export function isChildProducer(source: Readable | ChildProducer): source is ChildProducer {
  return typeof (source as Partial<ChildProducer>).pipeInto === 'function';
}
