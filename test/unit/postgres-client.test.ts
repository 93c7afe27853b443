import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import { ConnectionError } from '../../src/errors.js';
import {
  clientCacheKey,
  decideClient,
  parseClientVersion,
  parseOsRelease,
  type ClientDecision,
  type ClientDecisionInput,
} from '../../src/postgres/client.js';
import {
  LIBPQ_PARAM_ENV,
  libpqEnv,
  pgClientConfig,
  sslFallbackAllowed,
  systemCaBundle,
  withoutSsl,
} from '../../src/postgres/libpq.js';
import type { ClientTool, Connection } from '../../src/postgres/types.js';

const pg = (major: number, minor = 1, dir = `/usr/lib/postgresql/${major}/bin`): ClientTool => ({
  path: `${dir}/pg_dump`,
  major,
  version: `${major}.${minor}`,
});

const linuxUbuntu = { platform: 'linux' as const, osId: 'ubuntu', install: true };

describe('decideClient', () => {
  test.each<
    [string, Partial<ClientDecisionInput> & { serverMajor: number }, ClientDecision | ((d: ClientDecision) => void)]
  >([
    [
      'exact major found → use it',
      { serverMajor: 16, found: [pg(14), pg(16)], ...linuxUbuntu },
      { action: 'use', tool: pg(16) },
    ],
    [
      'exact found first among duplicates (search order wins)',
      {
        serverMajor: 15,
        found: [pg(15, 18), pg(15, 3, '/opt/homebrew/opt/postgresql@15/bin')],
        platform: 'darwin',
        install: true,
      },
      { action: 'use', tool: pg(15, 18) },
    ],
    [
      'only newer found, ubuntu, install allowed → apt with PGDG',
      { serverMajor: 15, found: [pg(16)], ...linuxUbuntu },
      { action: 'install', method: 'apt', major: 15, addPgdg: true },
    ],
    [
      'only older found, ubuntu → apt with PGDG',
      { serverMajor: 17, found: [pg(14)], ...linuxUbuntu },
      { action: 'install', method: 'apt', major: 17, addPgdg: true },
    ],
    [
      'none found, ubuntu → apt with PGDG',
      { serverMajor: 17, found: [], ...linuxUbuntu },
      { action: 'install', method: 'apt', major: 17, addPgdg: true },
    ],
    [
      'none found, debian → apt without PGDG',
      { serverMajor: 15, found: [], platform: 'linux', osId: 'debian', install: true },
      { action: 'install', method: 'apt', major: 15, addPgdg: false },
    ],
    [
      'none found, darwin → brew',
      { serverMajor: 17, found: [], platform: 'darwin', install: true },
      { action: 'install', method: 'brew', major: 17, addPgdg: false },
    ],
    [
      'only newer found, install disabled → use newer with warning',
      { serverMajor: 15, found: [pg(17), pg(16)], platform: 'linux', osId: 'ubuntu', install: false },
      (d) => {
        expect(d).toMatchObject({ action: 'use', tool: pg(16) });
        expect(d.action === 'use' && d.warning).toContain('pg_restore 16 or newer');
        expect(d.action === 'use' && d.warning).toContain('postgresql-client-15');
      },
    ],
    [
      'only newer found, other distro → use newer with warning',
      { serverMajor: 15, found: [pg(16)], platform: 'linux', osId: 'fedora', install: true },
      (d) =>
        expect(d).toMatchObject({
          action: 'use',
          tool: pg(16),
          // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
          warning: expect.stringContaining('PostgreSQL 15 server'),
        }),
    ],
    [
      'none found, other distro → fail naming the platform',
      { serverMajor: 16, found: [], platform: 'linux', osId: 'alpine', install: true },
      (d) => {
        expect(d.action).toBe('fail');
        const m = d.action === 'fail' ? d.message : '';
        expect(m).toContain('No pg_dump 16 is available for the PostgreSQL 16 server. Clients found: none.');
        expect(m).toContain('this runner is linux (alpine)');
        expect(m).toContain('ubuntu-* or macos-* runner');
      },
    ],
    [
      'only older found, win32 → fail with PGBIN hint and the clients found',
      {
        serverMajor: 17,
        found: [pg(14, 13, 'C:\\Program Files\\PostgreSQL\\14\\bin')],
        platform: 'win32',
        install: true,
      },
      (d) => {
        const m = d.action === 'fail' ? d.message : '';
        expect(m).toContain('Clients found: C:\\Program Files\\PostgreSQL\\14\\bin/pg_dump (14.13).');
        expect(m).toContain('cannot install clients on Windows');
        expect(m).toContain('PGBIN');
      },
    ],
    [
      'only older found, install disabled on ubuntu → fail suggesting install-client',
      { serverMajor: 17, found: [pg(16)], platform: 'linux', osId: 'ubuntu', install: false },
      (d) => {
        const m = d.action === 'fail' ? d.message : '';
        expect(m).toContain('/usr/lib/postgresql/16/bin/pg_dump (16.1)');
        expect(m).toContain('enable `install-client`');
      },
    ],
    [
      'install disabled on debian → fail naming PGDG',
      { serverMajor: 17, found: [pg(15, 18)], platform: 'linux', osId: 'debian', install: false },
      (d) => expect(d.action === 'fail' && d.message).toContain('apt.postgresql.org.sh'),
    ],
    [
      'requested major older than the server → fail',
      { serverMajor: 17, requestedMajor: 16, found: [pg(16), pg(17)], ...linuxUbuntu },
      (d) => {
        const m = d.action === 'fail' ? d.message : '';
        expect(m).toContain('`client-version` 16 is older than the server (PostgreSQL 17)');
        expect(m).toContain('server version mismatch');
      },
    ],
    [
      'requested newer, found → use it',
      { serverMajor: 15, requestedMajor: 17, found: [pg(15), pg(17)], ...linuxUbuntu },
      { action: 'use', tool: pg(17) },
    ],
    [
      'requested newer, missing → install requested',
      { serverMajor: 15, requestedMajor: 17, found: [pg(15)], ...linuxUbuntu },
      { action: 'install', method: 'apt', major: 17, addPgdg: true },
    ],
    [
      'requested equal to server',
      { serverMajor: 16, requestedMajor: 16, found: [pg(16)], platform: 'darwin', install: false },
      { action: 'use', tool: pg(16) },
    ],
    [
      'requested newer, missing, no install, even newer found → warn',
      { serverMajor: 15, requestedMajor: 16, found: [pg(15), pg(18)], platform: 'win32', install: true },
      (d) =>
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
        expect(d).toMatchObject({ action: 'use', tool: pg(18), warning: expect.stringContaining('no pg_dump 16') }),
    ],
    [
      'pre-10 server, exact two-part major',
      { serverMajor: 9.6, found: [pg(9.6, 24)], ...linuxUbuntu },
      { action: 'use', tool: pg(9.6, 24) },
    ],
  ])('%s', (_name, partial, expected) => {
    const decision = decideClient({ found: [], platform: 'linux', install: true, ...partial });
    if (typeof expected === 'function') expected(decision);
    else expect(decision).toEqual(expected);
  });
});

