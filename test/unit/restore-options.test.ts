import { ConfigError } from '../../src/errors.js';
import {
  parseBackupKey,
  parseDrillSql,
  parseDuration,
  parseRestoreInputs,
  restoreSecrets,
  RESTORE_INPUTS,
} from '../../src/config/restore.js';
import { RESTORE_OUTPUTS } from '../../src/restore/options.js';

function reader(inputs: Record<string, string>): (name: string) => string {
  return (name) => inputs[name] ?? '';
}

const URL = 'postgres://restorer:secret@db.example.com:5432/restored';
const RESTORE = { command: 'restore', 'target-database-url': URL };
const DRILL = { command: 'drill', 'target-database-url': 'postgres://restorer:secret@db.example.com/drill_scratch' };
const URL_HINT =
  'Expected postgres://user:password@host:5432/dbname?sslmode=require (percent-encode special characters in the password).';
const KEY_HINT =
  "use latest, latest:<label>, or the archive's object key, e.g. prod/shop/2026-11-25T071403Z-daily.dump.zst.";
const DURATION_HINT = 'write a duration such as 26h, 90m, 7d or 1w (units: s, m, h, d, w).';

describe('parseRestoreInputs: good inputs', () => {
  test('restore with defaults', () => {
    expect(parseRestoreInputs(reader(RESTORE))).toEqual({
      command: 'restore',
      backup: { kind: 'latest' },
      target: {
        host: 'db.example.com',
        port: 5432,
        user: 'restorer',
        password: 'secret',
        database: 'restored',
        params: {},
      },
      jobs: 1,
      noOwner: false,
      noPrivileges: false,
      restoreGlobals: false,
      databaseProperties: 'exact',
      clean: false,
      createDatabase: false,
    });
  });

  test('restore with every option, separate target inputs (values are trimmed)', () => {
    const parsed = parseRestoreInputs(
      reader({
        command: 'restore',
        'backup-key': ' prod/shop/2026-11-25T071403Z-daily.dump.zst ',
        'target-host': '10.0.0.9',
        'target-port': '6543',
        'target-username': 'app',
        'target-password': 'pw',
        'target-database': 'shop_copy',
        'target-sslmode': 'require',
        confirm: 'shop_copy',
        clean: 'true',
        jobs: '4',
        'no-owner': 'TRUE',
        'no-privileges': 'True',
        'create-database': 'true',
        'restore-globals': 'true',
      }),
    );
    expect(parsed).toEqual({
      command: 'restore',
      backup: { kind: 'key', key: 'prod/shop/2026-11-25T071403Z-daily.dump.zst' },
      target: {
        host: '10.0.0.9',
        port: 6543,
        user: 'app',
        password: 'pw',
        database: 'shop_copy',
        sslmode: 'require',
        params: {},
      },
      confirm: 'shop_copy',
      jobs: 4,
      noOwner: true,
      noPrivileges: true,
      restoreGlobals: true,
      databaseProperties: 'exact',
      clean: true,
      createDatabase: true,
    });
  });

  test('drill: latest:<label>, drill-sql, drop-after default true', () => {
    const parsed = parseRestoreInputs(
      reader({ ...DRILL, 'backup-key': 'latest:daily', 'drill-sql': 'SELECT true\n\nSELECT count(*) > 0 FROM film' }),
    );
    expect(parsed).toMatchObject({
      command: 'drill',
      backup: { kind: 'latest', label: 'daily' },
      dropAfter: true,
      drillSql: ['SELECT true', 'SELECT count(*) > 0 FROM film'],
    });
    expect(parseRestoreInputs(reader({ ...DRILL, 'drop-after': 'false' }))).toMatchObject({ dropAfter: false });
  });

  test('target URL with sslmode and libpq parameters', () => {
    const parsed = parseRestoreInputs(
      reader({
        command: 'restore',
        'target-database-url': 'postgresql://u:p%40ss@[::1]:6432/my%20db?sslmode=verify-full&application_name=restore',
      }),
    );
    expect(parsed).toMatchObject({
      target: {
        host: '::1',
        port: 6432,
        user: 'u',
        password: 'p@ss',
        database: 'my db',
        sslmode: 'verify-full',
        params: { application_name: 'restore' },
      },
    });
  });

  test('check: durations, ratio, label; no target needed', () => {
    expect(
      parseRestoreInputs(
        reader({ command: 'check', 'max-age': '26h', 'min-size-ratio': '0.5', 'expect-label': 'daily' }),
      ),
    ).toEqual({
      command: 'check',
      maxAgeSeconds: 93_600,
      minSizeRatio: 0.5,
      expectLabel: 'daily',
    });
    expect(parseRestoreInputs(reader({ command: 'check' }))).toEqual({ command: 'check' });
  });

  test.each([
    ['45s', 45],
    ['90m', 5400],
    ['26h', 93_600],
    ['7d', 604_800],
    ['1w', 604_800],
    ['1d12h', 129_600],
  ])('duration %s = %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  test('drill-sql: one query per line, or queries ending with ";" spanning lines; comment lines dropped', () => {
    expect(parseDrillSql('SELECT true;\nSELECT 1 = 1')).toEqual(['SELECT true', 'SELECT 1 = 1']);
    expect(parseDrillSql('-- rows are there\nSELECT count(*) > 0\n  FROM film;\nSELECT true;')).toEqual([
      'SELECT count(*) > 0\n  FROM film',
      'SELECT true',
    ]);
    expect(parseDrillSql('SELECT true\r\nSELECT false')).toEqual(['SELECT true', 'SELECT false']);
    expect(parseDrillSql('')).toEqual([]);
  });

  test('backup keys', () => {
    expect(parseBackupKey('latest')).toEqual({ kind: 'latest' });
    expect(parseBackupKey('latest:pre-migration')).toEqual({ kind: 'latest', label: 'pre-migration' });
    expect(parseBackupKey('shop/2026-11-25T071403Z.tar')).toEqual({ kind: 'key', key: 'shop/2026-11-25T071403Z.tar' });
    expect(parseBackupKey('shop/2026-11-25T071403Z.sql.gz.gpg')).toEqual({
      kind: 'key',
      key: 'shop/2026-11-25T071403Z.sql.gz.gpg',
    });
  });
});

