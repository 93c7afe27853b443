/**
 * The errors of a restore: the tool or the stream failed ({@link RestoreError}), or the stored
 * archive is not what the manifest records ({@link CorruptArchiveError}); and how pg_restore's or
 * psql's exit becomes a RestoreError ({@link toolFailure}).
 */
import { ActionError, VerifyError, errorMessage } from '../errors.js';
import { ChildExitError } from '../pipeline/process.js';
import { classifyPgError } from '../postgres/classify.js';
import type { Connection } from '../postgres/types.js';
import { shorten } from './verify.js';

/** pg_restore or psql failed, or the archive could not be read or decompressed. */
export class RestoreError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'restore', options);
  }
}

/** The stored archive's SHA-256 or size differs from the manifest's: it must not be trusted. */
export class CorruptArchiveError extends VerifyError {
  constructor(
    readonly key: string,
    readonly where: string,
    readonly expected: { bytes: number; sha256: string },
    readonly actual: { bytes: number; sha256?: string },
  ) {
    super(
      `The archive ${key} in ${where} is corrupt: ` +
        (actual.sha256 === undefined
          ? `it holds more than the ${expected.bytes} bytes the manifest records (at least ${actual.bytes})`
          : `its SHA-256 is ${actual.sha256} (${actual.bytes} bytes) but the manifest records ${expected.sha256} (${expected.bytes} bytes)`) +
        '. The restore was stopped and nothing restored from it counts as good (the target database may hold a partial restore). ' +
        'Choose another backup (backup-key), and check the storage for damaged objects.',
    );
  }
}

/**
 * pg_restore's or psql's exit as a RestoreError. A failed SQL statement (`ERROR:` from the server
 * while restoring) is quoted with the command it ran and a hint; connection failures, a too-old
 * pg_restore and a full disk get the shared classification (classify.ts).
 */
export function toolFailure(error: unknown, target: Connection, key: string): RestoreError {
  if (!(error instanceof ChildExitError))
    return new RestoreError(`Restoring ${key} failed: ${errorMessage(error)}`, { cause: error });
  const stderr = error.stderr || error.message;
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const classified = classifyPgError(stderr, { host: target.host, port: target.port, tool: error.stage });
  // psql reports an unknown meta-command (`\restrict` of a newer pg_dump) without `ERROR:`.
  const sqlError = lines.find((l) => /\bERROR:\s|invalid command \\/.test(l));
  const head = `Restoring ${key} into database '${target.database}' stopped at the first error: `;
  if (!sqlError || classified.kind === 'out-of-disk' || classified.kind === 'version-mismatch') {
    return new RestoreError(`${head}${classified.message}`, { cause: error });
  }
  // pg_restore prints `Command was: …` after the error and its DETAIL/HINT lines.
  const after = lines.slice(lines.indexOf(sqlError) + 1);
  const statement = after.slice(0, 4).find((l) => /^Command was:/.test(l));
  const command =
    statement && /^Command was:/.test(statement)
      ? ` while running \`${shorten(statement.replace(/^Command was:\s*/, ''), 200)}\``
      : '';
  const said = shorten(sqlError.replace(/^.*?\bERROR:\s+/, 'ERROR: ').replace(/^psql:[^ ]*: /, ''), 400);
  const hint = restoreHint(sqlError, statement ?? '');
  return new RestoreError(`${head}${error.stage} said "${said}"${command}.${hint}`, { cause: error });
}

/** Statements naming roles that no-owner/no-privileges do not leave out (user mappings, policies). */
const ROLE_NAMING_STATEMENT = /^Command was:\s*(CREATE|ALTER) (USER MAPPING|POLICY)\b/i;

/**
 * The advice for a restore's first SQL error (`sqlError`, the `ERROR:` line) and the statement
 * pg_restore printed after it (`Command was: …`, or ''), with a leading space; '' when none
 * applies. Pure. Advice that cannot help is not given: `no-owner`/`no-privileges` leave out
 * ownership and GRANTs, not the roles named by user mappings and policies.
 */
export function restoreHint(sqlError: string, statement: string): string {
  if (/already exists/i.test(sqlError))
    return ' The target database already holds objects of this archive: restore with clean: true (and confirm), or into an empty database.';
  if (/role "[^"]+" does not exist/i.test(sqlError)) {
    if (ROLE_NAMING_STATEMENT.test(statement))
      return ' The archive has user mappings or row-level security policies naming roles the target server lacks (no-owner and no-privileges do not leave those out): create the roles first, or restore-globals: true for a backup made with globals: true.';
    return ' The archive names roles (owners, grantees) the target server lacks: set no-owner: true and no-privileges: true, or restore-globals: true for a backup made with globals: true.';
  }
  if (/compression method lz4 not supported/i.test(sqlError))
    return " The source compressed columns with lz4 (COMPRESSION lz4) and the target server was built without lz4; a pg_restore list cannot leave that out (it is part of the table's definition). Restore into a server built with lz4, or take the backups with pg-dump-args: --no-toast-compression (the columns then use the target's default).";
  if (/unrecognized configuration parameter "transaction_timeout"/i.test(sqlError))
    return " pg_dump and pg_restore 17 or newer set transaction_timeout, which the older target server does not know: restore into PostgreSQL 17 or newer (for a custom archive of an older major, a pg_restore of the target's major can be used: client-version).";
  if (/pg_restore_(relation|attribute)_stats/i.test(sqlError))
    return ' The archive holds statistics (pg_dump 18 or newer) that the older target server cannot load: take the backup with pg-dump-args: --no-statistics, or restore a custom-format backup (statistics are then left out).';
  if (/invalid command \\(un)?restrict/i.test(sqlError))
    return ' The plain script holds \\restrict lines (pg_dump of the 2025 security releases or newer) that this psql does not know: use a newer psql minor (client-version).';
  if (/must be owner of|permission denied|must be superuser/i.test(sqlError))
    return ' The target role lacks privileges for this archive: restore as the database owner or a superuser, or set no-owner: true and no-privileges: true.';
  if (/extension|could not (open|access) file/i.test(sqlError))
    return ' The target server lacks something the source had (an extension or library): install it there first.';
  return '';
}
