/**
 * The read side of the files archive's inputs: `files-target`, `files-only` and `files-overwrite`
 * of `command: restore` (docs/files.md, "Restore and drill"). A drill needs none of them: it
 * extracts into a scratch folder of its own.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { ConfigError, errorMessage } from '../errors.js';
import type { FilesRestore } from '../restore/options.js';
import { inputSpecs, type InputSpec } from './action-inputs.js';
import { parseBoolean } from './values.js';

/** The inputs this module parses, as action.yml declares them. */
export const FILES_RESTORE_INPUTS: readonly InputSpec[] = inputSpecs(['files-target', 'files-only', 'files-overwrite']);

/**
 * `files-target`, `files-only`, `files-overwrite` of a restore, or undefined when `files-target`
 * is unset. `folder` is the path as given (see {@link resolveFilesTarget}). Pure apart from `input`
 * (trimmed values, empty ones read as their defaults).
 * @throws ConfigError('files-only') or ConfigError('files-overwrite') when set without
 *   files-target; ConfigError naming a value that is not a boolean; ConfigError('files-target')
 *   for a path with a NUL character.
 */
export function parseFilesRestoreInputs(input: (name: string) => string): FilesRestore | undefined {
  const folder = input('files-target');
  const only = parseBoolean('files-only', input('files-only'));
  const overwrite = parseBoolean('files-overwrite', input('files-overwrite'));
  if (folder === '') {
    if (only)
      throw new ConfigError(
        'files-only',
        'needs files-target: set files-target to the folder the files archive is restored into, or remove files-only.',
      );
    if (overwrite)
      throw new ConfigError(
        'files-overwrite',
        'is only used with files-target; set files-target to the folder the files archive is restored into, or remove files-overwrite.',
      );
    return undefined;
  }
  if (folder.includes('\0')) throw new ConfigError('files-target', 'contains a NUL character; give a folder path.');
  return { folder, only, overwrite };
}

/**
 * The settings with `folder` made absolute (relative to `workspace`: `GITHUB_WORKSPACE`, or the
 * CLI's current folder), after checking on disk that it is not a file. A missing folder is fine
 * (the restore creates it); whether it is empty is checked by the restore, after the backup was
 * chosen and before anything is written.
 * @throws ConfigError('files-target') when the path is a file (or anything but a folder, links
 *   to a folder allowed) or cannot be read.
 */
export async function resolveFilesTarget(files: FilesRestore, workspace: string): Promise<FilesRestore> {
  const folder = path.resolve(workspace, files.folder);
  const found = await stat(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new ConfigError('files-target', `${folder} cannot be read: ${errorMessage(error)}.`);
  });
  if (found && !found.isDirectory()) {
    throw new ConfigError(
      'files-target',
      `${folder} is ${found.isFile() ? 'a file' : 'not a folder'}; give a folder to restore the files into (it is created when missing).`,
    );
  }
  return { ...files, folder };
}
