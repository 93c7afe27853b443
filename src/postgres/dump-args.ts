/**
 * pg_dump / pg_dumpall argument vectors (pure). The connection never appears here: it reaches the
 * tools through libpq environment variables (see libpq.ts), so argv holds no host and no password.
 * Every option with a value is written as one `--name=value` token, so a value that starts with '-'
 * can never be read as an option.
 */
import type { ClientTool, DumpOptions } from './types.js';

export interface DumpPlan {
  /** Value of `--compress`, decided by the caller for the client's major: '0', '6', 'zstd:3', 'lz4'... */
  compress: string;
  /** Snapshot exported by the inspector's session (`pg_export_snapshot()`). */
  snapshot?: string;
  /** Target folder; required for (and only used with) the directory format. */
  outputDir?: string;
}

export function buildPgDumpArgs(opts: DumpOptions, plan: DumpPlan): string[] {
  const args = [`--format=${opts.format}`, `--compress=${plan.compress}`];
  if (opts.format === 'directory') {
    if (opts.jobs > 1) args.push(`--jobs=${opts.jobs}`);
  }
  if (plan.snapshot) args.push(`--snapshot=${plan.snapshot}`);
  // pg_dump applies it to the LOCK TABLE of its start (any format SET statement_timeout accepts).
  if (opts.lockWaitTimeoutMs) args.push(`--lock-wait-timeout=${opts.lockWaitTimeoutMs}ms`);
  if (opts.format === 'directory') {
    if (!plan.outputDir) throw new Error('buildPgDumpArgs: the directory format needs plan.outputDir');
    args.push(`--file=${plan.outputDir}`);
  }
  for (const schema of opts.schemas) args.push(`--schema=${schema}`);
  for (const schema of opts.excludeSchemas) args.push(`--exclude-schema=${schema}`);
  for (const table of opts.tables) args.push(`--table=${table}`);
  for (const table of opts.excludeTables) args.push(`--exclude-table=${table}`);
  for (const table of opts.excludeTableData) args.push(`--exclude-table-data=${table}`);
  if (opts.schemaOnly) args.push('--schema-only');
  if (opts.dataOnly) args.push('--data-only');
  if (opts.noOwner) args.push('--no-owner');
  if (opts.noPrivileges) args.push('--no-privileges');
  args.push(...opts.extraArgs);
  // Never prompt for a password: CI has no terminal, a prompt would hang until the job times out.
  args.push('--no-password');
  return args;
}

/**
 * pg_dumpall arguments for roles and tablespaces only. Role passwords are left out (they would put
 * password hashes into the backup, and reading them needs a superuser). The database to connect to
 * comes from PGDATABASE; pg_dumpall has no per-database output here.
 */
export function buildPgDumpallGlobalsArgs(): string[] {
  return ['--globals-only', '--no-role-passwords', '--no-password'];
}

/** Name of the action input that holds the extra arguments. */
export const EXTRA_ARGS_INPUT = 'pg-dump-args';

interface OptionSpec {
  short?: string;
  /** Takes a value (`--name=value`). */
  value: boolean;
  /** Why it is refused, as "<reason>" completing "… is not allowed: <reason>". */
  deny?: string;
  /** First pg_dump major that has it (PostgreSQL release notes / pg_dump docs of that major). */
  since?: number;
  /** First minor release of each major that has it, for an option added in minor releases. */
  sinceMinor?: Readonly<Record<number, number>>;
}

const CONNECTION = 'the connection comes from the `database-url` input (or `host`, `port`, `username`, `database`)';
const PASSWORD = 'the action never prompts; the password comes from the `database-url` or `password` input';

/**
 * pg_dump's long options up to PostgreSQL 18, exact names only: getopt accepts unambiguous
 * abbreviations (`--fi=x` is `--file=x`), so unknown names, abbreviations included, are refused.
 */
