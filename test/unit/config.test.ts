import { parseConfig, parseCompression } from '../../src/config/parse.js';
import { secretsToMask, urlCredentialSecrets } from '../../src/config/mask.js';
import { INPUT_DEFAULTS } from '../../src/config/inputs.js';
import { redact, secretForms } from '../../src/redact.js';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { asBackup } from '../support/config.js';

/** Builds an InputReader over a plain object ('' for anything not set, like the runner). */
function reader(inputs: Record<string, string>): (name: string) => string {
  return (name) => inputs[name] ?? '';
}

const BASE = { 'database-url': 'postgres://app:secret@db.example.com:5432/shop', destination: 's3://backups/prod' };

describe('parseConfig: good inputs', () => {
  test('defaults from action.yml apply to empty inputs', () => {
    const config = parseConfig(reader(BASE));
    expect(config).toEqual({
      command: 'backup',
      connection: { host: 'db.example.com', port: 5432, user: 'app', password: 'secret', database: 'shop', params: {} },
      database: 'shop',
      destinations: [{ kind: 's3', url: 's3://backups/prod', bucket: 'backups', prefix: 'prod' }],
      s3: { region: 'us-east-1', forcePathStyle: false, checksums: 'when_supported', timeoutSeconds: 120 },
      dump: {
        format: 'custom',
        compression: { method: 'zstd' },
        jobs: 1,
        schemas: [],
        excludeSchemas: [],
        tables: [],
        excludeTables: [],
        excludeTableData: [],
        schemaOnly: false,
        dataOnly: false,
        noOwner: false,
        noPrivileges: false,
        globals: false,
        lockWaitTimeoutMs: 300_000,
        extraArgs: [],
      },
      rowCounts: 'exact',
      verify: 'counts',
      installClient: true,
      summary: true,
      keepalive: false,
      retention: { prune: false, dryRun: false },
      anomaly: { mode: 'warn', maxRowDrop: 0.5 },
      reporting: {
        githubToken: '',
        issueOnFailure: true,
        issueLabels: ['backup-failure'],
        issueAssignees: [],
        failureThreshold: 1,
        closeIssueOnSuccess: true,
        webhookUrl: '',
        notifyOn: 'failure',
      },
    });
  });

  test('a URL with a password full of special characters, sslmode and libpq parameters', () => {
    const password = 'p@ss:/%#? w0rd';
    const url = `postgresql://app%2Buser:${encodeURIComponent(password)}@[::1]:6432/my%20db?sslmode=require&application_name=backup&connect_timeout=5`;
    const { connection } = asBackup(parseConfig(reader({ ...BASE, 'database-url': url })));
    expect(connection).toEqual({
      host: '::1',
      port: 6432,
      user: 'app+user',
      password,
      database: 'my db',
      sslmode: 'require',
      params: { application_name: 'backup', connect_timeout: '5' },
    });
  });

  test('separate connection inputs, several destinations, S3-compatible endpoint', () => {
    const config = asBackup(
      parseConfig(
        reader({
          host: '10.0.0.5',
          port: '5433',
          username: 'postgres',
          password: 'pw',
          database: 'app',
          sslmode: 'verify-full',
          destination: 's3://b2-bucket/pg\nfile:///var/backups/pg\n',
          's3-endpoint': 'https://s3.us-west-004.backblazeb2.com',
          's3-region': 'us-west-004',
          format: 'directory',
          jobs: '4',
          compression: 'gzip:9',
          'exclude-table-data': 'audit_log\n  sessions  \n',
          label: 'pre-migration',
          'row-counts': 'estimate',
          'client-version': '17',
          'install-client': 'false',
          summary: 'FALSE',
          'pg-dump-args': '--rows-per-insert=1000\n--no-comments',
          'lock-wait-timeout': '90s',
        }),
      ),
    );
    expect(config.connection).toEqual({
      host: '10.0.0.5',
      port: 5433,
      user: 'postgres',
      password: 'pw',
      database: 'app',
      sslmode: 'verify-full',
      params: {},
    });
    expect(config.destinations.map((d) => d.kind)).toEqual(['s3', 'file']);
    expect(config.s3).toEqual({
      endpoint: 'https://s3.us-west-004.backblazeb2.com',
      region: 'us-west-004',
      forcePathStyle: true,
      checksums: 'when_required',
      timeoutSeconds: 120,
    });
    expect(config.dump).toMatchObject({
      format: 'directory',
      jobs: 4,
      compression: { method: 'gzip', level: 9 },
      excludeTableData: ['audit_log', 'sessions'],
    });
    expect(config.dump.extraArgs).toEqual(['--rows-per-insert=1000', '--no-comments']);
    expect(config.dump.lockWaitTimeoutMs).toBe(90_000);
    expect(config).toMatchObject({
      label: 'pre-migration',
      rowCounts: 'estimate',
      clientMajor: 17,
      installClient: false,
      summary: false,
    });
  });

  test('S3 options: explicit path style, SSE-KMS, storage class, credentials, R2 region auto', () => {
    const { s3 } = parseConfig(
      reader({
        ...BASE,
        's3-endpoint': 'https://acc.r2.cloudflarestorage.com/',
        's3-region': 'auto',
        's3-force-path-style': 'false',
        's3-checksums': 'when_supported',
        's3-timeout': '30',
        's3-sse': 'aws:kms',
        's3-sse-kms-key-id': 'alias/backups',
        's3-storage-class': 'STANDARD_IA',
        's3-access-key-id': 'AKIA',
        's3-secret-access-key': 'shh',
      }),
    );
    expect(s3).toEqual({
      endpoint: 'https://acc.r2.cloudflarestorage.com',
      region: 'auto',
      forcePathStyle: false,
      checksums: 'when_supported',
      timeoutSeconds: 30,
      sse: 'aws:kms',
      sseKmsKeyId: 'alias/backups',
      storageClass: 'STANDARD_IA',
      accessKeyId: 'AKIA',
      secretAccessKey: 'shh',
    });
  });

  test.each([
    ['zstd', { method: 'zstd' }],
    ['zstd:19', { method: 'zstd', level: 19 }],
    ['gzip', { method: 'gzip' }],
    ['gzip:1', { method: 'gzip', level: 1 }],
    ['lz4', { method: 'lz4' }],
    ['none', { method: 'none' }],
  ])('compression %s', (value, expected) => {
    expect(parseCompression(value)).toEqual(expected);
  });
});