describe('parseRestoreInputs: bad inputs fail with the input named and the fix', () => {
  const cases: [string, Record<string, string>, string][] = [
    [
      'unknown command',
      { ...RESTORE, command: 'restor' },
      "Input 'command': 'restor' is not one of: restore, drill, check.",
    ],
    [
      'no target at all',
      { command: 'restore' },
      "Input 'target-database-url': no database to restore into; set 'target-database-url' (e.g. postgres://user:password@host:5432/restored, from a repository secret) or 'target-host', 'target-username' and 'target-database'.",
    ],
    [
      'target url and host both',
      { ...RESTORE, 'target-host': 'x' },
      "Input 'target-database-url': it is set together with 'target-host'; use either target-database-url or the separate target-* inputs, not both.",
    ],
    [
      'target url and port both',
      { ...RESTORE, 'target-port': '6543' },
      "Input 'target-database-url': it is set together with 'target-port'; use either target-database-url or the separate target-* inputs, not both.",
    ],
    [
      'target url wrong scheme',
      { command: 'restore', 'target-database-url': 'mysql://u:p@h/db' },
      `Input 'target-database-url': it does not start with postgres:// or postgresql://. ${URL_HINT}`,
    ],
    [
      'target url unencoded @',
      { command: 'restore', 'target-database-url': 'postgres://u:p@ss@h/db' },
      `Input 'target-database-url': it has an unencoded special character (@, #, %, or a space; most likely in the password). ${URL_HINT}`,
    ],
    [
      'target url no database',
      { command: 'restore', 'target-database-url': 'postgres://u:p@h:5432' },
      `Input 'target-database-url': it has no database name after the host (…/dbname). ${URL_HINT}`,
    ],
    [
      'target url unknown parameter',
      { command: 'restore', 'target-database-url': 'postgres://u:p@h/db?evil=1' },
      `Input 'target-database-url': parameter 'evil' is not a libpq connection parameter this action supports (supported: application_name, channel_binding, client_encoding, connect_timeout, gssdelegation, gssencmode, gsslib, krbsrvname, load_balance_hosts, options, require_auth, requirepeer, ssl_max_protocol_version, ssl_min_protocol_version, sslcert, sslcertmode, sslcompression, sslcrl, sslcrldir, sslkey, sslnegotiation, sslrootcert, sslsni, target_session_attrs). ${URL_HINT}`,
    ],
    [
      'target url bad sslmode',
      { command: 'restore', 'target-database-url': 'postgres://u:p@h/db?sslmode=on' },
      "Input 'target-database-url': sslmode 'on' is not one of: disable, allow, prefer, require, verify-ca, verify-full.",
    ],
    [
      'target-host without username',
      { command: 'restore', 'target-host': 'h', 'target-database': 'd' },
      "Input 'target-username': required with 'target-host'; set the role to connect as.",
    ],
    [
      'target-host without database',
      { command: 'restore', 'target-host': 'h', 'target-username': 'u' },
      "Input 'target-database': required with 'target-host'; set the name of the database to restore into.",
    ],
    [
      'target-port not a number',
      { command: 'restore', 'target-host': 'h', 'target-username': 'u', 'target-database': 'd', 'target-port': '5x' },
      "Input 'target-port': '5x' is not a whole number; use a number from 1 to 65535.",
    ],
    [
      'target-sslmode unknown',
      {
        command: 'restore',
        'target-host': 'h',
        'target-username': 'u',
        'target-database': 'd',
        'target-sslmode': 'yes',
      },
      "Input 'target-sslmode': sslmode 'yes' is not one of: disable, allow, prefer, require, verify-ca, verify-full.",
    ],
    [
      'backup-key a URL',
      { ...RESTORE, 'backup-key': 's3://backups/prod/shop/2026-11-25T071403Z.dump' },
      `Input 'backup-key': 's3://backups/prod/shop/2026-11-25T071403Z.dump' is a URL; give the object key without the bucket or folder (the destination input says where); ${KEY_HINT}`,
    ],
    [
      'backup-key a manifest',
      { ...RESTORE, 'backup-key': 'shop/2026-11-25T071403Z.dump.manifest.json' },
      `Input 'backup-key': 'shop/2026-11-25T071403Z.dump.manifest.json' is a manifest; give the archive's key (without .manifest.json); ${KEY_HINT}`,
    ],
    [
      'backup-key absolute',
      { ...RESTORE, 'backup-key': '/shop/2026-11-25T071403Z.dump' },
      `Input 'backup-key': '/shop/2026-11-25T071403Z.dump' starts with '/'; keys are relative to the destination; ${KEY_HINT}`,
    ],
    [
      'backup-key not an archive',
      { ...RESTORE, 'backup-key': 'newest' },
      `Input 'backup-key': 'newest' is not an archive key (they end in .dump, .sql or .tar, optionally with .zst, .lz4 or .gz, then .gpg when encrypted); ${KEY_HINT}`,
    ],
    [
      'backup-key globals',
      { ...RESTORE, 'backup-key': 'shop/2026-11-25T071403Z.globals.sql' },
      `Input 'backup-key': 'shop/2026-11-25T071403Z.globals.sql' is a globals file; give the archive's key; ${KEY_HINT}`,
    ],
    [
      'backup-key encrypted globals',
      { ...RESTORE, 'backup-key': 'shop/2026-11-25T071403Z.globals.sql.gpg' },
      `Input 'backup-key': 'shop/2026-11-25T071403Z.globals.sql.gpg' is a globals file; give the archive's key; ${KEY_HINT}`,
    ],
    [
      'backup-key bad label',
      { ...RESTORE, 'backup-key': 'latest:Daily' },
      "Input 'backup-key': 'Daily' is not a valid label; use 1-40 lower-case letters, digits and dashes, e.g. daily or pre-migration.",
    ],
    ['jobs zero', { ...RESTORE, jobs: '0' }, "Input 'jobs': 0 is out of range; use a number from 1 to 64."],
    [
      'jobs fraction',
      { ...RESTORE, jobs: '2.5' },
      "Input 'jobs': '2.5' is not a whole number; use a number from 1 to 64.",
    ],
    ['clean not boolean', { ...RESTORE, clean: 'yes' }, "Input 'clean': 'yes' is not a boolean; use true or false."],
    [
      'create-database not boolean',
      { ...RESTORE, 'create-database': '1' },
      "Input 'create-database': '1' is not a boolean; use true or false.",
    ],
    [
      'drop-after not boolean',
      { ...DRILL, 'drop-after': 'no' },
      "Input 'drop-after': 'no' is not a boolean; use true or false.",
    ],
    [
      'drill-sql with restore',
      { ...RESTORE, 'drill-sql': 'SELECT true' },
      "Input 'drill-sql': is only used with command: drill; remove it or set command: drill.",
    ],
    [
      'max-age with restore',
      { ...RESTORE, 'max-age': '26h' },
      "Input 'max-age': is only used with command: check; remove it or set command: check.",
    ],
    [
      'clean with drill',
      { ...DRILL, clean: 'true' },
      "Input 'clean': is only used with command: restore; a drill restores into a fresh scratch database (set confirm to let it drop and recreate an existing one).",
    ],
    [
      'drill into postgres',
      { command: 'drill', 'target-database-url': 'postgres://u:p@h/postgres' },
      "Input 'target-database-url': 'postgres' is a system database; a drill needs a scratch database it may create and drop, e.g. drill_scratch.",
    ],
    [
      'drill into template1 (separate inputs)',
      { command: 'drill', 'target-host': 'h', 'target-username': 'u', 'target-database': 'template1' },
      "Input 'target-database': 'template1' is a system database; a drill needs a scratch database it may create and drop, e.g. drill_scratch.",
    ],
    [
      'max-age without unit',
      { command: 'check', 'max-age': '26' },
      `Input 'max-age': '26' has no unit; ${DURATION_HINT}`,
    ],
    [
      'max-age months',
      { command: 'check', 'max-age': '1mo' },
      `Input 'max-age': '1mo' is not a duration; ${DURATION_HINT}`,
    ],
    ['max-age zero', { command: 'check', 'max-age': '0h' }, `Input 'max-age': '0h' is zero; ${DURATION_HINT}`],
    [
      'max-age with spaces',
      { command: 'check', 'max-age': '26 h' },
      `Input 'max-age': '26 h' is not a duration; ${DURATION_HINT}`,
    ],
    [
      'min-size-ratio not a number',
      { command: 'check', 'min-size-ratio': 'half' },
      "Input 'min-size-ratio': 'half' is not a number; use a fraction of the median size between 0 and 1, e.g. 0.5.",
    ],
    [
      'min-size-ratio percent',
      { command: 'check', 'min-size-ratio': '50%' },
      "Input 'min-size-ratio': '50%' is not a number; use a fraction of the median size between 0 and 1, e.g. 0.5.",
    ],
    [
      'min-size-ratio too big',
      { command: 'check', 'min-size-ratio': '1.5' },
      "Input 'min-size-ratio': 1.5 is out of range; use a number greater than 0 and at most 1, e.g. 0.5.",
    ],
    [
      'min-size-ratio zero',
      { command: 'check', 'min-size-ratio': '0' },
      "Input 'min-size-ratio': 0 is out of range; use a number greater than 0 and at most 1, e.g. 0.5.",
    ],
    [
      'expect-label invalid',
      { command: 'check', 'expect-label': 'Daily Backup' },
      "Input 'expect-label': 'Daily Backup' is not a valid label; use 1-40 lower-case letters, digits and dashes, e.g. daily or pre-migration.",
    ],
    [
      'backup-key with check',
      { command: 'check', 'backup-key': 'latest:daily' },
      "Input 'backup-key': is not used with command: check, which always checks the newest complete backup; use expect-label to pick backups with a label.",
    ],
  ];

  test.each(cases)('%s', (_name, inputs, message) => {
    let thrown: unknown;
    try {
      parseRestoreInputs(reader(inputs));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toBe(message);
  });

  test('errors about the target URL never quote it or its password', () => {
    const sentinel = 'Sentinel-P@ss:/%#? word';
    const urls = [
      `postgres://u:${encodeURIComponent(sentinel)}@h:99999/db`,
      `postgres://u:${encodeURIComponent(sentinel)}@h:5432`,
      `postgres://u:${encodeURIComponent(sentinel)}@h/db?sslmode=nope`,
      `postgres://u:${sentinel}@h/db`,
    ];
    for (const url of urls) {
      let message = '';
      try {
        parseRestoreInputs(reader({ command: 'restore', 'target-database-url': url }));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^Input 'target-database-url': /);
      for (const form of [sentinel, encodeURIComponent(sentinel), 'Sentinel-P']) expect(message).not.toContain(form);
    }
  });
});

describe('restoreSecrets', () => {
  test('masks the target password and URL in every form, and nothing else', () => {
    const password = 'p@ss word/1';
    const url = `postgres://u:${encodeURIComponent(password)}@h/db`;
    const secrets = restoreSecrets(
      reader({ 'target-database-url': url, 'database-url': 'postgres://x:other@h/db', password: 'other' }),
    );
    expect(secrets).toEqual(expect.arrayContaining([url, encodeURIComponent(password), password, 'p%40ss+word%2F1']));
    expect(secrets).not.toContain('other');
    expect(restoreSecrets(reader({ 'target-password': 'tp' }))).toEqual(expect.arrayContaining(['tp']));
    expect(restoreSecrets(reader({}))).toEqual([]);
  });
});

describe('input and output lists for action.yml', () => {
  test('every input has a name, a string default and a description; names are unique', () => {
    const names = RESTORE_INPUTS.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    for (const i of RESTORE_INPUTS) {
      expect(i.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(typeof i.default).toBe('string');
      expect(i.description.length).toBeGreaterThan(10);
    }
    expect(names).toEqual(
      expect.arrayContaining([
        'backup-key',
        'target-database-url',
        'confirm',
        'clean',
        'create-database',
        'restore-globals',
        'drop-after',
        'drill-sql',
        'max-age',
        'min-size-ratio',
        'expect-label',
      ]),
    );
    expect(RESTORE_OUTPUTS.map((o) => o.name)).toEqual([
      'restored-key',
      'restore-seconds',
      'drill-passed',
      'latest-key',
      'latest-age-seconds',
      'latest-server-major',
    ]);
  });
});
