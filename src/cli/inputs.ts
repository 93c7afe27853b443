/**
 * The CLI's inputs: what the command line gave, then the environment a shell user expects, as one
 * {@link InputReader} for the command runner (run.ts), which validates them exactly as the action's.
 */
import { readFile } from 'node:fs/promises';
import type { InputReader } from '../config/reader.js';
import type { CommandLine } from './program.js';

/** The source connection's inputs and the libpq variables that stand in for them. */
const PG_VARIABLES: Readonly<Record<string, string>> = {
  host: 'PGHOST',
  port: 'PGPORT',
  username: 'PGUSER',
  password: 'PGPASSWORD',
  database: 'PGDATABASE',
  sslmode: 'PGSSLMODE',
};

/** Where a value came from: for naming the flag or variable in errors. */
export type InputSource = 'flag' | 'file' | 'stdin' | 'environment';

/** The reader, and which inputs the person set (and how), for error messages and warnings. */
export interface CliInputs {
  read: InputReader;
  sources: ReadonlyMap<string, { from: InputSource; name: string }>;
}

/** A flag's file or standard input could not be read: a usage error. */
export class InputFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputFileError';
  }
}

/**
 * Resolves every input once: flag > `--<input>-file` > `--<input>-stdin` > `POSTGRES_BACKUP_<INPUT>`
 * > the conventional variables: `DATABASE_URL` when no source connection flag is given (else
 * `PG*` fill what the flags left out, as libpq would), `AWS_REGION`/`AWS_DEFAULT_REGION` for
 * s3-region and `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL` for s3-endpoint. Unset inputs read as '',
 * so the runner applies action.yml's defaults. A file's or stdin's one trailing newline is dropped.
 * @throws InputFileError when a `-file` cannot be read.
 */
export async function cliInputs(
  line: CommandLine,
  env: NodeJS.ProcessEnv,
  readStdin: () => Promise<string>,
): Promise<CliInputs> {
  const values = new Map<string, string>();
  const sources = new Map<string, { from: InputSource; name: string }>();
  const set = (input: string, value: string, from: InputSource, name: string): void => {
    if (values.has(input) || value === '') return;
    values.set(input, value);
    sources.set(input, { from, name });
  };
  set('command', line.command, 'flag', line.command);
  for (const [input, value] of Object.entries(line.flags)) set(input, value, 'flag', `--${input}`);
  for (const [input, file] of Object.entries(line.files)) {
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new InputFileError(`--${input}-file: cannot read '${file}' (${error.code ?? error.message}).`);
    });
    set(input, chomp(text), 'file', `--${input}-file`);
  }
  if (line.stdin !== undefined) set(line.stdin, chomp(await readStdin()), 'stdin', `--${line.stdin}-stdin`);
  for (const [key, value] of Object.entries(env)) {
    const match = /^POSTGRES_BACKUP_([A-Z0-9_]+)$/.exec(key);
    if (match?.[1] && value !== undefined) {
      const input = match[1].toLowerCase().replace(/_/g, '-');
      set(input, value, 'environment', key);
    }
  }
  connectionFallbacks(values, env, set);
  // The failure issue needs a token, which a terminal has only when given: without one, no issue
  // (and no warning that there is none).
  if (!values.has('github-token')) set('issue-on-failure', 'false', 'environment', 'no --github-token');
  for (const variable of ['AWS_REGION', 'AWS_DEFAULT_REGION'])
    set('s3-region', env[variable] ?? '', 'environment', variable);
  for (const variable of ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'])
    set('s3-endpoint', env[variable] ?? '', 'environment', variable);
  return { read: (name) => values.get(name) ?? '', sources };
}

/** DATABASE_URL when nothing names the source connection yet, else PG* for the parts not given. */
function connectionFallbacks(
  values: ReadonlyMap<string, string>,
  env: NodeJS.ProcessEnv,
  set: (input: string, value: string, from: InputSource, name: string) => void,
): void {
  if (values.has('database-url')) return;
  const separate = Object.keys(PG_VARIABLES).some((input) => values.has(input));
  if (!separate && env['DATABASE_URL']) {
    set('database-url', env['DATABASE_URL'], 'environment', 'DATABASE_URL');
    return;
  }
  // PG* alone (no flag at all) only when they name a server: PGPASSWORD by itself names nothing.
  if (!separate && !env['PGHOST'] && !env['PGDATABASE']) return;
  for (const [input, variable] of Object.entries(PG_VARIABLES))
    set(input, env[variable] ?? '', 'environment', variable);
}

/** Drops one trailing newline (`echo secret | …`, a file ending in a newline). */
function chomp(text: string): string {
  return text.replace(/\r?\n$/, '');
}
