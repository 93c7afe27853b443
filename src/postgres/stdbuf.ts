/**
 * A larger stdout buffer for pg_dump when it writes into a pipe.
 *
 * pg_dump writes a custom or plain archive to stdout through C stdio (`fwrite`), and glibc sizes
 * that buffer from the descriptor's `st_blksize`: 4096 bytes for a pipe or a socket. A 1 GB dump
 * is then about 230 000 `write(2)` calls, each waking the compressor that reads the other end for
 * 4 KiB. GNU coreutils' `stdbuf --output=SIZE` runs the program with its stdout buffer set to SIZE
 * (`LD_PRELOAD` of libstdbuf.so, which calls `setvbuf` before `main`; coreutils manual, "stdbuf
 * invocation"). The bytes written are the same; only the size of each write changes. Measured on
 * 0.85 GB (docs/benchmarks.md, "History"): `pg_dump -Fc -Z0 | zstd -3` made 203 000 writes and
 * 187 000 reads, with 1 MiB 3 100 and 14 500, and system CPU fell from 1.1 s to 0.65 s.
 *
 * Linux only (glibc's loader); elsewhere, or when `stdbuf` is missing or its probe fails, pg_dump
 * runs as it is.
 */
import { which } from '@actions/io';
import { toolOutput } from '../pipeline/process.js';

/** The stdout buffer given to pg_dump, in stdbuf's notation (1 MiB = 1 048 576 bytes). */
export const STDOUT_BUFFER = '1M';

/** A program and its argument array, ready for spawn. */
export interface Command {
  command: string;
  args: string[];
}

/**
 * `program args`, or `stdbuf --output=1M program args` when `stdbuf` (its path) is given (pure).
 * stdbuf execs the program in its own process, so exit status, signals and stderr are the program's.
 */
export function withStdoutBuffer(program: string, args: string[], stdbuf: string | undefined): Command {
  return stdbuf
    ? { command: stdbuf, args: [`--output=${STDOUT_BUFFER}`, program, ...args] }
    : { command: program, args };
}

/**
 * The path of `stdbuf` when it works for `program` (e.g. `/usr/lib/postgresql/16/bin/pg_dump`):
 * on Linux, `stdbuf --output=1M <program> --version` must exit 0, print the program's name first
 * and nothing on stderr (a library the loader cannot preload is reported there, and the run goes on
 * without it). Undefined otherwise, never throws.
 */
export async function detectStdbuf(
  program: string,
  platform: NodeJS.Platform = process.platform,
): Promise<string | undefined> {
  if (platform !== 'linux') return undefined;
  const stdbuf = await which('stdbuf', false);
  if (!stdbuf) return undefined;
  const { command, args } = withStdoutBuffer(program, ['--version'], stdbuf);
  const output = await toolOutput(command, args);
  const name = program.split('/').pop() ?? program;
  return output?.stdout.startsWith(`${name} `) && output.stderr.trim() === '' ? stdbuf : undefined;
}
