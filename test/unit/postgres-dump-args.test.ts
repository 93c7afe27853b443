import {
  buildPgDumpallGlobalsArgs,
  buildPgDumpArgs,
  checkExtraPgDumpArgs,
  checkPgDumpArgsForClient,
} from '../../src/postgres/dump-args.js';
import { detectStdbuf, withStdoutBuffer } from '../../src/postgres/stdbuf.js';
import type { DumpOptions } from '../../src/postgres/types.js';
import { dumpOptionsFixture } from '../support/dump-options.js';

const opts = dumpOptionsFixture;

describe('buildPgDumpArgs', () => {
  test.each<[string, Partial<DumpOptions>, Parameters<typeof buildPgDumpArgs>[1], string[]]>([
    ['custom, minimal', {}, { compress: '0' }, ['--format=custom', '--compress=0', '--no-password']],
    [
      'plain with gzip level',
      { format: 'plain' },
      { compress: '6' },
      ['--format=plain', '--compress=6', '--no-password'],
    ],
    [
      'custom with zstd and snapshot',
      {},
      { compress: 'zstd:3', snapshot: '00000003-00000002-1' },
      ['--format=custom', '--compress=zstd:3', '--snapshot=00000003-00000002-1', '--no-password'],
    ],
    [
      'jobs are ignored outside the directory format',
      { jobs: 4 },
      { compress: 'lz4' },
      ['--format=custom', '--compress=lz4', '--no-password'],
    ],
    [
      'directory with jobs, snapshot and file',
      { format: 'directory', jobs: 4 },
      { compress: 'zstd:1', snapshot: 'S-1', outputDir: '/tmp/out dir' },
      ['--format=directory', '--compress=zstd:1', '--jobs=4', '--snapshot=S-1', '--file=/tmp/out dir', '--no-password'],
    ],
    [
      'directory with one job',
      { format: 'directory' },
      { compress: '0', outputDir: '/d' },
      ['--format=directory', '--compress=0', '--file=/d', '--no-password'],
    ],
    [
      'outputDir is ignored for custom',
      {},
      { compress: '0', outputDir: '/d' },
      ['--format=custom', '--compress=0', '--no-password'],
    ],
    [
      'every selection option, in order',
      {
        schemas: ['public', 'sales'],
        excludeSchemas: ['audit'],
        tables: ['public.actor', '-weird'],
        excludeTables: ['public.log*'],
        excludeTableData: ['public.big'],
        schemaOnly: true,
        noOwner: true,
        noPrivileges: true,
        extraArgs: ['--no-comments', '--lock-wait-timeout=60s'],
      },
      { compress: '0', snapshot: 'X' },
      [
        '--format=custom',
        '--compress=0',
        '--snapshot=X',
        '--schema=public',
        '--schema=sales',
        '--exclude-schema=audit',
        '--table=public.actor',
        '--table=-weird',
        '--exclude-table=public.log*',
        '--exclude-table-data=public.big',
        '--schema-only',
        '--no-owner',
        '--no-privileges',
        '--no-comments',
        '--lock-wait-timeout=60s',
        '--no-password',
      ],
    ],
    [
      'data only',
      { dataOnly: true },
      { compress: '0' },
      ['--format=custom', '--compress=0', '--data-only', '--no-password'],
    ],
  ])('%s', (_name, overrides, plan, expected) => {
    expect(buildPgDumpArgs(opts(overrides), plan)).toEqual(expected);
  });

  test('directory format without outputDir is a programming error', () => {
    expect(() => buildPgDumpArgs(opts({ format: 'directory' }), { compress: '0' })).toThrow(/outputDir/);
  });

  test('no connection options and no password ever appear', () => {
    const args = buildPgDumpArgs(opts({ format: 'directory', jobs: 2 }), { compress: '0', outputDir: '/x' });
    for (const arg of args) expect(arg).not.toMatch(/^--(host|port|username|dbname|password)\b|^-[hpUdW]/);
    expect(args.filter((a) => a === '--no-password')).toHaveLength(1);
  });
});

test('buildPgDumpallGlobalsArgs', () => {
  expect(buildPgDumpallGlobalsArgs()).toEqual(['--globals-only', '--no-role-passwords', '--no-password']);
});

