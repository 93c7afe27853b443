/**
 * How a {@link Connection} reaches the tools: libpq environment variables for pg_dump, pg_dumpall,
 * pg_restore and psql, and a `pg.ClientConfig` for the node `pg` driver with libpq's sslmode
 * semantics. The password only ever travels in these objects (PGPASSWORD / `password`), never argv.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ClientConfig } from 'pg';
import * as tls from 'node:tls';
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
  if (env.PGSSLROOTCERT === 'system') {
    // `system` is understood by libpq 16+ only; an older pg_dump would look for a file named
    // "system". The system's CA bundle file is what libpq 16 reads for it (OpenSSL's default).
    const bundle = systemCaBundle();
    if (bundle !== undefined) env.PGSSLROOTCERT = bundle;
  }
  return env;
}

/** OpenSSL's default CA bundle files (Debian/Ubuntu, RHEL/Fedora, macOS/Alpine/Homebrew), in that order. */
const SYSTEM_CA_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/cert.pem',
  '/opt/homebrew/etc/ca-certificates/cert.pem',
];

/**
 * The system's CA bundle file for `sslrootcert=system`, or undefined when none of the usual ones
 * exists (then `system` is passed as is: libpq 16+ resolves it through OpenSSL; an older pg_dump
 * fails to open it).
 */
export function systemCaBundle(exists: (file: string) => boolean = existsSync): string | undefined {
  return SYSTEM_CA_BUNDLES.find((file) => exists(file));
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
 * `sslrootcert=system` trusts the system's CAs (as libpq 16+); the parser has made it verify-full.
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
  if (root === 'system') {
    // libpq 16+: the system's trusted CAs (OpenSSL's default store). Node 22.15+/23.5+ reads that
    // store; older Node keeps its default, the bundled Mozilla roots (tls.rootCertificates).
    const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    const system = getCACertificates?.('system') ?? [];
    if (system.length > 0) options.ca = system;
  } else if (root !== undefined) options.ca = readPemFile('sslrootcert', root);
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
