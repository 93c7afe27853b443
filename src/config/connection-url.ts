import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseConnectionString } from 'pg-connection-string';
import { ConfigError } from '../errors.js';
import { LIBPQ_PARAM_ENV } from '../postgres/libpq.js';
import { SSL_MODES, type Connection, type SslMode } from '../postgres/types.js';

/** A libpq sslmode value, or a ConfigError naming `input`. */
export function parseSslMode(input: string, value: string): SslMode {
  if ((SSL_MODES as readonly string[]).includes(value)) return value as SslMode;
  throw new ConfigError(input, `sslmode '${value}' is not one of: ${SSL_MODES.join(', ')}.`);
}

/** URL query parameters that are parts of the connection itself, not libpq options. */
const URL_CONNECTION_PARAMS = new Set(['host', 'port', 'user', 'password', 'dbname', 'sslmode', 'uselibpqcompat']);

/**
 * Parses a libpq connection URI (PostgreSQL docs, "34.1.1.2 Connection URIs") with
 * pg-connection-string, strictly: scheme, host, user, database, port range, sslmode, and only the
 * libpq parameters this action passes on (LIBPQ_PARAM_ENV).
 * @throws ConfigError naming `input` (`database-url`, `target-database-url`). Messages never quote
 *   the URL: it holds the password.
 */
export function parseConnectionUrl(input: string, url: string): Connection {
  const fail = (problem: string): never => {
    throw new ConfigError(
      input,
      `${problem} Expected postgres://user:password@host:5432/dbname?sslmode=require (percent-encode special characters in the password).`,
    );
  };
  if (!/^postgres(ql)?:\/\//i.test(url)) fail('it does not start with postgres:// or postgresql://.');
  if ((url.match(/@/g) ?? []).length > 1 || url.includes('#') || /%(?![0-9a-f]{2})/i.test(url) || /\s/.test(url)) {
    fail('it has an unencoded special character (@, #, %, or a space; most likely in the password).');
  }
  let searchParams: URLSearchParams;
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    searchParams = new URL(url.replace(/^postgres(ql)?:/i, 'http:').replace('@/', '@localhost/')).searchParams;
    // pg-connection-string reads sslcert/sslkey/sslrootcert files itself (and takes `system` for a
    // file name), and judges sslmode without them: these are left out here; sslmode is read from
    // searchParams below and the files are resolved by resolveSslFiles, as libpq does.
    parsed = parseConnectionString(withoutSslFiles(url), { useLibpqCompat: true });
  } catch {
    return fail(
      'it is not a valid URL (check the port and that special characters in the password are percent-encoded).',
    );
  }
  const params: Record<string, string> = {};
  for (const [key, value] of searchParams) {
    if (URL_CONNECTION_PARAMS.has(key)) continue;
    if (!(key in LIBPQ_PARAM_ENV)) {
      fail(
        `parameter '${key}' is not a libpq connection parameter this action supports (supported: ${Object.keys(LIBPQ_PARAM_ENV).join(', ')}).`,
      );
    }
    params[key] = value;
  }
  const host = parsed.host ?? '';
  if (host === '' || host === 'base') fail('it has no host.');
  const database = parsed.database ?? '';
  if (database === '') fail('it has no database name after the host (…/dbname).');
  const user = parsed.user ?? '';
  if (user === '') fail('it has no user name (postgres://user@host/…).');
  let port = 5432;
  if (parsed.port) {
    port = Number(parsed.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail('its port is not a number from 1 to 65535.');
  }
  let sslmode = searchParams.get('sslmode');
  resolveSslFiles(input, params);
  if (params.sslrootcert === 'system') {
    // libpq 16+: sslrootcert=system implies verify-full and refuses weaker modes (a public CA
    // vouches for anyone's certificate; only the host name check makes it safe).
    if (sslmode === null) sslmode = 'verify-full';
    else if (sslmode !== 'verify-full')
      fail(
        `sslrootcert=system needs sslmode=verify-full (libpq refuses sslmode=${sslmode} with it); set sslmode=verify-full or leave sslmode out.`,
      );
  }
  return {
    host,
    port,
    user,
    password: parsed.password ?? '',
    database,
    ...(sslmode === null ? {} : { sslmode: parseSslMode(input, sslmode) }),
    params,
  };
}

/** libpq parameters that name a file (PostgreSQL docs, "Parameter Key Words"). */
const SSL_FILE_PARAMS = ['sslrootcert', 'sslcert', 'sslkey', 'sslcrl'] as const;

/** `url` without the file parameters and sslmode, for pg-connection-string (which would read them). */
function withoutSslFiles(url: string): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const kept = url
    .slice(at + 1)
    .split('&')
    .filter((pair) => ![...SSL_FILE_PARAMS, 'sslmode'].includes(pair.split('=')[0] ?? ''));
  return kept.length === 0 ? url.slice(0, at) : `${url.slice(0, at)}?${kept.join('&')}`;
}

/**
 * The folder relative file parameters are read from, as libpq reads them from its working
 * directory: the workspace (GITHUB_WORKSPACE, where a step writes files and the runner starts the
 * action), else the current directory.
 */
export function sslFileBase(env: NodeJS.ProcessEnv = process.env): string {
  return env['GITHUB_WORKSPACE'] || process.cwd();
}

/**
 * Replaces each file parameter (sslrootcert, sslcert, sslkey, sslcrl) in `params` by its absolute
 * path, relative ones resolved against {@link sslFileBase}, and checks that the file exists, so that
 * the node driver and pg_dump (PGSSLROOTCERT, …) read the same file. `sslrootcert=system` (libpq 16+:
 * the system's trusted CAs) is kept as is. Reads the file system (existence only).
 * @throws ConfigError naming `input`, the parameter and the file (a path, never the password).
 */
export function resolveSslFiles(input: string, params: Record<string, string>): void {
  for (const name of SSL_FILE_PARAMS) {
    const value = params[name];
    if (value === undefined || (name === 'sslrootcert' && value === 'system')) continue;
    if (value === '')
      throw new ConfigError(
        input,
        `parameter ${name} is empty; name a file (an absolute path, or one relative to the workspace)${name === 'sslrootcert' ? ", or system for the system's trusted CAs" : ''}, or remove it.`,
      );
    const base = sslFileBase();
    const file = isAbsolute(value) ? value : resolve(base, value);
    const where = isAbsolute(value) ? '' : ` (the relative path '${value}' is read from the workspace, ${base})`;
    if (!existsSync(file)) {
      throw new ConfigError(
        input,
        `parameter ${name}: the file '${file}' does not exist${where}. Write it in an earlier step (e.g. \`echo "$CA_CERT" > ${name === 'sslrootcert' ? 'ca.crt' : name === 'sslcrl' ? 'root.crl' : `client.${name === 'sslkey' ? 'key' : 'crt'}`}\` from a secret)${name === 'sslrootcert' ? ', or use sslrootcert=system for a server certificate signed by a public CA' : ''}.`,
      );
    }
    if (!statSync(file).isFile()) throw new ConfigError(input, `parameter ${name}: '${file}' is not a file${where}.`);
    params[name] = file;
  }
}