describe('decideClient names the tool the caller runs in its warning', () => {
  test.each([
    ['/usr/lib/postgresql/16/bin', 'linux' as const],
    ['C:\\Program Files\\PostgreSQL\\16\\bin', 'win32' as const],
  ])('pg_restore beside the pg_dump in %s', (dir, platform) => {
    const exe = platform === 'win32' ? 'pg_dump.exe' : 'pg_dump';
    const found = [{ path: `${dir}/${exe}`, major: 16, version: '16.1' }];
    const input = { serverMajor: 15, found, platform, install: false };
    const dump = decideClient(input);
    const restore = decideClient({ ...input, toolName: 'pg_restore' });
    const warning = (d: ClientDecision) => (d.action === 'use' ? d.warning : undefined);
    expect(warning(dump)).toContain(`Using pg_dump 16.1 (${dir}/${exe}) for a PostgreSQL 15 server`);
    // The text restore showed when it rewrote every "pg_dump" of this warning.
    expect(warning(restore)).toBe(warning(dump)?.replace(/pg_dump/g, 'pg_restore'));
  });
});

describe('parseClientVersion', () => {
  test.each<[string, { major: number; version: string } | undefined]>([
    ['pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n', { major: 15, version: '15.18' }],
    ['pg_dump (PostgreSQL) 16.4 (Ubuntu 16.4-1.pgdg24.04+1)', { major: 16, version: '16.4' }],
    ['pg_dump (PostgreSQL) 17.2 (Homebrew)', { major: 17, version: '17.2' }],
    ['pg_dump.exe (PostgreSQL) 17.2', { major: 17, version: '17.2' }],
    ['pg_dump (PostgreSQL) 17beta1', { major: 17, version: '17beta1' }],
    ['pg_dump (PostgreSQL) 18devel', { major: 18, version: '18devel' }],
    ['pg_dump (PostgreSQL) 18rc1', { major: 18, version: '18rc1' }],
    ['pg_dump (PostgreSQL) 10.23', { major: 10, version: '10.23' }],
    ['pg_dump (PostgreSQL) 9.6.24', { major: 9.6, version: '9.6.24' }],
    ['pg_dump (PostgreSQL) 9.5.25 (Ubuntu 9.5.25-1)', { major: 9.5, version: '9.5.25' }],
    ['pg_dump (PostgreSQL) 9', undefined],
    ['pg_dump 15.18', undefined],
    ['command not found', undefined],
    ['', undefined],
    ['pg_dump (PostgreSQL) abc', undefined],
  ])('%j', (stdout, expected) => {
    expect(parseClientVersion(stdout)).toEqual(expected);
  });
});

