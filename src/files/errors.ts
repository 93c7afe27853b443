/**
 * The errors of the files archive (uploads and media beside the database): a selection that
 * cannot be made ({@link FilesSelectionError}, refused before any work), a tar stream that failed
 * ({@link FilesArchiveError}), an archive entry that would land outside the target or a target
 * that cannot be used ({@link UnsafeArchiveError}, {@link FilesTargetError}).
 */
import { ActionError, type Phase } from '../errors.js';

/**
 * The `files` selection cannot be made: entries that match nothing (`unmatched`, as written),
 * two sources that would share one path in the archive, or a path that cannot be read. Phase
 * `config`: it is raised before anything is dumped or uploaded.
 */
export class FilesSelectionError extends ActionError {
  constructor(
    message: string,
    readonly unmatched: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, 'config', options);
  }
}

/** GNU tar or the in-process tar writer failed while streaming the files archive (phase `dump`). */
export class FilesArchiveError extends ActionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'dump', options);
  }
}

/**
 * An entry of a files archive would be written outside the target folder: an absolute path, a
 * `..` segment, or a path through a symbolic link. `entry` is the entry's path as stored in the
 * archive. Nothing outside the target has been written; the target may hold the entries extracted
 * before this one. Phase `restore` unless the caller says otherwise (`drill`).
 */
export class UnsafeArchiveError extends ActionError {
  constructor(
    readonly entry: string,
    readonly reason: string,
    phase: Phase = 'restore',
  ) {
    super(
      `The files archive holds an unsafe entry ${JSON.stringify(entry)}: ${reason}. ` +
        'Extraction was stopped and nothing was written outside the target folder. ' +
        'The archive was not written by this action or was tampered with: restore another backup (backup-key).',
      phase,
    );
  }
}

/** The target folder of an extraction cannot be used (it is a file, or non-empty without `overwrite`). */
export class FilesTargetError extends ActionError {
  constructor(
    readonly target: string,
    problem: string,
    phase: Phase = 'restore',
  ) {
    super(`The files target ${target} ${problem}`, phase);
  }
}
