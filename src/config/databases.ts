/**
 * Several databases in one run (docs/databases.md): `database: all` or several names one per line,
 * `exclude-database` and `parallel-databases`. The one module that reads these inputs and owns their
 * messages; a single database name leaves every config as it was.
 */
import { ConfigError } from '../errors.js';
import { databasePatternRegex, notExcluded } from '../postgres/patterns.js';
import { parseInteger } from './values.js';
import type { Command, DatabaseSelection } from './types.js';

/** The `database` value that selects every database. */
export const ALL_DATABASES = 'all';

/** Most databases run at once (`parallel-databases`). */
export const MAX_PARALLEL_DATABASES = 16;

/** The database a backup of `all`/a list connects to when given host inputs (pg_dumpall's choice too). */
export const MAINTENANCE_DATABASE = 'postgres';

/** Inputs that name objects inside one database: ambiguous across several. */
const PER_DATABASE_FILTERS = ['table', 'schema', 'exclude-table', 'exclude-schema'] as const;

/**
 * Reads `database`, `exclude-database` and `parallel-databases`. Returns undefined for a single
 * database (or none: the connection names it), else the selection: `all` (names empty: resolved
 * at run time, from the server for backup, from the first destination's listing otherwise) or a
 * list (names in the given order).
 * @param input inputs with action.yml defaults applied.
 * @throws ConfigError naming the input: `database` (restore with `all`/a list; a name listed twice;
 *   `all` inside a list), `backup-key` (one archive, with `all`/a list), `parallel-databases` (not a whole number from 1 to 16), `exclude-database`
 *   (set without `all`/a list; a pattern with a dot; excludes every listed name), `table`,
 *   `schema`, `exclude-table`, `exclude-schema` (set with `all`/a list for a backup).
 */
export function parseDatabaseSelection(
  input: (name: string) => string,
  command: Command,
): DatabaseSelection | undefined {
  const parallel = parseInteger('parallel-databases', input('parallel-databases'), {
    min: 1,
    max: MAX_PARALLEL_DATABASES,
    hint: `use a whole number from 1 to ${MAX_PARALLEL_DATABASES} (databases at a time)`,
  });
  const exclude = lines(input('exclude-database'));
  const value = input('database');
  const names = lines(value);
  const mode = value === ALL_DATABASES ? 'all' : names.length > 1 ? 'list' : undefined;
  if (mode === undefined) {
    if (exclude.length > 0)
      throw new ConfigError(
        'exclude-database',
        `applies only with database: all or several databases one per line; remove it, or set database: all.`,
      );
    return undefined;
  }
  if (command === 'restore')
    throw new ConfigError(
      'database',
      `restore takes one database: set the name of the one database whose backup to restore (all, or a list, is for backup, list, check, prune and drill).`,
    );
  if (mode === 'list') checkList(names);
  const backupKey = input('backup-key');
  if (backupKey !== 'latest' && !backupKey.startsWith('latest:') && backupKey !== '' && command !== 'backup')
    throw new ConfigError(
      'backup-key',
      `names one archive, of one database, and database is ${mode === 'all' ? 'all' : 'a list'}; use latest (or latest:<label>) for each database's newest backup, or set database to the archive's database.`,
    );
  for (const pattern of exclude) checkPattern(pattern);
  if (command === 'backup') {
    const filter = PER_DATABASE_FILTERS.find((name) => input(name) !== '');
    if (filter)
      throw new ConfigError(
        filter,
        `names objects of one database, and database is ${mode === 'all' ? 'all' : 'a list'}: it would be ambiguous across databases. Back up that database in a step of its own with ${filter}, or remove ${filter}.`,
      );
  }
  if (mode === 'list' && notExcluded(names, exclude).length === 0)
    throw new ConfigError('exclude-database', excludesEverything(names));
  return { mode, names: mode === 'list' ? names : [], exclude, parallel };
}

/**
 * The message of an `exclude-database` that leaves nothing of `names` (the listed or resolved
 * databases) to back up.
 */
export function excludesEverything(names: readonly string[]): string {
  return `it excludes every database (${names.join(', ')}), so nothing would be backed up; remove the pattern that matches them all, or list other databases.`;
}

/**
 * The name a run of several databases goes by in the heartbeat, the failure issue's marker and the
 * webhook: `all`, or the listed names joined by `, `.
 */
export function selectionName(selection: DatabaseSelection): string {
  return selection.mode === 'all' ? ALL_DATABASES : selection.names.join(', ');
}

function checkList(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name === ALL_DATABASES)
      throw new ConfigError(
        'database',
        `'all' is in a list of names; set database: all alone for every database, or list names only.`,
      );
    if (seen.has(name)) throw new ConfigError('database', `'${name}' is listed twice; list each database once.`);
    seen.add(name);
  }
}

function checkPattern(pattern: string): void {
  if (databasePatternRegex(pattern) === undefined)
    throw new ConfigError(
      'exclude-database',
      `'${pattern}' is not a database name pattern (a dot outside double quotes, or a bad regular expression); patterns match database names only, as pg_dumpall's --exclude-database. Quote a name that holds a dot, e.g. "app.v2".`,
    );
}

/** One entry per line, blank lines ignored, surrounding spaces trimmed. */
function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}
