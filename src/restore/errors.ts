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
  const sqlError = lines.find((l) => /\bERROR:\s/.test(l));
  const head = `Restoring ${key} into database '${target.database}' stopped at the first error: `;
  if (!sqlError || classified.kind === 'out-of-disk' || classified.kind === 'version-mismatch') {
    return new RestoreError(`${head}${classified.message}`, { cause: error });
  }
  const statement = lines[lines.indexOf(sqlError) + 1];
  const command =
    statement && /^Command was:/.test(statement)
      ? ` while running \`${shorten(statement.replace(/^Command was:\s*/, ''), 200)}\``
      : '';
  const said = shorten(sqlError.replace(/^.*?\bERROR:\s+/, 'ERROR: '), 400);
  let hint = '';
  if (/already exists/i.test(sqlError)) {
    hint =
      ' The target database already holds objects of this archive: restore with clean: true (and confirm), or into an empty database.';
  } else if (/role "[^"]+" does not exist/i.test(sqlError)) {
    hint =
      ' The archive names roles (owners, grantees) the target server lacks: set no-owner: true and no-privileges: true, or restore-globals: true for a backup made with globals: true.';
  } else if (/must be owner of|permission denied|must be superuser/i.test(sqlError)) {
    hint =
      ' The target role lacks privileges for this archive: restore as the database owner or a superuser, or set no-owner: true and no-privileges: true.';
  } else if (/extension|could not (open|access) file/i.test(sqlError)) {
    hint = ' The target server lacks something the source had (an extension or library): install it there first.';
  }
  return new RestoreError(`${head}${error.stage} said "${said}"${command}.${hint}`, { cause: error });
}
