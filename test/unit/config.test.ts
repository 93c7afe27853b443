import { parseConfig, parseCompression } from '../../src/config/parse.js';
import { secretsToMask } from '../../src/config/mask.js';
import { ConfigError } from '../../src/errors.js';

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
        extraArgs: [],
      },
      rowCounts: 'exact',
      installClient: true,
      summary: true,
      retention: { prune: false, dryRun: false },
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
    const { connection } = parseConfig(reader({ ...BASE, 'database-url': url }));
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
    const config = parseConfig(
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
        'pg-dump-args': '--lock-wait-timeout=60s\n--no-comments',
      }),
    );
    expect(config.connection).toEqual({ host: '10.0.0.5', port: 5433, user: 'postgres', password: 'pw', database: 'app', sslmode: 'verify-full', params: {} });
    expect(config.destinations.map((d) => d.kind)).toEqual(['s3', 'file']);
    expect(config.s3).toEqual({ endpoint: 'https://s3.us-west-004.backblazeb2.com', region: 'us-west-004', forcePathStyle: true, checksums: 'when_required', timeoutSeconds: 120 });
    expect(config.dump).toMatchObject({ format: 'directory', jobs: 4, compression: { method: 'gzip', level: 9 }, excludeTableData: ['audit_log', 'sessions'] });
    expect(config.dump.extraArgs).toEqual(['--lock-wait-timeout=60s', '--no-comments']);
    expect(config).toMatchObject({ label: 'pre-migration', rowCounts: 'estimate', clientMajor: 17, installClient: false, summary: false });
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

const URL_HINT = 'Expected postgres://user:password@host:5432/dbname?sslmode=require (percent-encode special characters in the password).';

