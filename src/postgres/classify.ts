/**
 * Turns the stderr of pg_dump/pg_dumpall/psql (libpq) and node-pg errors into one actionable
 * paragraph. Pure. This module finds the kind of failure and its key line; failure-text.ts writes
 * the paragraph, which quotes that line and never a connection URL (libpq never prints the
 * password; neither do we).
 */
import {
  explainFailure,
  isSupabaseDirectHost,
  POOLER_STARTUP_PARAMETER,
  TRANSACTION_POOLER_PORT,
  type PgFailure,
  type PgFailureContext,
  type PgFailureKind,
} from './failure-text.js';

export { TRANSACTION_POOLER_PORT, type PgFailure, type PgFailureContext, type PgFailureKind } from './failure-text.js';

/**
 * A warning for a connection whose port is 6543, Supabase's transaction pooler (Supavisor), where
 * pg_dump's prepared statements and the exported snapshot may land on another server connection:
 * a backup that succeeds there may fail the next time. Undefined for other ports.
 */
export function poolerWarning(ctx: { host: string; port: number }): string | undefined {
  if (ctx.port !== TRANSACTION_POOLER_PORT) return undefined;
  return (
    `Port ${TRANSACTION_POOLER_PORT} on ${ctx.host} is usually a transaction-mode pooler (Supabase's Supavisor, PgBouncer), ` +
    'which pg_dump cannot rely on: its prepared statements and the exported snapshot can land on another server connection, so a backup that works once may fail later. ' +
    'Connect directly or through a session-mode pooler (on Supabase: the session pooler on port 5432).'
  );
}

/** The server refusing a setting given at connection start (`options=-c name=value`): FATAL at connect. */
const SERVER_STARTUP_SETTING =
  /failed: FATAL:\s+(unrecognized configuration parameter|invalid value for parameter|parameter "[^"]+" cannot be (changed|set))/i;

interface Rule {
  kind: PgFailureKind;
  test: RegExp;
}

/** An IPv6 literal as libpq prints it: `at "host" (2600:1f18::1), port` or `at "2600:1f18::1", port`. */
const IPV6_IN_LINE = /[("][0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}[)"]/i;

/** Checked in order; the first rule with a matching line wins. */
const RULES: Rule[] = [
  { kind: 'out-of-disk', test: /No space left on device|could not extend file|disk full/i },
  { kind: 'version-mismatch', test: /server version mismatch|unsupported version \([\d.]+\) in file header/i },
  {
    kind: 'dns',
    test: /could not translate host name|Name or service not known|Temporary failure in name resolution|nodename nor servname provided|getaddrinfo/i,
  },
  {
    kind: 'startup-parameter',
    test: new RegExp(`${POOLER_STARTUP_PARAMETER.source}|${SERVER_STARTUP_SETTING.source}`, 'i'),
  },
  {
    kind: 'pooler',
    test: /prepared statement "[^"]*" (does not exist|already exists)|pgbouncer|query_wait_timeout|server login has been failing/i,
  },
  {
    kind: 'connection-refused',
    test: /Connection refused|Network is unreachable|No route to host|Is the server running/i,
  },
  {
    kind: 'timeout',
    test: /timeout expired|Connection timed out|timed out|canceling statement due to (statement|lock) timeout|could not obtain lock|due to (idle-in-transaction|idle-session|transaction) timeout/i,
  },
  {
    kind: 'auth',
    test: /password authentication failed|Tenant or user not found|fe_sendauth: no password supplied|authentication failed|role "[^"]*" does not exist|SASL authentication/i,
  },
  { kind: 'database-missing', test: /database "[^"]*" does not exist/i },
  { kind: 'permission-denied', test: /permission denied|must be owner of|must be superuser/i },
  // Case-sensitive "SSL" so that object names such as ssl_keys do not match.
  { kind: 'ssl', test: /\bSSL\b|[Cc]ertificate|sslmode|GSSAPI encryption/ },
];

/** Classifies the stderr of a libpq tool. */
export function classifyPgError(stderr: string, ctx: PgFailureContext): PgFailure {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  // "no pg_hba.conf entry ... no encryption" / "SSL off" mentions SSL but is an access rule: auth first.
  const hbaLine = lines.find((line) => /no pg_hba\.conf entry|pg_hba\.conf rejects/i.test(line));
  if (hbaLine) return explainFailure('auth', hbaLine, lines, ctx);
  const unreachable = lines.find((line) => /Network is unreachable/i.test(line));
  if (unreachable && (IPV6_IN_LINE.test(unreachable) || ctx.host.includes(':') || isSupabaseDirectHost(ctx.host))) {
    return explainFailure('ipv6-unreachable', unreachable, lines, ctx);
  }
  for (const rule of RULES) {
    const line = lines.find((l) => rule.test.test(l));
    if (line) return explainFailure(rule.kind, line, lines, ctx);
  }
  const index = Math.max(
    0,
    lines.findIndex((line) => /error|fatal|failed/i.test(line)),
  );
  const keyLine = lines[index] ?? '(no error output)';
  if (ctx.port === TRANSACTION_POOLER_PORT) return explainFailure('pooler', keyLine, lines, ctx);
  return explainFailure('unknown', withDetails(lines, index) || keyLine, lines, ctx);
}

