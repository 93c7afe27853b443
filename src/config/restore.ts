/**
 * Inputs of `command: restore`, `drill` and `check`, read once and validated.
 *
 * These commands find backups by the source database's name (the `database` input) and
 * `destination` alone: they never read the production `database-url`. parseConfig supplies that;
 * this module parses what is specific to the three commands.
 */
import { ConfigError } from '../errors.js';
import { INPUT_DEFAULTS, inputSpecs, type InputSpec } from './action-inputs.js';
import { PROPERTIES_MODES } from '../restore/database-properties.js';
import type { BackupSelector, CheckSettings, RestoreBehaviour, RestoreInputs } from '../restore/options.js';
import { archiveSuffix } from '../storage/keys.js';
import type { InputReader } from './reader.js';
import { namePatternRegexes } from '../postgres/patterns.js';
import { isPartial, type TocSelection } from '../restore/toc.js';
import { secretsToMask } from './mask.js';
import { FILES_RESTORE_INPUTS, parseFilesRestoreInputs } from './files-target.js';
import {
  oneOf,
  parseBoolean,
  parseLabelValue,
  parseConnectionInputs,
  parseInteger,
  type ConnectionInputNames,
} from './values.js';

/** The commands this module parses inputs for. */
export const RESTORE_COMMANDS = ['restore', 'drill', 'check'] as const;

/**
 * The inputs these commands add, as action.yml declares them. They also read these existing
 * inputs: `command`, `database` (the source database name), `destination`, the `s3-*` inputs,
 * `jobs`, `no-owner`, `no-privileges`, `install-client`, `client-version` and `summary`.
 */
export const RESTORE_INPUTS: readonly InputSpec[] = inputSpecs([
  'backup-key',
  'target-database-url',
  'target-host',
  'target-port',
  'target-username',
  'target-password',
  'target-database',
  'target-sslmode',
  'confirm',
  'clean',
  'create-database',
  'restore-globals',
  'database-properties',
  'drop-after',
  'drill-sql',
  'max-age',
  'min-size-ratio',
  'expect-label',
  'table',
  'schema',
  'exclude-table',
  'exclude-schema',
]);

const DEFAULTS: Record<string, string> = Object.fromEntries(
  [...[...RESTORE_INPUTS, ...FILES_RESTORE_INPUTS].map((i) => i.name), 'jobs', 'no-owner', 'no-privileges'].map(
    (name) => [name, INPUT_DEFAULTS[name] ?? ''],
  ),
);

/** The restore target's connection inputs. */
const TARGET_CONNECTION: ConnectionInputNames = {
  url: 'target-database-url',
  host: 'target-host',
  port: 'target-port',
  username: 'target-username',
  password: 'target-password',
  database: 'target-database',
  sslmode: 'target-sslmode',
  separately: 'the separate target-* inputs',
  purpose: 'restore into',
  example: 'postgres://user:password@host:5432/restored',
};

/** The target of a `files-only` restore, which touches no database: never connected to. */
const NO_DATABASE_TARGET = { host: '', port: 5432, user: '', password: '', database: '', params: {} };

/**
 * Parses the inputs of `command: restore | drill | check` (read from `command`).
 *
 * `read` returns an input's value ('' when unset); values are trimmed here and empty ones take the
 * defaults of {@link RESTORE_INPUTS}. Pure apart from `read`.
 * @throws ConfigError naming the first bad input, what is wrong and how to fix it. Messages never
 *   quote a password or a connection URL.
 */