const URL_HINT =
  'Expected postgres://user:password@host:5432/dbname?sslmode=require (percent-encode special characters in the password).';

describe('parseConfig: bad inputs fail before any work with the input named', () => {
  const cases: [string, Record<string, string>, string][] = [
    [
      'no connection at all',
      { destination: 's3://b/p' },
      "Input 'database-url': no database to back up; set 'database-url' (e.g. postgres://user:password@host:5432/dbname, from a repository secret) or 'host', 'username' and 'database'.",
    ],
    [
      'url and host both',
      { ...BASE, host: 'x' },
      "Input 'database-url': it is set together with 'host'; use either database-url or the separate connection inputs, not both.",
    ],
    [
      'url and port both',
      { ...BASE, port: '6543' },
      "Input 'database-url': it is set together with 'port'; use either database-url or the separate connection inputs, not both.",
    ],
    [
      'url wrong scheme',
      { ...BASE, 'database-url': 'mysql://u:p@h/db' },
      `Input 'database-url': it does not start with postgres:// or postgresql://. ${URL_HINT}`,
    ],
    [
      'url not a url',
      { ...BASE, 'database-url': 'host=db user=app' },
      `Input 'database-url': it does not start with postgres:// or postgresql://. ${URL_HINT}`,
    ],
    [
      'url bad port',
      { ...BASE, 'database-url': 'postgres://u:p@h:99999/db' },
      `Input 'database-url': it is not a valid URL (check the port and that special characters in the password are percent-encoded). ${URL_HINT}`,
    ],
    [
      'url no database',
      { ...BASE, 'database-url': 'postgres://u:p@h:5432' },
      `Input 'database-url': it has no database name after the host (…/dbname). ${URL_HINT}`,
    ],
    [
      'url no user',
      { ...BASE, 'database-url': 'postgres://h:5432/db' },
      `Input 'database-url': it has no user name (postgres://user@host/…). ${URL_HINT}`,
    ],
    [
      'url unknown sslmode',
      { ...BASE, 'database-url': 'postgres://u:p@h/db?sslmode=yes' },
      "Input 'database-url': sslmode 'yes' is not one of: disable, allow, prefer, require, verify-ca, verify-full.",
    ],
    [
      'host without username',
      { host: 'h', database: 'd', destination: 's3://b/p' },
      "Input 'username': required with 'host'; set the role to connect as.",
    ],
    [
      'host without database',
      { host: 'h', username: 'u', destination: 's3://b/p' },
      "Input 'database': required with 'host'; set the name of the database to back up.",
    ],
    [
      'port not a number',
      { host: 'h', username: 'u', database: 'd', port: '54x', destination: 's3://b/p' },
      "Input 'port': '54x' is not a whole number; use a number from 1 to 65535.",
    ],
    [
      'port negative',
      { host: 'h', username: 'u', database: 'd', port: '-1', destination: 's3://b/p' },
      "Input 'port': -1 is out of range; use a number from 1 to 65535.",
    ],
    [
      'port too big',
      { host: 'h', username: 'u', database: 'd', port: '70000', destination: 's3://b/p' },
      "Input 'port': 70000 is out of range; use a number from 1 to 65535.",
    ],
    [
      'sslmode unknown',
      { host: 'h', username: 'u', database: 'd', sslmode: 'on', destination: 's3://b/p' },
      "Input 'sslmode': sslmode 'on' is not one of: disable, allow, prefer, require, verify-ca, verify-full.",
    ],
    [
      'no destination',
      { 'database-url': BASE['database-url'] },
      "Input 'destination': required; set s3://bucket/prefix or file:///absolute/folder (one per line for several).",
    ],
    [
      'destination twice',
      { ...BASE, destination: 's3://backups/prod\ns3://backups/prod/' },
      "Input 'destination': 's3://backups/prod/' is listed twice; list each destination once.",
    ],
    [
      'unknown command',
      { ...BASE, command: 'backupp' },
      "Input 'command': 'backupp' is not one of: backup, prune, list, restore, drill, check.",
    ],
    ['unknown format', { ...BASE, format: 'tar' }, "Input 'format': 'tar' is not one of: custom, directory, plain."],
    [
      'jobs zero',
      { ...BASE, format: 'directory', jobs: '0' },
      "Input 'jobs': 0 is out of range; use a number from 1 to 64.",
    ],
    [
      'jobs fraction',
      { ...BASE, format: 'directory', jobs: '1.5' },
      "Input 'jobs': '1.5' is not a whole number; use a number from 1 to 64.",
    ],
    [
      'jobs with custom format',
      { ...BASE, jobs: '4' },
      "Input 'jobs': pg_dump runs parallel jobs only with the directory format; set format: directory, or jobs: 1.",
    ],
    [
      'schema-only and data-only',
      { ...BASE, 'schema-only': 'true', 'data-only': 'true' },
      "Input 'schema-only': schema-only and data-only are both true; set at most one of them.",
    ],
    ['boolean typo', { ...BASE, 'no-owner': 'yes' }, "Input 'no-owner': 'yes' is not a boolean; use true or false."],
    [
      'keepalive not a boolean',
      { ...BASE, keepalive: 'yes' },
      "Input 'keepalive': 'yes' is not a boolean; use true or false.",
    ],
    [
      'compression unknown',
      { ...BASE, compression: 'brotli' },
      "Input 'compression': 'brotli' is not a compression method. Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none.",
    ],
    [
      'compression level too high',
      { ...BASE, compression: 'gzip:10' },
      "Input 'compression': level '10' is out of range for gzip (1-9). Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none.",
    ],
    [
      'compression negative level',
      { ...BASE, compression: 'zstd:-1' },
      "Input 'compression': level '-1' is out of range for zstd (1-22). Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none.",
    ],
    [
      'compression none with level',
      { ...BASE, compression: 'none:3' },
      "Input 'compression': 'none' takes no level. Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none.",
    ],
    [
      'compression extra colon',
      { ...BASE, compression: 'zstd:3:4' },
      "Input 'compression': 'zstd:3:4' is not a method[:level]. Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none.",
    ],
    [
      'label uppercase',
      { ...BASE, label: 'Daily' },
      "Input 'label': 'Daily' is not a valid label; use 1-40 lower-case letters, digits and dashes, e.g. daily or pre-migration.",
    ],
    [
      'label with dot',
      { ...BASE, label: 'v1.2' },
      "Input 'label': 'v1.2' is not a valid label; use 1-40 lower-case letters, digits and dashes, e.g. daily or pre-migration.",
    ],
    [
      'row-counts unknown',
      { ...BASE, 'row-counts': 'fast' },
      "Input 'row-counts': 'fast' is not one of: exact, estimate.",
    ],
    ['verify unknown', { ...BASE, verify: 'rows' }, "Input 'verify': 'rows' is not one of: content, counts."],
    [
      'client-version garbage',
      { ...BASE, 'client-version': 'latest' },
      "Input 'client-version': 'latest' is not a whole number; use 'auto' or a major version such as 17.",
    ],
    [
      'client-version too old',
      { ...BASE, 'client-version': '8' },
      "Input 'client-version': 8 is out of range; use 'auto' or a major version such as 17.",
    ],
    ['s3-sse unknown', { ...BASE, 's3-sse': 'aes256' }, "Input 's3-sse': 'aes256' is not one of: AES256, aws:kms."],
    [
      'kms key without kms',
      { ...BASE, 's3-sse-kms-key-id': 'k' },
      "Input 's3-sse-kms-key-id': is only used with s3-sse: aws:kms; set s3-sse to aws:kms or remove the key id.",
    ],
    [
      'access key without secret',
      { ...BASE, 's3-access-key-id': 'AKIA' },
      "Input 's3-secret-access-key': set both s3-access-key-id and s3-secret-access-key, or neither (then the AWS SDK default chain is used: AWS_* environment variables or OIDC).",
    ],
    [
      'checksums unknown',
      { ...BASE, 's3-checksums': 'always' },
      "Input 's3-checksums': 'always' is not one of: auto, when_required, when_supported.",
    ],
    [
      's3-timeout not a number',
      { ...BASE, 's3-timeout': '2m' },
      "Input 's3-timeout': '2m' is not a whole number; use whole seconds from 1 to 3600, e.g. 120.",
    ],
    [
      's3-timeout zero',
      { ...BASE, 's3-timeout': '0' },
      "Input 's3-timeout': 0 is out of range; use whole seconds from 1 to 3600, e.g. 120.",
    ],
    [
      's3-timeout fraction',
      { ...BASE, 's3-timeout': '1.5' },
      "Input 's3-timeout': '1.5' is not a whole number; use whole seconds from 1 to 3600, e.g. 120.",
    ],
    [
      'path style typo',
      { ...BASE, 's3-force-path-style': 'on' },
      "Input 's3-force-path-style': 'on' is not a boolean; use true or false.",
    ],
    [
      'prune without a policy',
      { database: 'shop', destination: 's3://b-1/p', command: 'prune' },
      "Input 'command': prune needs a retention policy; set at least one of keep-last, keep-daily, keep-weekly, keep-monthly, keep-yearly or keep-within.",
    ],
    [
      'list without a database name',
      { destination: 's3://b-1/p', command: 'list' },
      "Input 'database': required for command list: set the name of the source database whose backups to use.",
    ],
    [
      'region garbage',
      { ...BASE, 's3-region': 'US East' },
      "Input 's3-region': 'US East' is not a region name; use e.g. us-east-1, or auto for Cloudflare R2.",
    ],
    [
      'storage class lower-case',
      { ...BASE, 's3-storage-class': 'glacier' },
      "Input 's3-storage-class': 'glacier' is not a storage class; use e.g. STANDARD, STANDARD_IA or GLACIER_IR.",
    ],
  ];

  test.each(cases)('%s', (_name, inputs, message) => {
    let thrown: unknown;
    try {
      parseConfig(reader(inputs));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toBe(message);
  });

  test('errors about the URL never quote it or its password', () => {
    const sentinel = 'Sentinel-P@ss:/%#? word';
    const urls = [
      `postgres://u:${encodeURIComponent(sentinel)}@h:99999/db`,
      `postgres://u:${encodeURIComponent(sentinel)}@h:5432`,
      `postgres://u:${encodeURIComponent(sentinel)}@h/db?sslmode=nope`,
      `postgres://u:${encodeURIComponent(sentinel)}@h/db?evil=1`,
      `postgres://u:${sentinel}@h/db`,
    ];
    for (const url of urls) {
      let message = '';
      try {
        parseConfig(reader({ ...BASE, 'database-url': url }));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^Input 'database-url'/);
      for (const form of secretsToMask(reader({ 'database-url': url }))) expect(message).not.toContain(form);
    }
  });

  test('unknown URL parameters are refused with the supported list', () => {
    expect(() => parseConfig(reader({ ...BASE, 'database-url': 'postgres://u:p@h/db?pool_size=4' }))).toThrow(
      /^Input 'database-url': parameter 'pool_size' is not a libpq connection parameter this action supports \(supported: .*application_name.*\)/,
    );
  });
});

describe('secretsToMask', () => {
  test.each([
    [
      'URL with an encoded password',
      { 'database-url': 'postgres://u:p%40ss%20w@h/db' },
      ['postgres://u:p%40ss%20w@h/db', 'p%40ss%20w', 'p@ss w', 'p%40ss+w'],
    ],
    ['separate password', { password: 'a b&c' }, ['a b&c', 'a%20b%26c', 'a+b%26c']],
    ['S3 secret key', { 's3-secret-access-key': 'wJalr/XUtn+FEMI' }, ['wJalr/XUtn+FEMI']],
    [
      'password as a URL parameter',
      { 'database-url': 'postgres://u@h/db?password=x%2By' },
      ['postgres://u@h/db?password=x%2By', 'x%2By', 'x+y'],
    ],
    ['nothing secret', { host: 'h' }, []],
  ])('%s', (_name, inputs, expected) => {
    const masked = secretsToMask(reader(inputs));
    for (const form of expected) expect(masked).toContain(form);
    if (expected.length === 0) expect(masked).toEqual([]);
  });
});

describe('lock-wait-timeout', () => {
  const parse = (value: string) =>
    asBackup(parseConfig(reader({ ...BASE, 'lock-wait-timeout': value }))).dump.lockWaitTimeoutMs;

  test.each<[string, number]>([
    ['30s', 30_000],
    ['5min', 300_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['500ms', 500],
    ['0', 0],
    ['6h', 21_600_000],
  ])('%s → %d ms', (value, ms) => {
    expect(parse(value)).toBe(ms);
  });

  test.each<[string, RegExp]>([
    ['30', /'30' has no unit/],
    ['1.5s', /'1\.5s' is not a duration/],
    ['-1s', /'-1s' is not a duration/],
    ['5 minutes', /'5 minutes' is not a duration/],
    [
      'forever',
      /is not a duration; use a whole number with a unit, such as 30s, 5min or 1h \(ms, s, m\/min, h\), or 0 to wait forever/,
    ],
    ['7h', /longer than 6h/],
  ])('%s is refused naming the input', (value, message) => {
    let error: unknown;
    try {
      parse(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).input).toBe('lock-wait-timeout');
    expect((error as Error).message).toMatch(message);
  });

  test('--lock-wait-timeout in pg-dump-args is refused: the input owns it', () => {
    expect(() => parseConfig(reader({ ...BASE, 'pg-dump-args': '--lock-wait-timeout=60s' }))).toThrow(
      /use the `lock-wait-timeout` input/,
    );
  });
});

/** The sentinel's every encoding a channel could carry (raw, percent-, form-, JSON-escaped, base64). */
function encodings(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ p: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString('base64').replace(/=+$/, ''),
  ];
}

describe('a URL with credentials in any input is masked (item 7)', () => {
  const PASSWORD = 'Sentinel"pw\\7f@x/y';
  const encoded = encodeURIComponent(PASSWORD);
  const url = `postgres://app:${encoded}@db.prod-7.example.com:5432/shop`;
  const names = Object.keys(INPUT_DEFAULTS);

  test.each([
    ['host', url],
    ['target-host', url],
    ['destination', `s3://bucket/prefix\nhttps://app:${encoded}@files.example.com/x`],
    ['s3-endpoint', `https://key:${encoded}@s3.example.com`],
    ['webhook-url', `https://u:${encoded}@hooks.example.com/h`],
    ['host', `app:${encoded}@db.prod-7.example.com`],
    ['label', `postgres://app@h/db?sslmode=require&password=${encoded}`],
  ])('%s holding %j: the password in every encoding', (input, value) => {
    const masked = urlCredentialSecrets(reader({ [input]: value }), names);
    expect(masked).toContain(value.split('\n').at(-1));
    // Only the line with the credentials: another destination's line is no secret.
    expect(masked.filter((m) => m.includes('s3://bucket/prefix'))).toEqual([]);
    // Each encoding is masked whole, or (base64 inside a longer text) all but its edge characters.
    for (const form of [...encodings(PASSWORD), ...encodings(encoded)])
      expect(redact(`<${form}>`, masked)).toMatch(/^<\*\*\*[A-Za-z0-9+/]?>$/);
  });

  test('values without a password are not masked', () => {
    for (const value of [
      'db.example.com',
      'postgres://app@db/x',
      'http://127.0.0.1:9000',
      's3://bucket/prefix',
      'https://hooks.slack.com/services/T0/B0/x',
    ]) {
      expect(urlCredentialSecrets(reader({ host: value }), names)).toEqual([]);
    }
  });

  test('redact() removes every encoding, also inside longer text and base64 blobs', () => {
    const secrets = urlCredentialSecrets(reader({ host: url }), names);
    for (const form of encodings(PASSWORD)) {
      const text = redact(`error: ${form} (in ${JSON.stringify({ host: url })})`, secrets);
      for (const leaked of encodings(PASSWORD)) expect(text).not.toContain(leaked);
    }
    for (const prefix of ['', 'a', 'ab']) {
      const blob = Buffer.from(`${prefix}${PASSWORD}tail`).toString('base64');
      expect(redact(blob, [PASSWORD])).toContain('***');
    }
    expect(secretForms('ab')).toEqual([]);
  });

  test.each(['host', 'target-host'])('%s holding a URL is refused naming the input, without echoing it', (input) => {
    const base: Record<string, string> =
      input === 'host'
        ? { destination: 's3://bkt/p', username: 'u', database: 'd' }
        : {
            destination: 's3://bkt/p',
            command: 'restore',
            database: 'd',
            'target-username': 'u',
            'target-database': 'd',
          };
    for (const value of [url, `app:${encoded}@db.prod-7.example.com`, `${url}?sslmode=require`]) {
      let thrown: unknown;
      try {
        parseConfig(reader({ ...base, [input]: value }));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const message = (thrown as Error).message;
      expect(message).toMatch(new RegExp(`^Input '${input}': it holds `));
      expect(message).toContain(input === 'host' ? "'database-url'" : "'target-database-url'");
      for (const form of [...encodings(PASSWORD), ...encodings(encoded), 'db.prod-7'])
        expect(message).not.toContain(form);
    }
  });

  test('a host name, an IP address and a Unix-socket folder are accepted', () => {
    for (const host of ['db.example.com', '10.0.0.5', '::1', '/var/run/postgresql']) {
      expect(
        asBackup(parseConfig(reader({ destination: 's3://bkt/p', host, username: 'u', database: 'd' }))).connection
          .host,
      ).toBe(host);
    }
  });
});

describe('sslrootcert as in libpq (item 8)', () => {
  let workspace: string;
  const saved = process.env.GITHUB_WORKSPACE;
  beforeAll(() => {
    workspace = mkdtempSync(path.join(os.tmpdir(), 'sslrootcert-'));
    mkdirSync(path.join(workspace, 'certs'));
    writeFileSync(path.join(workspace, 'certs', 'ca.crt'), '-----BEGIN CERTIFICATE-----\n');
    process.env.GITHUB_WORKSPACE = workspace;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.GITHUB_WORKSPACE;
    else process.env.GITHUB_WORKSPACE = saved;
    rmSync(workspace, { recursive: true, force: true });
  });
  const parse = (query: string) =>
    asBackup(parseConfig(reader({ ...BASE, 'database-url': `${BASE['database-url']}?${query}` }))).connection;

  test('a path relative to the workspace becomes absolute', () => {
    expect(parse('sslmode=verify-full&sslrootcert=certs/ca.crt')?.params).toEqual({
      sslrootcert: path.join(workspace, 'certs', 'ca.crt'),
    });
  });
  test('an absolute path is kept', () => {
    const file = path.join(workspace, 'certs', 'ca.crt');
    expect(parse(`sslmode=verify-ca&sslrootcert=${encodeURIComponent(file)}`)?.params).toEqual({ sslrootcert: file });
  });
  test('system means the system CAs and implies verify-full', () => {
    expect(parse('sslrootcert=system')).toMatchObject({ sslmode: 'verify-full', params: { sslrootcert: 'system' } });
    expect(parse('sslmode=verify-full&sslrootcert=system')).toMatchObject({
      sslmode: 'verify-full',
      params: { sslrootcert: 'system' },
    });
    expect(() => parse('sslmode=require&sslrootcert=system')).toThrow(
      /^Input 'database-url': sslrootcert=system needs sslmode=verify-full/,
    );
  });
  test.each([
    [
      'certs/missing.crt',
      () =>
        `the file '${path.join(workspace, 'certs', 'missing.crt')}' does not exist (the relative path 'certs/missing.crt' is read from the workspace, ${workspace})`,
    ],
    ['/nowhere/ca.crt', () => "the file '/nowhere/ca.crt' does not exist. Write it"],
  ])('a missing file %s is reported as such, naming the file', (file, expected) => {
    expect(() => parse(`sslmode=verify-full&sslrootcert=${file}`)).toThrow(
      `Input 'database-url': parameter sslrootcert: ${expected()}`,
    );
  });
  test('a missing sslcert is reported too', () => {
    expect(() => parse('sslcert=client.crt')).toThrow(
      /^Input 'database-url': parameter sslcert: the file '.*client\.crt' does not exist/,
    );
  });
});
