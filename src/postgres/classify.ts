/**
 * Turns the stderr of pg_dump/pg_dumpall/psql (libpq) and node-pg errors into one actionable
 * paragraph. Pure. The texts quote the key line of the tool's output and never a connection URL
 * (libpq never prints the password; neither do we).
 */

export type PgFailureKind =
  | 'auth'
  | 'connection-refused'
  | 'dns'
  | 'ipv6-unreachable'
  | 'pooler'
  | 'startup-parameter'
  | 'version-mismatch'
  | 'permission-denied'
  | 'database-missing'
  | 'ssl'
  | 'timeout'
  | 'out-of-disk'
  | 'unknown';

export interface PgFailureContext {
  host: string;
  port: number;
  /** Tool whose output this is (default 'pg_dump'); only used in texts. */
  tool?: string;
}

export interface PgFailure {
  kind: PgFailureKind;
  message: string;
}

/** Supabase transaction pooler port (Supavisor / pgbouncer in transaction mode). */
export const TRANSACTION_POOLER_PORT = 6543;

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

/**
 * A pooler refusing a startup parameter (PgBouncer, Supavisor: in session and transaction mode
 * alike), e.g. `options` from `options=` in the URL.
 */
const POOLER_STARTUP_PARAMETER = /unsupported startup parameter|unsupported options startup parameter/i;
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
  if (hbaLine) return build('auth', hbaLine, lines, ctx);
  const unreachable = lines.find((line) => /Network is unreachable/i.test(line));
  if (unreachable && (IPV6_IN_LINE.test(unreachable) || ctx.host.includes(':') || isSupabaseDirectHost(ctx.host))) {
    return build('ipv6-unreachable', unreachable, lines, ctx);
  }
  for (const rule of RULES) {
    const line = lines.find((l) => rule.test.test(l));
    if (line) return build(rule.kind, line, lines, ctx);
  }
  const index = Math.max(
    0,
    lines.findIndex((line) => /error|fatal|failed/i.test(line)),
  );
  const keyLine = lines[index] ?? '(no error output)';
  if (ctx.port === TRANSACTION_POOLER_PORT) return build('pooler', keyLine, lines, ctx);
  return build('unknown', withDetails(lines, index) || keyLine, lines, ctx);
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

const CONNECTION_LOST =
  /server closed the connection unexpectedly|terminating connection|connection to server was lost|SSL SYSCALL error|could not receive data from server|PQgetCopyData\(\) failed/i;

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
    return build(kind, `connect ENETUNREACH ${address}:${ctx.port} (Network is unreachable)`, lines, withTool);
  }
  if (kind !== 'unknown') return build(kind, message, lines, withTool);
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

function isSupabaseDirectHost(host: string): boolean {
  return /^db\.[a-z0-9]+\.supabase\.co$/i.test(host);
}

function quote(line: string): string {
  return `"${line.length > 400 ? `${line.slice(0, 400)}…` : line}"`;
}

/** What every explanation may quote: the tool, the server address and the key line. */
interface Facts {
  keyLine: string;
  lines: string[];
  ctx: PgFailureContext;
  tool: string;
  /** host:port, IPv6 hosts in brackets. */
  where: string;
  /** `<tool> said "<key line>".` */
  said: string;
}

function build(kind: PgFailureKind, keyLine: string, lines: string[], ctx: PgFailureContext): PgFailure {
  const tool = ctx.tool ?? 'pg_dump';
  const where = ctx.host.includes(':') ? `[${ctx.host}]:${ctx.port}` : `${ctx.host}:${ctx.port}`;
  const said = `${tool} said ${quote(keyLine)}.`;
  return { kind, message: EXPLAIN[kind]({ keyLine, lines, ctx, tool, where, said }) };
}