export function parseRestoreInputs(read: InputReader): RestoreInputs {
  const input = (name: string): string => {
    const value = read(name).trim();
    return value === '' ? (DEFAULTS[name] ?? '') : value;
  };
  const command = oneOf('command', input('command'), RESTORE_COMMANDS);
  if (command === 'check') return parseCheck(input);

  for (const name of ['max-age', 'min-size-ratio', 'expect-label']) {
    if (input(name) !== '')
      throw new ConfigError(name, `is only used with command: check; remove it or set command: check.`);
  }
  const files = command === 'restore' ? parseFilesRestoreInputs(input) : undefined;
  const behaviour: RestoreBehaviour = {
    backup: parseBackupKey(input('backup-key')),
    target: files?.only ? NO_DATABASE_TARGET : parseConnectionInputs(input, TARGET_CONNECTION),
    ...(input('confirm') === '' ? {} : { confirm: input('confirm') }),
    jobs: parseInteger('jobs', input('jobs'), { min: 1, max: 64 }),
    noOwner: parseBoolean('no-owner', input('no-owner')),
    noPrivileges: parseBoolean('no-privileges', input('no-privileges')),
    restoreGlobals: parseBoolean('restore-globals', input('restore-globals')),
    databaseProperties: oneOf('database-properties', input('database-properties'), PROPERTIES_MODES),
  };
  if (command === 'restore') {
    if (input('drill-sql') !== '')
      throw new ConfigError('drill-sql', 'is only used with command: drill; remove it or set command: drill.');
    const selection = parseSelection(input);
    return {
      command,
      ...behaviour,
      clean: parseBoolean('clean', input('clean')),
      createDatabase: parseBoolean('create-database', input('create-database')),
      ...(selection ? { selection } : {}),
      ...(files ? { files } : {}),
    };
  }
  if (parseBoolean('clean', input('clean'))) {
    throw new ConfigError(
      'clean',
      'is only used with command: restore; a drill restores into a fresh scratch database (set confirm to let it drop and recreate an existing one).',
    );
  }
  const maintenance = ['postgres', 'template0', 'template1'];
  if (maintenance.includes(behaviour.target.database)) {
    throw new ConfigError(
      targetInputName(input, 'database'),
      `'${behaviour.target.database}' is a system database; a drill needs a scratch database it may create and drop, e.g. drill_scratch.`,
    );
  }
  return {
    command: 'drill',
    ...behaviour,
    dropAfter: parseBoolean('drop-after', input('drop-after')),
    drillSql: parseDrillSql(input('drill-sql')),
  };
}

/** A list input: one pattern per line, blank lines ignored. */
function patternLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/**
 * `table`, `schema`, `exclude-table`, `exclude-schema` of a restore (pg_dump's pattern rules,
 * postgres/patterns.ts); undefined when none is set.
 * @throws ConfigError naming the input of a pattern with too many dotted parts.
 */
function parseSelection(input: (name: string) => string): TocSelection | undefined {
  const read = (name: string, kind: 'table' | 'schema'): string[] => {
    const patterns = patternLines(input(name));
    for (const pattern of patterns) {
      if (!namePatternRegexes(pattern, kind))
        throw new ConfigError(
          name,
          `'${pattern}' has too many dotted parts (${kind === 'table' ? 'schema.table' : 'a schema name'} at most).`,
        );
    }
    return patterns;
  };
  const selection: TocSelection = {
    tables: read('table', 'table'),
    schemas: read('schema', 'schema'),
    excludeTables: read('exclude-table', 'table'),
    excludeSchemas: read('exclude-schema', 'schema'),
  };
  return isPartial(selection) ? selection : undefined;
}

function parseCheck(input: (name: string) => string): CheckSettings {
  if (input('backup-key') !== 'latest') {
    throw new ConfigError(
      'backup-key',
      'is not used with command: check, which always checks the newest complete backup; use expect-label to pick backups with a label.',
    );
  }
  const maxAge = input('max-age');
  const ratio = input('min-size-ratio');
  const label = input('expect-label');
  return {
    command: 'check',
    ...(maxAge === '' ? {} : { maxAgeSeconds: parseDuration(maxAge, 'max-age') }),
    ...(ratio === '' ? {} : { minSizeRatio: parseRatio(ratio) }),
    ...(label === '' ? {} : { expectLabel: parseLabelValue('expect-label', label) }),
  };
}

/** Seconds per duration unit. */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * A duration such as `26h`, `90m`, `7d`, `1w`, `45s` or `1d12h` (whole numbers, units s, m, h, d, w;
 * months and years are not accepted: their length varies) → seconds.
 * @throws ConfigError(input) for anything else, or for zero.
 */