test('parseOsRelease and the cache key', () => {
  expect(
    parseOsRelease('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n'),
  ).toEqual({
    id: 'ubuntu',
    versionId: '24.04',
  });
  expect(parseOsRelease('garbage')).toEqual({});
  expect(clientCacheKey('ubuntu', '24.04', 'x64', 17)).toBe('pg-client-ubuntu-24.04-x64-17-v1');
});

const base: Connection = {
  host: 'db.example.com',
  port: 5433,
  user: 'backup',
  password: 's3cr3t',
  database: 'app',
  params: {},
};

describe('libpqEnv', () => {
  test.each<[string, Connection, Record<string, string>]>([
    [
      'minimal',
      base,
      { PGHOST: 'db.example.com', PGPORT: '5433', PGUSER: 'backup', PGPASSWORD: 's3cr3t', PGDATABASE: 'app' },
    ],
    [
      'sslmode',
      { ...base, sslmode: 'verify-full' },
      {
        PGHOST: 'db.example.com',
        PGPORT: '5433',
        PGUSER: 'backup',
        PGPASSWORD: 's3cr3t',
        PGDATABASE: 'app',
        PGSSLMODE: 'verify-full',
      },
    ],
    [
      'params',
      {
        ...base,
        params: {
          sslrootcert: '/ca.pem',
          sslcert: '/c.pem',
          sslkey: '/k.pem',
          options: '-c statement_timeout=0',
          application_name: 'backup',
          connect_timeout: '5',
          target_session_attrs: 'read-only',
          channel_binding: 'require',
          gssencmode: 'disable',
          sslnegotiation: 'direct',
        },
      },
      {
        PGHOST: 'db.example.com',
        PGPORT: '5433',
        PGUSER: 'backup',
        PGPASSWORD: 's3cr3t',
        PGDATABASE: 'app',
        PGSSLROOTCERT: '/ca.pem',
        PGSSLCERT: '/c.pem',
        PGSSLKEY: '/k.pem',
        PGOPTIONS: '-c statement_timeout=0',
        PGAPPNAME: 'backup',
        PGCONNECT_TIMEOUT: '5',
        PGTARGETSESSIONATTRS: 'read-only',
        PGCHANNELBINDING: 'require',
        PGGSSENCMODE: 'disable',
        PGSSLNEGOTIATION: 'direct',
      },
    ],
  ])('%s', (_name, conn, expected) => {
    expect(libpqEnv(conn)).toEqual(expected);
  });

  test('unsupported parameters are refused', () => {
    expect(() => libpqEnv({ ...base, params: { service: 'prod' } })).toThrow(ConnectionError);
    expect(LIBPQ_PARAM_ENV.service).toBeUndefined();
    expect(LIBPQ_PARAM_ENV.passfile).toBeUndefined();
    expect(Object.values(LIBPQ_PARAM_ENV).every((name) => /^PG[A-Z_]+$/.test(name))).toBe(true);
  });
});

