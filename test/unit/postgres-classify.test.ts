import { classifyDriverError, classifyPgError, type PgFailureKind } from '../../src/postgres/classify.js';

const ctx = { host: 'db.example.com', port: 5432 };

/**
 * stderr samples. Most were produced by pg_dump 15.18 on this project's machines; the others are
 * verbatim from libpq's sources or from user reports (Supabase, pgbouncer).
 */
const samples: Array<[string, PgFailureKind, string, (Partial<typeof ctx> | undefined)?]> = [
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: FATAL:  password authentication failed for user "postgres"\n',
    'auth',
    'password authentication failed for user "postgres"',
  ],
  [
    'pg_dump: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  no pg_hba.conf entry for host "20.1.2.3", user "backup", database "app", no encryption\n',
    'auth',
    'sslmode=require',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: fe_sendauth: no password supplied\n',
    'auth',
    'No password was given',
  ],
  [
    'pg_dump: error: connection to server at "aws-0-eu-central-1.pooler.supabase.com" (3.65.1.2), port 5432 failed: FATAL:  Tenant or user not found\n',
    'auth',
    'postgres.<project-ref>',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n',
    'connection-refused',
    'Cannot connect to PostgreSQL at db.example.com:5432',
  ],
  [
    'pg_dump: error: connection to server at "10.9.9.9", port 5432 failed: No route to host\n\tIs the server running on that host and accepting TCP/IP connections?\n',
    'connection-refused',
    'No route to host',
  ],
  [
    'pg_dump: error: could not translate host name "nohost.invalid" to address: Name or service not known\n',
    'dns',
    'could not translate host name "nohost.invalid"',
  ],
  [
    'pg_dump: error: could not translate host name "db.internal" to address: Temporary failure in name resolution\n',
    'dns',
    'could not be resolved',
  ],
  [
    'pg_dump: error: connection to server at "db.abcdefghijklmnop.supabase.co" (2600:1f18:2e13:9d00:5c2f:fe8e:2b5b:6a61), port 5432 failed: Network is unreachable\n\tIs the server running on that host and accepting TCP/IP connections?\n',
    'ipv6-unreachable',
    'aws-0-<region>.pooler.supabase.com',
    { host: 'db.abcdefghijklmnop.supabase.co' },
  ],
  [
    'pg_dump: error: connection to server at "db.example.com" (2a01:4f8:c17:1::1), port 5432 failed: Network is unreachable\n\tIs the server running on that host and accepting TCP/IP connections?\n',
    'ipv6-unreachable',
    'Use an IPv4 address',
  ],
  [
    'pg_dump: error: query failed: ERROR:  prepared statement "dumpFunc" does not exist\npg_dump: detail: Query was: EXECUTE dumpFunc(\'16390\')\n',
    'pooler',
    'transaction mode',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 6432 failed: FATAL:  unsupported startup parameter: extra_float_digits\n',
    'startup-parameter',
    'in session mode as in transaction mode; allow it in the pooler (PgBouncer: `ignore_startup_parameters`)',
  ],
  // PgBouncer's own errors, in any pool mode: not reported as transaction mode.
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 6432 failed: ERROR:  query_wait_timeout\n',
    'pooler',
    'No server connection of its pool became free in time',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 6432 failed: ERROR:  pgbouncer cannot connect to server\n',
    'pooler',
    'The connection pooler in front of PostgreSQL at db.example.com:5432 failed the connection',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 6432 failed: FATAL:  server login has been failing, try again later (server_login_retry)\n',
    'pooler',
    'cannot log in to the database server',
  ],
  // PgBouncer refuses `options` (from options= in the URL) in every pool mode: not "transaction mode".
  [
    'pg_dump: error: connection to server at "pooler.example.com" (10.0.0.7), port 5432 failed: FATAL:  unsupported startup parameter: options\n',
    'startup-parameter',
    '`options` comes from `options=` in the connection URL',
  ],
  // Produced by psql 15 against a real server with options=-c unknown_setting=1 and -c statement_timeout=abc.
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: FATAL:  unrecognized configuration parameter "unknown_setting"\n',
    'startup-parameter',
    'refused a setting given when the connection starts',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: FATAL:  invalid value for parameter "statement_timeout": "abc"\n',
    'startup-parameter',
    '`options=-c name=value` in the connection URL',
  ],
  // The same words at restore time are not about the connection's start.
  [
    'psql:/tmp/x.sql:12: ERROR:  unrecognized configuration parameter "transaction_timeout"\n',
    'unknown',
    'transaction_timeout',
  ],
  [
    'pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: SELECT count(*) FROM big\n',
    'timeout',
    'cancelled by statement_timeout',
  ],
  [
    'pg_dump: error: query failed: FATAL:  terminating connection due to idle-in-transaction timeout\n',
    'timeout',
    '`ALTER ROLE <user> SET idle_in_transaction_session_timeout = 0`',
  ],
  [
    'pg_dump: error: query failed: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\n',
    'pooler',
    'not the transaction pooler on 6543',
    { port: 6543 },
  ],
  [
    'pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server version: 17.2; pg_dump version: 15.18\n',
    'version-mismatch',
    "The server runs 17.2, the client is 15.18. Use a client of the server's major version (pg_dump 17)",
  ],
  [
    'pg_restore: error: unsupported version (1.16) in file header\n',
    'version-mismatch',
    'written by a newer pg_dump',
    undefined,
  ],
  [
    'pg_dump: error: query failed: ERROR:  permission denied for table customer\npg_dump: detail: Query was: LOCK TABLE public.customer IN ACCESS SHARE MODE\n',
    'permission-denied',
    'GRANT SELECT ON customer TO <user>',
  ],
  [
    'pg_dump: error: query failed: ERROR:  permission denied for schema private\npg_dump: detail: Query was: LOCK TABLE private.secret IN ACCESS SHARE MODE\n',
    'permission-denied',
    'GRANT USAGE ON SCHEMA private TO <user>',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: FATAL:  database "nope" does not exist\n',
    'database-missing',
    'database "nope" does not exist',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: server does not support SSL, but SSL was required\n',
    'ssl',
    'sslmode=prefer',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: root certificate file "/root/.postgresql/root.crt" does not exist\nEither provide the file or change sslmode to disable server certificate verification.\n',
    'ssl',
    'sslrootcert=<file>',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: server certificate for "otherhost" does not match host name "127.0.0.1"\n',
    'ssl',
    'issued for another host name',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 34961 failed: server certificate for "db.test" (and 1 other name) does not match host name "127.0.0.1"\n',
    'ssl',
    'sslmode=verify-ca',
  ],
  [
    'pg_dump: error: connection to server at "127.0.0.1", port 55432 failed: SSL error: certificate verify failed\n',
    'ssl',
    'could not be verified',
  ],
  [
    'pg_dump: error: connection to server at "10.255.255.1", port 5432 failed: timeout expired\n',
    'timeout',
    'connect_timeout',
  ],
  [
    'pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.actor IN ACCESS SHARE MODE\n',
    'timeout',
    'Gave up waiting for a lock',
  ],
  ['pg_dump: error: could not write to output file: No space left on device\n', 'out-of-disk', 'ran out of disk space'],
  [
    'pg_dump: error: query failed: ERROR:  permission denied for table ssl_settings\n',
    'permission-denied',
    'GRANT SELECT ON ssl_settings',
  ],
  ['pg_dump: error: invalid sslmode value: "bogus"\n', 'ssl', 'invalid sslmode value'],
  [
    'pg_dump: error: Dumping the contents of table "big" failed: PQgetCopyData() failed.\npg_dump: detail: Error message from server: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\npg_dump: detail: Command was: COPY public.big (id, pad) TO stdout;\n',
    'unknown',
    'failed: PQgetCopyData() failed. pg_dump: detail: Error message from server: server closed the connection unexpectedly This probably means the server terminated abnormally before or while processing the request.". The connection to the server was lost during the dump',
  ],
  [
    'pg_dump: error: something nobody has seen before\n',
    'unknown',
    'pg_dump failed (db.example.com:5432): pg_dump said "pg_dump: error: something nobody has seen before".',
  ],
  ['', 'unknown', '(no error output)'],
];