describe('checkExtraPgDumpArgs', () => {
  test.each<[string, string | undefined]>([
    // allowed
    ['--no-comments', undefined],
    ['--rows-per-insert=1000', undefined],
    // owned by the lock-wait-timeout input (it bounds the counting session's wait too)
    [
      '--lock-wait-timeout=60s',
      "'--lock-wait-timeout=60s' is not allowed in `pg-dump-args`: use the `lock-wait-timeout` input, which also bounds the wait of the session that counts rows.",
    ],
    ['--verbose', undefined],
    ['-v', undefined],
    ['--encoding=UTF8', undefined],
    ['--exclude-table-and-children=public.logs', undefined],
    ['--role=backup', undefined],
    ['--inserts', undefined],
    // output / format / compression / jobs
    [
      '-f',
      "'-f' (--file) is not allowed in `pg-dump-args`: the action writes the output itself; choose where with the `destination` input.",
    ],
    [
      '-fout.sql',
      "'-fout.sql' (--file) is not allowed in `pg-dump-args`: the action writes the output itself; choose where with the `destination` input.",
    ],
    [
      '--file=x',
      "'--file=x' is not allowed in `pg-dump-args`: the action writes the output itself; choose where with the `destination` input.",
    ],
    [
      '--file',
      "'--file' is not allowed in `pg-dump-args`: the action writes the output itself; choose where with the `destination` input.",
    ],
    ['-Fc', "'-Fc' (--format) is not allowed in `pg-dump-args`: use the `format` input."],
    ['--format=directory', "'--format=directory' is not allowed in `pg-dump-args`: use the `format` input."],
    ['-Z9', "'-Z9' (--compress) is not allowed in `pg-dump-args`: use the `compression` input."],
    ['--compress=zstd:9', "'--compress=zstd:9' is not allowed in `pg-dump-args`: use the `compression` input."],
    ['-j4', "'-j4' (--jobs) is not allowed in `pg-dump-args`: use the `jobs` input (directory format)."],
    ['--jobs=4', "'--jobs=4' is not allowed in `pg-dump-args`: use the `jobs` input (directory format)."],
    [
      '--snapshot=0000-1',
      "'--snapshot=0000-1' is not allowed in `pg-dump-args`: the action exports its own snapshot so that row counts and the dump see the same data.",
    ],
    // connection
    [
      '-d',
      "'-d' (--dbname) is not allowed in `pg-dump-args`: the connection comes from the `database-url` input (or `host`, `port`, `username`, `database`).",
    ],
    [
      '--dbname=postgres://u:p@h/db',
      "'--dbname=postgres://u:p@h/db' is not allowed in `pg-dump-args`: the connection comes from the `database-url` input (or `host`, `port`, `username`, `database`).",
    ],
    [
      '-hlocalhost',
      "'-hlocalhost' (--host) is not allowed in `pg-dump-args`: the connection comes from the `database-url` input (or `host`, `port`, `username`, `database`).",
    ],
    [
      '--port=5433',
      "'--port=5433' is not allowed in `pg-dump-args`: the connection comes from the `database-url` input (or `host`, `port`, `username`, `database`).",
    ],
    [
      '-U',
      "'-U' (--username) is not allowed in `pg-dump-args`: the connection comes from the `database-url` input (or `host`, `port`, `username`, `database`).",
    ],
    [
      '-W',
      "'-W' (--password) is not allowed in `pg-dump-args`: the action never prompts; the password comes from the `database-url` or `password` input.",
    ],
    [
      '--password',
      "'--password' is not allowed in `pg-dump-args`: the action never prompts; the password comes from the `database-url` or `password` input.",
    ],
    ['-w', "'-w' (--no-password) is not allowed in `pg-dump-args`: the action always passes --no-password."],
    ['--no-password', "'--no-password' is not allowed in `pg-dump-args`: the action always passes --no-password."],
    // inputs that exist
    ['-n', "'-n' (--schema) is not allowed in `pg-dump-args`: use the `schema` input."],
    ['--table=public.actor', "'--table=public.actor' is not allowed in `pg-dump-args`: use the `table` input."],
    ['-T', "'-T' (--exclude-table) is not allowed in `pg-dump-args`: use the `exclude-table` input."],
    [
      '--exclude-table-data=x',
      "'--exclude-table-data=x' is not allowed in `pg-dump-args`: use the `exclude-table-data` input.",
    ],
    ['-s', "'-s' (--schema-only) is not allowed in `pg-dump-args`: use the `schema-only` input."],
    ['--no-acl', "'--no-acl' is not allowed in `pg-dump-args`: use the `no-privileges` input."],
    // would not dump at all
    ['--version', "'--version' is not allowed in `pg-dump-args`: it prints the version and exits without dumping."],
    ['-?', "'-?' (--help) is not allowed in `pg-dump-args`: it prints help and exits without dumping."],
    // shape
    ['--rows-per-insert', "'--rows-per-insert' needs a value on the same line: `--rows-per-insert=<value>`."],
    ['--no-comments=yes', "'--no-comments=yes' takes no value: write `--no-comments`."],
    ['-E', "'-E' takes a value: write the long form `--encoding=<value>` instead."],
    ['-EUTF8', "'-EUTF8' takes a value: write the long form `--encoding=<value>` instead."],
    ['-cC', "'-cC' combines several options: write one option per line, e.g. `-c`."],
    [
      '--fi=x',
      "'--fi=x' is not a pg_dump option this action knows (write the full option name; abbreviations are not accepted).",
    ],
    [
      '--form=plain',
      "'--form=plain' is not a pg_dump option this action knows (write the full option name; abbreviations are not accepted).",
    ],
    ['-q', "'-q' is not a pg_dump option this action knows."],
    [
      '60s',
      "'60s' is not an option. Write one option per line, such as `--no-comments` or `--rows-per-insert=1000` (a value goes after `=` on the same line).",
    ],
    [
      'mydb',
      "'mydb' is not an option. Write one option per line, such as `--no-comments` or `--rows-per-insert=1000` (a value goes after `=` on the same line).",
    ],
    [
      '--',
      "'--' is not an option. Write one option per line, such as `--no-comments` or `--rows-per-insert=1000` (a value goes after `=` on the same line).",
    ],
    [
      '-',
      "'-' is not an option. Write one option per line, such as `--no-comments` or `--rows-per-insert=1000` (a value goes after `=` on the same line).",
    ],
  ])('%s', (token, expected) => {
    expect(checkExtraPgDumpArgs([token])).toBe(expected);
  });

  test('an empty list and a list of allowed options are fine', () => {
    expect(checkExtraPgDumpArgs([])).toBeUndefined();
    expect(
      checkExtraPgDumpArgs(['--no-comments', '--quote-all-identifiers', '--extra-float-digits=3']),
    ).toBeUndefined();
  });

  test('the first offending token is reported', () => {
    expect(checkExtraPgDumpArgs(['--no-comments', '--file', 'out.sql'])).toMatch(/^'--file' is not allowed/);
    expect(checkExtraPgDumpArgs(['--no-comments', 'x', '-f'])).toMatch(/^'x' is not an option/);
  });
});