describe('pgClientConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'libpq-test-'));
    writeFileSync(path.join(dir, 'ca.pem'), 'CA-PEM');
    writeFileSync(path.join(dir, 'cert.pem'), 'CERT-PEM');
    writeFileSync(path.join(dir, 'key.pem'), 'KEY-PEM');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('basic fields, default timeout, unset sslmode = prefer', () => {
    expect(pgClientConfig(base)).toEqual({
      host: 'db.example.com',
      port: 5433,
      user: 'backup',
      password: 's3cr3t',
      database: 'app',
      ssl: { rejectUnauthorized: false },
      connectionTimeoutMillis: 10_000,
    });
    expect(sslFallbackAllowed(base)).toBe(true);
    expect(withoutSsl(pgClientConfig(base)).ssl).toBe(false);
  });

  test.each<[string, Connection['sslmode'], Record<string, string>, unknown]>([
    ['disable', 'disable', {}, false],
    ['allow', 'allow', {}, { rejectUnauthorized: false }],
    ['prefer', 'prefer', {}, { rejectUnauthorized: false }],
    ['require', 'require', {}, { rejectUnauthorized: false }],
    ['verify-full without root cert uses system roots', 'verify-full', {}, { rejectUnauthorized: true }],
    [
      'verify-full with sslrootcert=system (the system store where Node can read it, else its default roots)',
      'verify-full',
      { sslrootcert: 'system' },
      {
        rejectUnauthorized: true,
        ...((tls as { getCACertificates?: (t: string) => string[] }).getCACertificates?.('system').length
          ? // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
            { ca: expect.any(Array) }
          : {}),
      },
    ],
    [
      'verify-ca skips the host name check',
      'verify-ca',
      {},
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest's asymmetric matchers are typed any
      { rejectUnauthorized: true, checkServerIdentity: expect.any(Function) },
    ],
  ])('ssl: %s', (_name, sslmode, params, expected) => {
    expect(pgClientConfig({ ...base, ...(sslmode ? { sslmode } : {}), params }).ssl).toEqual(expected);
  });

  test('verify-full reads sslrootcert, sslcert and sslkey', () => {
    const ssl = pgClientConfig({
      ...base,
      sslmode: 'verify-full',
      params: {
        sslrootcert: path.join(dir, 'ca.pem'),
        sslcert: path.join(dir, 'cert.pem'),
        sslkey: path.join(dir, 'key.pem'),
      },
    }).ssl;
    expect(ssl).toEqual({ rejectUnauthorized: true, ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM' });
  });

  test('verify-ca: checkServerIdentity accepts any name', () => {
    const ssl = pgClientConfig({ ...base, sslmode: 'verify-ca', params: { sslrootcert: path.join(dir, 'ca.pem') } })
      .ssl as {
      ca: string;
      checkServerIdentity: () => undefined;
    };
    expect(ssl.ca).toBe('CA-PEM');
    expect(ssl.checkServerIdentity()).toBeUndefined();
  });

  test('require with an explicit sslrootcert verifies the chain, as libpq does', () => {
    const ssl = pgClientConfig({ ...base, sslmode: 'require', params: { sslrootcert: path.join(dir, 'ca.pem') } }).ssl;
    expect(ssl).toMatchObject({ rejectUnauthorized: true, ca: 'CA-PEM' });
    expect(sslFallbackAllowed({ ...base, sslmode: 'require' })).toBe(false);
    expect(sslFallbackAllowed({ ...base, sslmode: 'allow' })).toBe(true);
  });

  test('a missing certificate file is a ConnectionError naming the parameter', () => {
    expect(() =>
      pgClientConfig({ ...base, sslmode: 'verify-full', params: { sslrootcert: '/nonexistent/ca.pem' } }),
    ).toThrow(/Cannot read the sslrootcert file '\/nonexistent\/ca.pem'/);
  });

  test.each<[string, string | undefined, number]>([
    ['unset', undefined, 10_000],
    ['5 s', '5', 5_000],
    ['1 s is raised to 2 s like libpq', '1', 2_000],
    ['0 waits forever', '0', 0],
    ['garbage falls back to the default', 'soon', 10_000],
  ])('connect_timeout %s', (_name, value, expected) => {
    const params: Record<string, string> = value === undefined ? {} : { connect_timeout: value };
    expect(pgClientConfig({ ...base, params }).connectionTimeoutMillis).toBe(expected);
  });

  test('application_name, options, client_encoding, channel_binding, sslnegotiation', () => {
    const config = pgClientConfig({
      ...base,
      params: {
        application_name: 'pg-backup',
        options: '-c search_path=x',
        client_encoding: 'UTF8',
        channel_binding: 'require',
        sslnegotiation: 'direct',
      },
    });
    expect(config).toMatchObject({
      application_name: 'pg-backup',
      options: '-c search_path=x',
      client_encoding: 'UTF8',
      enableChannelBinding: true,
      sslnegotiation: 'direct',
    });
  });
});

describe('sslrootcert=system for pg_dump (libpqEnv)', () => {
  const conn = {
    host: 'h',
    port: 5432,
    user: 'u',
    password: 'p',
    database: 'd',
    sslmode: 'verify-full' as const,
    params: { sslrootcert: 'system' },
  };
  test("becomes the system's CA bundle file, which every libpq reads (only libpq 16+ knows `system`)", () => {
    const bundle = systemCaBundle();
    expect(libpqEnv(conn).PGSSLROOTCERT).toBe(bundle ?? 'system');
  });
  test('the first bundle that exists, in OpenSSL default order', () => {
    expect(systemCaBundle((f) => f === '/etc/pki/tls/certs/ca-bundle.crt' || f === '/etc/ssl/cert.pem')).toBe(
      '/etc/pki/tls/certs/ca-bundle.crt',
    );
    expect(systemCaBundle(() => false)).toBeUndefined();
  });
  test('a file path is passed as is', () => {
    expect(libpqEnv({ ...conn, params: { sslrootcert: '/ws/ca.crt' } }).PGSSLROOTCERT).toBe('/ws/ca.crt');
  });
});