/** The line at `index` and up to three detail lines after it (not the query text). */
function withDetails(lines: string[], index: number): string {
  const out = lines.slice(index, index + 1);
  for (const line of lines.slice(index + 1)) {
    if (out.length >= 4 || /: error:/.test(line)) break;
    if (/(Query|Command) was:/.test(line)) continue;
    out.push(line);
  }
  return out.join(' ');
}

/**
 * Classifies an error thrown by the node `pg` driver (or Node's net/tls layer under it):
 * `err.code` is a Node errno (ECONNREFUSED, ENOTFOUND, ENETUNREACH, ...), an OpenSSL code, or a
 * SQLSTATE (28P01, 28000, 3D000, 42501, ...). Uses the same kinds and texts as {@link classifyPgError}.
 */
export function classifyDriverError(err: unknown, ctx: PgFailureContext): PgFailure {
  const e = firstError(err);
  const code = typeof e.code === 'string' ? e.code : '';
  const message = e.message || String(err);
  const address = typeof e.address === 'string' ? e.address : undefined;
  // SQLSTATEs come from the server; errno and TLS codes from Node's network layer under node-pg.
  const tool = ctx.tool ?? (/^[0-9A-Z]{5}$/.test(code) ? 'the server' : 'node-pg');
  const withTool = { ...ctx, tool };
  const lines = [message];
  const kind = driverKind(code, message, address, ctx, e.severity);
  if (kind === 'ipv6-unreachable' && address) {
    return explainFailure(kind, `connect ENETUNREACH ${address}:${ctx.port} (Network is unreachable)`, lines, withTool);
  }
  if (kind !== 'unknown') return explainFailure(kind, message, lines, withTool);
  return classifyPgError(message, withTool);
}

function driverKind(
  code: string,
  message: string,
  address: string | undefined,
  ctx: PgFailureContext,
  severity?: unknown,
): PgFailureKind {
  switch (code) {
    case 'ENOSPC':
      return 'out-of-disk';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return 'dns';
    case 'ENETUNREACH':
      return (address ?? '').includes(':') || isSupabaseDirectHost(ctx.host)
        ? 'ipv6-unreachable'
        : 'connection-refused';
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ECONNRESET':
      return 'connection-refused';
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
    case '57014': // query_canceled (statement/lock timeout)
    case '55P03': // lock_not_available
      return 'timeout';
    case '28P01':
      return 'auth';
    case '28000':
      return /SSL|encryption/i.test(message) && !/pg_hba/i.test(message) ? 'ssl' : 'auth';
    case '3D000':
      return 'database-missing';
    case '42501':
      return 'permission-denied';
    case '08P01':
      return POOLER_STARTUP_PARAMETER.test(message)
        ? 'startup-parameter'
        : /pgbouncer/i.test(message)
          ? 'pooler'
          : 'unknown';
    case '42704': // undefined_object: unrecognized configuration parameter
    case '22023': // invalid_parameter_value
    case '55P02': // cant_change_runtime_param
      // FATAL: raised while the session starts, i.e. by a setting of the startup packet.
      return severity === 'FATAL' ? 'startup-parameter' : 'unknown';
    case '25P03': // idle_in_transaction_session_timeout
    case '57P05': // idle_session_timeout
    case '25P04': // transaction_timeout
      return 'timeout';
    case '26000': // invalid_sql_statement_name: prepared statement missing (transaction pooler)
    case '42P05': // duplicate_prepared_statement
      return 'pooler';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'ssl';
    default:
      break;
  }
  if (/connection timeout|timeout expired|timed out/i.test(message)) return 'timeout';
  if (/does not support SSL|SSL|certificate/i.test(message)) return 'ssl';
  return 'unknown';
}

interface ErrorLike {
  code?: unknown;
  /** The server's severity (ERROR, FATAL) on node-pg's DatabaseError. */
  severity?: unknown;
  message: string;
  address?: unknown;
}

/** Node's happy-eyeballs connect throws an AggregateError whose code is on the inner errors. */
function firstError(err: unknown): ErrorLike {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; address?: unknown; errors?: unknown; severity?: unknown };
    if (!e.code && Array.isArray(e.errors) && e.errors.length > 0) {
      const inner = firstError(e.errors[0]);
      return {
        ...inner,
        message: typeof e.message === 'string' && e.message ? `${e.message}: ${inner.message}` : inner.message,
      };
    }
    return {
      code: e.code,
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- no string message: the object's own text
      message: typeof e.message === 'string' ? e.message : String(err),
      address: e.address,
      severity: e.severity,
    };
  }
  return { message: String(err) };
}
