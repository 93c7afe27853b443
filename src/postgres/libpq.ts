/**
 * How a {@link Connection} reaches the tools: libpq environment variables for pg_dump, pg_dumpall,
 * pg_restore and psql, and a `pg.ClientConfig` for the node `pg` driver with libpq's sslmode
 * semantics. The password only ever travels in these objects (PGPASSWORD / `password`), never argv.
 */
import { readFileSync } from 'node:fs';
import type { ClientConfig } from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { ConnectionError, errorMessage } from '../errors.js';
import type { Connection, SslMode } from './types.js';

/**
 * Connection URL parameters this action accepts, mapped to their libpq environment variable
 * (PostgreSQL docs, "Environment Variables" in the libpq chapter). host, port, user, password,
 * dbname and sslmode are fields of {@link Connection}, not params.
 *
 * Left out on purpose: `service`/`servicefile`/`passfile` (they would pull host, user or password
 * from files outside the inputs), `hostaddr` (bypasses the host the driver checks) and the
 * deprecated `requiressl`. Variables that an older libpq does not know are ignored by it, so passing
 * e.g. PGSSLNEGOTIATION (17+) to pg_dump 15 is harmless, unlike the same keyword in a conninfo.
 */
export const LIBPQ_PARAM_ENV: Readonly<Record<string, string>> = Object.freeze({
  application_name: 'PGAPPNAME',
  channel_binding: 'PGCHANNELBINDING',
  client_encoding: 'PGCLIENTENCODING',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  gssdelegation: 'PGGSSDELEGATION',
  gssencmode: 'PGGSSENCMODE',
  gsslib: 'PGGSSLIB',
  krbsrvname: 'PGKRBSRVNAME',
  load_balance_hosts: 'PGLOADBALANCEHOSTS',
  options: 'PGOPTIONS',
  require_auth: 'PGREQUIREAUTH',
  requirepeer: 'PGREQUIREPEER',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION',
  ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  sslcert: 'PGSSLCERT',
  sslcertmode: 'PGSSLCERTMODE',
  sslcompression: 'PGSSLCOMPRESSION',
  sslcrl: 'PGSSLCRL',
  sslcrldir: 'PGSSLCRLDIR',
  sslkey: 'PGSSLKEY',
  sslnegotiation: 'PGSSLNEGOTIATION',
  sslrootcert: 'PGSSLROOTCERT',
  sslsni: 'PGSSLSNI',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
});

/**
 * Environment for a libpq client (pg_dump & co.). Merge it over a copy of `process.env`; the caller
 * should drop inherited PG* variables first if the runner may have some set.
 */
export function libpqEnv(conn: Connection): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: conn.host,
    PGPORT: String(conn.port),
    PGUSER: conn.user,
    PGPASSWORD: conn.password,
    PGDATABASE: conn.database,
  };
  if (conn.sslmode) env.PGSSLMODE = conn.sslmode;
  for (const [key, value] of Object.entries(conn.params)) {
    const name = LIBPQ_PARAM_ENV[key];
    if (name === undefined) {
      // The config parser rejects unknown parameters; this is only a safety net.
      throw new ConnectionError(
        `Unsupported connection parameter '${key}'. Supported: ${Object.keys(LIBPQ_PARAM_ENV).join(', ')}.`,
      );
    }
    env[name] = value;
  }
  return env;
}

/** Default connect timeout of the node driver when the URL gives no `connect_timeout`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * `pg.ClientConfig` with libpq's sslmode semantics:
 * - `disable` → no TLS;
 * - `allow`, `prefer` (libpq's default, also used when sslmode is unset), `require` → TLS without
 *   certificate checks. node-pg cannot fall back to plaintext by itself: for allow/prefer the caller
 *   retries with {@link withoutSsl} when the server answers that it does not support SSL (see
 *   inspect.ts). As in libpq, `require` with an explicit `sslrootcert` behaves like `verify-ca`;
 * - `verify-ca` → TLS, chain checked against `sslrootcert` (or the system roots), host name not;
 * - `verify-full` → chain and host name checked.
 * `sslcert`/`sslkey` are read for client certificates. `connect_timeout` (seconds) becomes
 * `connectionTimeoutMillis` (default {@link DEFAULT_CONNECT_TIMEOUT_MS}).
 */
export function pgClientConfig(conn: Connection): ClientConfig {
  const params = conn.params;
  const config: ClientConfig = {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.database,
    ssl: sslOptions(effectiveSslMode(conn), params),
    connectionTimeoutMillis: connectTimeoutMs(params.connect_timeout),
  };
  if (params.application_name !== undefined) config.application_name = params.application_name;
  if (params.options !== undefined) config.options = params.options;
  if (params.client_encoding !== undefined) config.client_encoding = params.client_encoding;
  if (params.channel_binding === 'require') config.enableChannelBinding = true;
  if (params.sslnegotiation === 'direct' || params.sslnegotiation === 'postgres') {
    config.sslnegotiation = params.sslnegotiation;
  }
  return config;
}

/** The same config without TLS: the second attempt for sslmode allow/prefer/unset. */
export function withoutSsl(config: ClientConfig): ClientConfig {
  return { ...config, ssl: false };
}

/** True when a plaintext retry is allowed after a TLS attempt failed (allow, prefer, unset). */
export function sslFallbackAllowed(conn: Connection): boolean {
  const mode = effectiveSslMode(conn);
  return mode === 'prefer' || mode === 'allow';
}

function effectiveSslMode(conn: Connection): SslMode {
  const mode = conn.sslmode ?? 'prefer';
  if (mode === 'require' && conn.params.sslrootcert !== undefined) return 'verify-ca';
  return mode;
}

function sslOptions(mode: SslMode, params: Record<string, string>): false | ConnectionOptions {
  if (mode === 'disable') return false;
  const options: ConnectionOptions = {};
  if (params.sslcert !== undefined) options.cert = readPemFile('sslcert', params.sslcert);
  if (params.sslkey !== undefined) options.key = readPemFile('sslkey', params.sslkey);
  if (mode === 'allow' || mode === 'prefer' || mode === 'require') {
    options.rejectUnauthorized = false;
    return options;
  }
  options.rejectUnauthorized = true;
  const root = params.sslrootcert;
  // 'system' (libpq 16+) means the system's trusted roots, which is Node's default.
  if (root !== undefined && root !== 'system') options.ca = readPemFile('sslrootcert', root);
  if (mode === 'verify-ca') options.checkServerIdentity = () => undefined;
  return options;
}

function readPemFile(param: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = errorMessage(error);
    throw new ConnectionError(
      `Cannot read the ${param} file '${file}' named in the connection parameters: ${reason}. ` +
        `Write the file in an earlier step (e.g. from a secret) or remove '${param}'.`,
      { cause: error },
    );
  }
}

function connectTimeoutMs(value: string | undefined): number {
  if (value === undefined) return DEFAULT_CONNECT_TIMEOUT_MS;
  const seconds = Number(value);
  // libpq: 0 or negative means wait forever; values below 2 s are raised to 2 s.
  if (!Number.isFinite(seconds)) return DEFAULT_CONNECT_TIMEOUT_MS;
  if (seconds <= 0) return 0;
  return Math.max(2, Math.trunc(seconds)) * 1000;
}
