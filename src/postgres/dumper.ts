import type { Writable } from 'node:stream';
import { spawnStage, type ChildStage } from '../pipeline/process.js';
import { withStdoutBuffer } from './stdbuf.js';

/**
 * Runs PostgreSQL client programs (pg_dump, pg_dumpall) as stream stages. The connection comes only
 * from `env` (libpq environment variables, PGPASSWORD included), never from argv.
 */
export interface Dumper {
  /**
   * Starts `<binDir>/<program> <args>`; stdout is the archive stream, or, with `to.stdout` (another
   * child's stdin, see {@link spawnStage}), goes straight there and the stage's stdout is null.
   * With `to.stdbuf` (the path of a working `stdbuf`, stdbuf.ts) the program writes in 1 MiB blocks.
   */
  start(
    program: 'pg_dump' | 'pg_dumpall',
    args: string[],
    env: Record<string, string>,
    to?: { stdout?: Writable; stdbuf?: string },
  ): ChildStage;
}

/**
 * The real {@link Dumper}: spawns the programs from `binDir`, logging their stderr lines. Inherited
 * PG* variables (PGSERVICE, PGPASSFILE, a stray PGHOST…) are dropped: the connection is only what
 * the inputs say.
 */
export function processDumper(binDir: string, log: (line: string) => void): Dumper {
  return {
    start: (program, args, env, { stdout, stdbuf } = {}) => {
      const { command, args: argv } = withStdoutBuffer(`${binDir}/${program}`, args, stdbuf);
      return spawnStage(program, command, argv, {
        env,
        inherit: (name) => !name.startsWith('PG'),
        onStderrLine: (line) => log(`${program}: ${line.replace(/^\S+: /, '')}`),
        ...(stdout ? { stdout } : {}),
      });
    },
  };
}
