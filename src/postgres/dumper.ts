import type { Writable } from 'node:stream';
import { spawnStage, type ChildStage } from '../pipeline/process.js';

/**
 * Runs PostgreSQL client programs (pg_dump, pg_dumpall) as stream stages. The connection comes only
 * from `env` (libpq environment variables, PGPASSWORD included), never from argv.
 */
export interface Dumper {
  /**
   * Starts `<binDir>/<program> <args>`; stdout is the archive stream, or, with `to.stdout` (another
   * child's stdin, see {@link spawnStage}), goes straight there and the stage's stdout is null.
   */
  start(program: 'pg_dump' | 'pg_dumpall', args: string[], env: Record<string, string>, to?: { stdout?: Writable }): ChildStage;
}

/**
 * The real {@link Dumper}: spawns the programs from `binDir`, logging their stderr lines. Inherited
 * PG* variables (PGSERVICE, PGPASSFILE, a stray PGHOST…) are dropped: the connection is only what
 * the inputs say.
 */
export function processDumper(binDir: string, log: (line: string) => void): Dumper {
  return {
    start: (program, args, env, to = {}) =>
      spawnStage(program, `${binDir}/${program}`, args, {
        env,
        inherit: (name) => !name.startsWith('PG'),
        onStderrLine: (line) => log(`${program}: ${line.replace(/^\S+: /, '')}`),
        ...to,
      }),
  };
}