describe('parseConfig: bad inputs fail before any work with the input named', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['no connection at all', { destination: 's3://b/p' }, "Input 'database-url': no database to back up; set 'database-url' (e.g. postgres://user:password@host:5432/dbname, from a repository secret) or 'host', 'username' and 'database'."],
    ['url and host both', { ...BASE, host: 'x' }, "Input 'database-url': it is set together with 'host'; use either database-url or the separate connection inputs, not both."],
    ['url and port both', { ...BASE, port: '6543' }, "Input 'database-url': it is set together with 'port'; use either database-url or the separate connection inputs, not both."],
    ['url wrong scheme', { ...BASE, 'database-url': 'mysql://u:p@h/db' }, `Input 'database-url': it does not start with postgres:// or postgresql://. ${URL_HINT}`],
    ['url not a url', { ...BASE, 'database-url': 'host=db user=app' }, `Input 'database-url': it does not start with postgres:// or postgresql://. ${URL_HINT}`],
    ['url bad port', { ...BASE, 'database-url': 'postgres://u:p@h:99999/db' }, `Input 'database-url': it is not a valid URL (check the port and that special characters in the password are percent-encoded). ${URL_HINT}`],
    ['url no database', { ...BASE, 'database-url': 'postgres://u:p@h:5432' }, `Input 'database-url': it has no database name after the host (…/dbname). ${URL_HINT}`],
    ['url no user', { ...BASE, 'database-url': 'postgres://h:5432/db' }, `Input 'database-url': it has no user name (postgres://user@host/…). ${URL_HINT}`],
    ['url unknown sslmode', { ...BASE, 'database-url': 'postgres://u:p@h/db?sslmode=yes' }, "Input 'database-url': sslmode 'yes' is not one of: disable, allow, prefer, require, verify-ca, verify-full."],
    ['host without username', { host: 'h', database: 'd', destination: 's3://b/p' }, "Input 'username': required with 'host'; set the role to connect as."],
    ['host without database', { host: 'h', username: 'u', destination: 's3://b/p' }, "Input 'database': required with 'host'; set the name of the database to back up."],
    ['port not a number', { host: 'h', username: 'u', database: 'd', port: '54x', destination: 's3://b/p' }, "Input 'port': '54x' is not a whole number; use a number from 1 to 65535."],
    ['port negative', { host: 'h', username: 'u', database: 'd', port: '-1', destination: 's3://b/p' }, "Input 'port': -1 is out of range; use a number from 1 to 65535."],
    ['port too big', { host: 'h', username: 'u', database: 'd', port: '70000', destination: 's3://b/p' }, "Input 'port': 70000 is out of range; use a number from 1 to 65535."],
    ['sslmode unknown', { host: 'h', username: 'u', database: 'd', sslmode: 'on', destination: 's3://b/p' }, "Input 'sslmode': sslmode 'on' is not one of: disable, allow, prefer, require, verify-ca, verify-full."],
    ['no destination', { 'database-url': BASE['database-url'] }, "Input 'destination': required; set s3://bucket/prefix or file:///absolute/folder (one per line for several)."],
    ['destination twice', { ...BASE, destination: 's3://backups/prod\ns3://backups/prod/' }, "Input 'destination': 's3://backups/prod/' is listed twice; list each destination once."],
    ['unknown command', { ...BASE, command: 'backupp' }, "Input 'command': 'backupp' is not one of: backup, prune, list, restore, drill, check."],
    ['unknown format', { ...BASE, format: 'tar' }, "Input 'format': 'tar' is not one of: custom, directory, plain."],
    ['jobs zero', { ...BASE, format: 'directory', jobs: '0' }, "Input 'jobs': 0 is out of range; use a number from 1 to 64."],
    ['jobs fraction', { ...BASE, format: 'directory', jobs: '1.5' }, "Input 'jobs': '1.5' is not a whole number; use a number from 1 to 64."],
    ['jobs with custom format', { ...BASE, jobs: '4' }, "Input 'jobs': pg_dump runs parallel jobs only with the directory format; set format: directory, or jobs: 1."],
    ['schema-only and data-only', { ...BASE, 'schema-only': 'true', 'data-only': 'true' }, "Input 'schema-only': schema-only and data-only are both true; set at most one of them."],
    ['boolean typo', { ...BASE, 'no-owner': 'yes' }, "Input 'no-owner': 'yes' is not a boolean; use true or false."],
    ['compression unknown', { ...BASE, compression: 'brotli' }, "Input 'compression': 'brotli' is not a compression method. Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none."],
    ['compression level too high', { ...BASE, compression: 'gzip:10' }, "Input 'compression': level '10' is out of range for gzip (1-9). Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none."],
    ['compression negative level', { ...BASE, compression: 'zstd:-1' }, "Input 'compression': level '-1' is out of range for zstd (1-22). Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none."],
    ['compression none with level', { ...BASE, compression: 'none:3' }, "Input 'compression': 'none' takes no level. Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none."],
    ['compression extra colon', { ...BASE, compression: 'zstd:3:4' }, "Input 'compression': 'zstd:3:4' is not a method[:level]. Use zstd (default), zstd:<1-22>, gzip:<1-9>, lz4 or none."],
    ['label uppercase', { ...BASE, label: 'Daily' }, "Input 'label': 'Daily' is not a valid label; use 1-40 lower-case letters, digits and dashes, e.g. daily or pre-migration."],
    ['label with dot', { ...BASE, label: 'v1.2' }, "Input 'label': 'v1.2' is not a valid label; use 1-40 lower-case letters, digits and dashes, e.g. daily or pre-migration."],
    ['row-counts unknown', { ...BASE, 'row-counts': 'fast' }, "Input 'row-counts': 'fast' is not one of: exact, estimate."],
    ['client-version garbage', { ...BASE, 'client-version': 'latest' }, "Input 'client-version': 'latest' is not a whole number; use 'auto' or a major version such as 17."],
    ['client-version too old', { ...BASE, 'client-version': '8' }, "Input 'client-version': 8 is out of range; use 'auto' or a major version such as 17."],
    ['s3-sse unknown', { ...BASE, 's3-sse': 'aes256' }, "Input 's3-sse': 'aes256' is not one of: AES256, aws:kms."],
    ['kms key without kms', { ...BASE, 's3-sse-kms-key-id': 'k' }, "Input 's3-sse-kms-key-id': is only used with s3-sse: aws:kms; set s3-sse to aws:kms or remove the key id."],
    ['access key without secret', { ...BASE, 's3-access-key-id': 'AKIA' }, "Input 's3-secret-access-key': set both s3-access-key-id and s3-secret-access-key, or neither (then the AWS SDK default chain is used: AWS_* environment variables or OIDC)."],
    ['checksums unknown', { ...BASE, 's3-checksums': 'always' }, "Input 's3-checksums': 'always' is not one of: auto, when_required, when_supported."],
    ['s3-timeout not a number', { ...BASE, 's3-timeout': '2m' }, "Input 's3-timeout': '2m' is not a whole number; use whole seconds from 1 to 3600, e.g. 120."],
    ['s3-timeout zero', { ...BASE, 's3-timeout': '0' }, "Input 's3-timeout': 0 is out of range; use whole seconds from 1 to 3600, e.g. 120."],
    ['s3-timeout fraction', { ...BASE, 's3-timeout': '1.5' }, "Input 's3-timeout': '1.5' is not a whole number; use whole seconds from 1 to 3600, e.g. 120."],
    ['path style typo', { ...BASE, 's3-force-path-style': 'on' }, "Input 's3-force-path-style': 'on' is not a boolean; use true or false."],
    ['prune without a policy', { 'database': 'shop', destination: 's3://b-1/p', command: 'prune' }, "Input 'command': prune needs a retention policy; set at least one of keep-last, keep-daily, keep-weekly, keep-monthly, keep-yearly or keep-within."],
    ['list without a database name', { destination: 's3://b-1/p', command: 'list' }, "Input 'database': required for command list: set the name of the source database whose backups to use."],
    ['region garbage', { ...BASE, 's3-region': 'US East' }, "Input 's3-region': 'US East' is not a region name; use e.g. us-east-1, or auto for Cloudflare R2."],
    ['storage class lower-case', { ...BASE, 's3-storage-class': 'glacier' }, "Input 's3-storage-class': 'glacier' is not a storage class; use e.g. STANDARD, STANDARD_IA or GLACIER_IR."],
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
    ['password as a URL parameter', { 'database-url': 'postgres://u@h/db?password=x%2By' }, ['postgres://u@h/db?password=x%2By', 'x%2By', 'x+y']],
    ['nothing secret', { host: 'h' }, []],
  ])('%s', (_name, inputs, expected) => {
    const masked = secretsToMask(reader(inputs));
    for (const form of expected) expect(masked).toContain(form);
    if (expected.length === 0) expect(masked).toEqual([]);
  });
});