/** The paragraph for each kind of failure: what happened, then the fix. */
const EXPLAIN: Record<PgFailureKind, (facts: Facts) => string> = {
  auth: explainAuth,
  'connection-refused': ({ where, said }) =>
    `Cannot connect to PostgreSQL at ${where}: ${said} Check the host and port, that the server is running ` +
    "and listening on that address (listen_addresses), and that firewalls or your provider's IP allow-list let the runner in.",
  dns: ({ ctx, said }) =>
    `The host name ${quote(ctx.host)} could not be resolved: ${said} Check the host in the connection inputs ` +
    '(a typo, or a private name that the runner cannot resolve; self-hosted networks need a self-hosted runner).',
  'ipv6-unreachable': ({ ctx, said }) =>
    `The server's address for ${ctx.host} is IPv6 and the runner has no IPv6 route: ${said} ` +
    (isSupabaseDirectHost(ctx.host)
      ? "Supabase's direct host (db.<ref>.supabase.co) is IPv6-only. Use the IPv4 session pooler instead: " +
        'host `aws-0-<region>.pooler.supabase.com`, port 5432, user `postgres.<ref>` (Dashboard → Connect → Session pooler).'
      : 'Use an IPv4 address or host name for the server (GitHub-hosted runners cannot reach IPv6 addresses).'),
  'startup-parameter': explainStartupParameter,
  pooler: explainPooler,
  'version-mismatch': explainVersionMismatch,
  'permission-denied': explainPermissionDenied,
  'database-missing': ({ where, said }) =>
    `The database does not exist on ${where}: ${said} Check the database name in the connection inputs (names are case-sensitive).`,
  ssl: explainSsl,
  timeout: explainTimeout,
  'out-of-disk': ({ said }) =>
    `The runner ran out of disk space: ${said} Stream straight to the destination instead of a local folder, ` +
    'free space in an earlier step, or use a runner with a larger disk.',
  unknown: ({ tool, where, said, keyLine, ctx }) =>
    `${tool} failed (${where}): ${said}` +
    (CONNECTION_LOST.test(keyLine)
      ? ' The connection to the server was lost during the dump (a restart or failover, a proxy or pooler cutting a long ' +
        "connection, or the server running out of memory): run the backup again and check the server's log."
      : '') +
    (ctx.port === TRANSACTION_POOLER_PORT
      ? ' Port 6543 is usually a transaction pooler, which pg_dump cannot use: connect directly or through a session pooler.'
      : ''),
};

function explainAuth({ where, said, keyLine }: Facts): string {
  const text = `Authentication to PostgreSQL at ${where} was rejected: ${said} `;
  if (/Tenant or user not found/i.test(keyLine)) {
    return (
      text +
      'Supabase poolers expect the user name as `postgres.<project-ref>`; copy the connection string from the dashboard (Connect → Session pooler).'
    );
  }
  if (/no pg_hba\.conf entry|pg_hba\.conf rejects/i.test(keyLine)) {
    return (
      text +
      'The server does not accept this user/database/address combination. ' +
      (/no encryption|SSL off/i.test(keyLine)
        ? 'It probably only allows SSL connections: set `sslmode=require` (or verify-full) in the connection URL.'
        : "Allow the runner's address in pg_hba.conf or your provider's network rules, or use an allowed user.")
    );
  }
  if (/no password supplied/i.test(keyLine)) {
    return (
      text + 'No password was given: set the password (e.g. from a secret) in the `database-url` or `password` input.'
    );
  }
  if (/role "[^"]*" does not exist/i.test(keyLine)) return text + 'Check the user name in the connection inputs.';
  return (
    text +
    'Check the user name and password secrets (a rotated password, or special characters in the URL that are not percent-encoded, are the usual causes).'
  );
}

function explainStartupParameter({ where, said, keyLine }: Facts): string {
  if (POOLER_STARTUP_PARAMETER.test(keyLine)) {
    return (
      `The connection pooler at ${where} refused a parameter of the connection's start: ${said} ` +
      'Poolers (PgBouncer, Supavisor) pass on only a few startup parameters, in session mode as in transaction mode; ' +
      (/options/i.test(keyLine)
        ? '`options` comes from `options=` in the connection URL (inherited PGOPTIONS variables are not used): remove it and set such settings for the role instead (`ALTER ROLE <user> SET name = value`), or connect directly to the database.'
        : 'allow it in the pooler (PgBouncer: `ignore_startup_parameters`), or connect directly to the database.')
    );
  }
  return (
    `PostgreSQL at ${where} refused a setting given when the connection starts: ${said} ` +
    'Such settings come from `options=-c name=value` in the connection URL (inherited PGOPTIONS variables are not used): fix the name or value there, or remove it.'
  );
}

function explainPooler({ where, said, keyLine, ctx }: Facts): string {
  // Only lost prepared statements (or an unexplained failure on 6543) tell of transaction mode;
  // PgBouncer's own errors happen in session mode too.
  if (
    /query_wait_timeout|server login has been failing|pgbouncer/i.test(keyLine) &&
    !/prepared statement/i.test(keyLine)
  ) {
    return (
      `The connection pooler in front of PostgreSQL at ${where} failed the connection: ${said} ` +
      (/query_wait_timeout/i.test(keyLine)
        ? 'No server connection of its pool became free in time: raise the pool size, or run the backup when the pool is less busy.'
        : /server login has been failing/i.test(keyLine)
          ? "The pooler itself cannot log in to the database server: check the pooler's own credentials and the server (its log says why)."
          : "Check the pooler's log and settings, or connect directly to the database.")
    );
  }
  return (
    `The connection to ${where} goes through a connection pooler in transaction mode, which pg_dump cannot use: ${said} ` +
    'Connect directly to the database or through a session-mode pooler' +
    (ctx.port === TRANSACTION_POOLER_PORT
      ? ' (on Supabase: the session pooler on port 5432, not the transaction pooler on 6543).'
      : '.')
  );
}