describe('classifyPgError', () => {
  // Rest parameters: jest would take a 4th declared parameter for a `done` callback on 3-element rows.
  test.each(samples.map(([stderr, kind, fragment, extra]) => [kind, stderr, fragment, extra] as const))(
    '%# → %s',
    (...[kind, stderr, fragment, extra]) => {
      const result = classifyPgError(stderr, { ...ctx, ...extra });
      expect(result.kind).toBe(kind);
      expect(result.message).toContain(fragment);
      expect(result.message).not.toMatch(/\n/);
    },
  );

  test('every kind is covered by the samples', () => {
    const kinds = new Set(samples.map(([stderr, , , extra]) => classifyPgError(stderr, { ...ctx, ...extra }).kind));
    expect([...kinds].sort()).toEqual([
      'auth',
      'connection-refused',
      'database-missing',
      'dns',
      'ipv6-unreachable',
      'out-of-disk',
      'permission-denied',
      'pooler',
      'ssl',
      'startup-parameter',
      'timeout',
      'unknown',
      'version-mismatch',
    ]);
  });

  test('only lost prepared statements (or an unexplained failure on 6543) are called a transaction-mode pooler', () => {
    for (const [stderr, kind, , extra] of samples) {
      if (kind !== 'pooler' && kind !== 'startup-parameter') continue;
      const message = classifyPgError(stderr, { ...ctx, ...extra }).message;
      const transactionMode = /prepared statement/.test(stderr) || extra?.port === 6543;
      expect([stderr, message.includes('pooler in transaction mode')]).toEqual([stderr, transactionMode]);
    }
  });

  test('the key stderr line is quoted and the tool is named', () => {
    const { message } = classifyPgError(
      'pg_dumpall: error: connection to server at "h", port 5432 failed: FATAL:  password authentication failed for user "u"',
      {
        ...ctx,
        tool: 'pg_dumpall',
      },
    );
    expect(message).toContain(
      'pg_dumpall said "pg_dumpall: error: connection to server at "h", port 5432 failed: FATAL:  password authentication failed for user "u"".',
    );
  });

  test('IPv6 hosts are bracketed in texts', () => {
    expect(classifyPgError('Connection refused', { host: '::1', port: 5432 }).message).toContain('[::1]:5432');
  });
});

