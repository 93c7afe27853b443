/**
 * The paragraph that explains a classified PostgreSQL failure (pure): what happened, quoting the key
 * line of the tool's output (never a connection URL), then the fix. Also the vocabulary the
 * classifier (classify.ts) shares with it.
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
 * A pooler refusing a startup parameter (PgBouncer, Supavisor: in session and transaction mode
 * alike), e.g. `options` from `options=` in the URL.
 */
export const POOLER_STARTUP_PARAMETER = /unsupported startup parameter|unsupported options startup parameter/i;

/** Lost connections, which the unknown kind explains further. */
const CONNECTION_LOST =
  /server closed the connection unexpectedly|terminating connection|connection to server was lost|SSL SYSCALL error|could not receive data from server|PQgetCopyData\(\) failed/i;

/** Supabase's direct host (db.<ref>.supabase.co), which is IPv6-only. */
export function isSupabaseDirectHost(host: string): boolean {
  return /^db\.[a-z0-9]+\.supabase\.co$/i.test(host);
}

/** The key line in double quotes, cut after 400 characters. */
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

/** The failure of `kind`, explained; `keyLine` is quoted, `lines` is the whole output. */
export function explainFailure(
  kind: PgFailureKind,
  keyLine: string,
  lines: string[],
  ctx: PgFailureContext,
): PgFailure {
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