const OPTIONS: Record<string, OptionSpec> = {
  // Break the pipeline or duplicate what the action controls.
  file: {
    short: 'f',
    value: true,
    deny: 'the action writes the output itself; choose where with the `destination` input',
  },
  format: { short: 'F', value: true, deny: 'use the `format` input' },
  compress: { short: 'Z', value: true, deny: 'use the `compression` input' },
  jobs: { short: 'j', value: true, deny: 'use the `jobs` input (directory format)' },
  snapshot: {
    value: true,
    deny: 'the action exports its own snapshot so that row counts and the dump see the same data',
  },
  dbname: { short: 'd', value: true, deny: CONNECTION },
  host: { short: 'h', value: true, deny: CONNECTION },
  port: { short: 'p', value: true, deny: CONNECTION },
  username: { short: 'U', value: true, deny: CONNECTION },
  password: { short: 'W', value: false, deny: PASSWORD },
  'no-password': { short: 'w', value: false, deny: 'the action always passes --no-password' },
  version: { short: 'V', value: false, deny: 'it prints the version and exits without dumping' },
  help: { short: '?', value: false, deny: 'it prints help and exits without dumping' },
  'binary-upgrade': { value: false, deny: 'it is for pg_upgrade only' },
  schema: { short: 'n', value: true, deny: 'use the `schema` input' },
  'exclude-schema': { short: 'N', value: true, deny: 'use the `exclude-schema` input' },
  table: { short: 't', value: true, deny: 'use the `table` input' },
  'exclude-table': { short: 'T', value: true, deny: 'use the `exclude-table` input' },
  'exclude-table-data': { value: true, deny: 'use the `exclude-table-data` input' },
  'schema-only': { short: 's', value: false, deny: 'use the `schema-only` input' },
  'data-only': { short: 'a', value: false, deny: 'use the `data-only` input' },
  'no-owner': { short: 'O', value: false, deny: 'use the `no-owner` input' },
  'no-privileges': { short: 'x', value: false, deny: 'use the `no-privileges` input' },
  'no-acl': { value: false, deny: 'use the `no-privileges` input' },
  // Allowed.
  blobs: { short: 'b', value: false },
  'large-objects': { value: false, since: 16 },
  'no-blobs': { short: 'B', value: false },
  'no-large-objects': { value: false, since: 16 },
  clean: { short: 'c', value: false },
  create: { short: 'C', value: false },
  extension: { short: 'e', value: true, since: 14 },
  'exclude-extension': { value: true, since: 17 },
  encoding: { short: 'E', value: true },
  superuser: { short: 'S', value: true },
  verbose: { short: 'v', value: false },
  'lock-wait-timeout': {
    value: true,
    deny: 'use the `lock-wait-timeout` input, which also bounds the wait of the session that counts rows',
  },
  'no-sync': { value: false, since: 10 },
  'sync-method': { value: true, since: 17 },
  'attribute-inserts': { value: false },
  'column-inserts': { value: false },
  'disable-dollar-quoting': { value: false },
  'disable-triggers': { value: false },
  'enable-row-security': { value: false },
  'exclude-table-and-children': { value: true, since: 16 },
  'exclude-table-data-and-children': { value: true, since: 16 },
  'table-and-children': { value: true, since: 16 },
  'extra-float-digits': { value: true, since: 12 },
  filter: { value: true, since: 17 },
  'if-exists': { value: false },
  'include-foreign-data': { value: true, since: 13 },
  inserts: { value: false },
  'load-via-partition-root': { value: false, since: 11 },
  'no-comments': { value: false, since: 11 },
  'no-publications': { value: false, since: 10 },
  'no-security-labels': { value: false },
  'no-subscriptions': { value: false, since: 10 },
  'no-table-access-method': { value: false, since: 15 },
  'no-tablespaces': { value: false },
  'no-toast-compression': { value: false, since: 14 },
  'no-unlogged-table-data': { value: false },
  'no-policies': { value: false, since: 18 },
  'no-data': { value: false, since: 18 },
  'no-schema': { value: false, since: 18 },
  'no-statistics': { value: false, since: 18 },
  'statistics-only': { value: false, since: 18 },
  statistics: { value: false, since: 18 },
  // Spellings of the PostgreSQL 18 development cycle, removed before 18.0.
  'with-data': {
    value: false,
    deny: 'it was removed before PostgreSQL 18.0; data is dumped by default (or use `data-only`)',
  },
  'with-schema': {
    value: false,
    deny: 'it was removed before PostgreSQL 18.0; the schema is dumped by default (or use `schema-only`)',
  },
  'with-statistics': {
    value: false,
    deny: 'it was removed before PostgreSQL 18.0; write `--statistics` (pg_dump 18+)',
  },
  'sequence-data': { value: false, since: 18 },
  'no-synchronized-snapshots': { value: false },
  'on-conflict-do-nothing': { value: false, since: 12 },
  'quote-all-identifiers': { value: false },
  // Added by the August 2025 minor releases (CVE-2025-8714).
  'restrict-key': { value: true, since: 18, sinceMinor: { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 } },
  'rows-per-insert': { value: true, since: 12 },
  section: { value: true },
  'serializable-deferrable': { value: false },
  'strict-names': { value: false },
  'use-set-session-authorization': { value: false },
  role: { value: true },
};

