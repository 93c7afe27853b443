/**
 * Table- and schema-level restore, the I/O part: reads an archive file's table of contents with
 * pg_restore, chooses the entries (toc.ts) and writes the pg_restore list (`--use-list`).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errorMessage } from '../errors.js';
import type { Log } from '../log.js';
import { RestoreError } from './errors.js';
import { parseDependencies, parseTocList, selectToc, tocListText, type TocSelection } from './toc.js';

/** What {@link writeSelectionList} needs. */
export interface SelectionListInput {
  /** Folder with pg_restore and psql. */
  binDir: string;
  /** The target's libpq variables (PGHOST, …, PGDATABASE). */
  env: Record<string, string>;
  /** The archive file or directory. */
  archive: string;
  /** Where the list is written. */
  folder: string;
  /** The archive's key, for messages. */
  key: string;
  selection: TocSelection | undefined;
  log: Log;
}

/**
 * Writes the pg_restore list of the selection (toc.ts) next to the archive: reads the archive's
 * table of contents and dependencies with pg_restore, and the target's schemas with psql.
 * @throws RestoreError naming the input whose pattern matches nothing in the archive.
 */
export async function writeSelectionList(input: SelectionListInput): Promise<string> {
  const selection = input.selection as TocSelection;
  const fileTarget = input.archive;
  const tool = (program: string, args: string[]): Promise<string> =>
    execFileText(join(input.binDir, program), args, input.env);
  const [listed, script, schemas] = await Promise.all([
    tool('pg_restore', ['-l', fileTarget]),
    tool('pg_restore', ['-s', '-v', '-f', '-', fileTarget]),
    tool('psql', ['-X', '-A', '-t', '--no-password', '-c', 'SELECT nspname FROM pg_catalog.pg_namespace']),
  ]);
  const entries = parseTocList(listed);
  const choice = selectToc(entries, parseDependencies(script), selection, schemas.split('\n'));
  const [first] = choice.unmatched;
  if (first) {
    throw new RestoreError(
      `${first[0]}: the pattern '${first[1]}' matches nothing in ${input.key}${
        choice.unmatched.length > 1
          ? ` (nor: ${choice.unmatched
              .slice(1)
              .map(([n, p]) => `${n} '${p}'`)
              .join(', ')})`
          : ''
      }; nothing was restored. Patterns follow pg_dump's rules (schema.table, * and ?); list the archive's tables with pg_restore -l.`,
    );
  }
  const list = join(input.folder, 'selection.list');
  await writeFile(list, tocListText(entries, choice.keep));
  const tables = entries.filter((e) => choice.keep.has(e.id) && e.desc === 'TABLE').map((e) => `${e.schema}.${e.tag}`);
  input.log.info(
    `Restoring ${choice.keep.size} of the archive's ${entries.length} entries: ${tables.length} table(s)${tables.length > 0 ? ` (${tables.slice(0, 10).join(', ')}${tables.length > 10 ? ', …' : ''})` : ''} with their indexes, constraints, triggers and data.`,
  );
  return list;
}

/** Runs a client program with the target's libpq variables; its stdout. */
function execFileText(file: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: { ...inheritedEnv(), ...env }, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new RestoreError(`${basename(file)} ${args[0]} failed: ${stderr.trim() || errorMessage(error)}`));
        else resolve(stdout);
      },
    );
  });
}

/** The environment without libpq variables (the target's are added by the caller). */
function inheritedEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => !e[0].startsWith('PG') && e[1] !== undefined),
  );
}
