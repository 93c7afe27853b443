/**
 * How an archive reaches the database: the restore mode for a format and `jobs`, and the
 * pg_restore and psql arguments (restores stop on the first error).
 */
import type { DumpFormat } from '../postgres/types.js';
import { RestoreError } from './errors.js';
import { isPartial, type TocSelection } from './toc.js';

/** The pg_restore options of restore and drill. */
export interface PgRestoreOptions {
  clean: boolean;
  jobs: number;
  noOwner: boolean;
  noPrivileges: boolean;
  /** Leave the archive's statistics out (`--no-statistics`, pg_restore 18+): for an older target (cross-major.ts). */
  noStatistics?: boolean;
  /** Restore only these tables/schemas (`table`, `schema`, `exclude-*`): a pg_restore list, see toc.ts. */
  selection?: TocSelection;
}

/** How an archive reaches the database. */
export type RestoreMode = 'pg_restore-stdin' | 'pg_restore-file' | 'pg_restore-directory' | 'psql';

/** Picks the mode for a format and `jobs` (see the module comment); `warnings` for ignored options. */
export function restoreMode(format: DumpFormat, options: PgRestoreOptions): { mode: RestoreMode; warnings: string[] } {
  const warnings: string[] = [];
  if (format === 'plain') {
    if (options.jobs > 1) warnings.push('jobs is ignored for a plain SQL archive: psql runs it in one session.');
    if (options.noOwner || options.noPrivileges) {
      warnings.push(
        'no-owner and no-privileges do not apply to a plain SQL archive: its ownership and GRANT statements were fixed when it was dumped.',
      );
    }
    if (isPartial(options.selection)) {
      throw new RestoreError(
        'table, schema, exclude-table and exclude-schema apply to custom and directory archives (a pg_restore list); a plain SQL archive is one script that psql runs whole. Restore it into a side database and copy the tables from there.',
      );
    }
    if (options.clean) {
      throw new RestoreError(
        'clean applies to custom and directory archives (pg_restore --clean); a plain SQL archive carries DROP statements only when it was dumped with --clean. Restore it into an empty database (create-database: true) instead.',
      );
    }
    return { mode: 'psql', warnings };
  }
  if (format === 'directory') return { mode: 'pg_restore-directory', warnings };
  // A pg_restore list is made from the archive's table of contents: the archive must be a file.
  const file = options.jobs > 1 || isPartial(options.selection);
  return { mode: file ? 'pg_restore-file' : 'pg_restore-stdin', warnings };
}

/** A libpq conninfo naming only the database (quoted per libpq's rules); the rest comes from PG* variables. */
export function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * pg_restore arguments (PostgreSQL docs, "pg_restore"): `--exit-on-error` (stop at the first
 * error), `--no-password` (never prompt), `--dbname` as a conninfo holding only the database name
 * (host, port, user and password come from PGHOST… and PGPASSWORD), `--clean --if-exists`,
 * `--no-owner`, `--no-privileges`, `--no-statistics`, `--jobs=N` (only with a file or folder input), `--use-list` (a selection, toc.ts), then the input
 * (none = stdin).
 */
export function buildPgRestoreArgs(
  database: string,
  options: PgRestoreOptions,
  input?: string,
  list?: string,
): string[] {
  const args = ['--exit-on-error', '--no-password', `--dbname=${dbnameConninfo(database)}`];
  if (list !== undefined) args.push(`--use-list=${list}`);
  if (options.clean) args.push('--clean', '--if-exists');
  if (options.noOwner) args.push('--no-owner');
  if (options.noPrivileges) args.push('--no-privileges');
  if (options.noStatistics) args.push('--no-statistics');
  if (input !== undefined && options.jobs > 1) args.push(`--jobs=${options.jobs}`);
  if (input !== undefined) args.push(input);
  return args;
}

/**
 * psql arguments for a script on stdin: `-X` (no psqlrc), `-q`, `-v ON_ERROR_STOP=1` (stop at the
 * first error, exit 3), `--no-password`, `-f -`. The database comes from PGDATABASE.
 */
export function buildPsqlArgs(): string[] {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-f', '-'];
}