const BY_SHORT: Record<string, string> = Object.fromEntries(
  Object.entries(OPTIONS)
    .filter(([, spec]) => spec.short !== undefined)
    .map(([name, spec]) => [spec.short!, name]),
);

/**
 * Checks the `pg-dump-args` lines: each must be exactly one option token, `--long-name` or
 * `--long-name=value`, or a lone value-less short flag such as `-v`. Returns the problem (naming
 * the token and the input to use instead) or undefined when all are acceptable.
 */
export function checkExtraPgDumpArgs(args: string[]): string | undefined {
  for (const token of args) {
    const problem = checkToken(token);
    if (problem) return problem;
  }
  return undefined;
}

function checkToken(token: string): string | undefined {
  const shown = `'${token}'`;
  if (!token.startsWith('-') || token === '-' || token === '--') {
    return (
      `${shown} is not an option. Write one option per line, such as \`--no-comments\` or ` +
      '`--rows-per-insert=1000` (a value goes after `=` on the same line).'
    );
  }
  if (token.startsWith('--')) {
    const eq = token.indexOf('=');
    const name = token.slice(2, eq === -1 ? undefined : eq);
    const spec = OPTIONS[name];
    if (!spec) {
      return `${shown} is not a pg_dump option this action knows (write the full option name; abbreviations are not accepted).`;
    }
    if (spec.deny) return `${shown} is not allowed in \`${EXTRA_ARGS_INPUT}\`: ${spec.deny}.`;
    if (spec.value && eq === -1) {
      return `${shown} needs a value on the same line: \`--${name}=<value>\`.`;
    }
    if (!spec.value && eq !== -1) return `${shown} takes no value: write \`--${name}\`.`;
    return undefined;
  }
  const letter = token[1]!;
  const name = BY_SHORT[letter];
  if (!name) return `${shown} is not a pg_dump option this action knows.`;
  const spec = OPTIONS[name]!;
  if (spec.deny) return `${shown} (--${name}) is not allowed in \`${EXTRA_ARGS_INPUT}\`: ${spec.deny}.`;
  if (spec.value) return `${shown} takes a value: write the long form \`--${name}=<value>\` instead.`;
  if (token.length > 2) return `${shown} combines several options: write one option per line, e.g. \`-${letter}\`.`;
  return undefined;
}

/**
 * Checks the `pg-dump-args` lines against the pg_dump that will run (known once the client is
 * chosen, before pg_dump starts): every option must exist in that major (and minor, for options added
 * by minor releases). Run {@link checkExtraPgDumpArgs} first (at config time) for the rest.
 * Returns the problem, naming the option, the input, the client's version and the first version that
 * has it, or undefined when all are accepted.
 */
export function checkPgDumpArgsForClient(
  args: string[],
  client: Pick<ClientTool, 'major' | 'version'>,
): string | undefined {
  const minor = Number(/^\d+\.(\d+)/.exec(client.version)?.[1] ?? 0);
  for (const token of args) {
    const name = token.startsWith('--') ? token.slice(2).split('=')[0]! : BY_SHORT[token[1] ?? ''];
    const spec = name === undefined ? undefined : OPTIONS[name];
    if (!spec || spec.since === undefined) continue;
    const firstMinor = spec.sinceMinor?.[client.major];
    const has = client.major >= spec.since || (firstMinor !== undefined && minor >= firstMinor);
    if (has) continue;
    const fix =
      firstMinor !== undefined
        ? `update the client to pg_dump ${client.major}.${firstMinor} or newer (a minor release), or remove it from \`${EXTRA_ARGS_INPUT}\``
        : `remove it from \`${EXTRA_ARGS_INPUT}\`, or set \`client-version\` to ${spec.since} or newer (a newer pg_dump dumps older servers)`;
    return `'${token}' is not an option of pg_dump ${client.version}, the client that runs (pg_dump has it since ${firstMinor !== undefined ? `${client.major}.${firstMinor}` : spec.since}): ${fix}.`;
  }
  return undefined;
}
