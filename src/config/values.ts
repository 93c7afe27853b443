import { ConfigError } from '../errors.js';
import type { Connection } from '../postgres/types.js';
import { parseConnectionUrl, parseSslMode } from './connection-url.js';

/**
 * `value` when it is one of `allowed` (exact, case-sensitive).
 * @throws ConfigError naming the input and listing the allowed values.
 */
export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(name, `'${value}' is not one of: ${allowed.join(', ')}.`);
}

/** Labels go into object keys: 1-40 lower-case letters, digits and dashes, as later parsed back from keys. */
export const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/**
 * A label (`daily`, `pre-migration`, …) given in input `name`.
 * @throws ConfigError naming the input when it is not a valid {@link LABEL}.
 */
export function parseLabelValue(name: string, value: string): string {
  if (!LABEL.test(value)) {
    throw new ConfigError(
      name,
      `'${value}' is not a valid label; use 1-40 lower-case letters, digits and dashes, e.g. daily or pre-migration.`,
    );
  }
  return value;
}

/**
 * A YAML 1.2 core-schema boolean, as @actions/core's getBooleanInput accepts.
 * @throws ConfigError naming `name`.
 */
export function parseBoolean(name: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new ConfigError(name, `'${value}' is not a boolean; use true or false.`);
}

/**
 * A whole number in `[min, max]`; `hint` replaces "use a number from min to max" in messages.
 * @throws ConfigError naming `name`.
 */
export function parseInteger(name: string, value: string, range: { min: number; max: number; hint?: string }): number {
  const hint = range.hint ?? `use a number from ${range.min} to ${range.max}`;
  if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `'${value}' is not a whole number; ${hint}.`);
  const n = Number(value);
  if (n < range.min || n > range.max) throw new ConfigError(name, `${n} is out of range; ${hint}.`);
  return n;
}

/** Which inputs describe one connection, and how the messages speak of them. */
export interface ConnectionInputNames {
  url: string;
  host: string;
  port: string;
  username: string;
  password: string;
  database: string;
  sslmode: string;
  /** How the separate inputs are called in "use either <url> or <this>, not both". */
  separately: string;
  /** What the database is for: "back up", "restore into". */
  purpose: string;
  /** Example URL for the "nothing set" message. */
  example: string;
}

/**
 * One connection from a URL input or from host/port/username/password/database/sslmode inputs
 * (never both). `input` returns values with defaults applied; the port's default is 5432.
 * @throws ConfigError naming the input at fault.
 */
export function parseConnectionInputs(input: (name: string) => string, names: ConnectionInputNames): Connection {
  checkHostIsAName(names, input(names.host));
  const url = input(names.url);
  if (url !== '') {
    const mixed = [names.host, names.username, names.password, names.database, names.sslmode].filter(
      (name) => input(name) !== '',
    );
    if (input(names.port) !== '5432') mixed.push(names.port);
    if (mixed.length > 0) {
      throw new ConfigError(
        names.url,
        `it is set together with ${mixed.map((n) => `'${n}'`).join(', ')}; use either ${names.url} or ${names.separately}, not both.`,
      );
    }
    return parseConnectionUrl(names.url, url);
  }
  const host = input(names.host);
  if (host === '') {
    throw new ConfigError(
      names.url,
      `no database to ${names.purpose}; set '${names.url}' (e.g. ${names.example}, from a repository secret) or '${names.host}', '${names.username}' and '${names.database}'.`,
    );
  }
  const user = input(names.username);
  if (user === '') throw new ConfigError(names.username, `required with '${names.host}'; set the role to connect as.`);
  const database = input(names.database);
  if (database === '')
    throw new ConfigError(
      names.database,
      `required with '${names.host}'; set the name of the database to ${names.purpose}.`,
    );
  const sslmode = input(names.sslmode);
  return {
    host,
    port: parseInteger(names.port, input(names.port), { min: 1, max: 65535 }),
    user,
    password: input(names.password),
    database,
    ...(sslmode === '' ? {} : { sslmode: parseSslMode(names.sslmode, sslmode) }),
    params: {},
  };
}

/**
 * Refuses a connection URL (or `user:password@host`) pasted into the host input, without quoting it:
 * it most likely holds the password.
 * @throws ConfigError naming the host input and pointing to the URL input.
 */
function checkHostIsAName(names: ConnectionInputNames, host: string): void {
  if (host === '') return;
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(host);
  // An absolute path is a Unix-socket folder (libpq), not a mistake.
  const pathOrQuery = /[?\s]/.test(host) || (host.includes('/') && !host.startsWith('/'));
  if (!isUrl && !host.includes('@') && !pathOrQuery) return;
  const what = isUrl ? 'a URL' : host.includes('@') ? 'user or password information (…@…)' : 'a path, query or space';
  throw new ConfigError(
    names.host,
    `it holds ${what}, not a host name (its value is not shown: it may hold a password). Put a connection URL in '${names.url}' ` +
      `(e.g. ${names.example}, from a secret) and leave '${names.host}' empty, or set '${names.host}' to the server's name or address only (e.g. db.example.com).`,
  );
}
