import { spawnStage, type ChildStage } from '../pipeline/process.js';

/**
 * Runs PostgreSQL client programs (pg_dump, pg_dumpall) as stream stages. The connection comes only
 * from `env` (libpq environment variables, PGPASSWORD included), never from argv.
 */
export interface Dumper {
  /** Starts `<binDir>/<program> <args>`; stdout is the archive stream. */
  start(program: 'pg_dump' | 'pg_dumpall', args: string[], env: Record<string, string>): ChildStage;
}

/**
 * The real {@link Dumper}: spawns the programs from `binDir`, logging their stderr lines. Inherited
 * PG* variables (PGSERVICE, PGPASSFILE, a stray PGHOST…) are dropped: the connection is only what
 * the inputs say.
 */
export function processDumper(binDir: string, log: (line: string) => void): Dumper {
  return {
    start: (program, args, env) =>
      spawnStage(program, `${binDir}/${program}`, args, { env, inherit: (name) => !name.startsWith('PG'), onStderrLine: (line) => log(`${program}: ${line.replace(/^\S+: /, '')}`) }),
  };
}