describe('classifyDriverError', () => {
  const err = (code: string, message: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), { code, ...extra });
  test.each<[unknown, PgFailureKind, string, Partial<typeof ctx>?]>([
    [
      err('28P01', 'password authentication failed for user "postgres"'),
      'auth',
      'the server said "password authentication failed',
    ],
    [
      err('28000', 'no pg_hba.conf entry for host "1.2.3.4", user "u", database "d", no encryption'),
      'auth',
      'sslmode=require',
    ],
    [err('3D000', 'database "nope" does not exist'), 'database-missing', 'database "nope" does not exist'],
    [err('42501', 'permission denied for table customer'), 'permission-denied', 'GRANT SELECT ON customer'],
    [
      err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'),
      'connection-refused',
      'node-pg said "connect ECONNREFUSED 127.0.0.1:1"',
    ],
    [err('EHOSTUNREACH', 'connect EHOSTUNREACH 10.1.1.1:5432'), 'connection-refused', 'EHOSTUNREACH'],
    [err('ENOTFOUND', 'getaddrinfo ENOTFOUND nohost.invalid'), 'dns', 'getaddrinfo ENOTFOUND'],
    [err('EAI_AGAIN', 'getaddrinfo EAI_AGAIN db.internal'), 'dns', 'could not be resolved'],
    [
      err('ENETUNREACH', 'connect ENETUNREACH 2600:1f18::1:5432 - Local (:::0)', { address: '2600:1f18::1' }),
      'ipv6-unreachable',
      'pooler.supabase.com',
      { host: 'db.abcdefghijklmnop.supabase.co' },
    ],
    [
      err('ENETUNREACH', 'connect ENETUNREACH 10.0.0.1:5432', { address: '10.0.0.1' }),
      'connection-refused',
      'ENETUNREACH',
    ],
    [err('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:5432'), 'timeout', 'Timed out'],
    [new Error('Connection terminated due to connection timeout'), 'timeout', 'connect_timeout'],
    [new Error('The server does not support SSL connections'), 'ssl', 'sslmode=prefer'],
    [err('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), 'ssl', 'sslrootcert'],
    [
      err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      'ssl',
      'another host name',
    ],
    [
      err('08P01', 'unsupported startup parameter: options'),
      'startup-parameter',
      'remove it and set such settings for the role instead',
    ],
    [
      err('42704', 'unrecognized configuration parameter "unknown_setting"', { severity: 'FATAL' }),
      'startup-parameter',
      'options=-c name=value',
    ],
    [err('42704', 'unrecognized configuration parameter "x"', { severity: 'ERROR' }), 'unknown', 'x'],
    [
      err('57014', 'canceling statement due to statement timeout'),
      'timeout',
      'ALTER ROLE <user> SET statement_timeout = 0',
    ],
    [err('55P03', 'canceling statement due to lock timeout'), 'timeout', '`lock-wait-timeout` input'],
    [
      err('25P03', 'terminating connection due to idle-in-transaction timeout'),
      'timeout',
      'idle_in_transaction_session_timeout',
    ],
    [err('ENOSPC', 'ENOSPC: no space left on device, write'), 'out-of-disk', 'disk space'],
    [
      Object.assign(
        new AggregateError(
          [
            err('ECONNREFUSED', 'connect ECONNREFUSED ::1:5432'),
            err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
          ],
          '',
        ),
        {},
      ),
      'connection-refused',
      'ECONNREFUSED ::1:5432',
    ],
    ['a string', 'unknown', 'a string'],
  ])('%#', (...[error, kind, fragment, extra]) => {
    const result = classifyDriverError(error, { ...ctx, ...extra });
    expect(result.kind).toBe(kind);
    expect(result.message).toContain(fragment);
  });
});
