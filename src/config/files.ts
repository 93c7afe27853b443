/**
 * The inputs of the files archive beside the database (docs/files.md): `files`, `files-exclude`
 * and `files-optional`, read by `backup` only. What the entries match is checked on the disk by
 * the backup before any work (commands/backup-files.ts); here only what needs no disk.
 */
import { ConfigError } from '../errors.js';
import { parseBoolean } from './values.js';

/** The files settings of a backup (the inputs, typed); absent from the config when `files` is empty. */
export interface FilesSettings {
  /** `files`: paths or globs, one per line (blank lines and `#` comments dropped), as written. */
  entries: string[];
  /** `files-exclude`: patterns (same lines rule). */
  exclude: string[];
  /** `files-optional`: an entry that matches nothing is a warning, not a failure. */
  optional: boolean;
}

/** One entry a line: trimmed, blank lines and `#` comments dropped. */
function entryLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Reads `files`, `files-exclude` and `files-optional` (pure apart from `input`). `files-optional`
 * is validated for every command, as every boolean is.
 * @returns the settings for `backup` with `files` set; undefined when `files` is empty.
 * @throws ConfigError naming `files` when it is given to another command than backup or to a run
 *   over several databases (one files archive belongs to one backup); naming `files-exclude` or
 *   `files-optional` when given without `files`, or `files-optional` when not a boolean.
 */
export function parseFilesInputs(
  input: (name: string) => string,
  command: string,
  severalDatabases: boolean,
): FilesSettings | undefined {
  const optional = parseBoolean('files-optional', input('files-optional'));
  const entries = entryLines(input('files'));
  const exclude = entryLines(input('files-exclude'));
  if (entries.length === 0) {
    if (exclude.length > 0)
      throw new ConfigError('files-exclude', 'is set but files is empty: set files to the paths to back up.');
    if (optional) throw new ConfigError('files-optional', 'is true but files is empty: set files, or remove it.');
    return undefined;
  }
  if (command !== 'backup')
    throw new ConfigError(
      'files',
      `is read by command backup only (command is ${command}). The files archive is restored with files-target; remove files from this step.`,
    );
  if (severalDatabases)
    throw new ConfigError(
      'files',
      'cannot be combined with several databases (database: all or a list): the files archive belongs to one backup. Back up the files in a step for one database.',
    );
  return { entries, exclude, optional };
}