export function parseDuration(value: string, input = 'max-age'): number {
  const hint = 'write a duration such as 26h, 90m, 7d or 1w (units: s, m, h, d, w)';
  if (/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(input, `'${value}' has no unit; ${hint}.`);
  if (!/^(\d+[smhdw])+$/.test(value)) throw new ConfigError(input, `'${value}' is not a duration; ${hint}.`);
  let seconds = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)([smhdw])/g))
    seconds += Number(n) * (UNIT_SECONDS[unit as string] as number);
  if (seconds <= 0) throw new ConfigError(input, `'${value}' is zero; ${hint}.`);
  return seconds;
}

function parseRatio(value: string): number {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(value)) {
    throw new ConfigError(
      'min-size-ratio',
      `'${value}' is not a number; use a fraction of the median size between 0 and 1, e.g. 0.5.`,
    );
  }
  const n = Number(value);
  if (!(n > 0 && n <= 1))
    throw new ConfigError(
      'min-size-ratio',
      `${value} is out of range; use a number greater than 0 and at most 1, e.g. 0.5.`,
    );
  return n;
}

// In a backup key, control characters would garble the message and the log.
// eslint-disable-next-line no-control-regex -- the pattern is made of control characters on purpose
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * `latest`, `latest:<label>`, or an archive's full object key (as stored: relative to the bucket
 * or folder, prefix included, e.g. `prod/shop/2026-11-25T071403Z-daily.dump.zst`).
 * @throws ConfigError('backup-key') for URLs, manifest or globals keys, absolute paths, bad labels.
 */
export function parseBackupKey(value: string): BackupSelector {
  if (value === 'latest') return { kind: 'latest' };
  if (value.startsWith('latest:'))
    return { kind: 'latest', label: parseLabelValue('backup-key', value.slice('latest:'.length)) };
  const fail = (problem: string): never => {
    throw new ConfigError(
      'backup-key',
      `${problem}; use latest, latest:<label>, or the archive's object key, e.g. prod/shop/2026-11-25T071403Z-daily.dump.zst.`,
    );
  };
  if (CONTROL_CHARACTER.test(value))
    fail(`'${value.replace(new RegExp(CONTROL_CHARACTER.source, 'g'), '?')}' contains control characters`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value))
    fail(`'${value}' is a URL; give the object key without the bucket or folder (the destination input says where)`);
  if (value.startsWith('/')) fail(`'${value}' starts with '/'; keys are relative to the destination`);
  if (value.endsWith('.manifest.json'))
    fail(`'${value}' is a manifest; give the archive's key (without .manifest.json)`);
  if (/\.globals\.sql(\.gpg)?$/.test(value)) fail(`'${value}' is a globals file; give the archive's key`);
  if (archiveSuffix(value) === undefined)
    fail(
      `'${value}' is not an archive key (they end in .dump, .sql or .tar, optionally with .zst, .lz4 or .gz, then .gpg when encrypted)`,
    );
  return { kind: 'key', key: value };
}

/**
 * Splits the `drill-sql` input into queries. When some line ends with `;`, queries are the texts
 * between such line ends (a query may span lines); otherwise every non-empty line is one query.
 * Lines that are only `--` comments are dropped; the trailing `;` is removed.
 */
export function parseDrillSql(value: string): string[] {
  const lines = value.split(/\r?\n/).filter((line) => !/^\s*--/.test(line));
  if (lines.some((line) => /;\s*$/.test(line))) {
    return lines
      .join('\n')
      .split(/;[ \t]*(?:\n|$)/)
      .map((q) => q.trim())
      .filter((q) => q !== '');
  }
  return lines.map((line) => line.trim().replace(/;$/, '').trim()).filter((q) => q !== '');
}

/** The input a target field came from, for messages. */
function targetInputName(input: (name: string) => string, field: 'database'): string {
  return input('target-database-url') !== '' ? 'target-database-url' : `target-${field}`;
}

/**
 * Every form of the target's secrets that could reach a log: `target-password` and
 * `target-database-url` raw, the URL's password as written and decoded, and their URL- and
 * form-encodings. Pure; pass each to core.setSecret before anything else runs.
 */
export function restoreSecrets(read: InputReader): string[] {
  return secretsToMask((name) => {
    if (name === 'database-url') return read('target-database-url');
    if (name === 'password') return read('target-password');
    return '';
  });
}
