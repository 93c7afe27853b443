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
    throw new ConfigError(input, `${problem} Expected postgres://user:password@host:5432/dbname?sslmode=require (percent-encode special characters in the password).`);
  };
  if (!/^postgres(ql)?:\/\//i.test(url)) fail('it does not start with postgres:// or postgresql://.');
  if ((url.match(/@/g) ?? []).length > 1 || url.includes('#') || /%(?![0-9a-f]{2})/i.test(url) || /\s/.test(url)) {
    fail('it has an unencoded special character (@, #, %, or a space; most likely in the password).');
  }
  let searchParams: URLSearchParams;
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    searchParams = new URL(url.replace(/^postgres(ql)?:/i, 'http:').replace('@/', '@localhost/')).searchParams;
    parsed = parseConnectionString(url, { useLibpqCompat: true });
  } catch {
    return fail('it is not a valid URL (check the port and that special characters in the password are percent-encoded).');
  }
  const params: Record<string, string> = {};
  for (const [key, value] of searchParams) {
    if (URL_CONNECTION_PARAMS.has(key)) continue;
    if (!(key in LIBPQ_PARAM_ENV)) {
      fail(`parameter '${key}' is not a libpq connection parameter this action supports (supported: ${Object.keys(LIBPQ_PARAM_ENV).join(', ')}).`);
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
  const sslmode = searchParams.get('sslmode');
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