function explainVersionMismatch({ tool, said, keyLine, lines }: Facts): string {
  if (/in file header/i.test(keyLine)) {
    return (
      `${tool} cannot read this archive: ${said} It was written by a newer pg_dump. ` +
      "Restore it with pg_restore of the major version recorded in the backup's manifest (or newer)."
    );
  }
  const m = /server version:\s*([\w.]+);\s*\w+ version:\s*([\w.]+)/i.exec(lines.join('\n'));
  const detail = m ? ` The server runs ${m[1]}, the client is ${m[2]}.` : '';
  const serverMajor = m ? /^\d+/.exec(m[1]!)?.[0] : undefined;
  return (
    `${tool} refuses to dump a server of a newer major version than its own: ${said}${detail} ` +
    `Use a client of the server's major version${serverMajor ? ` (${tool} ${serverMajor})` : ''}: ` +
    'leave `install-client` enabled so the action installs it, ' +
    "or set `client-version` to the server's major (or newer) and make that client available on the runner."
  );
}

function explainPermissionDenied({ said, keyLine }: Facts): string {
  const m =
    /permission denied for (table|schema|sequence|relation|view|materialized view|function|database|large object) ("?[^\s"]+"?)/i.exec(
      keyLine,
    );
  const object = m ? `${m[1]} ${m[2]}` : 'an object';
  return (
    `The database user may not read ${object}: ${said} ` +
    (m && /schema/i.test(m[1]!)
      ? `Grant it (\`GRANT USAGE ON SCHEMA ${m[2]} TO <user>\` plus SELECT on its tables), or exclude it with the \`exclude-schema\` input, or back up as the owner.`
      : `Grant it (\`GRANT SELECT ON ${m ? m[2] : '<object>'} TO <user>\`; for all tables: \`GRANT pg_read_all_data TO <user>\` on PostgreSQL 14+), ` +
        'or exclude it with the `exclude-table` (or `exclude-schema`) input, or back up as the owner.')
  );
}

function explainSsl({ where, said, keyLine }: Facts): string {
  const text = `The SSL/TLS negotiation with ${where} failed: ${said} `;
  if (/does not support SSL/i.test(keyLine)) {
    return (
      text +
      'The server has SSL switched off: use `sslmode=prefer` or `sslmode=disable` in the connection URL (only on a trusted network).'
    );
  }
  if (
    /root certificate file|certificate verify failed|self[- ]signed|unable to verify|UNABLE_TO|CERT_/i.test(keyLine)
  ) {
    return (
      text +
      "The server certificate could not be verified: pass your provider's CA certificate with `sslrootcert=<file>` " +
      '(write it from a secret in an earlier step) or `sslrootcert=system`, or use `sslmode=require` (encrypted, not verified).'
    );
  }
  if (/does not match host name|altname/i.test(keyLine)) {
    return (
      text +
      'The certificate was issued for another host name: connect with the host name in the certificate, or use `sslmode=verify-ca`.'
    );
  }
  return text + 'Check `sslmode` in the connection URL: most hosted databases need `sslmode=require` or stricter.';
}

const SESSION_TIMEOUT_SETTING = {
  'idle-in-transaction': 'idle_in_transaction_session_timeout',
  'idle-session': 'idle_session_timeout',
  transaction: 'transaction_timeout',
};

function explainTimeout({ where, said, lines }: Facts): string {
  const all = lines.join('\n');
  const session = /due to (idle-in-transaction|idle-session|transaction) timeout/i.exec(all);
  if (/lock timeout|could not obtain lock|LOCK TABLE/i.test(all)) {
    return (
      `Gave up waiting for a lock on ${where}: ${said} Another session holds a conflicting lock on the table ` +
      '(ACCESS EXCLUSIVE: a migration, ALTER TABLE, VACUUM FULL, or a transaction left open after one): let it finish and run the backup again, ' +
      'or raise the `lock-wait-timeout` input.'
    );
  }
  if (/statement timeout/i.test(all)) {
    return (
      `A statement was cancelled by statement_timeout on ${where}: ${said} The role, the database or the server sets it ` +
      '(`ALTER ROLE <user> SET statement_timeout = …`): this action turns it off for its own sessions, as pg_dump does; ' +
      'if this still appears, set it to 0 for the backup role (`ALTER ROLE <user> SET statement_timeout = 0`).'
    );
  }
  if (session) {
    const setting = SESSION_TIMEOUT_SETTING[session[1]!.toLowerCase() as keyof typeof SESSION_TIMEOUT_SETTING];
    return (
      `The server ended the session because of its ${setting}: ${said} ` +
      `Set it to 0 for the backup role (\`ALTER ROLE <user> SET ${setting} = 0\`), or raise it above the backup's duration.`
    );
  }
  return (
    `Timed out talking to PostgreSQL at ${where}: ${said} The server did not answer in time: check the host, port and firewall or allow-list ` +
    '(a dropped packet looks like a timeout), or raise `connect_timeout` in the connection URL.'
  );
}