describe('withStdoutBuffer: pg_dump behind stdbuf', () => {
  test.each([
    ['no stdbuf: the program itself', undefined, { command: '/bin/pg_dump', args: ['-Fc', '--snapshot=0000-1'] }],
    [
      'stdbuf: execs the program with a 1 MiB stdout buffer, arguments unchanged',
      '/usr/bin/stdbuf',
      { command: '/usr/bin/stdbuf', args: ['--output=1M', '/bin/pg_dump', '-Fc', '--snapshot=0000-1'] },
    ],
  ])('%s', (_name, stdbuf, expected) => {
    expect(withStdoutBuffer('/bin/pg_dump', ['-Fc', '--snapshot=0000-1'], stdbuf)).toEqual(expected);
  });

  test.each(['darwin', 'win32', 'freebsd'] as const)(
    'not Linux (%s): undefined, without running anything',
    async (platform) => {
      expect(await detectStdbuf('/nonexistent/pg_dump', platform)).toBeUndefined();
    },
  );
});

describe('pg-dump-args against the pg_dump that runs (checkPgDumpArgsForClient)', () => {
  const client = (version: string) => ({ major: Number(version.split('.')[0]), version });
  // PostgreSQL 18's pg_dump options (pg_dump 18 docs): statistics, data/schema selection, policies, sequences.
  const PG18 = [
    '--statistics',
    '--no-statistics',
    '--statistics-only',
    '--no-policies',
    '--sequence-data',
    '--no-schema',
    '--no-data',
  ];

  test.each(PG18)('%s passes the syntax check and pg_dump 18.0', (option) => {
    expect(checkExtraPgDumpArgs([option])).toBeUndefined();
    expect(checkPgDumpArgsForClient([option], client('18.0'))).toBeUndefined();
    expect(checkPgDumpArgsForClient([option], client('19.1'))).toBeUndefined();
  });

  test.each(PG18)('%s is refused for pg_dump 17.6, naming the option, the client and the fix', (option) => {
    expect(checkPgDumpArgsForClient([option], client('17.6'))).toBe(
      `'${option}' is not an option of pg_dump 17.6, the client that runs (pg_dump has it since 18): remove it from \`pg-dump-args\`, or set \`client-version\` to 18 or newer (a newer pg_dump dumps older servers).`,
    );
  });

  test.each<[string, string, boolean]>([
    // [option, client version, accepted]
    ['--no-comments', '10.23', false],
    ['--no-comments', '11.0', true],
    ['--rows-per-insert=100', '11.22', false],
    ['--rows-per-insert=100', '12.0', true],
    ['--include-foreign-data=srv', '12.22', false],
    ['--include-foreign-data=srv', '13.1', true],
    ['--no-toast-compression', '13.22', false],
    ['--no-toast-compression', '14.0', true],
    ['--extension=postgis', '13.9', false],
    ['--no-table-access-method', '14.19', false],
    ['--no-table-access-method', '15.0', true],
    ['--large-objects', '15.14', false],
    ['--large-objects', '16.0', true],
    ['-b', '15.0', true], // --blobs, every major
    ['--table-and-children=t', '15.4', false],
    ['--table-and-children=t', '16.2', true],
    ['--filter=f.txt', '16.9', false],
    ['--filter=f.txt', '17.0', true],
    ['--exclude-extension=x', '17.0', true],
    ['--sync-method=syncfs', '16.0', false],
    // Added by the August 2025 minor releases.
    ['--restrict-key=abc', '17.5', false],
    ['--restrict-key=abc', '17.6', true],
    ['--restrict-key=abc', '16.10', true],
    ['--restrict-key=abc', '16.9', false],
    ['--restrict-key=abc', '15.14', true],
    ['--restrict-key=abc', '14.18', false],
    ['--restrict-key=abc', '18.0', true],
    ['--no-owner', '10.0', true], // no 'since': every supported pg_dump has it
    ['--inserts', '13.0', true],
  ])('%s with pg_dump %s: accepted %s', (option, version, accepted) => {
    const problem = checkPgDumpArgsForClient([option], client(version));
    if (accepted) expect(problem).toBeUndefined();
    else
      expect(problem).toMatch(
        new RegExp(
          `^'${option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is not an option of pg_dump ${version.replace('.', '\\.')}, the client that runs`,
        ),
      );
  });

  test('an option of a later minor release says which minor to update to', () => {
    expect(checkPgDumpArgsForClient(['--restrict-key=k'], client('16.4'))).toBe(
      "'--restrict-key=k' is not an option of pg_dump 16.4, the client that runs (pg_dump has it since 16.10): update the client to pg_dump 16.10 or newer (a minor release), or remove it from `pg-dump-args`.",
    );
  });

  test('the first option the client lacks is named, after ones it has', () => {
    expect(checkPgDumpArgsForClient(['--no-comments', '--no-policies', '--no-data'], client('16.10'))).toMatch(
      /^'--no-policies' is not an option of pg_dump 16\.10/,
    );
  });

  test.each(['--with-data', '--with-schema', '--with-statistics'])(
    '%s (18 development spelling) is refused with the released option',
    (option) => {
      expect(checkExtraPgDumpArgs([option])).toMatch(
        new RegExp(`^'${option}' is not allowed in \`pg-dump-args\`: it was removed before PostgreSQL 18\\.0`),
      );
    },
  );
});
